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
    CorruptChunk {
        location: String,
        msg: String,
        kind: Corruption,
    },
    /// A codec failed on in-memory data; wrapped into `CorruptChunk` once the file is known.
    #[error("{codec}: {msg}")]
    Codec {
        codec: &'static str,
        msg: String,
        kind: Corruption,
    },
    /// An argument does not fit the array (region, chunk index, buffer size, option).
    #[error("{0}")]
    InvalidArgument(String),
    /// A write to a store or container opened read-only.
    #[error("{location}: opened read-only")]
    ReadOnly { location: String },
    /// The machine ran out of something the work needs: memory for a buffer, threads.
    #[error("{0}")]
    ResourceExhausted(String),
    /// A bug or a broken invariant inside the engine (a worker thread that died, a panic
    /// caught at the boundary); never the caller's fault.
    #[error("internal error in z5py's engine: {0}")]
    Internal(String),
}

/// How stored data is damaged (`z5py verify` reports the two apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Corruption {
    /// The bytes do not decode (garbage, bad checksum, unknown header).
    Undecodable,
    /// The bytes decode, or begin to, but to another size or block shape than the chunk's.
    WrongSize,
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
            kind: Corruption::Undecodable,
        }
    }
    pub fn codec(codec: &'static str, msg: impl Into<String>) -> Self {
        Error::Codec {
            codec,
            msg: msg.into(),
            kind: Corruption::Undecodable,
        }
    }
    /// A codec produced (or a header claims) another size or shape than the chunk's.
    pub fn wrong_size(codec: &'static str, msg: impl Into<String>) -> Self {
        Error::Codec {
            codec,
            msg: msg.into(),
            kind: Corruption::WrongSize,
        }
    }
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidArgument(msg.into())
    }
    pub fn read_only(location: impl AsRef<Path>) -> Self {
        Error::ReadOnly {
            location: shown(location),
        }
    }
    /// Out of memory, threads or another resource of the machine.
    pub fn exhausted(msg: impl Into<String>) -> Self {
        Error::ResourceExhausted(msg.into())
    }
    pub fn internal(msg: impl Into<String>) -> Self {
        Error::Internal(msg.into())
    }
    /// Attach the chunk file to a codec error raised while decoding it.
    pub fn in_chunk(self, path: impl AsRef<Path>) -> Self {
        match self {
            Error::Codec { codec, msg, kind } => Error::CorruptChunk {
                location: shown(path),
                msg: format!("{codec}: {msg}"),
                kind,
            },
            other => other,
        }
    }

    /// A decoding error of inner chunk `local` of the shard at `path`, as corrupt data
    /// named by the shard.
    pub fn in_inner_chunk(self, path: &str, local: &[u64]) -> Self {
        Error::corrupt(
            path,
            format!("inner chunk {local:?}: {}", self.in_chunk(path)),
        )
    }
}

fn shown(location: impl AsRef<Path>) -> String {
    location.as_ref().to_string_lossy().into_owned()
}
