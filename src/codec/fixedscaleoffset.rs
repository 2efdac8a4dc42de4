//! numcodecs `fixedscaleoffset`: `round((x - offset) * scale)` stored as `astype`;
//! decoding is `y / scale + offset` cast back to `dtype`.

use super::numeric::{count, round_half_even, Num, Typed};
use crate::error::Result;

#[derive(Clone, Debug, PartialEq)]
pub struct FixedScaleOffset {
    pub scale: f64,
    pub offset: f64,
    pub dtype: Typed,
    pub astype: Typed,
}

impl FixedScaleOffset {
    pub fn encode(&self, input: &[u8]) -> Result<Vec<u8>> {
        let n = count("fixedscaleoffset", input.len(), self.dtype)?;
        let (es, os) = (self.dtype.size(), self.astype.size());
        let mut out = vec![0u8; n * os];
        // numpy computes in float32 for float32 data (Python scalars do not widen it).
        let t = self.dtype;
        for (s, d) in input.chunks_exact(es).zip(out.chunks_exact_mut(os)) {
            let x = t.get(s).as_f64();
            let y = t.round_to(t.round_to(x - self.offset) * self.scale);
            self.astype.put(Num::Float(round_half_even(y)), d);
        }
        Ok(out)
    }

    pub fn decode(&self, input: &[u8]) -> Result<Vec<u8>> {
        let n = count("fixedscaleoffset", input.len(), self.astype)?;
        let (es, os) = (self.dtype.size(), self.astype.size());
        let mut out = vec![0u8; n * es];
        let a = self.astype;
        let r = |x: f64| if a.is_float() { a.round_to(x) } else { x };
        for (s, d) in input.chunks_exact(os).zip(out.chunks_exact_mut(es)) {
            let y = a.get(s).as_f64();
            self.dtype
                .put(Num::Float(r(r(y / self.scale) + self.offset)), d);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numcodecs_vector() {
        // FixedScaleOffset(offset=1000, scale=10, dtype="<f8", astype="<u1")
        //   .encode(np.array([1000, 1000.11, 1001.55, 1010.3])), numcodecs 0.16
        let f = FixedScaleOffset {
            scale: 10.0,
            offset: 1000.0,
            dtype: Typed::parse("<f8").unwrap(),
            astype: Typed::parse("|u1").unwrap(),
        };
        let x: Vec<u8> = [1000.0f64, 1000.11, 1001.55, 1010.3]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let enc = f.encode(&x).unwrap();
        assert_eq!(enc, [0x00, 0x01, 0x0f, 0x67]);
        let dec = f.decode(&enc).unwrap();
        let back: Vec<f64> = dec
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(back, [1000.0, 1000.1, 1001.5, 1010.3]);
    }
}
