//! The filesystem store. Every value is a file under the root directory, its key the path
//! relative to the root. Every write goes to a temporary file in the same directory and is
//! renamed (linked) into place, so readers and killed writers only ever see old or new
//! files; `durable` stores also sync the file and its directory in the order that survives
//! power loss (data, rename, directory). Read-modify-writes (`update`) hold an in-process
//! lock and, between processes, an advisory lock on the key's byte of its directory's lock
//! file (see `store::lockfile`).

use super::{lockfile, PooledBuf, WritableStore};
use super::{resolve_ranges, ByteRange, ListableStore, Listing, ReadableStore, Update};
use crate::error::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::OnceLock;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Whether `Z5PY_DURABLE=1` makes every filesystem store of this process durable (read once).
pub fn durable_from_env() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var("Z5PY_DURABLE").is_ok_and(|v| v.trim() == "1"))
}

/// Whether the lock files between processes are off: `Z5PY_FILE_LOCKING=none` (read once),
/// as tensorstore's `file_io_locking` mode `none` does, for a process that knows it is the
/// only writer; or [`set_process_locks`]. Threads of one process still exclude each other.
fn process_locks_off() -> bool {
    match LOCKS.load(Ordering::Relaxed) {
        LOCKS_ON => false,
        LOCKS_OFF => true,
        _ => {
            let off = std::env::var("Z5PY_FILE_LOCKING")
                .is_ok_and(|v| v.trim().eq_ignore_ascii_case("none"));
            let _ = LOCKS.compare_exchange(
                LOCKS_FROM_ENV,
                if off { LOCKS_OFF } else { LOCKS_ON },
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
            process_locks_off()
        }
    }
}

const LOCKS_FROM_ENV: u8 = 0;
const LOCKS_ON: u8 = 1;
const LOCKS_OFF: u8 = 2;
static LOCKS: AtomicU8 = AtomicU8::new(LOCKS_FROM_ENV);

/// Turn the lock files between processes on or off for this process from now on, whatever
/// `Z5PY_FILE_LOCKING` says: for measuring what they cost op by op in one process
/// (`benches/bench_durable.py --in-process`), where separate processes differ by more.
pub fn set_process_locks(on: bool) {
    LOCKS.store(if on { LOCKS_ON } else { LOCKS_OFF }, Ordering::Relaxed);
}

/// A directory as a store.
#[derive(Clone, Debug)]
pub struct FsStore {
    root: PathBuf,
    durable: bool,
}

impl FsStore {
    /// The store rooted at `root` (which need not exist yet: writes create directories).
    /// Durable when `Z5PY_DURABLE=1`.
    pub fn new(root: impl Into<PathBuf>) -> FsStore {
        FsStore {
            root: root.into(),
            durable: durable_from_env(),
        }
    }

    /// Make every write durable before it returns (or not, unless `Z5PY_DURABLE=1`).
    pub fn with_durable(mut self, durable: bool) -> FsStore {
        self.durable = durable || durable_from_env();
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn is_durable(&self) -> bool {
        self.durable
    }

    /// The file of `key`. Keys are `/`-separated relative names; `..`, `.` and empty
    /// components would leave the root or alias another key, and are refused.
    pub fn path(&self, key: &str) -> Result<PathBuf> {
        if key.is_empty() {
            return Ok(self.root.clone());
        }
        if key
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == ".." || c.contains('\0'))
        {
            return Err(Error::invalid(format!(
                "invalid key {key:?} in the store at {}",
                self.root.display()
            )));
        }
        Ok(self.root.join(key))
    }
}

impl FsStore {
    /// Open the file of `key` once and read each range into the buffer `dest` gives for it
    /// (pread); false when the value is missing.
    fn pread(
        &self,
        key: &str,
        ranges: &[ByteRange],
        bufs: &mut dyn Iterator<Item = &mut Vec<u8>>,
    ) -> Result<bool> {
        use std::os::unix::fs::FileExt;
        let path = self.path(key)?;
        let f = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if missing(&e) => return Ok(false),
            Err(e) => return Err(Error::io(&path, e)),
        };
        let meta = f.metadata().map_err(|e| Error::io(&path, e))?;
        if meta.is_dir() {
            return Ok(false);
        }
        let spans = resolve_ranges(ranges, meta.len(), &path.to_string_lossy())?;
        for (r, buf) in spans.into_iter().zip(bufs) {
            let len = (r.end - r.start) as usize;
            super::set_len(buf, len)?;
            f.read_exact_at(buf, r.start)
                .map_err(|e| Error::io(&path, e))?;
        }
        Ok(true)
    }
}

/// A missing file, or a path through a file: the value is not there.
fn missing(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR)
}

impl ReadableStore for FsStore {
    fn location(&self, key: &str) -> String {
        match key {
            "" => self.root.to_string_lossy().into_owned(),
            k => self.root.join(k).to_string_lossy().into_owned(),
        }
    }

    fn get_into(&self, key: &str, buf: &mut Vec<u8>) -> Result<bool> {
        let path = self.path(key)?;
        match read_into(&path, buf) {
            Err(Error::Io { source, .. }) if source.raw_os_error() == Some(libc::EISDIR) => {
                Ok(false)
            }
            r => r,
        }
    }

    fn get_ranges(&self, key: &str, ranges: &[ByteRange]) -> Result<Option<Vec<Vec<u8>>>> {
        let mut out = vec![Vec::new(); ranges.len()];
        let found = self.pread(key, ranges, &mut out.iter_mut())?;
        Ok(found.then_some(out))
    }

    fn get_range_into(&self, key: &str, range: &ByteRange, buf: &mut Vec<u8>) -> Result<bool> {
        self.pread(key, std::slice::from_ref(range), &mut std::iter::once(buf))
    }

    fn size(&self, key: &str) -> Result<Option<u64>> {
        let path = self.path(key)?;
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => Ok(Some(m.len())),
            Ok(_) => Ok(None),
            Err(e) if missing(&e) => Ok(None),
            Err(e) => Err(Error::io(&path, e)),
        }
    }
}

impl WritableStore for FsStore {
    fn put_parts(&self, key: &str, parts: &[&[u8]]) -> Result<()> {
        write_atomic_parts_with(&self.path(key)?, parts, self.durable)
    }

    fn delete(&self, key: &str) -> Result<()> {
        remove_opt_with(&self.path(key)?, self.durable)
    }

    fn create_prefix(&self, prefix: &str) -> Result<()> {
        make_dirs(&self.path(prefix)?, self.durable)
    }

    fn delete_prefix(&self, prefix: &str) -> Result<()> {
        let path = self.path(prefix)?;
        let meta = match std::fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) if missing(&e) => return Ok(()),
            Err(e) => return Err(Error::io(&path, e)),
        };
        if !meta.is_dir() {
            return remove_opt_with(&path, self.durable);
        }
        if prefix.is_empty() {
            // The root stays; everything in it goes.
            for entry in std::fs::read_dir(&path).map_err(|e| Error::io(&path, e))? {
                let entry = entry.map_err(|e| Error::io(&path, e))?;
                let p = entry.path();
                let r = match entry.file_type() {
                    Ok(t) if t.is_dir() => std::fs::remove_dir_all(&p),
                    _ => std::fs::remove_file(&p),
                };
                match r {
                    Err(e) if !missing(&e) => return Err(Error::io(&p, e)),
                    _ => {}
                }
            }
        } else {
            match std::fs::remove_dir_all(&path) {
                Err(e) if !missing(&e) => return Err(Error::io(&path, e)),
                _ => {}
            }
        }
        if self.durable {
            sync_dir(path.parent().unwrap_or(&path))?;
        }
        Ok(())
    }

    fn update_under(
        &self,
        node: &str,
        key: &str,
        f: &mut dyn FnMut(Option<&[u8]>) -> Result<Update>,
    ) -> Result<()> {
        if key.is_empty() {
            return Err(Error::invalid("the store's root is not a value"));
        }
        let path = self.path(key)?;
        let rel = super::below(node, key)?;
        // Threads of this process, and other processes through the node's lock file.
        let between = !process_locks_off();
        let _lock = lockfile::lock_key(&self.path(node)?, rel, self.durable, between)?;
        let mut buf = PooledBuf::default();
        let found = self.get_into(key, &mut buf)?;
        match f(found.then_some(&buf[..]))? {
            Update::Put(parts) => {
                let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
                write_atomic_parts_with(&path, &refs, self.durable)
            }
            Update::Delete => remove_opt_with(&path, self.durable),
            Update::Keep => Ok(()),
        }
    }
}

impl ListableStore for FsStore {
    fn list_dir(&self, prefix: &str) -> Result<Listing> {
        let dir = self.path(prefix)?;
        let mut out = Listing::default();
        for (name, is_dir) in entries(&dir)? {
            let key = super::join(prefix, &name);
            if is_dir {
                out.prefixes.push(key);
            } else {
                out.keys.push(key);
            }
        }
        out.keys.sort();
        out.prefixes.sort();
        Ok(out)
    }

    fn prefix_exists(&self, prefix: &str) -> Result<bool> {
        Ok(self.path(prefix)?.is_dir())
    }

    fn list_prefix(&self, prefix: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut todo = vec![prefix.to_string()];
        while let Some(p) = todo.pop() {
            for (name, is_dir) in entries(&self.path(&p)?)? {
                let key = super::join(&p, &name);
                if is_dir {
                    todo.push(key);
                } else {
                    out.push(key);
                }
            }
        }
        out.sort();
        Ok(out)
    }
}

/// Whether a directory entry is the store's own (a temporary or a lock file), not a value.
pub fn is_internal(name: &str) -> bool {
    name.starts_with(TMP_PREFIX) || name.starts_with(lockfile::LOCK_NAME)
}

/// The entries of `dir` that are values or sub-prefixes: (name, is a directory). A missing
/// directory (or a file) has none.
fn entries(dir: &Path) -> Result<Vec<(String, bool)>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if missing(&e) => return Ok(Vec::new()),
        Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let Ok(name) = entry.file_name().into_string() else {
            continue; // not a key this store could have written or be asked for
        };
        if is_internal(&name) {
            continue;
        }
        let mut ft = entry.file_type().map_err(|e| Error::io(entry.path(), e))?;
        if ft.is_symlink() {
            match std::fs::metadata(entry.path()) {
                Ok(m) => ft = m.file_type(),
                Err(_) => continue, // dangling
            }
        }
        if ft.is_dir() || ft.is_file() {
            out.push((name, ft.is_dir()));
        }
    }
    Ok(out)
}

/// Create `dir` and its missing ancestors; when durable, each created directory's parent is
/// synced so that the new entries survive power loss.
pub(super) fn make_dirs(dir: &Path, durable: bool) -> Result<()> {
    let mut created = Vec::new();
    if durable {
        let mut d = dir;
        while !d.as_os_str().is_empty() && !d.exists() {
            created.push(d.to_path_buf());
            match d.parent() {
                Some(p) => d = p,
                None => break,
            }
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    for d in created.iter().rev() {
        sync_dir(d.parent().unwrap_or(Path::new(".")))?;
    }
    Ok(())
}

/// fsync a directory, making the entries created, renamed or removed in it durable.
fn sync_dir(dir: &Path) -> Result<()> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

/// Prefix of temporary files (skipped by listings).
const TMP_PREFIX: &str = ".z5tmp.";

fn tmp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!("{TMP_PREFIX}{name}.{}.{n}", std::process::id()))
}

/// Write the concatenation of `parts` to `path` atomically.
#[cfg(test)]
fn write_atomic_parts(path: &Path, parts: &[&[u8]]) -> Result<()> {
    write_atomic_parts_with(path, parts, durable_from_env())
}

/// Write the concatenation of `parts` to `path` atomically; when `durable`, the data, the
/// rename and the directory entry are synced in that order before returning.
fn write_atomic_parts_with(path: &Path, parts: &[&[u8]], durable: bool) -> Result<()> {
    #[cfg(target_os = "linux")]
    let done = tmpfile::write(path, parts, durable)?;
    #[cfg(not(target_os = "linux"))]
    let done = false;
    if !done {
        write_named_tmp(path, parts, durable)?;
    }
    if durable {
        sync_dir(path.parent().unwrap_or(Path::new(".")))?;
    }
    Ok(())
}

/// The portable way: a named temporary file in the same directory, renamed into place.
fn write_named_tmp(path: &Path, parts: &[&[u8]], durable: bool) -> Result<()> {
    let tmp = tmp_path(path);
    let mut file = match std::fs::File::create(&tmp) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            make_dirs(path.parent().unwrap_or(Path::new(".")), durable)?;
            std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?
        }
        Err(e) => return Err(Error::io(&tmp, e)),
    };
    let res = write_all_vectored(&mut file, parts).and_then(|_| {
        if durable {
            file.sync_data()?;
        }
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
    use super::{make_dirs, tmp_path, write_all_vectored};
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
    pub fn write(path: &Path, parts: &[&[u8]], durable: bool) -> Result<bool> {
        write_with(path, parts, EMPTY_PATH.load(Ordering::Relaxed), durable)
    }

    /// `write`, linking the file by its descriptor (`empty_path`) or through /proc.
    pub(super) fn write_with(
        path: &Path,
        parts: &[&[u8]],
        empty_path: bool,
        durable: bool,
    ) -> Result<bool> {
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
                make_dirs(dir, durable)?;
                open().map_err(|e| Error::io(dir, e))?
            }
            Err(e) if unsupported(&e) => {
                USABLE.store(false, Ordering::Relaxed);
                return Ok(false);
            }
            Err(e) => return Err(Error::io(dir, e)),
        };
        write_all_vectored(&mut file, parts).map_err(|e| Error::io(path, e))?;
        if durable {
            file.sync_data().map_err(|e| Error::io(path, e))?;
        }
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

/// Read the file into `buf` (reusing its allocation); false when it does not exist.
fn read_into(path: &Path, buf: &mut Vec<u8>) -> Result<bool> {
    use std::io::Read;
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if missing(&e) => return Ok(false),
        Err(e) => return Err(Error::io(path, e)),
    };
    buf.clear();
    if let Ok(m) = f.metadata() {
        buf.reserve(m.len() as usize);
    }
    f.read_to_end(buf).map_err(|e| Error::io(path, e))?;
    Ok(true)
}

fn remove_opt_with(path: &Path, durable: bool) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) if durable => sync_dir(path.parent().unwrap_or(Path::new("."))),
        Ok(()) => Ok(()),
        Err(e) if missing(&e) => Ok(()),
        Err(e) => Err(Error::io(path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::conformance;

    fn scratch(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("z5py-fsstore-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn conformance_plain_and_durable() {
        for durable in [false, true] {
            let dir = scratch(&format!("conf-{durable}"));
            let store = FsStore::new(&dir).with_durable(durable);
            assert!(store.is_durable() || !durable);
            conformance::check_store(&store);
            // Nothing of the store's own is left behind: no temporaries, no lock files.
            let mut left = Vec::new();
            let mut todo = vec![dir.clone()];
            while let Some(d) = todo.pop() {
                for e in std::fs::read_dir(&d).unwrap() {
                    let e = e.unwrap();
                    if e.file_type().unwrap().is_dir() {
                        todo.push(e.path());
                    } else {
                        left.push(e.path());
                    }
                }
            }
            assert!(
                left.iter()
                    .all(|p| !is_internal(&p.file_name().unwrap().to_string_lossy())),
                "{left:?}"
            );
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    #[test]
    fn listings_skip_temporaries_and_lock_files_and_keys_stay_inside() {
        let dir = scratch("hidden");
        let store = FsStore::new(&dir);
        store.put("a/0", b"x").unwrap();
        std::fs::write(dir.join("a/.z5tmp.0.123.4"), b"junk").unwrap();
        std::fs::write(dir.join("a/.z5lock"), b"").unwrap();
        std::fs::write(dir.join("a/.z5lock.0"), b"").unwrap(); // an older build's
        std::fs::create_dir_all(dir.join("a/.z5tmp.dir")).unwrap();
        assert_eq!(store.list_dir("a").unwrap().keys, ["a/0"]);
        assert!(store.list_dir("a").unwrap().prefixes.is_empty());
        assert_eq!(store.list_prefix("").unwrap(), ["a/0"]);
        // An update in a directory whose lock file a killed process left behind takes it
        // over and removes it.
        conformance::increment(&store, "a/0n").unwrap();
        store.update("a/0", &mut |_| Ok(Update::Keep)).unwrap();
        assert!(!dir.join("a/.z5lock").exists());
        assert_eq!(store.list_dir("a").unwrap().keys, ["a/0", "a/0n"]);
        for bad in ["../x", "a/../../x", "/abs", "a//b", "a/./b", "a/"] {
            let err = store.put(bad, b"x").unwrap_err();
            assert!(matches!(err, Error::InvalidArgument(_)), "{bad}: {err}");
        }
        assert!(store.location("a/0").ends_with("a/0"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The child side of `processes_updating_shared_and_own_keys_lose_nothing` (runs only
    /// when that test starts it, with the directory in the environment): two threads, each
    /// incrementing one key all processes share, one key per thread shared with the same
    /// thread of the other processes, and one key of its own, all in one directory; one
    /// thread inside a write call's scope (the lock file kept open), the other not.
    #[test]
    #[ignore]
    fn update_child() {
        let Some(dir) = std::env::var_os("Z5PY_TEST_UPDATE_DIR") else {
            return;
        };
        if std::env::var_os("Z5PY_TEST_COLLIDE").is_some() {
            lockfile::collide_for_tests();
        }
        let child = std::env::var("Z5PY_TEST_CHILD").unwrap();
        let store = FsStore::new(PathBuf::from(dir));
        std::thread::scope(|s| {
            for t in 0..2 {
                let (store, child) = (&store, &child);
                s.spawn(move || {
                    let scope = super::super::LockScope::new();
                    let _in = (t == 0).then(|| scope.enter());
                    for _ in 0..40 {
                        for key in ["counter", &format!("k{t}"), &format!("p{child}_{t}")] {
                            conformance::increment(store, &format!("shared/{key}")).unwrap();
                        }
                    }
                });
            }
        });
    }

    /// 3 processes of `update_child`: nothing lost, and no lock file left once they exit.
    fn run_update_children(tag: &str, collide: bool) {
        let dir = scratch(tag);
        std::fs::create_dir_all(&dir).unwrap();
        let exe = std::env::current_exe().unwrap();
        let children: Vec<_> = (0..3)
            .map(|i| {
                let mut cmd = std::process::Command::new(&exe);
                cmd.args([
                    "--exact",
                    "store::fs::tests::update_child",
                    "--ignored",
                    "--test-threads=1",
                ])
                .env("Z5PY_TEST_UPDATE_DIR", &dir)
                .env("Z5PY_TEST_CHILD", i.to_string())
                .stdout(std::process::Stdio::null());
                if collide {
                    cmd.env("Z5PY_TEST_COLLIDE", "1");
                }
                cmd.spawn().unwrap()
            })
            .collect();
        for mut c in children {
            assert!(c.wait().unwrap().success());
        }
        let store = FsStore::new(&dir);
        let mut want = vec![
            ("counter".to_string(), 240),
            ("k0".into(), 120),
            ("k1".into(), 120),
        ];
        for c in 0..3 {
            for t in 0..2 {
                want.push((format!("p{c}_{t}"), 40));
            }
        }
        for (key, n) in &want {
            let got = store.get(&format!("shared/{key}")).unwrap().unwrap();
            assert_eq!(String::from_utf8(got).unwrap(), n.to_string(), "{key}");
        }
        let mut keys: Vec<String> = want.into_iter().map(|(k, _)| k).collect();
        keys.sort();
        assert_eq!(names(&dir.join("shared")), keys);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn processes_updating_shared_and_own_keys_lose_nothing() {
        run_update_children("procs", false);
    }

    /// Every key at one offset of the lock file (a test hook): two threads of a process
    /// updating different keys share that byte's lock, which must not let another process
    /// in while either still updates (in-process exclusion keyed on the offset, not the key).
    #[test]
    fn processes_updating_keys_at_one_offset_lose_nothing() {
        run_update_children("collide", true);
    }

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
        write_named_tmp(&target, &[b"named ", b"temporary"], false).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"named temporary");
        let other = dir.join("c/chunk");
        write_named_tmp(&other, &[b"x"], false).unwrap();
        assert_eq!(std::fs::read(&other).unwrap(), b"x");
        assert_eq!(names(&dir.join("a/b")), ["chunk"]);
        assert_eq!(names(&dir.join("c")), ["chunk"]);
        // O_TMPFILE linked by descriptor and through /proc, creating and replacing.
        #[cfg(target_os = "linux")]
        for (i, empty_path) in [true, false].into_iter().enumerate() {
            let file = dir.join(format!("e/{i}"));
            for content in [&b"first"[..], b"second"] {
                assert!(tmpfile::write_with(&file, &[content], empty_path, false).unwrap());
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
