//! numcodecs' `vlen-utf8` and `vlen-bytes` object codecs (Zarr v2 filters, Zarr v3
//! array-to-bytes codecs of `string` / `variable_length_bytes`): a little-endian u32 item
//! count, then per item a little-endian u32 length and that many bytes.
//!
//! Decoding checks every count and length against what the chunk holds before it
//! allocates, so a hostile chunk cannot ask for more memory than its own size.

use crate::error::{Error, Result};

/// Variable-length items: their bytes one after the other and where each starts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Items {
    pub data: Vec<u8>,
    /// `len() + 1` offsets into `data`; item `i` is `data[offsets[i]..offsets[i + 1]]`.
    pub offsets: Vec<usize>,
}

impl Items {
    pub fn new() -> Items {
        Items {
            data: Vec::new(),
            offsets: vec![0],
        }
    }

    pub fn with_capacity(items: usize, bytes: usize) -> Items {
        let mut offsets = Vec::with_capacity(items + 1);
        offsets.push(0);
        Items {
            data: Vec::with_capacity(bytes),
            offsets,
        }
    }

    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, i: usize) -> &[u8] {
        &self.data[self.offsets[i]..self.offsets[i + 1]]
    }

    pub fn push(&mut self, item: &[u8]) {
        self.data.extend_from_slice(item);
        self.offsets.push(self.data.len());
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.offsets.windows(2).map(|w| &self.data[w[0]..w[1]])
    }
}

fn u32_at(buf: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(buf[at..at + 4].try_into().expect("4 bytes"))
}

/// Decode a chunk that must hold `expected` items; `utf8` also checks that every item is
/// valid UTF-8. `codec` names the codec in errors.
pub fn decode(codec: &'static str, buf: &[u8], expected: usize, utf8: bool) -> Result<Items> {
    if buf.len() < 4 {
        return Err(Error::codec(
            codec,
            format!("{} bytes hold no item count", buf.len()),
        ));
    }
    let n = u32_at(buf, 0) as usize;
    if n != expected {
        return Err(Error::wrong_size(
            codec,
            format!("chunk holds {n} items, expected {expected}"),
        ));
    }
    // Every item needs at least its 4-byte length: refuse before allocating.
    let body = buf.len() - 4;
    if n > body / 4 {
        return Err(Error::codec(
            codec,
            format!("{n} items claimed, {body} bytes cannot hold their lengths"),
        ));
    }
    let mut items = Items::with_capacity(n, body - 4 * n);
    let mut at = 4;
    for i in 0..n {
        if buf.len() - at < 4 {
            return Err(Error::codec(codec, format!("item {i} has no length")));
        }
        let len = u32_at(buf, at) as usize;
        at += 4;
        if len > buf.len() - at {
            return Err(Error::codec(
                codec,
                format!(
                    "item {i} claims {len} bytes, {} remain in the chunk",
                    buf.len() - at
                ),
            ));
        }
        let item = &buf[at..at + len];
        if utf8 && std::str::from_utf8(item).is_err() {
            return Err(Error::codec(codec, format!("item {i} is not valid UTF-8")));
        }
        items.push(item);
        at += len;
    }
    if at != buf.len() {
        return Err(Error::codec(
            codec,
            format!("{} bytes after the last item", buf.len() - at),
        ));
    }
    Ok(items)
}

/// Encode `n` items (their total length `bytes`, a capacity hint).
pub fn encode<'a>(
    n: usize,
    bytes: usize,
    items: impl Iterator<Item = &'a [u8]>,
) -> Result<Vec<u8>> {
    let count = u32::try_from(n)
        .map_err(|_| Error::invalid(format!("{n} items do not fit a vlen chunk")))?;
    let mut out = Vec::with_capacity(4 + 4 * n + bytes);
    out.extend_from_slice(&count.to_le_bytes());
    for item in items {
        let len = u32::try_from(item.len()).map_err(|_| {
            Error::invalid(format!("an item of {} bytes exceeds 4 GiB", item.len()))
        })?;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(item);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// numcodecs 0.16 `VLenUTF8().encode(np.array(["a", "bcd", ""], dtype=object))`
    /// (the same bytes zarr-python 3 stores for an uncompressed chunk).
    const UTF8_VECTOR: &[u8] =
        b"\x03\x00\x00\x00\x01\x00\x00\x00a\x03\x00\x00\x00bcd\x00\x00\x00\x00";

    #[test]
    fn known_vectors() {
        let items = decode("vlen-utf8", UTF8_VECTOR, 3, true).unwrap();
        assert_eq!(items.iter().collect::<Vec<_>>(), [&b"a"[..], b"bcd", b""]);
        let enc = encode(3, 4, items.iter()).unwrap();
        assert_eq!(enc, UTF8_VECTOR);
        // `VLenUTF8().encode(np.array(["h\u00e9llo", "xxxxxxxxxx", ""], dtype=object))`
        let v =
            b"\x03\x00\x00\x00\x06\x00\x00\x00h\xc3\xa9llo\n\x00\x00\x00xxxxxxxxxx\x00\x00\x00\x00";
        let items = decode("vlen-utf8", v, 3, true).unwrap();
        assert_eq!(items.get(0), "h\u{e9}llo".as_bytes());
        assert_eq!(items.get(1), b"xxxxxxxxxx");
        // `VLenBytes().encode(np.array([b"a", b"\x00\xff", b""], dtype=object))`
        let b = b"\x03\x00\x00\x00\x01\x00\x00\x00a\x02\x00\x00\x00\x00\xff\x00\x00\x00\x00";
        let items = decode("vlen-bytes", b, 3, false).unwrap();
        assert_eq!(items.get(1), b"\x00\xff");
        assert_eq!(encode(3, 3, items.iter()).unwrap(), b);
        assert_eq!(encode(0, 0, std::iter::empty()).unwrap(), [0, 0, 0, 0]);
    }

    #[test]
    fn hostile_chunks_are_refused() {
        // wrong count, too short, a count the bytes cannot hold, a length past the end,
        // trailing bytes, invalid UTF-8
        assert!(decode("vlen-utf8", UTF8_VECTOR, 4, true).is_err());
        assert!(decode("vlen-utf8", &[1, 0], 1, true).is_err());
        let huge = [0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0];
        assert!(decode("vlen-utf8", &huge, 0x7fff_ffff, true).is_err());
        assert!(decode("vlen-utf8", b"\x01\x00\x00\x00\xff\xff\xff\xffab", 1, true).is_err());
        assert!(decode("vlen-utf8", b"\x01\x00\x00\x00\x01\x00\x00\x00ab", 1, true).is_err());
        assert!(decode(
            "vlen-utf8",
            b"\x01\x00\x00\x00\x01\x00\x00\x00\xff",
            1,
            true
        )
        .is_err());
        assert!(decode(
            "vlen-bytes",
            b"\x01\x00\x00\x00\x01\x00\x00\x00\xff",
            1,
            false
        )
        .is_ok());
    }
}
