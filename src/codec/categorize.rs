//! numcodecs `categorize`: fixed-length unicode labels stored as their 1-based index in
//! `labels` (0 for any other value, which decodes to the empty string).

use super::numeric::{count, Num, Typed};
use crate::dtype::{DataType, Endian};
use crate::error::{Error, Result};

#[derive(Clone, Debug, PartialEq)]
pub struct Categorize {
    pub labels: Vec<String>,
    /// `FixedUtf32(n)` and its byte order.
    pub dtype: (DataType, Endian),
    pub astype: Typed,
}

impl Categorize {
    fn size(&self) -> Result<usize> {
        match self.dtype.0 {
            DataType::FixedUtf32(_) => Ok(self.dtype.0.size()),
            other => Err(Error::unsupported(format!(
                "categorize of {} data (fixed-length unicode only)",
                other.typestr(self.dtype.1)
            ))),
        }
    }

    /// Each label as stored: UTF-32 in the dtype's byte order, NUL-padded (None when it
    /// is longer than the element and so can match nothing).
    fn encoded_labels(&self) -> Result<Vec<Option<Vec<u8>>>> {
        let size = self.size()?;
        Ok(self
            .labels
            .iter()
            .map(|l| {
                let mut b: Vec<u8> = l
                    .chars()
                    .flat_map(|c| match self.dtype.1 {
                        Endian::Little => (c as u32).to_le_bytes(),
                        Endian::Big => (c as u32).to_be_bytes(),
                    })
                    .collect();
                (b.len() <= size).then(|| {
                    b.resize(size, 0);
                    b
                })
            })
            .collect())
    }

    pub fn encode(&self, input: &[u8]) -> Result<Vec<u8>> {
        let size = self.size()?;
        let labels = self.encoded_labels()?;
        if input.len() % size != 0 {
            return Err(Error::codec("categorize", "input is not whole elements"));
        }
        let os = self.astype.size();
        let mut out = vec![0u8; input.len() / size * os];
        for (s, d) in input.chunks_exact(size).zip(out.chunks_exact_mut(os)) {
            let i = labels.iter().position(|l| l.as_deref() == Some(s));
            self.astype.put(Num::Int(i.map_or(0, |i| i as i128 + 1)), d);
        }
        Ok(out)
    }

    pub fn decode(&self, input: &[u8]) -> Result<Vec<u8>> {
        let size = self.size()?;
        let labels = self.encoded_labels()?;
        let n = count("categorize", input.len(), self.astype)?;
        let mut out = vec![0u8; n * size];
        for (s, d) in input
            .chunks_exact(self.astype.size())
            .zip(out.chunks_exact_mut(size))
        {
            if let Num::Int(i) = self.astype.get(s) {
                if i >= 1 {
                    if let Some(Some(l)) = labels.get(i as usize - 1) {
                        d.copy_from_slice(l);
                    }
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numcodecs_vector() {
        // Categorize(["foo","bar","baz"], "<U3", astype="|u1")
        //   .encode(np.array(["bar","foo","qux","baz"], "<U3")) = 02 01 00 03
        let c = Categorize {
            labels: vec!["foo".into(), "bar".into(), "baz".into()],
            dtype: DataType::from_typestr("<U3").unwrap(),
            astype: Typed::parse("|u1").unwrap(),
        };
        let x: Vec<u8> = ["bar", "foo", "qux", "baz"]
            .iter()
            .flat_map(|s| s.chars().flat_map(|ch| (ch as u32).to_le_bytes()))
            .collect();
        let enc = c.encode(&x).unwrap();
        assert_eq!(enc, [2, 1, 0, 3]);
        let dec = c.decode(&enc).unwrap();
        assert_eq!(&dec[..24], &x[..24]);
        assert!(dec[24..36].iter().all(|&b| b == 0));
        assert_eq!(&dec[36..], &x[36..]);
    }
}
