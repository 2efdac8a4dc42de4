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
    with_dctx(|d| d.decompress(input, max))
}
