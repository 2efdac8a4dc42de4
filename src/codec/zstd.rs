//! Zstandard frames. Decoding never trusts the frame's content size: Java N5 writes frames
//! without one, and a hostile frame may claim gigabytes. Contexts are reused per thread.

use crate::error::{Error, Result};
use std::cell::RefCell;
use zstd::bulk::{Compressor, Decompressor};
use zstd::zstd_safe::CParameter;

thread_local! {
    static CCTX: RefCell<Option<Compressor<'static>>> = const { RefCell::new(None) };
    static DCTX: RefCell<Option<Decompressor<'static>>> = const { RefCell::new(None) };
}

fn err(e: std::io::Error) -> Error {
    Error::codec("zstd", e.to_string())
}

pub fn encode(input: &[u8], level: i32, checksum: bool) -> Result<Vec<u8>> {
    CCTX.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(Compressor::new(level).map_err(err)?);
        }
        let c = slot.as_mut().expect("set above");
        c.set_compression_level(level).map_err(err)?;
        c.set_parameter(CParameter::ChecksumFlag(checksum))
            .map_err(err)?;
        c.compress(input).map_err(err)
    })
}

fn with_dctx<T>(f: impl FnOnce(&mut Decompressor<'static>) -> std::io::Result<T>) -> Result<T> {
    DCTX.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(Decompressor::new().map_err(err)?);
        }
        f(slot.as_mut().expect("set above")).map_err(err)
    })
}

pub fn decode_into(input: &[u8], out: &mut [u8]) -> Result<()> {
    let n = with_dctx(|d| d.decompress_to_buffer(input, out))?;
    if n != out.len() {
        return Err(super::size_mismatch("zstd", n, out.len()));
    }
    Ok(())
}

pub fn decode_bounded(input: &[u8], max: usize) -> Result<Vec<u8>> {
    // A frame that declares its size (numcodecs and zarr-python write one) decodes into
    // exactly that much instead of a buffer of the bound.
    if let Ok(Some(n)) = zstd::zstd_safe::get_frame_content_size(input) {
        if n > max as u64 {
            return Err(Error::codec(
                "zstd",
                format!("frame declares {n} bytes, more than the bound of {max}"),
            ));
        }
        let mut out = vec![0u8; n as usize];
        if decode_into(input, &mut out).is_ok() {
            return Ok(out);
        }
    }
    with_dctx(|d| d.decompress(input, max))
}
