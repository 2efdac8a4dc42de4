//! numcodecs `quantize`: keep `digits` decimal digits by rounding to a power-of-two grid
//! (lossy); decoding is a plain cast back to `dtype`.

use super::numeric::{count, round_half_even, Num, Typed};
use crate::error::{Error, Result};

#[derive(Clone, Debug, PartialEq)]
pub struct Quantize {
    pub digits: i32,
    pub dtype: Typed,
    pub astype: Typed,
}

impl Quantize {
    /// numcodecs' scale: 2^ceil(log2(10^-exp)), exp = floor(log10(10^-digits)).
    fn scale(&self) -> f64 {
        let precision = 10f64.powi(-self.digits);
        let exp = precision.log10();
        let exp = if exp < 0.0 { exp.floor() } else { exp.ceil() };
        let bits = 10f64.powf(-exp).log2().ceil();
        2f64.powf(bits)
    }

    pub fn encode(&self, input: &[u8]) -> Result<Vec<u8>> {
        if !self.dtype.is_float() {
            return Err(Error::codec("quantize", "needs a floating-point dtype"));
        }
        let n = count("quantize", input.len(), self.dtype)?;
        let (es, os) = (self.dtype.size(), self.astype.size());
        let scale = self.scale();
        let t = self.dtype;
        let mut out = vec![0u8; n * os];
        for (s, d) in input.chunks_exact(es).zip(out.chunks_exact_mut(os)) {
            let x = t.get(s).as_f64();
            let y = t.round_to(round_half_even(t.round_to(scale * x)) / scale);
            self.astype.put(Num::Float(y), d);
        }
        Ok(out)
    }

    pub fn decode(&self, input: &[u8]) -> Result<Vec<u8>> {
        super::astype::cast(input, self.astype, self.dtype, "quantize")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    // -3.14159 is one of the pinned numcodecs inputs, not an approximation of pi
    #[allow(clippy::approx_constant)]
    fn numcodecs_vector() {
        // Quantize(digits=1, dtype="<f4").encode([0.1234, 12.3456, -3.14159]) = [0.125, 12.375, -3.125]
        let q = Quantize {
            digits: 1,
            dtype: Typed::parse("<f4").unwrap(),
            astype: Typed::parse("<f4").unwrap(),
        };
        let x: Vec<u8> = [0.1234f32, 12.3456, -3.14159]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let enc = q.encode(&x).unwrap();
        let got: Vec<f32> = enc
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(got, [0.125, 12.375, -3.125]);
        assert_eq!(q.decode(&enc).unwrap(), enc);
    }
}
