//! The PyO3 binding: module `z5py._z5py`. It converts arguments and errors and releases the
//! GIL around every engine call; all logic lives in the core.

mod array;
mod errors;

use crate::metadata::{self, json, Format, NodeKind};
use crate::node;
use errors::guard;
use pyo3::prelude::*;
use std::path::PathBuf;

fn format(name: &str) -> PyResult<Format> {
    Ok(Format::from_name(name)?)
}

/// What lives at `path`: ("array" | "group" | "dir" | "none", format name or None).
#[pyfunction]
fn node_info(py: Python<'_>, path: PathBuf) -> PyResult<(&'static str, Option<&'static str>)> {
    let (kind, fmt) = py.detach(|| guard(|| metadata::node_info(&path)))?;
    let kind = match kind {
        NodeKind::Array => "array",
        NodeKind::Group => "group",
        NodeKind::Dir => "dir",
        NodeKind::Missing => "none",
    };
    Ok((kind, fmt.map(Format::name)))
}

/// Create a group (directory and metadata); idempotent.
#[pyfunction]
fn create_group(py: Python<'_>, path: PathBuf, fmt: &str, is_root: bool) -> PyResult<()> {
    let fmt = format(fmt)?;
    py.detach(|| guard(|| node::create_group(&path, fmt, is_root)))
}

/// User attributes as a JSON object string.
#[pyfunction]
fn read_attrs(py: Python<'_>, path: PathBuf, fmt: &str) -> PyResult<String> {
    let fmt = format(fmt)?;
    let m = py.detach(|| guard(|| node::read_attrs(&path, fmt)))?;
    Ok(json::compact(&serde_json::Value::Object(m)))
}

/// Replace the user attributes with a JSON object string.
#[pyfunction]
fn write_attrs(py: Python<'_>, path: PathBuf, fmt: &str, attrs_json: &str) -> PyResult<()> {
    let fmt = format(fmt)?;
    let m = json::parse_object(attrs_json, "attributes")?;
    py.detach(|| guard(|| node::write_attrs(&path, fmt, m)))
}

/// Compressor names (z5py spelling) available for a format.
#[pyfunction]
fn compressors(fmt: &str) -> PyResult<Vec<&'static str>> {
    Ok(crate::codec::options::names(format(fmt)?).to_vec())
}

#[pymodule]
fn _z5py(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<array::ArrayHandle>()?;
    m.add_function(wrap_pyfunction!(node_info, m)?)?;
    m.add_function(wrap_pyfunction!(create_group, m)?)?;
    m.add_function(wrap_pyfunction!(read_attrs, m)?)?;
    m.add_function(wrap_pyfunction!(write_attrs, m)?)?;
    m.add_function(wrap_pyfunction!(compressors, m)?)?;
    Ok(())
}
