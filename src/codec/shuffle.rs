//! numcodecs `shuffle`: byte `j` of every `elementsize`-byte element together (all first
//! bytes, then all second bytes...). Trailing bytes that do not fill an element stay put.

use crate::error::{Error, Result};

#[derive(Clone, Debug, PartialEq)]
pub struct Shuffle {
    pub elementsize: usize,
}

impl Shuffle {
    fn check(&self) -> Result<usize> {
        if self.elementsize == 0 {
            return Err(Error::codec("shuffle", "elementsize is 0"));
        }
        Ok(self.elementsize)
    }

    pub fn encode(&self, input: &[u8]) -> Result<Vec<u8>> {
        let es = self.check()?;
        let n = input.len() / es;
        let mut out = input.to_vec();
        for (i, e) in input.chunks_exact(es).enumerate() {
            for (j, &b) in e.iter().enumerate() {
                out[j * n + i] = b;
            }
        }
        Ok(out)
    }

    pub fn decode(&self, input: &[u8]) -> Result<Vec<u8>> {
        let es = self.check()?;
        let n = input.len() / es;
        let mut out = input.to_vec();
        for (i, e) in out.chunks_exact_mut(es).enumerate() {
            for (j, b) in e.iter_mut().enumerate() {
                *b = input[j * n + i];
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn numcodecs_vector() {
        // Shuffle(elementsize=4).encode(np.arange(6, dtype="<u4")), numcodecs 0.16
        let s = super::Shuffle { elementsize: 4 };
        let x: Vec<u8> = (0u32..6).flat_map(|v| v.to_le_bytes()).collect();
        let enc = s.encode(&x).unwrap();
        let mut want = vec![0u8; 24];
        want[..6].copy_from_slice(&[0, 1, 2, 3, 4, 5]);
        assert_eq!(enc, want);
        assert_eq!(s.decode(&enc).unwrap(), x);
        let odd: Vec<u8> = (0..27).collect();
        assert_eq!(s.decode(&s.encode(&odd).unwrap()).unwrap(), odd);
    }
}
