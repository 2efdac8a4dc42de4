//! Python objects to and from the items of object arrays (`crate::objects`): `str` for
//! `vlen-utf8`, `bytes` for `vlen-bytes`, JSON values for `json2`. The engine decodes and
//! encodes without the GIL; only creating and reading the Python objects holds it.

use crate::array::Array;
use crate::codec::vlen::Items;
use crate::dtype::ObjectCodec;
use crate::objects::{ObjectPart, Objects};
use crate::selection::ObjectPicks;
use numpy::{PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::Value;

/// The object pointers of a C-contiguous numpy object array.
fn object_slots(
    arr: &Bound<'_, PyUntypedArray>,
    what: &str,
    writeable: bool,
) -> PyResult<*mut *mut ffi::PyObject> {
    if arr.dtype().kind() != b'O' {
        return Err(PyTypeError::new_err(format!(
            "{what} must be a numpy object array, got dtype {}",
            arr.dtype()
        )));
    }
    if !arr.is_c_contiguous() {
        return Err(PyValueError::new_err(format!(
            "{what} must be C-contiguous"
        )));
    }
    // SAFETY: reading fields of a live PyArrayObject.
    let (ptr, flags) = unsafe {
        let a = &*arr.as_array_ptr();
        (a.data as *mut *mut ffi::PyObject, a.flags)
    };
    if writeable && flags & numpy::npyffi::flags::NPY_ARRAY_WRITEABLE == 0 {
        return Err(PyValueError::new_err(format!("{what} is read-only")));
    }
    Ok(ptr)
}

fn json_to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(a) => {
            let items = a
                .iter()
                .map(|x| json_to_py(py, x))
                .collect::<PyResult<Vec<_>>>()?;
            PyList::new(py, items)?.into_any()
        }
        Value::Object(m) => {
            let d = PyDict::new(py);
            for (k, x) in m {
                d.set_item(k, json_to_py(py, x)?)?;
            }
            d.into_any()
        }
    })
}

fn py_to_json(obj: &Bound<'_, PyAny>, at: usize) -> PyResult<Value> {
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(s.to_str()?.to_string()));
    }
    if obj.cast::<PyInt>().is_ok() {
        if let Ok(i) = obj.extract::<i64>() {
            return Ok(i.into());
        }
        if let Ok(u) = obj.extract::<u64>() {
            return Ok(u.into());
        }
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return serde_json::Number::from_f64(f.value())
            .map(Value::Number)
            .ok_or_else(|| PyValueError::new_err(format!("item {at}: {f} has no JSON form")));
    }
    if obj.cast::<PyList>().is_ok() || obj.cast::<PyTuple>().is_ok() {
        let items = obj
            .try_iter()?
            .map(|x| py_to_json(&x?, at))
            .collect::<PyResult<Vec<_>>>()?;
        return Ok(Value::Array(items));
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut m = serde_json::Map::new();
        for (k, v) in d.iter() {
            let k = k.cast::<PyString>().map_err(|_| {
                PyTypeError::new_err(format!("item {at}: JSON object keys must be str"))
            })?;
            m.insert(k.to_str()?.to_string(), py_to_json(&v, at)?);
        }
        return Ok(Value::Object(m));
    }
    // numpy scalars
    if obj.hasattr("dtype")? && obj.hasattr("item")? {
        return py_to_json(&obj.call_method0("item")?, at);
    }
    Err(PyTypeError::new_err(format!(
        "item {at}: {} has no JSON form",
        obj.get_type().name()?
    )))
}

/// One Python object for item `i` of `items`.
///
/// # Safety
/// Returns a new reference (never null).
unsafe fn new_object(
    py: Python<'_>,
    codec: ObjectCodec,
    items: &Objects,
    i: usize,
) -> PyResult<*mut ffi::PyObject> {
    let p = match items {
        Objects::Vlen(it) => {
            let b = it.get(i);
            if codec == ObjectCodec::VlenUtf8 {
                ffi::PyUnicode_FromStringAndSize(b.as_ptr().cast(), b.len() as ffi::Py_ssize_t)
            } else {
                ffi::PyBytes_FromStringAndSize(b.as_ptr().cast(), b.len() as ffi::Py_ssize_t)
            }
        }
        Objects::Json(v) => return Ok(json_to_py(py, &v[i])?.into_ptr()),
    };
    if p.is_null() {
        return Err(PyErr::fetch(py));
    }
    Ok(p)
}

/// What items of chunks never written read as: `Array::object_missing`, else the fill item.
pub fn fill_object<'py>(py: Python<'py>, a: &Array) -> PyResult<Bound<'py, PyAny>> {
    let codec = a.object_codec()?;
    if let Some(v) = a.object_missing() {
        return json_to_py(py, &v);
    }
    // SAFETY: a new reference, owned by the Bound.
    Ok(unsafe { Bound::from_owned_ptr(py, new_object(py, codec, &a.object_fill()?, 0)?) })
}

/// Put the items of `parts` into `out` (the region's object array), `fill_obj` where a
/// chunk is missing.
pub fn fill_region(
    py: Python<'_>,
    codec: ObjectCodec,
    parts: &[ObjectPart],
    fill_obj: &Bound<'_, PyAny>,
    out: &Bound<'_, PyUntypedArray>,
) -> PyResult<()> {
    let slots = object_slots(out, "output array", true)?;
    let shape = out.shape().to_vec();
    let mut failed = None;
    for part in parts {
        part.for_each(&shape, |c, r| {
            if failed.is_some() {
                return;
            }
            let obj = match &part.items {
                None => fill_obj.clone().into_ptr(),
                // SAFETY: indices come from the chunk's layout (checked item count).
                Some(items) => match unsafe { new_object(py, codec, items, c) } {
                    Ok(p) => p,
                    Err(e) => {
                        failed = Some(e);
                        return;
                    }
                },
            };
            // SAFETY: `r` < out.size (the region's C-order index); the slot held a
            // reference (numpy fills new object arrays with None), released here.
            unsafe {
                let slot = slots.add(r);
                let old = *slot;
                *slot = obj;
                ffi::Py_XDECREF(old);
            }
        });
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Put the items a selection read picked into `out` (a C-contiguous object array of the
/// selection's shape), `fill_obj` where a chunk is missing.
pub fn fill_picks(
    py: Python<'_>,
    codec: ObjectCodec,
    picks: &[ObjectPicks],
    fill_obj: &Bound<'_, PyAny>,
    out: &Bound<'_, PyUntypedArray>,
) -> PyResult<()> {
    let slots = object_slots(out, "output array", true)?;
    let size = out.len();
    for pick in picks {
        for (i, &r) in pick.positions.iter().enumerate() {
            if r >= size {
                return Err(PyValueError::new_err(format!(
                    "selection position {r} is beyond the output's {size} items"
                )));
            }
            let obj = match &pick.items {
                None => fill_obj.clone().into_ptr(),
                // SAFETY: `i` < the number of picked items (one per position).
                Some(items) => unsafe { new_object(py, codec, items, i)? },
            };
            // SAFETY: `r` < out.size; the slot held a reference, released here.
            unsafe {
                let slot = slots.add(r);
                let old = *slot;
                *slot = obj;
                ffi::Py_XDECREF(old);
            }
        }
    }
    Ok(())
}

/// The items of `data` (a C-contiguous object array) for an array of `codec`: `str` for
/// `vlen-utf8`, `bytes` for `vlen-bytes` (None is the empty item, as in numcodecs), any
/// JSON-able value for `json2`.
pub fn collect_items(
    py: Python<'_>,
    codec: ObjectCodec,
    data: &Bound<'_, PyUntypedArray>,
) -> PyResult<Objects> {
    let slots = object_slots(data, "data", false)?;
    let n = data.len();
    let get = |i: usize| -> Bound<'_, PyAny> {
        // SAFETY: i < n; every slot of an object array holds a valid reference.
        unsafe { Bound::from_borrowed_ptr(py, *slots.add(i)) }
    };
    if codec == ObjectCodec::Json2 {
        return Ok(Objects::Json(
            (0..n)
                .map(|i| py_to_json(&get(i), i))
                .collect::<PyResult<_>>()?,
        ));
    }
    let mut items = Items::with_capacity(n, n * 8);
    for i in 0..n {
        let obj = get(i);
        if let Ok(s) = obj.cast::<PyString>() {
            if codec == ObjectCodec::VlenBytes {
                return Err(PyTypeError::new_err(format!(
                    "item {i} is str ({s:?}); a vlen-bytes dataset stores bytes"
                )));
            }
            items.push(s.to_str()?.as_bytes());
        } else if let Ok(b) = obj.cast::<PyBytes>() {
            if codec == ObjectCodec::VlenUtf8 {
                return Err(PyTypeError::new_err(format!(
                    "item {i} is bytes ({b:?}); a variable-length string dataset stores str"
                )));
            }
            items.push(b.as_bytes());
        } else if obj.is_none() {
            items.push(b"");
        } else {
            return Err(PyTypeError::new_err(format!(
                "item {i} is {} ({obj:?}); the dataset stores {}",
                obj.get_type().name()?,
                if codec == ObjectCodec::VlenUtf8 {
                    "str"
                } else {
                    "bytes"
                }
            )));
        }
    }
    Ok(Objects::Vlen(items))
}
