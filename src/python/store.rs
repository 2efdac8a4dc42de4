//! `Store`: a storage backend as a Python object, and where the binding's functions find
//! their node.
//!
//! # The binding surface (agreed with the Python layer and the object-store backends)
//!
//! Every engine entry point names its node by a *target* and a *key*:
//! - `target` is a `Store` or a local path (`str` / `os.PathLike`, read as
//!   `Store(path)`), and `key` (default `""`) the node's key prefix inside it, `/`-separated
//!   and relative to the store's root (`"raw"`, `"group/sub/array"`).
//! - `node_info(target, key="")`, `create_group(target, fmt, is_root, key="")`,
//!   `read_attrs(target, fmt, key="")`, `write_attrs(target, fmt, attrs_json, key="")`,
//!   `update_attrs(target, fmt, set_json, delete=[], key="")` (a read-modify-write that keeps
//!   other writers' keys: the store's `update`, locked on disk, conditional on object
//!   stores), `ArrayHandle.open(target, key="")`, `ArrayHandle.create(target, fmt, ...,
//!   key="")`.
//! - `Store(url, durable=False)`: a local path or `file://` URL (a directory; `durable`, or
//!   `Z5PY_DURABLE=1`, syncs every write before it returns), or `memory://NAME` (a store
//!   living in this process under NAME). Object-store URLs (`s3://`, `gs://`, `az://`,
//!   `http(s)://`, with `storage_options`) are added to `open_url` by the object-store
//!   backend.
//! - `Store` methods (each releases the GIL): `url`, `location(key)`, `get(key) -> bytes |
//!   None`, `put(key, bytes)`, `delete(key)`, `delete_prefix(prefix)`, `exists(key)`,
//!   `size(key) -> int | None`, `list_dir(prefix) -> (keys, prefixes)` (full keys, sorted),
//!   `list_prefix(prefix) -> keys` (every key below, sorted), `prefix_exists(prefix)`.
//!   Keys returned are full keys (from the store's root).

use super::errors::guard;
use crate::error::{Error, Result};
use crate::store::{FsStore, MemoryStore, Store};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::path::PathBuf;
use std::sync::Arc;

/// The store behind a URL or local path.
pub fn open_url(url: &str, durable: bool) -> Result<Arc<dyn Store>> {
    if let Some(name) = url.strip_prefix("memory://") {
        if name.is_empty() || name.contains('/') {
            return Err(Error::invalid(format!(
                "memory store URL {url:?} must be memory://NAME"
            )));
        }
        return Ok(MemoryStore::named(name));
    }
    let path = url.strip_prefix("file://").unwrap_or(url);
    if path.contains("://") {
        return Err(Error::invalid(format!("unsupported store URL {url:?}")));
    }
    Ok(Arc::new(FsStore::new(path).with_durable(durable)))
}

#[pyclass(module = "z5py._z5py", frozen, name = "Store")]
pub struct PyStore {
    pub inner: Arc<dyn Store>,
    url: String,
    durable: bool,
}

/// Where a binding function's node is: a `Store` or a local path.
#[derive(FromPyObject)]
pub enum Target {
    Store(Py<PyStore>),
    Path(PathBuf),
}

impl Target {
    /// The store and the node's key.
    pub fn resolve(&self, py: Python<'_>) -> Result<Arc<dyn Store>> {
        match self {
            Target::Store(s) => Ok(s.borrow(py).inner.clone()),
            Target::Path(p) => Ok(Arc::new(FsStore::new(p))),
        }
    }
}

#[pymethods]
impl PyStore {
    #[new]
    #[pyo3(signature = (url, durable=false))]
    fn new(url: PathBuf, durable: bool) -> PyResult<Self> {
        let url = url.to_string_lossy().into_owned();
        let inner = open_url(&url, durable)?;
        Ok(PyStore {
            inner,
            url,
            durable,
        })
    }

    fn __getnewargs__(&self) -> (String, bool) {
        (self.url.clone(), self.durable)
    }

    #[getter]
    fn url(&self) -> String {
        self.url.clone()
    }

    fn location(&self, key: &str) -> String {
        self.inner.location(key)
    }

    fn get<'py>(&self, py: Python<'py>, key: &str) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let s = &self.inner;
        let v = py.detach(|| guard(|| s.get(key)))?;
        Ok(v.map(|v| PyBytes::new(py, &v)))
    }

    fn put(&self, py: Python<'_>, key: &str, value: &[u8]) -> PyResult<()> {
        let s = &self.inner;
        py.detach(|| guard(|| s.put(key, value)))
    }

    fn delete(&self, py: Python<'_>, key: &str) -> PyResult<()> {
        let s = &self.inner;
        py.detach(|| guard(|| s.delete(key)))
    }

    fn delete_prefix(&self, py: Python<'_>, prefix: &str) -> PyResult<()> {
        let s = &self.inner;
        py.detach(|| guard(|| s.delete_prefix(prefix)))
    }

    fn exists(&self, py: Python<'_>, key: &str) -> PyResult<bool> {
        let s = &self.inner;
        py.detach(|| guard(|| Ok(s.size(key)?.is_some())))
    }

    fn size(&self, py: Python<'_>, key: &str) -> PyResult<Option<u64>> {
        let s = &self.inner;
        py.detach(|| guard(|| s.size(key)))
    }

    #[pyo3(signature = (prefix=""))]
    fn list_dir(&self, py: Python<'_>, prefix: &str) -> PyResult<(Vec<String>, Vec<String>)> {
        let s = &self.inner;
        let l = py.detach(|| guard(|| s.list_dir(prefix)))?;
        Ok((l.keys, l.prefixes))
    }

    #[pyo3(signature = (prefix=""))]
    fn list_prefix(&self, py: Python<'_>, prefix: &str) -> PyResult<Vec<String>> {
        let s = &self.inner;
        py.detach(|| guard(|| s.list_prefix(prefix)))
    }

    #[pyo3(signature = (prefix=""))]
    fn prefix_exists(&self, py: Python<'_>, prefix: &str) -> PyResult<bool> {
        let s = &self.inner;
        py.detach(|| guard(|| s.prefix_exists(prefix)))
    }

    fn __repr__(&self) -> String {
        format!("Store({:?})", self.url)
    }
}
