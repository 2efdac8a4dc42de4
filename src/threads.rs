//! One rayon pool per thread count, built once and reused across calls.

use crate::error::{Error, Result};
use crate::store::{PooledBuf, Put, WritableStore};
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
        .map_err(|e| Error::exhausted(format!("cannot start {n} threads: {e}")))?;
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

/// Where a task hands the files it has finished: applied on the spot, or queued in batches
/// to the I/O thread of `for_each_put`.
pub enum Sink<'a> {
    Inline(&'a dyn WritableStore),
    Queue {
        store: &'a dyn WritableStore,
        tx: SyncSender<Vec<Put>>,
        failed: Arc<AtomicBool>,
        pending: Mutex<Vec<Put>>,
        batch: usize,
    },
}

impl Sink<'_> {
    /// Store `put` (on whichever thread writes).
    pub fn put(&self, put: Put) -> Result<()> {
        let (failed, pending, batch) = match self {
            Sink::Inline(store) => return put.apply(*store),
            Sink::Queue {
                failed,
                pending,
                batch,
                ..
            } => (failed, pending, batch),
        };
        // After a failed write the remaining work is pointless; the caller reports the I/O
        // thread's own error.
        if failed.load(Ordering::Relaxed) {
            return Err(Error::internal("stopped after a failed write"));
        }
        let full = {
            let mut p = pending.lock().unwrap_or_else(|p| p.into_inner());
            p.push(put);
            (p.len() >= *batch).then(|| std::mem::take(&mut *p))
        };
        match full {
            Some(puts) => self.send(puts, false),
            None => Ok(()),
        }
    }

    /// Hand a batch to the I/O thread; when its queue is full it is behind, and the batch is
    /// written here rather than waited for (unless `wait`).
    fn send(&self, puts: Vec<Put>, wait: bool) -> Result<()> {
        let (tx, store) = match self {
            Sink::Inline(store) => return puts.iter().try_for_each(|p| p.apply(*store)),
            Sink::Queue { tx, store, .. } => (tx, *store),
        };
        let gone = || Error::internal("the I/O thread has stopped");
        if wait {
            return tx.send(puts).map_err(|_| gone());
        }
        match tx.try_send(puts) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(puts)) => puts.iter().try_for_each(|p| p.apply(store)),
            Err(TrySendError::Disconnected(_)) => Err(gone()),
        }
    }

    /// Send what is still pending.
    fn flush(&self) -> Result<()> {
        if let Sink::Queue { pending, .. } = self {
            let rest = std::mem::take(&mut *pending.lock().unwrap_or_else(|p| p.into_inner()));
            if !rest.is_empty() {
                return self.send(rest, true);
            }
        }
        Ok(())
    }
}

/// Batches queued to the I/O thread at most; bounds the memory of finished, unwritten chunks.
const QUEUED_BATCHES: usize = 2;

/// Bytes of chunk data per batch handed between threads: a hand-over costs a few
/// microseconds of wake-ups, which small chunks (16^3 bytes) would not win back one by one.
const BATCH_BYTES: usize = 256 << 10;

fn batch_len(item_bytes: usize) -> usize {
    (BATCH_BYTES / item_bytes.max(1)).clamp(1, 256)
}

/// Like `for_each`, with a `Sink` for finished files. When a core is free, one extra thread
/// does the file system work (creating and writing files is mostly kernel time) while the
/// workers encode the next chunks, as tensorstore's separate I/O pool does. The call is one
/// [`crate::store::LockScope`].
pub fn for_each_put<T: Sync, S: Default>(
    store: &dyn WritableStore,
    n_threads: usize,
    items: &[T],
    item_bytes: usize,
    f: impl Fn(&mut S, &T, &Sink) -> Result<()> + Sync + Send,
) -> Result<()> {
    // One scope for the call: a read-modify-write's lock file (filesystem stores) is opened
    // once per directory and call, not once per chunk.
    let scope = crate::store::LockScope::new();
    let f = |s: &mut S, it: &T, sink: &Sink| {
        let _in = scope.enter();
        f(s, it, sink)
    };
    if !offload(items.len(), item_bytes) || n_threads >= cores() {
        return for_each(n_threads, items, |s, it| f(s, it, &Sink::Inline(store)));
    }
    for_each_put_offloaded(store, n_threads, items, item_bytes, f)
}

fn for_each_put_offloaded<T: Sync, S: Default>(
    store: &dyn WritableStore,
    n_threads: usize,
    items: &[T],
    item_bytes: usize,
    f: impl Fn(&mut S, &T, &Sink) -> Result<()> + Sync + Send,
) -> Result<()> {
    std::thread::scope(|scope| {
        let (tx, rx) = sync_channel::<Vec<Put>>(QUEUED_BATCHES);
        let failed = Arc::new(AtomicBool::new(false));
        let flag = failed.clone();
        let io = std::thread::Builder::new()
            .name("z5py-io".into())
            .spawn_scoped(scope, move || {
                let mut first = Ok(());
                for puts in rx {
                    if first.is_ok() {
                        first = puts.iter().try_for_each(|p| p.apply(store));
                        if first.is_err() {
                            flag.store(true, Ordering::Relaxed);
                        }
                    }
                }
                first
            })
            .map_err(|e| Error::exhausted(format!("cannot start the I/O thread: {e}")))?;
        let sink = Sink::Queue {
            store,
            tx,
            failed,
            pending: Mutex::new(Vec::new()),
            batch: batch_len(item_bytes),
        };
        let work = for_each(n_threads, items, |s, it| f(s, it, &sink)).and_then(|_| sink.flush());
        drop(sink);
        let written = io.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        // The I/O thread's error is the cause when both failed.
        written.and(work)
    })
}

/// Like `for_each`, for work that first reads each item's file(s) with `fetch` (into a
/// buffer it reuses, plus a small result). On one thread, when a core is free, a second
/// thread reads ahead while this one decodes. While it waits to hand over a batch (the
/// queue is full), it calls `ahead` with that batch for a step of other preparation, as
/// long as that returns true.
pub fn for_each_fetched<T: Sync, S: Default, R: Send>(
    n_threads: usize,
    items: &[T],
    item_bytes: usize,
    fetch: impl Fn(&T, &mut Vec<u8>) -> Result<R> + Sync,
    ahead: impl Fn(&[T]) -> bool + Sync,
    f: impl Fn(&mut S, &T, R, &[u8]) -> Result<()> + Sync + Send,
) -> Result<()> {
    if !offload(items.len(), item_bytes) || n_threads > 1 || cores() < 2 {
        return for_each(n_threads, items, |(s, buf): &mut (S, PooledBuf), it| {
            let r = fetch(it, buf)?;
            f(s, it, r, buf)
        });
    }
    for_each_fetched_offloaded(items, item_bytes, fetch, ahead, f)
}

fn for_each_fetched_offloaded<T: Sync, S: Default, R: Send>(
    items: &[T],
    item_bytes: usize,
    fetch: impl Fn(&T, &mut Vec<u8>) -> Result<R> + Sync,
    ahead: impl Fn(&[T]) -> bool + Sync,
    f: impl Fn(&mut S, &T, R, &[u8]) -> Result<()>,
) -> Result<()> {
    let batch = batch_len(item_bytes);
    std::thread::scope(|scope| {
        let (tx, rx) = sync_channel::<Result<Vec<(R, PooledBuf)>>>(QUEUED_BATCHES);
        let (fetch, ahead) = (&fetch, &ahead);
        std::thread::Builder::new()
            .name("z5py-io".into())
            .spawn_scoped(scope, move || {
                for group in items.chunks(batch) {
                    let got: Result<Vec<_>> = group
                        .iter()
                        .map(|it| {
                            let mut buf = PooledBuf::default();
                            fetch(it, &mut buf).map(|r| (r, buf))
                        })
                        .collect();
                    let failed = got.is_err();
                    // `ahead` runs, a step at a time, only while the decoder has work
                    // queued: it uses this thread's idle time and delays a hand-over by at
                    // most one step.
                    let mut pending = got;
                    let sent = loop {
                        match tx.try_send(pending) {
                            Ok(()) => break Ok(()),
                            Err(TrySendError::Full(back)) => {
                                pending = back;
                                if failed || !ahead(group) {
                                    break tx.send(pending).map_err(drop);
                                }
                            }
                            Err(TrySendError::Disconnected(_)) => break Err(()),
                        }
                    };
                    // The receiver is gone when the decoding side failed: stop reading.
                    if sent.is_err() || failed {
                        break;
                    }
                }
            })
            .map_err(|e| Error::exhausted(format!("cannot start the I/O thread: {e}")))?;
        let mut s = S::default();
        for group in items.chunks(batch) {
            let got = rx
                .recv()
                .map_err(|_| Error::internal("the I/O thread has stopped"))??;
            for (it, (r, buf)) in group.iter().zip(got) {
                f(&mut s, it, r, &buf)?;
            }
        }
        Ok(())
    })
}

fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Whether an I/O thread pays for starting it (tens of microseconds). `Z5PY_NO_IO_THREAD`
/// (read once) turns it off, for processes that must not use more threads than asked for.
fn offload(items: usize, item_bytes: usize) -> bool {
    static OFF: OnceLock<bool> = OnceLock::new();
    let off = *OFF.get_or_init(|| std::env::var_os("Z5PY_NO_IO_THREAD").is_some());
    !off && items >= 4 && items.saturating_mul(item_bytes) >= 1 << 20
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
        let store = crate::store::FsStore::new(&dir);
        let items: Vec<usize> = (0..40).collect();
        // Batches of 1, 4 and all 40 items.
        for (n, item_bytes) in [(1, 1 << 20), (1, 1 << 16), (2, 1 << 16), (1, 1 << 10)] {
            for_each_put_offloaded(&store, n, &items, item_bytes, |_: &mut (), i, sink| {
                sink.put(Put {
                    key: format!("c{i}"),
                    parts: Some(vec![vec![*i as u8; 3].into(), Vec::new().into()]),
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
        let err = for_each_put_offloaded(&store, 1, &items, 1 << 16, |_: &mut (), i, sink| {
            let name = if *i == 5 {
                "blocker/c5".into()
            } else {
                format!("d{i}")
            };
            sink.put(Put {
                key: name,
                parts: Some(vec![vec![1].into()]),
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
        for item_bytes in [1 << 20, 1 << 16, 1 << 10] {
            seen.store(0, Ordering::Relaxed);
            // `ahead` sees batches in order, each before the decoding side does.
            let (announced, steps) = (AtomicUsize::new(0), AtomicUsize::new(0));
            for_each_fetched_offloaded(
                &items,
                item_bytes,
                fetch,
                |group| {
                    let end = group[group.len() - 1] + 1;
                    // a new batch, or more steps on the one before
                    let last = announced.fetch_max(end, Ordering::SeqCst);
                    assert!(last <= group[0] || last == end);
                    assert!(seen.load(Ordering::SeqCst) <= group[0]);
                    // a few steps per batch, then hand it over
                    steps.fetch_add(1, Ordering::SeqCst) % 3 != 2
                },
                |_: &mut (), i, found, b| {
                    assert_eq!(seen.fetch_add(1, Ordering::Relaxed), *i);
                    assert_eq!(b, i.to_le_bytes());
                    assert_eq!(found, i % 3 != 0);
                    Ok(())
                },
            )
            .unwrap();
            assert_eq!(seen.load(Ordering::Relaxed), items.len());
        }

        let failing_fetch = |i: &usize, _: &mut Vec<u8>| {
            if *i == 7 {
                Err(Error::invalid("fetch of 7 failed"))
            } else {
                Ok(false)
            }
        };
        let err = for_each_fetched_offloaded(
            &items,
            1 << 16,
            failing_fetch,
            |_| false,
            |_: &mut (), _, _, _| Ok(()),
        );
        assert!(err.unwrap_err().to_string().contains("fetch of 7"));

        let err = for_each_fetched_offloaded(
            &items,
            1 << 16,
            fetch,
            |_| false,
            |_: &mut (), i, _, _| {
                if *i == 3 {
                    Err(Error::invalid("decode of 3 failed"))
                } else {
                    Ok(())
                }
            },
        );
        assert!(err.unwrap_err().to_string().contains("decode of 3"));
    }
}
