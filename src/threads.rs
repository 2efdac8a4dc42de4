//! One rayon pool per thread count, built once and reused across calls.

use crate::error::{Error, Result};
use rayon::prelude::*;
use std::collections::HashMap;
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
