//! numcodecs `astype`: store `decode_dtype` data as `encode_dtype` (numpy's cast rules).

use super::numeric::{count, Typed};
use crate::error::Result;

#[derive(Clone, Debug, PartialEq)]
pub struct AsType {
    pub encode_dtype: Typed,
    pub decode_dtype: Typed,
}

/// Cast every element of `input` from `from` to `to`.
pub fn cast(input: &[u8], from: Typed, to: Typed, filter: &'static str) -> Result<Vec<u8>> {
    let n = count(filter, input.len(), from)?;
    if from == to {
        return Ok(input.to_vec());
    }
    let mut out = vec![0u8; n * to.size()];
    for (s, d) in input
        .chunks_exact(from.size())
        .zip(out.chunks_exact_mut(to.size()))
    {
        to.put(from.get(s), d);
    }
    Ok(out)
}

impl AsType {
    pub fn encode(&self, input: &[u8]) -> Result<Vec<u8>> {
        cast(input, self.decode_dtype, self.encode_dtype, "astype")
    }

    pub fn decode(&self, input: &[u8]) -> Result<Vec<u8>> {
        cast(input, self.encode_dtype, self.decode_dtype, "astype")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn casts() {
        let a = AsType {
            encode_dtype: Typed::parse("<f4").unwrap(),
            decode_dtype: Typed::parse("<f8").unwrap(),
        };
        let x: Vec<u8> = [1.5f64, -2.25]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let enc = a.encode(&x).unwrap();
        assert_eq!(
            enc,
            [1.5f32.to_le_bytes(), (-2.25f32).to_le_bytes()].concat()
        );
        assert_eq!(a.decode(&enc).unwrap(), x);
        let i = AsType {
            encode_dtype: Typed::parse("|u1").unwrap(),
            decode_dtype: Typed::parse(">i4").unwrap(),
        };
        assert_eq!(
            i.encode(&[0, 0, 1, 44, 255, 255, 255, 255]).unwrap(),
            [44, 255]
        );
    }
}
