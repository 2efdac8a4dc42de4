//! The PyO3 binding: module `z5py._z5py`. It converts arguments and errors and releases the
//! GIL around every engine call; all logic lives in the core.

mod array;
mod errors;
mod objects;
mod store;

use crate::metadata::{self, json, Format, Loc, NodeKind};
use crate::node;
use errors::guard;
use pyo3::prelude::*;
use store::Target;

fn format(name: &str) -> PyResult<Format> {
    Ok(Format::from_name(name)?)
}

/// What lives at `key` of `target`: ("array" | "group" | "dir" | "none", format name or
/// None).
#[pyfunction]
#[pyo3(signature = (target, key=""))]
fn node_info(
    py: Python<'_>,
    target: Target,
    key: &str,
) -> PyResult<(&'static str, Option<&'static str>)> {
    let store = target.resolve(py)?;
    let (kind, fmt) = py.detach(|| guard(|| metadata::node_info(&Loc::new(&*store, key))))?;
    Ok((kind_name(kind), fmt.map(Format::name)))
}

fn kind_name(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::Array => "array",
        NodeKind::Group => "group",
        NodeKind::Dir => "dir",
        NodeKind::Missing => "none",
    }
}

/// What lives at the root of a container, as `node_info`, with its metadata checked
/// strictly (corrupt or unsupported root metadata raises).
#[pyfunction]
#[pyo3(signature = (target, key=""))]
fn root_info(
    py: Python<'_>,
    target: Target,
    key: &str,
) -> PyResult<(&'static str, Option<&'static str>)> {
    let store = target.resolve(py)?;
    let (kind, fmt) = py.detach(|| guard(|| metadata::root_info(&Loc::new(&*store, key))))?;
    Ok((kind_name(kind), fmt.map(Format::name)))
}

/// The attribute names N5 reserves at this node (a dataset's metadata keys, the root's
/// version key); empty for Zarr.
#[pyfunction]
#[pyo3(signature = (target, fmt, key="", root=false))]
fn reserved_attrs(
    py: Python<'_>,
    target: Target,
    fmt: &str,
    key: &str,
    root: bool,
) -> PyResult<Vec<&'static str>> {
    let fmt = format(fmt)?;
    let store = target.resolve(py)?;
    py.detach(|| guard(|| node::reserved_attrs(&Loc::new(&*store, key), fmt, root)))
}

/// Create a group (metadata, and its directory on disk); idempotent.
#[pyfunction]
#[pyo3(signature = (target, fmt, is_root, key=""))]
fn create_group(
    py: Python<'_>,
    target: Target,
    fmt: &str,
    is_root: bool,
    key: &str,
) -> PyResult<()> {
    let fmt = format(fmt)?;
    let store = target.resolve(py)?;
    py.detach(|| guard(|| node::create_group(&Loc::new(&*store, key), fmt, is_root)))
}

/// User attributes as a JSON object string (`root`: the node is a container root).
#[pyfunction]
#[pyo3(signature = (target, fmt, key="", root=false))]
fn read_attrs(
    py: Python<'_>,
    target: Target,
    fmt: &str,
    key: &str,
    root: bool,
) -> PyResult<String> {
    let fmt = format(fmt)?;
    let store = target.resolve(py)?;
    let m = py.detach(|| guard(|| node::read_attrs(&Loc::new(&*store, key), fmt, root)))?;
    Ok(json::compact(&serde_json::Value::Object(m)))
}

/// Replace the user attributes with a JSON object string.
#[pyfunction]
#[pyo3(signature = (target, fmt, attrs_json, key="", root=false))]
fn write_attrs(
    py: Python<'_>,
    target: Target,
    fmt: &str,
    attrs_json: &str,
    key: &str,
    root: bool,
) -> PyResult<()> {
    let fmt = format(fmt)?;
    let m = json::parse_object(attrs_json, "attributes")?;
    let store = target.resolve(py)?;
    py.detach(|| guard(|| node::write_attrs(&Loc::new(&*store, key), fmt, m, root)))
}

/// Set the attributes of a JSON object string and remove those named in `delete`, keeping
/// every other attribute as stored at that moment (no lost update between writers).
#[pyfunction]
#[pyo3(signature = (target, fmt, set_json, delete=Vec::new(), key="", root=false))]
fn update_attrs(
    py: Python<'_>,
    target: Target,
    fmt: &str,
    set_json: &str,
    delete: Vec<String>,
    key: &str,
    root: bool,
) -> PyResult<()> {
    let fmt = format(fmt)?;
    let set = json::parse_object(set_json, "attributes")?;
    let store = target.resolve(py)?;
    py.detach(|| guard(|| node::update_attrs(&Loc::new(&*store, key), fmt, set, &delete, root)))
}

/// Remove every user attribute but those named in `keep`, in one read-modify-write (locked
/// like `update_attrs`); the format's reserved keys stay.
#[pyfunction]
#[pyo3(signature = (target, fmt, keep=Vec::new(), key="", root=false))]
fn clear_attrs(
    py: Python<'_>,
    target: Target,
    fmt: &str,
    keep: Vec<String>,
    key: &str,
    root: bool,
) -> PyResult<()> {
    let fmt = format(fmt)?;
    let store = target.resolve(py)?;
    py.detach(|| guard(|| node::clear_attrs(&Loc::new(&*store, key), fmt, &keep, root)))
}

/// Check the compressor and options (z5py spelling) of a new array of `dtype` (a numpy
/// typestr); raises what creating the array would raise for them.
#[pyfunction]
fn check_compression(fmt: &str, compressor: &str, options_json: &str, dtype: &str) -> PyResult<()> {
    let fmt = format(fmt)?;
    let (dt, _) = crate::dtype::DataType::from_typestr(dtype)?;
    let opts = json::parse_object(options_json, "compression options")?;
    crate::codec::options::from_z5py(compressor, &opts, fmt, dt)?;
    Ok(())
}

/// Compressor names (z5py spelling) available for a format.
#[pyfunction]
fn compressors(fmt: &str) -> PyResult<Vec<&'static str>> {
    Ok(crate::codec::options::names(format(fmt)?).to_vec())
}

/// Lock files between processes on or off for this process from now on (benchmarks: what
/// the locks cost, op by op in one process; users set `Z5PY_FILE_LOCKING=none`).
#[pyfunction]
fn set_file_locking(on: bool) {
    crate::store::fs::set_process_locks(on);
}

#[pymodule]
fn _z5py(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<array::ArrayHandle>()?;
    m.add_class::<store::PyStore>()?;
    m.add_function(wrap_pyfunction!(update_attrs, m)?)?;
    m.add_function(wrap_pyfunction!(clear_attrs, m)?)?;
    m.add_function(wrap_pyfunction!(node_info, m)?)?;
    m.add_function(wrap_pyfunction!(root_info, m)?)?;
    m.add_function(wrap_pyfunction!(reserved_attrs, m)?)?;
    m.add_function(wrap_pyfunction!(create_group, m)?)?;
    m.add_function(wrap_pyfunction!(read_attrs, m)?)?;
    m.add_function(wrap_pyfunction!(write_attrs, m)?)?;
    m.add_function(wrap_pyfunction!(compressors, m)?)?;
    m.add_function(wrap_pyfunction!(check_compression, m)?)?;
    m.add_function(wrap_pyfunction!(set_file_locking, m)?)?;
    Ok(())
}
