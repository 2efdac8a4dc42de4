//! The crate's one error type. The Python binding maps each variant to an exception class
//! in exactly one place (`python/errors.rs`).

use std::path::{Path, PathBuf};

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A filesystem operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Metadata is missing, malformed or inconsistent.
    #[error("invalid metadata in {}: {msg}", path.display())]
    Metadata { path: PathBuf, msg: String },
    /// A codec, data type or extension this build does not understand.
    #[error("unsupported: {msg}")]
    Unsupported { msg: String },
    /// A stored chunk or shard could not be decoded.
    #[error("corrupt chunk {}: {msg}", path.display())]
    CorruptChunk { path: PathBuf, msg: String },
    /// A codec failed on in-memory data; wrapped into `CorruptChunk` once the file is known.
    #[error("{codec}: {msg}")]
    Codec { codec: &'static str, msg: String },
    /// An argument does not fit the array (region, chunk index, buffer size, option).
    #[error("{0}")]
    InvalidArgument(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }
    pub fn metadata(path: impl AsRef<Path>, msg: impl Into<String>) -> Self {
        Error::Metadata {
            path: path.as_ref().to_path_buf(),
            msg: msg.into(),
        }
    }
    pub fn unsupported(msg: impl Into<String>) -> Self {
        Error::Unsupported { msg: msg.into() }
    }
    pub fn corrupt(path: impl AsRef<Path>, msg: impl Into<String>) -> Self {
        Error::CorruptChunk {
            path: path.as_ref().to_path_buf(),
            msg: msg.into(),
        }
    }
    pub fn codec(codec: &'static str, msg: impl Into<String>) -> Self {
        Error::Codec {
            codec,
            msg: msg.into(),
        }
    }
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidArgument(msg.into())
    }
    /// Attach the chunk file to a codec error raised while decoding it.
    pub fn in_chunk(self, path: &Path) -> Self {
        match self {
            Error::Codec { codec, msg } => Error::corrupt(path, format!("{codec}: {msg}")),
            other => other,
        }
    }
}
