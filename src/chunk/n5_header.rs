//! The N5 block header: big-endian mode, ndim and (x-fastest) dims, plus the element count in
//! varlength mode.

use crate::error::{Error, Result};

pub const MODE_DEFAULT: u16 = 0;
pub const MODE_VARLEN: u16 = 1;

#[derive(Clone, Debug, PartialEq)]
pub struct N5Header {
    /// Block shape in numpy (C) order, i.e. the stored dims reversed.
    pub shape: Vec<u64>,
    /// Element count when the block is in varlength mode.
    pub varlen: Option<u64>,
}

impl N5Header {
    pub fn encoded_len(&self) -> usize {
        4 + 4 * self.shape.len() + if self.varlen.is_some() { 4 } else { 0 }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        let mode = if self.varlen.is_some() {
            MODE_VARLEN
        } else {
            MODE_DEFAULT
        };
        out.extend_from_slice(&mode.to_be_bytes());
        out.extend_from_slice(&(self.shape.len() as u16).to_be_bytes());
        for d in self.shape.iter().rev() {
            out.extend_from_slice(&(*d as u32).to_be_bytes());
        }
        if let Some(n) = self.varlen {
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
    }

    /// Parse a header; returns it and the payload that follows.
    pub fn decode(bytes: &[u8]) -> Result<(N5Header, &[u8])> {
        let short = || {
            Error::wrong_size(
                "n5 header",
                format!("chunk of {} bytes is shorter than its header", bytes.len()),
            )
        };
        if bytes.len() < 4 {
            return Err(short());
        }
        let mode = u16::from_be_bytes([bytes[0], bytes[1]]);
        let ndim = u16::from_be_bytes([bytes[2], bytes[3]]) as usize;
        if mode > MODE_VARLEN {
            return Err(Error::codec(
                "n5 header",
                format!("unsupported block mode {mode}"),
            ));
        }
        let mut len = 4 + 4 * ndim;
        if mode == MODE_VARLEN {
            len += 4;
        }
        if bytes.len() < len {
            return Err(short());
        }
        let be32 = |o: usize| u32::from_be_bytes(bytes[o..o + 4].try_into().unwrap()) as u64;
        let mut shape: Vec<u64> = (0..ndim).map(|i| be32(4 + 4 * i)).collect();
        shape.reverse();
        let varlen = (mode == MODE_VARLEN).then(|| be32(4 + 4 * ndim));
        Ok((N5Header { shape, varlen }, &bytes[len..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example() {
        // The N5 spec's 1x2x3 (x,y,z) uint16 block: numpy shape (3, 2, 1).
        let h = N5Header {
            shape: vec![3, 2, 1],
            varlen: None,
        };
        let mut b = Vec::new();
        h.encode(&mut b);
        assert_eq!(b, [0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]);
        b.extend_from_slice(&[0, 1]);
        let (h2, rest) = N5Header::decode(&b).unwrap();
        assert_eq!(h2, h);
        assert_eq!(rest, &[0, 1]);
    }

    #[test]
    fn varlen_and_truncation() {
        let h = N5Header {
            shape: vec![4, 5],
            varlen: Some(7),
        };
        let mut b = Vec::new();
        h.encode(&mut b);
        assert_eq!(b.len(), h.encoded_len());
        assert_eq!(N5Header::decode(&b).unwrap().0, h);
        assert!(N5Header::decode(&b[..b.len() - 1]).is_err());
        assert!(N5Header::decode(&[0, 7, 0, 1, 0, 0, 0, 1]).is_err());
    }
}
