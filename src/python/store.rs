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
//!   `update_attrs(target, fmt, set_json, delete=[], key="")` and `clear_attrs(target, fmt,
//!   keep=[], key="")` (read-modify-writes that keep other writers' keys: the store's
//!   `update`, locked on disk, conditional on object stores), `ArrayHandle.open(target, key="")`, `ArrayHandle.create(target, fmt, ...,
//!   key="")`.
//! - `Store(url, durable=False, storage_options=None)`: a local path or `file://` URL (a
//!   directory; `durable`, or `Z5PY_DURABLE=1`, syncs every write before it returns),
//!   `memory://NAME` (a store living in this process under NAME), or an object store
//!   (`s3://`, `gs://`, `az://`/`abfs://`, read-only `http(s)://`) configured by
//!   `storage_options` (object_store's keys; see `store::url::open`). Pickling carries the
//!   options, secrets included.
//! - `Store` methods (each releases the GIL): `url`, `location(key)`, `get(key) -> bytes |
//!   None`, `put(key, bytes)`, `delete(key)`, `delete_prefix(prefix)`, `exists(key)`,
//!   `size(key) -> int | None`, `list_dir(prefix) -> (keys, prefixes)` (full keys, sorted),
//!   `list_prefix(prefix) -> keys` (every key below, sorted), `prefix_exists(prefix)`.
//!   Keys returned are full keys (from the store's root).

use super::errors::guard;
use crate::error::{Error, Result};
use crate::store::consolidated::ConsolidatedStore;
use crate::store::{FsStore, Store};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyString};
use std::path::PathBuf;
use std::sync::Arc;

#[pyclass(module = "z5py._z5py", frozen, name = "Store")]
pub struct PyStore {
    pub inner: Arc<dyn Store>,
    url: String,
    durable: bool,
    /// The options as given (str, bool or number values), for pickling.
    options: Option<Py<PyDict>>,
    /// Whether the container's consolidated metadata is laid over the store.
    consolidated: bool,
}

/// `store` with the consolidated metadata at its root laid over it, if it has any.
fn overlay(store: Arc<dyn Store>) -> Result<Option<Arc<dyn Store>>> {
    Ok(ConsolidatedStore::open(store)?.map(|c| Arc::new(c) as Arc<dyn Store>))
}

/// `storage_options` as strings: booleans as `true`/`false`, numbers as written.
fn option_strings(options: Option<&Bound<'_, PyDict>>) -> PyResult<Vec<(String, String)>> {
    let mut out = Vec::new();
    if let Some(d) = options {
        for (k, v) in d.iter() {
            let k: String = k.extract()?;
            let v = if let Ok(b) = v.cast::<PyBool>() {
                b.is_true().to_string()
            } else if v.is_instance_of::<PyString>() {
                v.extract::<String>()?
            } else if v.is_instance_of::<PyInt>() || v.is_instance_of::<PyFloat>() {
                v.str()?.to_string()
            } else {
                return Err(Error::invalid(format!(
                    "storage option {k:?} must be a string, number or bool, not {}",
                    v.get_type().name()?
                ))
                .into());
            };
            out.push((k, v));
        }
    }
    Ok(out)
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
    #[pyo3(signature = (url, durable=false, storage_options=None, consolidated=false))]
    fn new(
        py: Python<'_>,
        url: PathBuf,
        durable: bool,
        storage_options: Option<Bound<'_, PyDict>>,
        consolidated: bool,
    ) -> PyResult<Self> {
        let url = url.to_string_lossy().into_owned();
        let options = option_strings(storage_options.as_ref())?;
        let (inner, consolidated) = py.detach(|| {
            guard(|| {
                let plain = crate::store::url::open(&url, &options, durable)?;
                if !consolidated {
                    return Ok((plain, false));
                }
                Ok(match overlay(plain.clone())? {
                    Some(c) => (c, true),
                    None => (plain, false),
                })
            })
        })?;
        Ok(PyStore {
            inner,
            url,
            durable,
            options: storage_options
                .filter(|d| !d.is_empty())
                .map(|d| d.unbind()),
            consolidated,
        })
    }

    /// Pickling carries the URL, `durable`, the `storage_options` (secrets included) and
    /// whether consolidated metadata was laid over the store (read again on unpickling).
    fn __getnewargs__(&self, py: Python<'_>) -> (String, bool, Option<Py<PyDict>>, bool) {
        (
            self.url.clone(),
            self.durable,
            self.options.as_ref().map(|d| d.clone_ref(py)),
            self.consolidated,
        )
    }

    /// This store with the container's consolidated metadata (Zarr v3 root `zarr.json`
    /// member, else Zarr v2 `.zmetadata`) laid over it, or None when there is none: metadata
    /// of the nodes it lists, and the member names of its groups, are then answered from it,
    /// and metadata written through the returned store updates it.
    fn with_consolidated(&self, py: Python<'_>) -> PyResult<Option<PyStore>> {
        if self.consolidated {
            return Ok(Some(PyStore {
                inner: self.inner.clone(),
                url: self.url.clone(),
                durable: self.durable,
                options: self.options.as_ref().map(|d| d.clone_ref(py)),
                consolidated: true,
            }));
        }
        let plain = self.inner.clone();
        let inner = py.detach(|| guard(|| overlay(plain)))?;
        Ok(inner.map(|inner| PyStore {
            inner,
            url: self.url.clone(),
            durable: self.durable,
            options: self.options.as_ref().map(|d| d.clone_ref(py)),
            consolidated: true,
        }))
    }

    /// Whether this store syncs every write before returning it (`durable=True`, or
    /// `Z5PY_DURABLE=1` in the environment).
    #[getter]
    fn durable(&self) -> bool {
        self.durable || crate::store::fs::durable_from_env()
    }

    /// Whether consolidated metadata is laid over this store (see `with_consolidated`).
    #[getter]
    fn consolidated(&self) -> bool {
        self.consolidated
    }

    /// The `storage_options` given when opening (None without any).
    #[getter]
    fn storage_options(&self, py: Python<'_>) -> Option<Py<PyDict>> {
        self.options.as_ref().map(|d| d.clone_ref(py))
    }

    /// Whether this store refuses writes whatever the mode (HTTP).
    #[getter]
    fn read_only(&self) -> bool {
        crate::store::url::scheme(&self.url).is_some_and(|s| s == "http" || s == "https")
    }

    /// Requests this store serves well at once (1 for local storage).
    #[getter]
    fn concurrency(&self) -> usize {
        self.inner.concurrency()
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
