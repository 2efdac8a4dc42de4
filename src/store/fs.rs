//! The filesystem store (the backend of `store::FsStore`). Every write goes to a temporary file in the same directory and is
//! renamed into place, so readers and killed writers only ever see old or new files.

use crate::error::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Striped in-process locks, so that concurrent calls touching the same chunk or shard file
/// (e.g. threads writing different regions of one chunk) serialise their read-modify-write.
/// Held only around one file's update, never across nested parallel work.
pub fn lock(path: &Path) -> std::sync::MutexGuard<'static, ()> {
    use std::hash::{Hash, Hasher};
    static STRIPES: [std::sync::Mutex<()>; 256] = [const { std::sync::Mutex::new(()) }; 256];
    let mut h = std::collections::hash_map::DefaultHasher::new();
    path.hash(&mut h);
    STRIPES[(h.finish() % 256) as usize]
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

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

/// Prefix of temporary files; listings skip dot-files.
const TMP_PREFIX: &str = ".z5tmp.";

fn tmp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!("{TMP_PREFIX}{name}.{}.{n}", std::process::id()))
}

/// A finished file for the store: its parts, written atomically, or None to remove it.
pub struct Put {
    pub path: PathBuf,
    pub parts: Option<Vec<PooledBuf>>,
}

impl Put {
    /// Write or remove the file; the caller holds the file's lock when others may touch it.
    pub fn apply(&self) -> Result<()> {
        match &self.parts {
            None => remove_opt(&self.path),
            Some(parts) => {
                let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
                write_atomic_parts(&self.path, &refs)
            }
        }
    }
}

/// Write `bytes` to `path` atomically, creating parent directories as needed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_parts(path, &[bytes])
}

/// Write the concatenation of `parts` to `path` atomically.
pub fn write_atomic_parts(path: &Path, parts: &[&[u8]]) -> Result<()> {
    #[cfg(target_os = "linux")]
    if tmpfile::write(path, parts)? {
        return Ok(());
    }
    write_named_tmp(path, parts)
}

/// The portable way: a named temporary file in the same directory, renamed into place.
fn write_named_tmp(path: &Path, parts: &[&[u8]]) -> Result<()> {
    let tmp = tmp_path(path);
    let mut file = match std::fs::File::create(&tmp) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let parent = path.parent().unwrap_or(Path::new("."));
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
            std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?
        }
        Err(e) => return Err(Error::io(&tmp, e)),
    };
    let res = write_all_vectored(&mut file, parts).and_then(|_| {
        drop(file);
        std::fs::rename(&tmp, path)
    });
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    Ok(())
}

/// Linux: an unnamed `O_TMPFILE` inode, written and then linked in under its name. Like a
/// named temporary plus rename it never shows a partial file, but it modifies the directory
/// once instead of twice per chunk, which is what writing many chunk files costs (the
/// directory's lock and entries).
#[cfg(target_os = "linux")]
mod tmpfile {
    use super::{tmp_path, write_all_vectored};
    use crate::error::{Error, Result};
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::io::AsRawFd;
    use std::path::Path;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Cleared for good once the file system or the process's view of /proc cannot do it.
    static USABLE: AtomicBool = AtomicBool::new(true);
    /// Cleared for good once the kernel refuses `linkat(fd, "", AT_EMPTY_PATH)`.
    static EMPTY_PATH: AtomicBool = AtomicBool::new(true);

    /// Write `parts` as `path`; false when this way is not available (nothing was written).
    pub fn write(path: &Path, parts: &[&[u8]]) -> Result<bool> {
        write_with(path, parts, EMPTY_PATH.load(Ordering::Relaxed))
    }

    /// `write`, linking the file by its descriptor (`empty_path`) or through /proc.
    pub(super) fn write_with(path: &Path, parts: &[&[u8]], empty_path: bool) -> Result<bool> {
        if !USABLE.load(Ordering::Relaxed) {
            return Ok(false);
        }
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let open = || {
            std::fs::OpenOptions::new()
                .write(true)
                .mode(0o666)
                .custom_flags(libc::O_TMPFILE)
                .open(dir)
        };
        let mut file = match open() {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
                open().map_err(|e| Error::io(dir, e))?
            }
            Err(e) if unsupported(&e) => {
                USABLE.store(false, Ordering::Relaxed);
                return Ok(false);
            }
            Err(e) => return Err(Error::io(dir, e)),
        };
        write_all_vectored(&mut file, parts).map_err(|e| Error::io(path, e))?;
        let proc_path = CString::new(format!("/proc/self/fd/{}", file.as_raw_fd()))
            .expect("no NUL in a number");
        let link = |to: &Path| -> std::io::Result<()> {
            let to = CString::new(to.as_os_str().as_bytes())
                .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
            // Linking the descriptor itself (AT_EMPTY_PATH) skips resolving the /proc path;
            // kernels before 6.10 allow it only with CAP_DAC_READ_SEARCH and say ENOENT.
            if empty_path {
                // SAFETY: the empty path and `to` are NUL-terminated and outlive the call.
                let r = unsafe {
                    libc::linkat(
                        file.as_raw_fd(),
                        c"".as_ptr(),
                        libc::AT_FDCWD,
                        to.as_ptr(),
                        libc::AT_EMPTY_PATH,
                    )
                };
                if r == 0 {
                    return Ok(());
                }
                let e = std::io::Error::last_os_error();
                if !matches!(
                    e.raw_os_error(),
                    Some(libc::ENOENT | libc::EPERM | libc::EINVAL)
                ) {
                    return Err(e);
                }
                EMPTY_PATH.store(false, Ordering::Relaxed);
            }
            // SAFETY: both paths are NUL-terminated C strings that outlive the call.
            let r = unsafe {
                libc::linkat(
                    libc::AT_FDCWD,
                    proc_path.as_ptr(),
                    libc::AT_FDCWD,
                    to.as_ptr(),
                    libc::AT_SYMLINK_FOLLOW,
                )
            };
            if r == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        };
        match link(path) {
            Ok(()) => Ok(true),
            // Replacing a file: link under a temporary name, then rename over it.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let tmp = tmp_path(path);
                link(&tmp).map_err(|e| Error::io(&tmp, e))?;
                std::fs::rename(&tmp, path).map_err(|e| {
                    let _ = std::fs::remove_file(&tmp);
                    Error::io(path, e)
                })?;
                Ok(true)
            }
            // No /proc, or a file system that cannot link: fall back for good.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound || unsupported(&e) => {
                USABLE.store(false, Ordering::Relaxed);
                Ok(false)
            }
            Err(e) => Err(Error::io(path, e)),
        }
    }

    fn unsupported(e: &std::io::Error) -> bool {
        matches!(
            e.raw_os_error(),
            Some(libc::EOPNOTSUPP | libc::EISDIR | libc::EINVAL | libc::EXDEV | libc::EPERM)
        )
    }
}

/// Write every part with as few `writev` calls as the kernel allows (a shard is many parts).
fn write_all_vectored(file: &mut std::fs::File, parts: &[&[u8]]) -> std::io::Result<()> {
    let mut slices: Vec<std::io::IoSlice> = parts
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| std::io::IoSlice::new(p))
        .collect();
    let mut rest = &mut slices[..];
    while !rest.is_empty() {
        match file.write_vectored(rest) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => std::io::IoSlice::advance_slices(&mut rest, n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The file's bytes, or None when it does not exist.
pub fn read_opt(path: &Path) -> Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Read the file into `buf` (reusing its allocation); false when it does not exist.
pub fn read_into(path: &Path, buf: &mut Vec<u8>) -> Result<bool> {
    use std::io::Read;
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::io(path, e)),
    };
    buf.clear();
    if let Ok(m) = f.metadata() {
        buf.reserve(m.len() as usize);
    }
    f.read_to_end(buf).map_err(|e| Error::io(path, e))?;
    Ok(true)
}

/// What `read_part_into` found.
pub enum Part {
    Missing,
    Read,
    /// The file does not start or end as expected; only decoding it whole can say why.
    Unexpected,
}

/// Read `range` of the payload of a file expected to be `header` followed by `len` payload
/// bytes into `buf`.
pub fn read_part_into(
    path: &Path,
    header: &[u8],
    len: u64,
    range: std::ops::Range<u64>,
    buf: &mut Vec<u8>,
) -> Result<Part> {
    use std::os::unix::fs::FileExt;
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Part::Missing),
        Err(e) => return Err(Error::io(path, e)),
    };
    let at = header.len() as u64;
    if f.metadata().map_err(|e| Error::io(path, e))?.len() != at + len {
        return Ok(Part::Unexpected);
    }
    if !header.is_empty() {
        let mut got = vec![0u8; header.len()];
        f.read_exact_at(&mut got, 0)
            .map_err(|e| Error::io(path, e))?;
        if got != header {
            return Ok(Part::Unexpected);
        }
    }
    set_len(buf, (range.end - range.start) as usize)?;
    f.read_exact_at(buf, at + range.start)
        .map_err(|e| Error::io(path, e))?;
    Ok(Part::Read)
}

/// Remove a file if it exists.
pub fn remove_opt(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Relative paths ('/'-joined) of the files exactly `depth` levels below `dir`, skipping
/// hidden entries (metadata, temporary files).
pub fn list_files(dir: &Path, depth: usize) -> Result<Vec<String>> {
    let mut out = Vec::new();
    walk(dir, depth, String::new(), &mut out)?;
    out.sort();
    Ok(out)
}

fn walk(dir: &Path, depth: usize, prefix: String, out: &mut Vec<String>) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let rel = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        let ft = entry.file_type().map_err(|e| Error::io(entry.path(), e))?;
        if depth <= 1 {
            if ft.is_file() {
                out.push(rel);
            }
        } else if ft.is_dir() {
            walk(&entry.path(), depth - 1, rel, out)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn atomic_writes_create_replace_and_leave_no_temporaries() {
        let dir = std::env::temp_dir().join(format!("z5py-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let target = dir.join("a/b/chunk");
        // Both ways: the O_TMPFILE link (Linux) and the named temporary plus rename.
        write_atomic_parts(&target, &[b"new ", b"file"]).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new file");
        write_atomic_parts(&target, &[b"replaced"]).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"replaced");
        write_named_tmp(&target, &[b"named ", b"temporary"]).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"named temporary");
        let other = dir.join("c/chunk");
        write_named_tmp(&other, &[b"x"]).unwrap();
        assert_eq!(std::fs::read(&other).unwrap(), b"x");
        assert_eq!(names(&dir.join("a/b")), ["chunk"]);
        assert_eq!(names(&dir.join("c")), ["chunk"]);
        // O_TMPFILE linked by descriptor and through /proc, creating and replacing.
        #[cfg(target_os = "linux")]
        for (i, empty_path) in [true, false].into_iter().enumerate() {
            let file = dir.join(format!("e/{i}"));
            for content in [&b"first"[..], b"second"] {
                assert!(tmpfile::write_with(&file, &[content], empty_path).unwrap());
                assert_eq!(std::fs::read(&file).unwrap(), content);
            }
        }
        #[cfg(target_os = "linux")]
        assert_eq!(names(&dir.join("e")), ["0", "1"]);
        // A directory where the file should go is an error that names the path.
        std::fs::create_dir_all(dir.join("d/chunk")).unwrap();
        let err = write_atomic_parts(&dir.join("d/chunk"), &[b"x"]).unwrap_err();
        assert!(err.to_string().contains("d/chunk"), "{err}");
        assert_eq!(names(&dir.join("d")), ["chunk"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
