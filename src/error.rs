//! The crate's one error type. The Python binding maps each variant to an exception class
//! in exactly one place (`python/errors.rs`).

use std::path::Path;

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A storage operation failed. `location` is the file path or URL; the kind of
    /// `source` (NotFound, PermissionDenied, TimedOut, ConnectionRefused...) says what
    /// failed, for every store alike.
    #[error("{location}: {source}")]
    Io {
        location: String,
        #[source]
        source: std::io::Error,
    },
    /// Metadata is missing, malformed or inconsistent.
    #[error("invalid metadata in {location}: {msg}")]
    Metadata { location: String, msg: String },
    /// A codec, data type or extension this build does not understand.
    #[error("unsupported: {msg}")]
    Unsupported { msg: String },
    /// A stored chunk or shard could not be decoded.
    #[error("corrupt chunk {location}: {msg}")]
    CorruptChunk { location: String, msg: String },
    /// A codec failed on in-memory data; wrapped into `CorruptChunk` once the file is known.
    #[error("{codec}: {msg}")]
    Codec { codec: &'static str, msg: String },
    /// An argument does not fit the array (region, chunk index, buffer size, option).
    #[error("{0}")]
    InvalidArgument(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// `location` is a path, a store key's description or a URL (`str` is `AsRef<Path>`).
    pub fn io(location: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            location: shown(location),
            source,
        }
    }
    pub fn metadata(location: impl AsRef<Path>, msg: impl Into<String>) -> Self {
        Error::Metadata {
            location: shown(location),
            msg: msg.into(),
        }
    }
    pub fn unsupported(msg: impl Into<String>) -> Self {
        Error::Unsupported { msg: msg.into() }
    }
    pub fn corrupt(location: impl AsRef<Path>, msg: impl Into<String>) -> Self {
        Error::CorruptChunk {
            location: shown(location),
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
    pub fn in_chunk(self, path: impl AsRef<Path>) -> Self {
        match self {
            Error::Codec { codec, msg } => Error::corrupt(path, format!("{codec}: {msg}")),
            other => other,
        }
    }
}

fn shown(location: impl AsRef<Path>) -> String {
    location.as_ref().to_string_lossy().into_owned()
}
