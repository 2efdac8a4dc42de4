//! Where a chunk lives, relative to its array's directory.

use std::path::{Path, PathBuf};

/// How chunk indices become a relative path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyEncoding {
    /// N5: indices reversed (x first), nested directories.
    N5,
    /// Zarr v2 and v3 `v2` encoding: indices joined by the separator; "0" for 0-d arrays.
    V2 { separator: char },
    /// Zarr v3 `default`: "c" then the indices, joined by the separator.
    V3Default { separator: char },
}

impl KeyEncoding {
    pub fn separator(&self) -> char {
        match self {
            KeyEncoding::N5 => '/',
            KeyEncoding::V2 { separator } | KeyEncoding::V3Default { separator } => *separator,
        }
    }

    pub fn key(&self, idx: &[u64]) -> String {
        let parts: Vec<String> = match self {
            KeyEncoding::N5 => idx.iter().rev().map(u64::to_string).collect(),
            KeyEncoding::V2 { .. } if idx.is_empty() => vec!["0".into()],
            KeyEncoding::V2 { .. } => idx.iter().map(u64::to_string).collect(),
            KeyEncoding::V3Default { .. } => std::iter::once("c".to_string())
                .chain(idx.iter().map(u64::to_string))
                .collect(),
        };
        parts.join(&self.separator().to_string())
    }

    pub fn path(&self, array_dir: &Path, idx: &[u64]) -> PathBuf {
        array_dir.join(self.key(idx))
    }

    /// Parse a key relative to the array directory ('/'-joined) back into indices.
    pub fn parse(&self, key: &str, ndim: usize) -> Option<Vec<u64>> {
        let sep = self.separator();
        let mut parts: Vec<&str> = key.split(sep).collect();
        match self {
            KeyEncoding::V3Default { .. } => {
                if parts.first() != Some(&"c") {
                    return None;
                }
                parts.remove(0);
            }
            KeyEncoding::V2 { .. } if ndim == 0 => return (key == "0").then(Vec::new),
            _ => {}
        }
        if parts.len() != ndim
            || parts
                .iter()
                .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
        {
            return None;
        }
        let mut idx: Vec<u64> = parts
            .iter()
            .map(|p| p.parse().ok())
            .collect::<Option<_>>()?;
        if *self == KeyEncoding::N5 {
            idx.reverse();
        }
        Some(idx)
    }

    /// Directory depth below the array directory at which chunk files sit.
    pub fn depth(&self, ndim: usize) -> usize {
        match (self, self.separator()) {
            (_, '.') => 1,
            (KeyEncoding::V3Default { .. }, _) => ndim + 1,
            (KeyEncoding::V2 { .. }, _) if ndim == 0 => 1,
            _ => ndim,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(KeyEncoding::N5.key(&[1, 2, 3]), "3/2/1");
        assert_eq!(KeyEncoding::V2 { separator: '.' }.key(&[1, 2, 3]), "1.2.3");
        assert_eq!(KeyEncoding::V2 { separator: '/' }.key(&[]), "0");
        assert_eq!(
            KeyEncoding::V3Default { separator: '/' }.key(&[1, 23]),
            "c/1/23"
        );
        assert_eq!(KeyEncoding::V3Default { separator: '.' }.key(&[]), "c");
        for enc in [
            KeyEncoding::N5,
            KeyEncoding::V2 { separator: '.' },
            KeyEncoding::V3Default { separator: '/' },
        ] {
            assert_eq!(
                enc.parse(
                    &enc.key(&[4, 5, 6])
                        .replace('.', &enc.separator().to_string()),
                    3
                ),
                Some(vec![4, 5, 6])
            );
        }
        assert_eq!(KeyEncoding::V2 { separator: '.' }.parse(".zarray", 1), None);
    }
}
