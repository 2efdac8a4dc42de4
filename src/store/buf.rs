//! Byte buffers the engine and every store share: a process-wide pool of reusable buffers
//! and fallible resizing.

use crate::error::{Error, Result};

/// Resize a buffer, failing with an error instead of aborting when memory runs out.
pub fn resize(buf: &mut Vec<u8>, len: usize) -> Result<()> {
    if len > buf.len() {
        buf.try_reserve_exact(len - buf.len())
            .map_err(|_| Error::exhausted(format!("cannot allocate {len} bytes for a chunk")))?;
    }
    buf.resize(len, 0);
    Ok(())
}

/// Make `buf` `len` bytes long, zeroing only bytes it did not hold before (a reused buffer
/// keeps its stale contents, for callers that overwrite them).
pub fn set_len(buf: &mut Vec<u8>, len: usize) -> Result<()> {
    if buf.len() < len {
        resize(buf, len)?;
    }
    buf.truncate(len);
    Ok(())
}

/// A byte buffer from a process-wide pool, returned to it on drop. File and decode buffers
/// outlive the call (and the I/O thread) that used them, so large reads do not fault in
/// fresh memory every time.
pub struct PooledBuf(Vec<u8>);

/// What the pool keeps at most: enough for a few shards per thread, small next to the data.
const POOL_BUFFERS: usize = 16;
const POOL_BYTES: usize = 48 << 20;

static POOL: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());

impl Default for PooledBuf {
    fn default() -> PooledBuf {
        let mut pool = POOL.lock().unwrap_or_else(|p| p.into_inner());
        PooledBuf(pool.pop().unwrap_or_default())
    }
}

impl AsRef<[u8]> for PooledBuf {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl From<Vec<u8>> for PooledBuf {
    fn from(v: Vec<u8>) -> PooledBuf {
        PooledBuf(v)
    }
}

impl PooledBuf {
    /// A buffer of `len` bytes whose contents are unspecified (a pooled buffer large enough
    /// is reused as it is; a new one is zeroed), or an error when memory runs out.
    pub fn with_len(len: usize) -> Result<PooledBuf> {
        let reused = {
            let mut pool = POOL.lock().unwrap_or_else(|p| p.into_inner());
            let at = pool.iter().position(|b| b.capacity() >= len);
            at.map(|i| pool.swap_remove(i))
        };
        let mut buf = reused.unwrap_or_default();
        set_len(&mut buf, len)?;
        Ok(PooledBuf(buf))
    }
}

impl Drop for PooledBuf {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.0);
        if buf.capacity() == 0 {
            return;
        }
        let mut pool = POOL.lock().unwrap_or_else(|p| p.into_inner());
        let held: usize = pool.iter().map(Vec::capacity).sum();
        if pool.len() < POOL_BUFFERS && held + buf.capacity() <= POOL_BYTES {
            pool.push(buf);
        }
    }
}

impl std::ops::Deref for PooledBuf {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl std::ops::DerefMut for PooledBuf {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}
