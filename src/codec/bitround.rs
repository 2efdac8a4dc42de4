//! numcodecs `bitround`: keep `keepbits` mantissa bits of each float, rounding half to
//! even on the bits (lossy); decoding returns the bytes unchanged.

use super::numeric::{count, Typed};
use crate::dtype::DataType;
use crate::error::{Error, Result};

#[derive(Clone, Debug, PartialEq)]
pub struct BitRound {
    pub keepbits: u32,
    /// The element type the filter sees (the array's, or the previous filter's output).
    pub dtype: Typed,
}

impl BitRound {
    fn maxbits(&self) -> Result<u32> {
        match self.dtype.dtype {
            DataType::Float16 => Ok(10),
            DataType::Float32 => Ok(23),
            DataType::Float64 => Ok(52),
            _ => Err(Error::unsupported(format!(
                "bitround of {} data (floats only)",
                self.dtype.typestr()
            ))),
        }
    }

    pub fn encode(&self, input: &[u8]) -> Result<Vec<u8>> {
        let maxbits = self.maxbits()?;
        if self.keepbits > maxbits {
            return Err(Error::invalid(format!(
                "bitround keepbits {} exceeds {maxbits} for {}",
                self.keepbits,
                self.dtype.typestr()
            )));
        }
        count("bitround", input.len(), self.dtype)?;
        let mut out = input.to_vec();
        if self.keepbits == maxbits {
            return Ok(out);
        }
        let size = self.dtype.size();
        let all = if size == 8 {
            u64::MAX
        } else {
            (1u64 << (8 * size)) - 1
        };
        let maskbits = maxbits - self.keepbits;
        let mask = (all >> maskbits) << maskbits;
        let half = (1u64 << (maskbits - 1)) - 1;
        for e in out.chunks_exact_mut(size) {
            let b = self.dtype.bits(e);
            let b = (b.wrapping_add(((b >> maskbits) & 1) + half) & all) & mask;
            self.dtype.put_bits(b, e);
        }
        Ok(out)
    }

    pub fn decode(&self, input: &[u8]) -> Result<Vec<u8>> {
        Ok(input.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    // -3.14159 is one of the pinned numcodecs inputs, not an approximation of pi
    #[allow(clippy::approx_constant)]
    fn numcodecs_vector() {
        // BitRound(keepbits=3).encode(np.array([0.1234, 12.3456, -3.14159], "<f4"))
        let b = BitRound {
            keepbits: 3,
            dtype: Typed::parse("<f4").unwrap(),
        };
        let x: Vec<u8> = [0.1234f32, 12.3456, -3.14159]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert_eq!(
            b.encode(&x).unwrap(),
            [0, 0, 0, 0x3e, 0, 0, 0x40, 0x41, 0, 0, 0x50, 0xc0]
        );
    }
}
