//! The one place where engine errors become Python exceptions (classes in `z5py.errors`).

use crate::error::Error;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyType;

fn class_name(e: &Error) -> &'static str {
    match e {
        Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            "Z5FileNotFoundError"
        }
        Error::Io { .. } => "Z5OSError",
        Error::Metadata { .. } => "MetadataError",
        Error::Unsupported { .. } => "UnsupportedError",
        Error::CorruptChunk { .. } | Error::Codec { .. } => "CorruptChunkError",
        Error::InvalidArgument(_) => "InvalidArgumentError",
    }
}

/// Raise `z5py.errors.<name>(msg)`, falling back to RuntimeError if that module is broken.
pub fn raise(name: &str, msg: String) -> PyErr {
    Python::attach(|py| {
        let cls = py
            .import("z5py.errors")
            .and_then(|m| m.getattr(name))
            .and_then(|c| c.cast_into::<PyType>().map_err(PyErr::from));
        match cls {
            Ok(cls) => PyErr::from_type(cls, msg),
            Err(_) => PyRuntimeError::new_err(msg),
        }
    })
}

impl From<Error> for PyErr {
    fn from(e: Error) -> PyErr {
        raise(class_name(&e), e.to_string())
    }
}

/// Run engine code, turning a panic into `z5py.errors.InternalError` instead of an abort.
pub fn guard<T>(f: impl FnOnce() -> crate::Result<T>) -> PyResult<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r.map_err(PyErr::from),
        Err(p) => {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(raise(
                "InternalError",
                format!("internal error in z5py's engine: {msg}"),
            ))
        }
    }
}
