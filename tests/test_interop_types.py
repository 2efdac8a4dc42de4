"""Fixed-size non-numeric data types with zarr-python 3.1 and tensorstore, both directions.

Fixed-length byte (``|S7``) and unicode (``<U4``, ``>U13``) strings, opaque ``|V`` records
and Zarr v2 structured dtypes, and ``datetime64`` / ``timedelta64`` in numpy's units (with
scale factors and NaT): zarr-python writes, we read equal (data and fill value); we write,
zarr-python reads equal and the metadata spells the type as zarr-python does.
"""

from __future__ import annotations

import numpy as np
import pytest
import z5py
import zarr
from interop_helpers import assert_same_array, read_json, z5_open

pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore:The data type .* does not have a Zarr V3 specification"),
]

SHAPE = (13, 7)
CHUNKS = (5, 3)
WINDOW = (slice(2, 11), slice(1, 6))
RECORD = [("label", "<u8"), ("score", ">f4"), ("name", "S3")]
#: with a subarray field (zarr-python 3 reads such fields as opaque ``|V`` bytes)
RECORD_SUB = [*RECORD, ("xy", ">i2", (2,))]


def _strings(n, rng, alphabet, width):
    lengths = rng.integers(0, width + 1, n)
    return ["".join(rng.choice(alphabet, k)) for k in lengths]


def make_typed(dtype, seed=0):
    """Data of ``dtype`` over SHAPE, with the type's corner cases (empty strings, NaT)."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(SHAPE))
    dt = np.dtype(dtype)
    if dt.kind == "S":
        flat = np.array([s.encode() for s in _strings(n, rng, list("abcxyz01"), dt.itemsize)])
    elif dt.kind == "U":
        flat = np.array(_strings(n, rng, list("aé✓ß𝄞z"), dt.itemsize // 4), dtype=dt)
    elif dt.kind in "Mm":
        flat = rng.integers(-(2**40), 2**40, n).astype("<i8").view(dt.newbyteorder("<"))
        flat[::7] = np.array("NaT", dtype=flat.dtype)
    elif dt.fields is not None:
        flat = np.zeros(n, dtype=dt)
        flat["label"] = rng.integers(0, 2**63, n, dtype=np.uint64)
        flat["score"] = rng.random(n)
        flat["name"] = [s.encode() for s in _strings(n, rng, list("pqr"), 3)]
        if "xy" in dt.fields:
            flat["xy"] = rng.integers(-1000, 1000, (n, 2))
    else:  # |V
        flat = rng.integers(0, 256, n * dt.itemsize, dtype=np.uint8).view(dt)
    return flat.astype(dt).reshape(SHAPE)


#: (dtype, fill value) for both formats
CASES = [
    ("|S7", b"ab"),
    ("<U4", "xé"),
    (">U13", "q✓"),
    ("|V5", b"\x01\x02\x03\x04\x05"),
    ("<M8[ns]", np.datetime64("NaT", "ns")),
    ("<M8[D]", np.datetime64("2001-02-03", "D")),
    (">M8[us]", np.datetime64("NaT", "us")),
    ("<M8[10s]", np.datetime64("NaT", "s")),
    ("<m8[ms]", np.timedelta64(1234, "ms")),
    ("<m8[ps]", np.timedelta64("NaT", "ps")),
    ("<m8[Y]", np.timedelta64(3, "Y")),
]
V2_CASES = [*CASES, (RECORD, (7, 2.5, b"abc"))]


def _id(case):
    dtype = case[0]
    return "record" if isinstance(dtype, list) else dtype


def _zarr_create(root, fmt, dtype, fill):
    if isinstance(fill, tuple):  # zarr-python takes a record's fill value as its bytes
        fill = np.array(fill, dtype=np.dtype(dtype)).tobytes()
    group = zarr.open_group(str(root), mode="w", zarr_format=fmt)
    return group.create_array("d", shape=SHAPE, chunks=CHUNKS, dtype=dtype, fill_value=fill)


def _equal_fill(actual, expected, dtype):
    expected = np.array(expected, dtype=np.dtype(dtype))
    actual = np.array(actual, dtype=np.dtype(dtype))
    if expected.dtype.kind in "Mm":
        return (np.isnat(actual) and np.isnat(expected)) or actual == expected
    return actual.tobytes() == expected.tobytes()


@pytest.mark.parametrize("fmt", [2, 3])
@pytest.mark.parametrize("case", V2_CASES, ids=_id)
def test_zarr_python_written_read_by_ours(tmp_path, fmt, case):
    dtype, fill = case
    if fmt == 3 and isinstance(dtype, list):
        # zarr-python 3's own v3 `structured` data type is not read (yet): loudly
        _zarr_create(tmp_path / "a.zarr", fmt, dtype, fill)
        with (
            z5_open(tmp_path / "a.zarr", mode="r") as f,
            pytest.raises(z5py.errors.UnsupportedError, match="structured.*zarr.json"),
        ):
            f["d"]
        return
    data = make_typed(dtype)
    a = _zarr_create(tmp_path / "a.zarr", fmt, dtype, fill)
    a[2:11, :] = data[2:11, :]  # the first and last chunk rows keep the fill value
    expected = a[...]
    with z5_open(tmp_path / "a.zarr", mode="r") as f:
        ds = f["d"]
        got = ds[...]
        assert_same_array(got, expected)
        assert_same_array(ds[WINDOW], expected[WINDOW])
        assert _equal_fill(ds.fillvalue, fill, dtype)


@pytest.mark.parametrize("fmt", [2, 3])
@pytest.mark.parametrize("case", V2_CASES, ids=_id)
def test_ours_read_by_zarr_python(tmp_path, fmt, case):
    dtype, fill = case
    if fmt == 3 and isinstance(dtype, list):
        with z5_open(tmp_path / "c.zarr", "zarr3") as f, pytest.raises(Exception, match="struct"):
            f.create_dataset("d", shape=SHAPE, chunks=CHUNKS, dtype=dtype)
        return
    data = make_typed(dtype)
    with z5_open(tmp_path / "c.zarr", f"zarr{fmt}") as f:
        ds = f.create_dataset(
            "d", shape=SHAPE, chunks=CHUNKS, dtype=dtype, fillvalue=fill, compression="zstd"
        )
        ds[2:11, :] = data[2:11, :]
        ours = ds[...]
    expected = np.array(fill, dtype=np.dtype(dtype)).repeat(np.prod(SHAPE)).reshape(SHAPE)
    expected[2:11, :] = data[2:11, :]
    assert_same_array(ours, expected)
    a = zarr.open_array(str(tmp_path / "c.zarr" / "d"), mode="r")
    assert_same_array(a[...], expected)
    assert _equal_fill(a.fill_value, fill, dtype)
    meta = read_json(tmp_path / "c.zarr" / "d" / (".zarray" if fmt == 2 else "zarr.json"))
    # the type is spelled as zarr-python spells it
    ref = zarr.create_array(
        str(tmp_path / "ref.zarr"), shape=SHAPE, chunks=CHUNKS, dtype=dtype, zarr_format=fmt
    )
    ref_meta = read_json(tmp_path / "ref.zarr" / (".zarray" if fmt == 2 else "zarr.json"))
    key = "dtype" if fmt == 2 else "data_type"
    assert meta[key] == ref_meta[key]
    del ref


def test_structured_fields_and_partial_writes(tmp_path):
    data = make_typed(RECORD_SUB)
    with z5_open(tmp_path / "c.zarr", "zarr2") as f:
        ds = f.create_dataset("d", data=data, chunks=CHUNKS, fillvalue=(1, 2, b"x", (3, 4)))
        assert ds.dtype == np.dtype(RECORD_SUB)
        assert ds.fillvalue.tobytes() == np.array((1, 2, b"x", (3, 4)), RECORD_SUB).tobytes()
        ds[3, 4] = (1, 0.5, b"zz", (3, 4))
        data[3, 4] = (1, 0.5, b"zz", (3, 4))
        assert_same_array(ds[...], data)
        assert_same_array(ds[...]["label"], data["label"])
    assert read_json(tmp_path / "c.zarr" / "d" / ".zarray")["dtype"] == [
        ["label", "<u8"],
        ["score", ">f4"],
        ["name", "|S3"],
        ["xy", ">i2", [2]],
    ]


def test_strings_cast_and_truncate_like_numpy(tmp_path):
    with z5_open(tmp_path / "c.zarr", "zarr2") as f:
        ds = f.create_dataset("s", shape=(4,), chunks=(2,), dtype="S3")
        ds[:] = ["a", "bcdef", "", "xyz"]
        assert ds[...].tolist() == [b"a", b"bcd", b"", b"xyz"]
        u = f.create_dataset("u", shape=(3,), chunks=(2,), dtype="U2")
        u[:] = np.array([b"ab", b"c", b""])
        assert u[...].tolist() == ["ab", "c", ""]
        t = f.create_dataset("t", shape=(2,), chunks=(2,), dtype="M8[s]")
        t[:] = ["2020-01-01T00:00:01", "NaT"]
        assert str(t[0]) == "2020-01-01T00:00:01" and np.isnat(t[1])
        with pytest.raises(TypeError):
            ds[:] = np.arange(4)


def test_n5_refuses_strings_and_datetimes(tmp_path):
    with z5_open(tmp_path / "c.n5", "n5") as f:
        for dtype in ["S3", "<U2", "M8[s]", RECORD]:
            with pytest.raises(Exception, match="N5"):
                f.create_dataset("d", shape=(4,), chunks=(2,), dtype=dtype)


def test_tensorstore_reads_ours(tmp_path):
    """tensorstore's zarr driver reads our structured arrays field by field (it has no
    ``U`` or datetime dtypes, and its Python binding hands ``S`` data back as ``|S0``)."""
    ts = pytest.importorskip("tensorstore")
    data = make_typed(RECORD)
    with z5_open(tmp_path / "c.zarr", "zarr2") as f:
        f.create_dataset("d", data=data, chunks=CHUNKS, compression="raw", fillvalue=0)
    spec = {"driver": "zarr", "kvstore": {"driver": "file", "path": str(tmp_path / "c.zarr/d")}}
    for name in ("label", "score"):
        got = ts.open({**spec, "field": name}).result().read().result()
        assert_same_array(got, data[name])
