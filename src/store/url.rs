//! From a location the user typed (a local path or a URL) to a store: local paths and
//! `file://` URLs open the filesystem store, `memory://NAME` the process-wide in-memory
//! store of that name, and `s3://`, `gs://`, `az://`/`abfs://`, `http(s)://` an object
//! store (see [`super::object`]).

use super::object::ObjectStoreBackend;
use super::{FsStore, MemoryStore, Store};
use crate::error::{Error, Result};
use std::sync::Arc;

/// The schemes [`open`] understands, besides plain paths.
pub const SCHEMES: &[&str] = &[
    "file", "memory", "s3", "s3a", "gs", "gcs", "az", "azure", "abfs", "abfss", "http", "https",
];

/// The scheme of `location` when it is a URL (`scheme://...`), lower-cased.
pub fn scheme(location: &str) -> Option<String> {
    let (scheme, rest) = location.split_once("://")?;
    let valid = !scheme.is_empty()
        && scheme.len() > 1 // "C://" is a Windows drive, not a scheme
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    (valid && !rest.is_empty() || scheme == "memory").then(|| scheme.to_ascii_lowercase())
}

/// Whether `location` names something outside the local file system.
pub fn is_remote(location: &str) -> bool {
    !matches!(scheme(location).as_deref(), None | Some("file"))
}

/// Open the store at `location` with `options` (`storage_options`; only object stores take
/// any). The store's root is the container: keys are relative to it.
/// `durable` (local stores only, or `Z5PY_DURABLE=1`): sync every write before it returns.
pub fn open(location: &str, options: &[(String, String)], durable: bool) -> Result<Arc<dyn Store>> {
    match scheme(location).as_deref() {
        None => local(location, options, durable),
        Some("file") => {
            let path = &location["file://".len()..];
            local(&percent_decode(path), options, durable)
        }
        Some("memory") => {
            no_options(location, options)?;
            let name = &location["memory://".len()..];
            if name.is_empty() || name.contains('/') {
                return Err(Error::invalid(format!(
                    "memory store URL {location:?} must be memory://NAME"
                )));
            }
            Ok(MemoryStore::named(name))
        }
        Some(s) if SCHEMES.contains(&s) => {
            Ok(Arc::new(ObjectStoreBackend::open(location, options)?))
        }
        Some(other) => Err(Error::invalid(format!(
            "unsupported URL scheme {other:?} in {location:?}; expected a path or one of {}",
            SCHEMES.join(", ")
        ))),
    }
}

fn local(path: &str, options: &[(String, String)], durable: bool) -> Result<Arc<dyn Store>> {
    no_options(path, options)?;
    Ok(Arc::new(FsStore::new(path).with_durable(durable)))
}

fn no_options(location: &str, options: &[(String, String)]) -> Result<()> {
    match options.first() {
        None => Ok(()),
        Some((k, _)) => Err(Error::invalid(format!(
            "storage option {k:?} given for {location:?}: only object stores (s3, gs, az, http) take storage_options"
        ))),
    }
}

fn percent_decode(s: &str) -> String {
    url::Url::parse(&format!("file://{s}"))
        .ok()
        .and_then(|u| u.to_file_path().ok())
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes() {
        assert_eq!(scheme("s3://b/k").as_deref(), Some("s3"));
        assert_eq!(scheme("HTTPS://h/x").as_deref(), Some("https"));
        assert_eq!(scheme("memory://x").as_deref(), Some("memory"));
        assert_eq!(scheme("/tmp/a.n5"), None);
        assert_eq!(scheme("rel/a.zarr"), None);
        assert_eq!(scheme("C://x"), None);
        assert!(is_remote("gs://b"));
        assert!(!is_remote("file:///tmp/x"));
        assert!(open("ftp://h/x", &[], false).is_err());
        assert!(open("memory://", &[], false).is_err());
        assert!(open("memory://a/b", &[], false).is_err());
        assert!(open("/tmp/x", &[("endpoint".into(), "x".into())], false).is_err());
    }

    #[test]
    fn memory_urls_share_by_name() {
        let a = open("memory://url-test", &[], false).unwrap();
        a.put("k", b"v").unwrap();
        let b = open("memory://url-test", &[], false).unwrap();
        assert_eq!(b.get("k").unwrap().unwrap(), b"v");
    }
}
