//! The chunk codec pipeline all formats share: an optional axis permutation (Zarr v2
//! `order: "F"`, v3 `transpose`), the stored byte order, a chain of bytes-to-bytes codecs
//! and, for N5, the block header.

use crate::chunk::copy::{Layout, OutputBuffer};
use crate::chunk::n5_header::N5Header;
use crate::codec::Compressor;
use crate::dtype::{swap_bytes, DataType, Endian};
use crate::error::{Error, Result};
use crate::store::PooledBuf;
use std::borrow::Cow;

/// Largest decoded varlength block accepted (bytes).
pub const MAX_VARLEN_BYTES: u64 = 1 << 30;

#[derive(Clone, Debug, PartialEq)]
pub struct Pipeline {
    pub dtype: DataType,
    /// Stored axis i holds logical axis `permutation[i]`; None means C order.
    pub permutation: Option<Vec<usize>>,
    pub endian: Endian,
    /// Applied in order when encoding, in reverse when decoding.
    pub compressors: Vec<Compressor>,
    /// N5 blocks carry a header with their (possibly clipped) shape.
    pub n5_header: bool,
}

/// An encoded chunk: the N5 header (empty for Zarr) and the payload.
pub struct Encoded<'a> {
    pub header: Vec<u8>,
    pub body: Cow<'a, [u8]>,
}

/// What decoding produced: the logical chunk shape and how its bytes are laid out.
#[derive(Clone, Debug)]
pub struct Decoded {
    pub layout: Layout,
    /// N5 varlength blocks: number of elements in the payload.
    pub varlen: Option<u64>,
    pub nbytes: usize,
    /// 1, or (`decode_ref` only) the unit whose bytes the data still has in stored order,
    /// for the caller to swap while copying it out (`ChunkView::copy_to`).
    pub swap: usize,
}

/// An owned buffer the pipeline is done with goes back to the pool for the next chunk.
fn recycle(done: Cow<'_, [u8]>) {
    if let Cow::Owned(v) = done {
        drop(PooledBuf::from(v));
    }
}

impl Pipeline {
    fn needs_swap(&self) -> bool {
        self.endian != Endian::NATIVE && self.dtype.swap_unit() > 1
    }

    /// The stored layout of a chunk of logical `shape`.
    pub fn layout(&self, shape: &[usize]) -> Layout {
        let elem = self.dtype.size();
        match &self.permutation {
            Some(p) => Layout::permuted(shape, p, elem),
            None => Layout::c_order(shape, elem),
        }
    }

    /// For an uncompressed, native-order chunk of `shape`, whose bytes can be read in part:
    /// its stored layout and the exact bytes its file starts with (the N5 header, or none).
    /// None when the bytes need decoding first.
    pub fn plain(&self, shape: &[u64]) -> Option<(Layout, Vec<u8>)> {
        if self.needs_swap() || self.compressors.iter().any(|c| *c != Compressor::Raw) {
            return None;
        }
        let mut header = Vec::new();
        if self.n5_header {
            N5Header {
                shape: shape.to_vec(),
                varlen: None,
            }
            .encode(&mut header);
        }
        let ushape: Vec<usize> = shape.iter().map(|&s| s as usize).collect();
        Some((self.layout(&ushape), header))
    }

    /// Encode a C-order, native-endian chunk of `shape`. `varlen` writes an N5 varlength block.
    pub fn encode(&self, data: &[u8], shape: &[u64], varlen: bool) -> Result<Vec<u8>> {
        let e = self.encode_parts(Cow::Borrowed(data), shape, varlen)?;
        if e.header.is_empty() {
            return Ok(e.body.into_owned());
        }
        let mut out = e.header;
        out.extend_from_slice(&e.body);
        Ok(out)
    }

    /// Encode an owned chunk buffer into its N5 header (empty for Zarr) and payload. The
    /// buffer is changed in place where it can be (byte swapping), and a raw payload is the
    /// buffer itself.
    pub fn encode_owned(&self, mut buf: PooledBuf, shape: &[u64]) -> Result<(Vec<u8>, PooledBuf)> {
        let owned = std::mem::take(&mut *buf);
        let e = self.encode_parts(Cow::Owned(owned), shape, false)?;
        Ok((e.header, PooledBuf::from(e.body.into_owned())))
    }

    /// Encode without copying what needs no work: a borrowed raw native-order chunk stays
    /// borrowed, an owned one is swapped in place, and the N5 header comes separately so
    /// the two can be written one after the other.
    fn encode_parts<'a>(
        &self,
        data: Cow<'a, [u8]>,
        shape: &[u64],
        varlen: bool,
    ) -> Result<Encoded<'a>> {
        let elem = self.dtype.size();
        let n: usize = shape.iter().product::<u64>() as usize;
        let ushape: Vec<usize> = shape.iter().map(|&s| s as usize).collect();
        if !varlen && data.len() != n * elem {
            return Err(Error::invalid(format!(
                "chunk data has {} bytes, shape {shape:?} needs {}",
                data.len(),
                n * elem
            )));
        }
        let nbytes = data.len();
        let mut body = data;
        if let Some(perm) = &self.permutation {
            if !varlen {
                let mut t = vec![0u8; nbytes];
                let src = Layout::c_order(&ushape, elem);
                let dst = Layout::permuted(&ushape, perm, elem);
                let zero = vec![0; ushape.len()];
                OutputBuffer::new(&mut t, dst, elem)?
                    .region_mut(&zero, &ushape)?
                    .copy_from(&body, &src, &zero)?;
                recycle(std::mem::replace(&mut body, Cow::Owned(t)));
            }
        }
        if self.needs_swap() {
            let mut t = body.into_owned();
            swap_bytes(&mut t, self.dtype.swap_unit());
            body = Cow::Owned(t);
        }
        for c in &self.compressors {
            if *c != Compressor::Raw {
                let encoded = c.encode(&body)?;
                recycle(std::mem::replace(&mut body, Cow::Owned(encoded)));
            }
        }
        let mut header = Vec::new();
        if self.n5_header {
            N5Header {
                shape: shape.to_vec(),
                varlen: varlen.then_some((nbytes / elem) as u64),
            }
            .encode(&mut header);
        }
        Ok(Encoded { header, body })
    }

    /// Object arrays: run the codecs after the object codec over its encoded items.
    pub fn encode_bytes(&self, raw: Vec<u8>) -> Result<Vec<u8>> {
        let mut body = raw;
        for c in &self.compressors {
            if *c != Compressor::Raw {
                body = c.encode(&body)?;
            }
        }
        Ok(body)
    }

    /// Object arrays: undo the codecs after the object codec, refusing a decoded chunk
    /// beyond `MAX_VARLEN_BYTES`.
    pub fn decode_bytes<'a>(&self, stored: &'a [u8]) -> Result<Cow<'a, [u8]>> {
        let mut cur = Cow::Borrowed(stored);
        for c in self.compressors.iter().rev() {
            if *c != Compressor::Raw {
                cur = Cow::Owned(c.decode_bounded(&cur, MAX_VARLEN_BYTES as usize)?);
            }
        }
        Ok(cur)
    }

    /// Decode a stored chunk into `scratch` (native byte order, stored layout).
    ///
    /// `nominal` is the chunk shape the metadata implies (N5: the clipped edge shape) and
    /// `max_shape` bounds what an N5 header may claim, so hostile headers cannot force huge
    /// allocations.
    pub fn decode(
        &self,
        stored: &[u8],
        nominal: &[u64],
        max_shape: &[u64],
        scratch: &mut Vec<u8>,
    ) -> Result<Decoded> {
        let (d, borrowed) = self.decode_inner(stored, nominal, max_shape, scratch, false)?;
        if let Some(range) = borrowed {
            scratch.clear();
            scratch.extend_from_slice(&stored[range]);
        }
        Ok(d)
    }

    /// Like `decode`, but uncompressed payloads are returned in place instead of being
    /// copied into `scratch`, and bytes in the other order are left for the caller to swap
    /// while it copies them (`Decoded::swap`): one pass over the data instead of three.
    pub fn decode_ref<'a>(
        &self,
        stored: &'a [u8],
        nominal: &[u64],
        max_shape: &[u64],
        scratch: &'a mut Vec<u8>,
    ) -> Result<(Decoded, &'a [u8])> {
        let (d, borrowed) = self.decode_inner(stored, nominal, max_shape, scratch, true)?;
        Ok(match borrowed {
            Some(range) => (d, &stored[range]),
            None => (d, &scratch[..]),
        })
    }

    /// Decode into `scratch`, or return the payload's byte range when it needs no work
    /// (or, with `lazy_swap`, no work but a byte swap, which is then left undone).
    fn decode_inner(
        &self,
        stored: &[u8],
        nominal: &[u64],
        max_shape: &[u64],
        scratch: &mut Vec<u8>,
        lazy_swap: bool,
    ) -> Result<(Decoded, Option<std::ops::Range<usize>>)> {
        let elem = self.dtype.size();
        let (shape, varlen, payload) = if self.n5_header {
            let (h, payload) = N5Header::decode(stored)?;
            if h.shape.len() != nominal.len() {
                return Err(Error::wrong_size(
                    "n5 header",
                    format!(
                        "block has {} dimensions, the dataset {}",
                        h.shape.len(),
                        nominal.len()
                    ),
                ));
            }
            // Java and older writers may store unclipped edge blocks, and a block stored at
            // its clipped edge shape stays so when the dataset grows: anything up to the full
            // block shape is valid (readers take the header's shape; the rest reads as 0,
            // as N5-Java does).
            let fits = h.shape.iter().zip(max_shape).all(|(s, m)| s <= m);
            if h.varlen.is_none() && !fits {
                return Err(Error::wrong_size(
                    "n5 header",
                    format!(
                        "block shape {:?} disagrees with the expected {nominal:?}",
                        h.shape
                    ),
                ));
            }
            (h.shape, h.varlen, payload)
        } else {
            (nominal.to_vec(), None, stored)
        };
        let n_elems = match varlen {
            Some(n) => n,
            None => shape.iter().product(),
        };
        // A varlength block may hold any number of elements, but a claim beyond both the
        // block size and MAX_VARLEN_BYTES is refused before allocating.
        let max_elems: u64 = max_shape
            .iter()
            .product::<u64>()
            .max(MAX_VARLEN_BYTES / elem as u64);
        if n_elems > max_elems {
            return Err(Error::codec(
                "n5 header",
                format!("varlength block claims {n_elems} elements"),
            ));
        }
        let nbytes = n_elems as usize * elem;
        let ushape: Vec<usize> = shape.iter().map(|&s| s as usize).collect();
        let layout = if varlen.is_some() {
            Layout::c_order(&ushape, elem)
        } else {
            self.layout(&ushape)
        };
        let swap = if lazy_swap && self.needs_swap() {
            self.dtype.swap_unit()
        } else {
            1
        };
        let decoded = Decoded {
            layout,
            varlen,
            nbytes,
            swap,
        };
        let raw = self.compressors.iter().all(|c| *c == Compressor::Raw);
        if raw && (swap > 1 || !self.needs_swap()) {
            if payload.len() != nbytes {
                return Err(crate::codec::size_mismatch("raw", payload.len(), nbytes));
            }
            let at = stored.len() - payload.len();
            return Ok((decoded, Some(at..stored.len())));
        }
        // Decoders overwrite every byte, so a reused buffer need not be zeroed again.
        if scratch.len() != nbytes {
            crate::store::resize(scratch, nbytes)?;
        }
        match self.compressors.as_slice() {
            [] => Compressor::Raw.decode_into(payload, scratch)?,
            [only] => only.decode_into(payload, scratch)?,
            [first, rest @ ..] => {
                // Outer codecs first. What each codec produced when encoding is known
                // exactly up to the first compressor (filters and checksums depend on the
                // size alone); beyond it sizes are unknown but bounded.
                let mut sizes = vec![Some(nbytes)];
                for c in &self.compressors[..self.compressors.len() - 1] {
                    let next = sizes
                        .last()
                        .copied()
                        .flatten()
                        .and_then(|n| c.encoded_len(n));
                    sizes.push(next);
                }
                let known = sizes.iter().flatten().copied().max().unwrap_or(nbytes);
                let bound = known + known / 2 + (1 << 20);
                let mut cur = payload.to_vec();
                for (i, c) in rest.iter().enumerate().rev() {
                    cur = match sizes[i + 1] {
                        Some(n) => {
                            let mut out = vec![0u8; n];
                            c.decode_into(&cur, &mut out)?;
                            out
                        }
                        None => c.decode_bounded(&cur, bound)?,
                    };
                }
                first.decode_into(&cur, scratch)?;
            }
        }
        if self.needs_swap() && swap == 1 {
            swap_bytes(scratch, self.dtype.swap_unit());
        }
        Ok((decoded, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n5(dtype: DataType) -> Pipeline {
        Pipeline {
            dtype,
            permutation: None,
            endian: Endian::Big,
            compressors: vec![Compressor::Raw],
            n5_header: true,
        }
    }

    #[test]
    fn n5_raw_block_matches_spec_bytes() {
        let p = n5(DataType::UInt16);
        let data: Vec<u8> = (1u16..=6).flat_map(|v| v.to_ne_bytes()).collect();
        let enc = p.encode(&data, &[3, 2, 1], false).unwrap();
        assert_eq!(
            enc,
            [0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6]
        );
        let mut s = Vec::new();
        let d = p.decode(&enc, &[3, 2, 1], &[3, 2, 1], &mut s).unwrap();
        assert_eq!(&s[..d.nbytes], &data[..]);
    }

    #[test]
    fn n5_header_disagreeing_with_metadata_is_refused() {
        let p = n5(DataType::UInt8);
        let enc = p.encode(&[0; 8], &[2, 4], false).unwrap();
        let mut s = Vec::new();
        assert!(p.decode(&enc, &[2, 2], &[2, 2], &mut s).is_err());
        assert!(p.decode(&enc, &[2, 3], &[2, 3], &mut s).is_err());
        assert!(p.decode(&enc, &[2, 3], &[2, 4], &mut s).is_ok());
        // a block smaller than expected (an old edge block after a grow) decodes at its size
        let d = p.decode(&enc, &[3, 4], &[4, 4], &mut s).unwrap();
        assert_eq!(d.layout.shape, vec![2, 4]);
    }

    #[test]
    fn fortran_order_round_trip() {
        let p = Pipeline {
            dtype: DataType::Int32,
            permutation: Some(vec![1, 0]),
            endian: Endian::Big,
            compressors: vec![Compressor::Gzip {
                level: 1,
                zlib: true,
            }],
            n5_header: false,
        };
        let data: Vec<u8> = (0i32..6).flat_map(|v| v.to_ne_bytes()).collect();
        let enc = p.encode(&data, &[2, 3], false).unwrap();
        let mut s = Vec::new();
        let d = p.decode(&enc, &[2, 3], &[2, 3], &mut s).unwrap();
        let mut out = vec![0u8; data.len()];
        OutputBuffer::c_order(&mut out, &[2, 3], 4)
            .unwrap()
            .region_mut(&[0, 0], &[2, 3])
            .unwrap()
            .copy_from(&s, &d.layout, &[0, 0])
            .unwrap();
        assert_eq!(out, data);
    }
}
