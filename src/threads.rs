//! One rayon pool per thread count, built once and reused across calls.

use crate::error::{Error, Result};
use crate::store::{self, PooledBuf, Put};
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock};

fn pool(n: usize) -> Result<Arc<rayon::ThreadPool>> {
    static POOLS: OnceLock<Mutex<HashMap<usize, Arc<rayon::ThreadPool>>>> = OnceLock::new();
    let mut pools = POOLS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(p) = pools.get(&n) {
        return Ok(p.clone());
    }
    let p = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .thread_name(|i| format!("z5py-{i}"))
        .build()
        .map_err(|e| Error::invalid(format!("cannot start {n} threads: {e}")))?;
    let p = Arc::new(p);
    pools.insert(n, p.clone());
    Ok(p)
}

/// Run `f` on every item with a per-thread scratch buffer, on `n_threads` threads
/// (inline for one), stopping at the first error.
pub fn for_each<T: Sync, S: Default>(
    n_threads: usize,
    items: &[T],
    f: impl Fn(&mut S, &T) -> Result<()> + Sync + Send,
) -> Result<()> {
    if n_threads <= 1 || items.len() <= 1 {
        let mut scratch = S::default();
        return items.iter().try_for_each(|it| f(&mut scratch, it));
    }
    pool(n_threads)?.install(|| {
        items
            .par_iter()
            .try_for_each_init(S::default, |s, it| f(s, it))
    })
}

/// Map `f` over the items on `n_threads` threads (inline for one), keeping their order.
/// Called from inside a task of `for_each`, it shares that call's pool.
pub fn map<T: Sync, R: Send>(
    n_threads: usize,
    items: &[T],
    f: impl Fn(&mut Vec<u8>, &T) -> Result<R> + Sync + Send,
) -> Result<Vec<R>> {
    if n_threads <= 1 || items.len() <= 1 {
        let mut scratch = Vec::new();
        return items.iter().map(|it| f(&mut scratch, it)).collect();
    }
    pool(n_threads)?.install(|| {
        items
            .par_iter()
            .map_init(Vec::new, |s, it| f(s, it))
            .collect()
    })
}

/// Where a task hands the files it has finished: applied on the spot, or queued to the I/O
/// thread of `for_each_put`.
pub enum Sink {
    Inline,
    Queue(SyncSender<Put>, Arc<AtomicBool>),
}

impl Sink {
    /// Store `put` under its file's lock (taken on whichever thread writes).
    pub fn put(&self, put: Put) -> Result<()> {
        match self {
            Sink::Inline => {
                let _guard = store::lock(&put.path);
                put.apply()
            }
            Sink::Queue(tx, failed) => {
                // After a failed write the remaining work is pointless; the caller reports
                // the I/O thread's own error.
                if failed.load(Ordering::Relaxed) {
                    return Err(Error::invalid("stopped after a failed write"));
                }
                // A full queue means the I/O thread is behind: write here rather than wait.
                match tx.try_send(put) {
                    Ok(()) => Ok(()),
                    Err(TrySendError::Full(put)) => {
                        let _guard = store::lock(&put.path);
                        put.apply()
                    }
                    Err(TrySendError::Disconnected(_)) => {
                        Err(Error::invalid("the I/O thread has stopped"))
                    }
                }
            }
        }
    }
}

/// Files queued to the I/O thread at most; bounds the memory of finished, unwritten chunks.
const QUEUED_PUTS: usize = 2;

/// Like `for_each`, with a `Sink` for finished files. With several items, one extra thread
/// does the file system work (creating, writing and renaming files is mostly kernel time)
/// while the workers encode the next chunks, as tensorstore's separate I/O pool does.
pub fn for_each_put<T: Sync, S: Default>(
    n_threads: usize,
    items: &[T],
    item_bytes: usize,
    f: impl Fn(&mut S, &T, &Sink) -> Result<()> + Sync + Send,
) -> Result<()> {
    if !offload(items.len(), item_bytes) || n_threads >= cores() {
        return for_each(n_threads, items, |s, it| f(s, it, &Sink::Inline));
    }
    for_each_put_offloaded(n_threads, items, f)
}

fn for_each_put_offloaded<T: Sync, S: Default>(
    n_threads: usize,
    items: &[T],
    f: impl Fn(&mut S, &T, &Sink) -> Result<()> + Sync + Send,
) -> Result<()> {
    std::thread::scope(|scope| {
        let (tx, rx) = sync_channel::<Put>(QUEUED_PUTS);
        let failed = Arc::new(AtomicBool::new(false));
        let flag = failed.clone();
        let io = std::thread::Builder::new()
            .name("z5py-io".into())
            .spawn_scoped(scope, move || {
                let mut first = Ok(());
                for put in rx {
                    if first.is_ok() {
                        let _guard = store::lock(&put.path);
                        first = put.apply();
                        if first.is_err() {
                            flag.store(true, Ordering::Relaxed);
                        }
                    }
                }
                first
            })
            .map_err(|e| Error::invalid(format!("cannot start the I/O thread: {e}")))?;
        let sink = Sink::Queue(tx, failed);
        let work = for_each(n_threads, items, |s, it| f(s, it, &sink));
        drop(sink);
        let written = io.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        // The I/O thread's error is the cause when both failed.
        written.and(work)
    })
}

/// Like `for_each`, for work that first reads each item's file(s) with `fetch` (into a
/// buffer it reuses, plus a small result). On one thread, when a core is free, a second
/// thread reads ahead while this one decodes.
pub fn for_each_fetched<T: Sync, S: Default, R: Send>(
    n_threads: usize,
    items: &[T],
    item_bytes: usize,
    fetch: impl Fn(&T, &mut Vec<u8>) -> Result<R> + Sync,
    f: impl Fn(&mut S, &T, R, &[u8]) -> Result<()> + Sync + Send,
) -> Result<()> {
    if !offload(items.len(), item_bytes) || n_threads > 1 || cores() < 2 {
        return for_each(n_threads, items, |(s, buf): &mut (S, PooledBuf), it| {
            let r = fetch(it, buf)?;
            f(s, it, r, buf)
        });
    }
    for_each_fetched_offloaded(items, fetch, f)
}

fn for_each_fetched_offloaded<T: Sync, S: Default, R: Send>(
    items: &[T],
    fetch: impl Fn(&T, &mut Vec<u8>) -> Result<R> + Sync,
    f: impl Fn(&mut S, &T, R, &[u8]) -> Result<()>,
) -> Result<()> {
    std::thread::scope(|scope| {
        let (tx, rx) = sync_channel::<Result<(R, PooledBuf)>>(QUEUED_FILES);
        let fetch = &fetch;
        std::thread::Builder::new()
            .name("z5py-io".into())
            .spawn_scoped(scope, move || {
                for it in items {
                    let mut buf = PooledBuf::default();
                    let got = fetch(it, &mut buf).map(|r| (r, buf));
                    let failed = got.is_err();
                    // The receiver is gone when the decoding side failed: stop reading.
                    if tx.send(got).is_err() || failed {
                        break;
                    }
                }
            })
            .map_err(|e| Error::invalid(format!("cannot start the I/O thread: {e}")))?;
        let mut s = S::default();
        for it in items {
            let (r, buf) = rx
                .recv()
                .map_err(|_| Error::invalid("the I/O thread has stopped"))??;
            f(&mut s, it, r, &buf)?;
        }
        Ok(())
    })
}

/// Files read ahead at most; bounds the memory of fetched, undecoded chunks.
const QUEUED_FILES: usize = 2;

fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Whether an I/O thread pays: handing an item over costs a few microseconds of wake-ups,
/// which small chunks (16^3 bytes) do not win back.
fn offload(items: usize, item_bytes: usize) -> bool {
    items >= 4 && item_bytes >= 64 << 10 && std::env::var_os("Z5PY_NO_IO_THREAD").is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn tmp(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("z5py-threads-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn offloaded_puts_are_all_written_and_errors_name_the_file() {
        let dir = tmp("put");
        let items: Vec<usize> = (0..40).collect();
        for n in [1, 2] {
            for_each_put_offloaded(n, &items, |_: &mut (), i, sink| {
                sink.put(Put {
                    path: dir.join(format!("c{i}")),
                    parts: Some(vec![vec![*i as u8; 3], vec![]]),
                })
            })
            .unwrap();
            for i in &items {
                assert_eq!(
                    std::fs::read(dir.join(format!("c{i}"))).unwrap(),
                    [*i as u8; 3]
                );
            }
        }
        // A file where a directory must be: that write fails, and the call says which.
        std::fs::write(dir.join("blocker"), b"x").unwrap();
        let err = for_each_put_offloaded(1, &items, |_: &mut (), i, sink| {
            let name = if *i == 5 {
                "blocker/c5".into()
            } else {
                format!("d{i}")
            };
            sink.put(Put {
                path: dir.join(name),
                parts: Some(vec![vec![1]]),
            })
        })
        .unwrap_err();
        assert!(err.to_string().contains("blocker"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn fetched_items_arrive_in_order_and_errors_stop_both_threads() {
        let items: Vec<usize> = (0..50).collect();
        let seen = AtomicUsize::new(0);
        let fetch = |i: &usize, buf: &mut Vec<u8>| {
            buf.clear();
            buf.extend_from_slice(&i.to_le_bytes());
            Ok(i % 3 != 0)
        };
        for_each_fetched_offloaded(&items, fetch, |_: &mut (), i, found, b| {
            assert_eq!(seen.fetch_add(1, Ordering::Relaxed), *i);
            assert_eq!(b, i.to_le_bytes());
            assert_eq!(found, i % 3 != 0);
            Ok(())
        })
        .unwrap();
        assert_eq!(seen.load(Ordering::Relaxed), items.len());

        let failing_fetch = |i: &usize, _: &mut Vec<u8>| {
            if *i == 7 {
                Err(Error::invalid("fetch of 7 failed"))
            } else {
                Ok(false)
            }
        };
        let err = for_each_fetched_offloaded(&items, failing_fetch, |_: &mut (), _, _, _| Ok(()));
        assert!(err.unwrap_err().to_string().contains("fetch of 7"));

        let err = for_each_fetched_offloaded(&items, fetch, |_: &mut (), i, _, _| {
            if *i == 3 {
                Err(Error::invalid("decode of 3 failed"))
            } else {
                Ok(())
            }
        });
        assert!(err.unwrap_err().to_string().contains("decode of 3"));
    }
}
