//! The one place where engine errors become Python exceptions: one typed `match` from
//! [`Error`] to the classes of `z5py.errors`, which PyO3 imports once (on first use) and
//! caches. A class renamed in `errors.py` without renaming it here fails loudly at the first
//! error of that kind instead of turning silently into another exception.

use crate::error::{Corruption, Error};
use pyo3::prelude::*;
use std::io::ErrorKind;

mod classes {
    pyo3::import_exception!(z5py.errors, MetadataError);
    pyo3::import_exception!(z5py.errors, UnsupportedError);
    pyo3::import_exception!(z5py.errors, CorruptChunkError);
    pyo3::import_exception!(z5py.errors, ChunkSizeError);
    pyo3::import_exception!(z5py.errors, InvalidArgumentError);
    pyo3::import_exception!(z5py.errors, ReadOnlyError);
    pyo3::import_exception!(z5py.errors, ResourceExhaustedError);
    pyo3::import_exception!(z5py.errors, InternalError);
    pyo3::import_exception!(z5py.errors, Z5OSError);
    pyo3::import_exception!(z5py.errors, Z5FileNotFoundError);
    pyo3::import_exception!(z5py.errors, Z5FileExistsError);
    pyo3::import_exception!(z5py.errors, Z5PermissionError);
    pyo3::import_exception!(z5py.errors, Z5TimeoutError);
    pyo3::import_exception!(z5py.errors, Z5ConnectionError);
}
use classes::*;

/// The exception for a storage failure, by the kind of its `io::Error` (the same for files,
/// object stores and HTTP).
fn io_error(kind: ErrorKind, msg: String) -> PyErr {
    match kind {
        ErrorKind::NotFound => Z5FileNotFoundError::new_err(msg),
        ErrorKind::AlreadyExists => Z5FileExistsError::new_err(msg),
        ErrorKind::PermissionDenied => Z5PermissionError::new_err(msg),
        ErrorKind::TimedOut => Z5TimeoutError::new_err(msg),
        ErrorKind::ConnectionRefused
        | ErrorKind::ConnectionReset
        | ErrorKind::ConnectionAborted
        | ErrorKind::NotConnected
        | ErrorKind::BrokenPipe => Z5ConnectionError::new_err(msg),
        _ => Z5OSError::new_err(msg),
    }
}

impl From<Error> for PyErr {
    fn from(e: Error) -> PyErr {
        let msg = e.to_string();
        match e {
            Error::Io { source, .. } => io_error(source.kind(), msg),
            Error::Metadata { .. } => MetadataError::new_err(msg),
            Error::Unsupported { .. } => UnsupportedError::new_err(msg),
            Error::CorruptChunk { kind, .. } | Error::Codec { kind, .. } => match kind {
                Corruption::Undecodable => CorruptChunkError::new_err(msg),
                Corruption::WrongSize => ChunkSizeError::new_err(msg),
            },
            Error::InvalidArgument(_) => InvalidArgumentError::new_err(msg),
            Error::ReadOnly { .. } => ReadOnlyError::new_err(msg),
            Error::ResourceExhausted(_) => ResourceExhaustedError::new_err(msg),
            Error::Internal(_) => InternalError::new_err(msg),
        }
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
            Err(Error::internal(msg).into())
        }
    }
}
