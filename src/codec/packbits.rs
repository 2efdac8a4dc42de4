//! numcodecs `packbits`: booleans packed eight to a byte (most significant bit first),
//! after one byte counting the padding bits of the last byte.

use crate::error::{Error, Result};

#[derive(Clone, Debug, PartialEq)]
pub struct PackBits;

impl PackBits {
    pub fn encode(&self, input: &[u8]) -> Result<Vec<u8>> {
        let n = input.len();
        let mut out = vec![0u8; 1 + n.div_ceil(8)];
        out[0] = ((8 - n % 8) % 8) as u8;
        for (i, &b) in input.iter().enumerate() {
            if b != 0 {
                out[1 + i / 8] |= 0x80 >> (i % 8);
            }
        }
        Ok(out)
    }

    pub fn decode(&self, input: &[u8]) -> Result<Vec<u8>> {
        let (&pad, bits) = input
            .split_first()
            .ok_or_else(|| Error::codec("packbits", "empty input"))?;
        if pad > 7 || (bits.is_empty() && pad != 0) {
            return Err(Error::codec("packbits", format!("{pad} padding bits")));
        }
        let n = bits.len() * 8 - pad as usize;
        Ok((0..n).map(|i| (bits[i / 8] >> (7 - i % 8)) & 1).collect())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn numcodecs_vector() {
        // PackBits().encode(np.array([1,0,1,1,0,0,0,1,1,0], bool)) = 06 b1 80, numcodecs 0.16
        let x = [1u8, 0, 1, 1, 0, 0, 0, 1, 1, 0];
        let enc = super::PackBits.encode(&x).unwrap();
        assert_eq!(enc, [0x06, 0xb1, 0x80]);
        assert_eq!(super::PackBits.decode(&enc).unwrap(), x);
        assert!(super::PackBits.decode(&[9, 0]).is_err());
        assert!(super::PackBits.decode(&[]).is_err());
    }
}
