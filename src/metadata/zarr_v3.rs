//! Zarr v3 `zarr.json` (not yet implemented: issue "Zarr v3 with sharding").

use super::{ArrayMeta, ArraySpec};
use crate::error::{Error, Result};
use std::path::Path;

pub fn parse(dir: &Path) -> Result<ArrayMeta> {
    Err(Error::unsupported(format!("Zarr v3 arrays ({}) are not implemented yet", dir.display())))
}

pub fn create(_dir: &Path, _spec: &ArraySpec) -> Result<()> {
    Err(Error::unsupported("creating Zarr v3 arrays is not implemented yet"))
}
