//! `ArrayHandle`: an open array. Buffers cross as numpy arrays whose memory the engine reads
//! or fills directly, with the GIL released.

use super::errors::guard;
use super::store::Target;
use crate::array::Array;
use crate::codec::{options, Compressor};
use crate::dtype::{DataType, Endian};
use crate::metadata::{fill, json, ArraySpec, Format};
use crate::selection;
use numpy::npyffi::flags::NPY_ARRAY_WRITEABLE;
use numpy::{
    PyArray1, PyArrayDescrMethods, PyReadonlyArray1, PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};

/// A numpy buffer's memory, movable into a GIL-free closure. The caller keeps the array
/// alive (it holds a reference) for the duration of the call.
#[derive(Clone, Copy)]
struct RawBuf {
    ptr: *mut u8,
    len: usize,
}
// SAFETY: the pointer stays valid while the owning array is referenced by the caller.
unsafe impl Send for RawBuf {}

impl RawBuf {
    /// # Safety
    /// The numpy array must outlive the returned slice.
    unsafe fn slice_mut<'a>(self) -> &'a mut [u8] {
        if self.len == 0 {
            return &mut [];
        }
        std::slice::from_raw_parts_mut(self.ptr, self.len)
    }
    unsafe fn slice<'a>(self) -> &'a [u8] {
        if self.len == 0 {
            return &[];
        }
        std::slice::from_raw_parts(self.ptr, self.len)
    }
}

/// Index arrays (one per axis) as owned lists.
fn index_lists(indices: &[PyReadonlyArray1<'_, u64>]) -> PyResult<Vec<Vec<u64>>> {
    indices
        .iter()
        .map(|a| Ok(a.as_array().iter().copied().collect()))
        .collect()
}

#[pyclass(module = "z5py._z5py", frozen)]
pub struct ArrayHandle {
    inner: Array,
}

fn bad(msg: String) -> PyErr {
    crate::Error::invalid(msg).into()
}

impl ArrayHandle {
    /// Check dtype, contiguity (and writeability) of a buffer and take its memory.
    fn buffer(
        &self,
        arr: &Bound<'_, PyUntypedArray>,
        writeable: bool,
        what: &str,
    ) -> PyResult<RawBuf> {
        let descr = arr.dtype();
        let dtype = self.inner.meta.dtype;
        if dtype.is_object() {
            // Object pointers must never be read or written as bytes.
            return Err(bad(format!(
                "{} holds variable-length items: use read_objects / write_objects",
                self.inner.meta.meta_path
            )));
        }
        // Records keep their fields' stored byte order; datetimes must agree on the unit.
        let kind_ok = descr.itemsize() == dtype.size()
            && (matches!(dtype, DataType::Opaque(_))
                || descr.is_native_byteorder().unwrap_or(true))
            && descr.kind() as char == dtype.kind()
            && (!matches!(dtype, DataType::DateTime(_) | DataType::TimeDelta(_))
                || descr
                    .getattr("str")
                    .and_then(|s| s.extract::<String>())
                    .ok()
                    == Some(dtype.typestr(Endian::NATIVE)));
        if !kind_ok {
            return Err(bad(format!(
                "{what} has dtype {}, the dataset needs {}",
                descr,
                dtype.typestr(Endian::NATIVE)
            )));
        }
        if !arr.is_c_contiguous() {
            return Err(bad(format!("{what} must be C-contiguous")));
        }
        // SAFETY: reading fields of a live PyArrayObject.
        let (ptr, flags) = unsafe {
            let a = &*arr.as_array_ptr();
            (a.data as *mut u8, a.flags)
        };
        if writeable && flags & NPY_ARRAY_WRITEABLE == 0 {
            return Err(bad(format!("{what} is read-only")));
        }
        Ok(RawBuf {
            ptr,
            len: arr.len() * dtype.size(),
        })
    }

    /// Put the items a selection read of an object array picked into `out`.
    fn fill_picks(
        &self,
        py: Python<'_>,
        picks: &[selection::ObjectPicks],
        count: usize,
        out: &Bound<'_, PyUntypedArray>,
    ) -> PyResult<()> {
        let a = &self.inner;
        if out.len() != count {
            return Err(bad(format!(
                "output array holds {} items, the selection {count}",
                out.len()
            )));
        }
        let fill = super::objects::fill_object(py, a)?;
        super::objects::fill_picks(py, a.object_codec()?, picks, &fill, out)
    }

    fn u64s(v: &[usize]) -> Vec<u64> {
        v.iter().map(|&x| x as u64).collect()
    }

    /// Check `out` as a writeable buffer of this array's dtype, then run `f` on the array and
    /// `out`'s memory without the GIL.
    fn fill_buffer<R: Send>(
        &self,
        py: Python<'_>,
        out: &Bound<'_, PyUntypedArray>,
        what: &str,
        f: impl FnOnce(&Array, &mut [u8]) -> crate::Result<R> + Send,
    ) -> PyResult<R> {
        let buf = self.buffer(out, true, what)?;
        let a = &self.inner;
        // SAFETY: `out` is borrowed, so the numpy array behind `buf` is referenced by the
        // caller for this whole call.
        py.detach(move || guard(|| f(a, unsafe { buf.slice_mut() })))
    }

    /// Check `data` as a buffer of this array's dtype, then run `f` on the array and `data`'s
    /// memory without the GIL.
    fn with_buffer<R: Send>(
        &self,
        py: Python<'_>,
        data: &Bound<'_, PyUntypedArray>,
        what: &str,
        f: impl FnOnce(&Array, &[u8]) -> crate::Result<R> + Send,
    ) -> PyResult<R> {
        let buf = self.buffer(data, false, what)?;
        let a = &self.inner;
        // SAFETY: as in fill_buffer.
        py.detach(move || guard(|| f(a, unsafe { buf.slice() })))
    }
}

#[pymethods]
impl ArrayHandle {
    /// Open the array at `path` (N5, Zarr v2 or Zarr v3, detected from its metadata).
    #[staticmethod]
    #[pyo3(signature = (target, key=""))]
    fn open(py: Python<'_>, target: Target, key: &str) -> PyResult<Self> {
        let store = target.resolve(py)?;
        let inner = py.detach(|| guard(|| Array::open(store, key)))?;
        Ok(ArrayHandle { inner })
    }

    /// Write the metadata of a new array and open it.
    #[staticmethod]
    #[pyo3(signature = (target, fmt, shape, chunks, dtype, compressor, options_json, fill_value,
                        dimension_separator=None, shards=None, chunk_key_encoding=None, key="",
                        filters_json=None))]
    #[allow(clippy::too_many_arguments)]
    fn create(
        py: Python<'_>,
        target: Target,
        fmt: &str,
        shape: Vec<u64>,
        chunks: Vec<u64>,
        dtype: &str,
        compressor: &str,
        options_json: &str,
        fill_value: &[u8],
        dimension_separator: Option<&str>,
        shards: Option<Vec<u64>>,
        chunk_key_encoding: Option<String>,
        key: &str,
        filters_json: Option<&str>,
    ) -> PyResult<Self> {
        let format = Format::from_name(fmt)?;
        // A structured dtype comes in numpy's list form (`[["a", "<u8"], ...]`).
        let (dt, endian, record) = if dtype.starts_with('[') {
            let fields: serde_json::Value = serde_json::from_str(dtype)
                .map_err(|e| bad(format!("structured dtype {dtype}: {e}")))?;
            let (dt, endian) = crate::metadata::zarr_v2::dtype_from_json(&fields)?;
            (dt, endian, Some(fields))
        } else if let Some(codec) = crate::dtype::ObjectCodec::from_id(dtype) {
            // variable-length items: the dtype argument names the object codec
            (DataType::Object(codec), Endian::Little, None)
        } else {
            let (dt, endian) = DataType::from_typestr(dtype)?;
            (dt, endian, None)
        };
        let opts = json::parse_object(options_json, "compression options")?;
        // Filters in numcodecs' JSON form (`[{"id": "delta", "dtype": "<u8"}, ...]`).
        let (filters, filtered) = match filters_json {
            None => (vec![], (dt, endian)),
            Some(text) => {
                let list: Vec<serde_json::Value> =
                    serde_json::from_str(text).map_err(|e| bad(format!("filters {text}: {e}")))?;
                crate::metadata::zarr_v2::filters_from_json(
                    &list,
                    (dt, endian),
                    "the filters argument",
                )
                .map_err(|e| match e {
                    crate::error::Error::Metadata { msg, .. } => {
                        bad(format!("filters argument: {msg}"))
                    }
                    other => other.into(),
                })?
            }
        };
        // The compressor sees what the filters hand on (blosc's typesize).
        let compressor = options::from_z5py(compressor, &opts, format, filtered.0)?;
        let separator = match dimension_separator {
            None => None,
            Some(s) if s.chars().count() == 1 => s.chars().next(),
            Some(s) => {
                return Err(bad(format!(
                    "dimension_separator {s:?} must be one character"
                )))
            }
        };
        let spec = ArraySpec {
            format,
            shape,
            chunks,
            dtype: dt,
            endian,
            compressor,
            fill: fill_value.to_vec(),
            separator,
            shards,
            key_encoding: chunk_key_encoding,
            record,
            filters,
        };
        let store = target.resolve(py)?;
        let inner = py.detach(|| guard(|| Array::create(store, key, &spec)))?;
        Ok(ArrayHandle { inner })
    }

    /// The same array with `write_empty_chunks` set: whether chunks holding only the fill
    /// value are stored (true) or removed (false, the default).
    fn with_write_empty_chunks(&self, write_empty_chunks: bool) -> Self {
        let mut inner = self.inner.clone();
        inner.write_empty_chunks = write_empty_chunks;
        ArrayHandle { inner }
    }

    #[getter]
    fn write_empty_chunks(&self) -> bool {
        self.inner.write_empty_chunks
    }

    #[getter]
    fn path(&self) -> String {
        self.inner.store.location(&self.inner.prefix)
    }
    #[getter]
    fn format(&self) -> &'static str {
        self.inner.meta.format.name()
    }
    #[getter]
    fn shape<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, &self.inner.meta.grid.shape)
    }
    #[getter]
    fn chunks<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.inner.chunk_shape())
    }
    #[getter]
    fn shards<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        match &self.inner.meta.sharding {
            Some(_) => Ok(Some(PyTuple::new(py, &self.inner.meta.grid.chunk)?)),
            None => Ok(None),
        }
    }
    #[getter]
    fn dtype(&self) -> String {
        self.inner.meta.dtype.typestr(Endian::NATIVE)
    }
    #[getter]
    fn stored_dtype(&self) -> String {
        self.inner.meta.dtype.typestr(self.inner.meta.endian)
    }
    #[getter]
    fn fill_value<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.meta.fill)
    }
    #[getter]
    fn compressor(&self) -> &'static str {
        options::to_z5py(&self.inner.meta.compressor).0
    }
    #[getter]
    fn compression_options_json(&self) -> String {
        json::compact(&serde_json::Value::Object(
            options::to_z5py(&self.inner.meta.compressor).1,
        ))
    }
    /// The codecs besides the compressor (filters, checksums), in numcodecs' JSON form.
    #[getter]
    fn filters_json(&self) -> PyResult<String> {
        let meta = &self.inner.meta;
        let chain = match &meta.sharding {
            Some(s) => &s.inner_pipeline.compressors,
            None => &meta.pipeline.compressors,
        };
        let mut skipped_main = false;
        // an object array's object codec comes first, as numcodecs lists it
        let mut out = match meta.dtype {
            DataType::Object(codec) => vec![crate::metadata::zarr_v2::object_codec_json(codec)],
            _ => Vec::new(),
        };
        for c in chain {
            if *c == Compressor::Raw {
                continue;
            }
            if !skipped_main && *c == meta.compressor {
                skipped_main = true;
                continue;
            }
            out.push(crate::metadata::zarr_v2::codec_to_json(c)?);
        }
        Ok(json::compact(&serde_json::Value::Array(out)))
    }
    #[getter]
    fn metadata_json(&self) -> String {
        json::compact(&self.inner.meta.doc)
    }
    #[getter]
    fn fill_value_json(&self) -> String {
        json::compact(&fill::to_json(self.inner.meta.dtype, &self.inner.meta.fill))
    }
    #[getter]
    fn chunks_per_dimension<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.inner.chunks_per_dimension())
    }
    #[getter]
    fn number_of_chunks(&self) -> u64 {
        self.inner.chunks_per_dimension().iter().product()
    }

    /// Fill `out` with the region at `start` of shape `out.shape`.
    fn read_into(
        &self,
        py: Python<'_>,
        start: Vec<u64>,
        out: &Bound<'_, PyUntypedArray>,
        n_threads: usize,
    ) -> PyResult<()> {
        let shape = Self::u64s(out.shape());
        self.fill_buffer(py, out, "output array", |a, buf| {
            a.read_region(&start, &shape, buf, n_threads)
        })
    }

    /// Write `data` as the region at `start`.
    fn write_from(
        &self,
        py: Python<'_>,
        start: Vec<u64>,
        data: &Bound<'_, PyUntypedArray>,
        n_threads: usize,
    ) -> PyResult<()> {
        let shape = Self::u64s(data.shape());
        self.with_buffer(py, data, "data", |a, buf| {
            a.write_region(&start, &shape, buf, n_threads)
        })
    }

    /// The object codec of a variable-length array (`vlen-utf8`, `vlen-bytes`, `json2`),
    /// None for fixed-size data.
    #[getter]
    fn object_codec(&self) -> Option<&'static str> {
        match self.inner.meta.dtype {
            DataType::Object(c) => Some(c.id()),
            _ => None,
        }
    }

    /// What items of a variable-length array read as where no chunk was written: the fill
    /// item (`str`, `bytes`, a JSON value), or the fill value of the metadata itself when
    /// that is not a string (zarr-python 2's default `0`, or `null`), as zarr-python 2
    /// reads it.
    #[getter]
    fn object_fill<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        super::objects::fill_object(py, &self.inner)
    }

    /// Fill `out` (a C-contiguous numpy object array) with the items of the region at
    /// `start` of shape `out.shape`: chunks are read and decoded without the GIL, which is
    /// held only to create the objects.
    fn read_objects(
        &self,
        py: Python<'_>,
        start: Vec<u64>,
        out: &Bound<'_, PyUntypedArray>,
        n_threads: usize,
    ) -> PyResult<()> {
        let a = &self.inner;
        let codec = a.object_codec()?;
        let shape = Self::u64s(out.shape());
        let parts = py.detach(|| guard(|| a.read_objects(&start, &shape, n_threads)))?;
        let fill = super::objects::fill_object(py, a)?;
        super::objects::fill_region(py, codec, &parts, &fill, out)
    }

    /// Write the items of `data` (a C-contiguous numpy object array) as the region at
    /// `start`: their bytes are gathered with the GIL, encoded and stored without it.
    fn write_objects(
        &self,
        py: Python<'_>,
        start: Vec<u64>,
        data: &Bound<'_, PyUntypedArray>,
        n_threads: usize,
    ) -> PyResult<()> {
        let a = &self.inner;
        let codec = a.object_codec()?;
        let shape = Self::u64s(data.shape());
        let items = super::objects::collect_items(py, codec, data)?;
        py.detach(|| guard(|| a.write_objects(&start, &shape, &items, n_threads)))
    }

    /// Fill `out` (shape: the lengths of `indices`) with the orthogonal selection given by
    /// one array of indices per axis; only chunks holding selected elements are read. For
    /// an object array `out` is a C-contiguous numpy object array: the chunks are read and
    /// decoded without the GIL, which is held only to create the objects.
    fn read_orthogonal(
        &self,
        py: Python<'_>,
        indices: Vec<PyReadonlyArray1<'_, u64>>,
        out: &Bound<'_, PyUntypedArray>,
        n_threads: usize,
    ) -> PyResult<()> {
        let idx = index_lists(&indices)?;
        if self.inner.meta.dtype.is_object() {
            let a = &self.inner;
            let picks =
                py.detach(|| guard(|| selection::read_orthogonal_objects(a, &idx, n_threads)))?;
            let count = idx.iter().map(Vec::len).product();
            return self.fill_picks(py, &picks, count, out);
        }
        self.fill_buffer(py, out, "output array", |a, buf| {
            selection::read_orthogonal(a, &idx, buf, n_threads)
        })
    }

    /// Write `data` (shape: the lengths of `indices`) to the orthogonal selection: each chunk
    /// holding selected elements is changed in its locked read-modify-write. For an object
    /// array `data` is a C-contiguous numpy object array, whose items are gathered with the
    /// GIL and encoded and stored without it.
    fn write_orthogonal(
        &self,
        py: Python<'_>,
        indices: Vec<PyReadonlyArray1<'_, u64>>,
        data: &Bound<'_, PyUntypedArray>,
        n_threads: usize,
    ) -> PyResult<()> {
        let idx = index_lists(&indices)?;
        if self.inner.meta.dtype.is_object() {
            let a = &self.inner;
            let items = super::objects::collect_items(py, a.object_codec()?, data)?;
            return py.detach(|| {
                guard(|| selection::write_orthogonal_objects(a, &idx, &items, n_threads))
            });
        }
        self.with_buffer(py, data, "data", |a, buf| {
            selection::write_orthogonal(a, &idx, buf, n_threads)
        })
    }

    /// Fill `out` (n elements) with the points whose coordinates `coords` holds (n * ndim,
    /// point by point); object arrays as in `read_orthogonal`.
    fn read_points(
        &self,
        py: Python<'_>,
        coords: PyReadonlyArray1<'_, u64>,
        out: &Bound<'_, PyUntypedArray>,
        n_threads: usize,
    ) -> PyResult<()> {
        let c = coords.as_slice()?.to_vec();
        if self.inner.meta.dtype.is_object() {
            let a = &self.inner;
            let picks = py.detach(|| guard(|| selection::read_points_objects(a, &c, n_threads)))?;
            let count = c.len() / a.meta.grid.shape.len().max(1);
            return self.fill_picks(py, &picks, count, out);
        }
        self.fill_buffer(py, out, "output array", |a, buf| {
            selection::read_points(a, &c, buf, n_threads)
        })
    }

    /// Write `data` (n elements) to the points `coords` (n * ndim); object arrays as in
    /// `write_orthogonal`.
    fn write_points(
        &self,
        py: Python<'_>,
        coords: PyReadonlyArray1<'_, u64>,
        data: &Bound<'_, PyUntypedArray>,
        n_threads: usize,
    ) -> PyResult<()> {
        let c = coords.as_slice()?.to_vec();
        if self.inner.meta.dtype.is_object() {
            let a = &self.inner;
            let items = super::objects::collect_items(py, a.object_codec()?, data)?;
            return py
                .detach(|| guard(|| selection::write_points_objects(a, &c, &items, n_threads)));
        }
        self.with_buffer(py, data, "data", |a, buf| {
            selection::write_points(a, &c, buf, n_threads)
        })
    }

    /// The decoded chunk at `chunk_index`, or None when it is not stored.
    fn read_chunk<'py>(
        &self,
        py: Python<'py>,
        chunk_index: Vec<u64>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let a = &self.inner;
        if a.meta.dtype.is_object() {
            return Err(bad(format!(
                "{} holds variable-length items: read them with read_objects",
                a.meta.meta_path
            )));
        }
        let Some(c) = py.detach(|| guard(|| a.read_chunk(&chunk_index)))? else {
            return Ok(None);
        };
        let shape = PyTuple::new(py, &c.shape)?;
        let arr = PyArray1::from_vec(py, c.data);
        Ok(Some(
            arr.call_method1("view", (self.dtype(),))?
                .call_method1("reshape", (shape,))?,
        ))
    }

    /// Encode and store one chunk given in its stored shape.
    #[pyo3(signature = (chunk_index, data, varlen=false))]
    fn write_chunk(
        &self,
        py: Python<'_>,
        chunk_index: Vec<u64>,
        data: &Bound<'_, PyUntypedArray>,
        varlen: bool,
    ) -> PyResult<()> {
        self.with_buffer(py, data, "chunk data", |a, buf| {
            a.write_chunk(&chunk_index, buf, varlen)
        })
    }

    /// The shape an N5 chunk's header declares, or None when the chunk is not stored.
    fn chunk_header_shape(
        &self,
        py: Python<'_>,
        chunk_index: Vec<u64>,
    ) -> PyResult<Option<Vec<u64>>> {
        let a = &self.inner;
        py.detach(|| guard(|| a.chunk_header_shape(&chunk_index)))
    }

    fn chunk_exists(&self, py: Python<'_>, chunk_index: Vec<u64>) -> PyResult<bool> {
        let a = &self.inner;
        py.detach(|| guard(|| a.chunk_exists(&chunk_index)))
    }

    /// Indices of all chunks that are stored.
    fn existing_chunks<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyTuple>>> {
        let a = &self.inner;
        let idx = py.detach(|| guard(|| a.existing_chunks()))?;
        idx.iter().map(|i| PyTuple::new(py, i)).collect()
    }

    /// The file holding chunk `chunk_index` (its shard for sharded arrays).
    fn chunk_path(&self, chunk_index: Vec<u64>) -> String {
        self.inner.chunk_file(&chunk_index)
    }

    /// The bytes this array would store for `data` as one chunk.
    fn encode_chunk<'py>(
        &self,
        py: Python<'py>,
        data: &Bound<'_, PyUntypedArray>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let shape = Self::u64s(data.shape());
        let bytes = self.with_buffer(py, data, "data", |a, buf| a.encode_chunk(buf, &shape))?;
        Ok(PyBytes::new(py, &bytes))
    }

    fn __repr__(&self) -> String {
        format!(
            "ArrayHandle({:?}, format={}, shape={:?}, dtype={})",
            self.inner.store.location(&self.inner.prefix),
            self.inner.meta.format.name(),
            self.inner.meta.grid.shape,
            self.dtype()
        )
    }
}
