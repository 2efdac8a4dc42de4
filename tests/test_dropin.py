"""z5py 3.x code runs unchanged: signatures, names from the root, ``.parent``, JSON hooks,
exception classes, ``write_chunk`` dtypes and ``get_chunk_shape`` (issue 12).

Where it helps, the same z5py 3.x snippet also runs under the published C++ z5py 3.0.2
(``$Z5PY_REF_PYTHON``, see ``tests/test_interop_reference.py``) and the files both write are
compared.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import textwrap

import numpy as np
import pytest
import z5py
from z5py import errors

REF_PYTHON = os.environ.get("Z5PY_REF_PYTHON", "/work/ref-venv/bin/python")


def _ref_python() -> str:
    if not (os.path.isfile(REF_PYTHON) and os.access(REF_PYTHON, os.X_OK)):
        pytest.skip(
            f"reference interpreter {REF_PYTHON} (Z5PY_REF_PYTHON) is missing; "
            "create it with .ci/ref-venv.sh"
        )
    return REF_PYTHON


def _run_ref(script: str, *args: str) -> None:
    """Run ``script`` under the published z5py 3.0.2."""
    result = subprocess.run(
        [_ref_python(), "-c", textwrap.dedent(script), *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert result.returncode == 0, result.stderr


def _files(root) -> list[str]:
    """Every file below ``root``, relative, sorted."""
    found = []
    for dirpath, _, names in os.walk(root):
        found += [os.path.relpath(os.path.join(dirpath, n), root) for n in names]
    return sorted(found)


def _zarray(path) -> dict:
    with open(os.path.join(path, ".zarray")) as fh:
        return json.load(fh)


# ------------------------------------------------------------------------------------------
# File / ZarrFile signatures and dimension_separator

#: A z5py 3.x snippet: positional mode, dimension_separator by keyword and by position.
SNIPPET_3X = """
import sys
import numpy as np
import z5py
root = sys.argv[1]
f = z5py.File(root + "/a.zarr", "a", dimension_separator="/")
ds = f.create_dataset("raw", shape=(4, 6), chunks=(2, 3), dtype="uint8", compression="raw")
ds[:] = np.arange(24, dtype="uint8").reshape(4, 6)
g = f.require_group("g")
g.create_dataset("inner", shape=(4,), chunks=(2,), dtype="uint8", compression="raw")[:] = 7
z = z5py.ZarrFile(root + "/b.zarr", "a", "/")
z.create_dataset("x", shape=(4,), chunks=(2,), dtype="int16", compression="raw")[:] = -1
p = z5py.File(root + "/c.zarr", "a", True, ".")
p.create_dataset("y", shape=(4,), chunks=(2,), dtype="uint8", compression="raw")[:] = 3
"""


def test_3x_snippet_runs_and_writes_what_3x_writes(tmp_path):
    ours, ref = tmp_path / "ours", tmp_path / "ref"
    ours.mkdir()
    ref.mkdir()
    subprocess.run(
        [os.sys.executable, "-c", SNIPPET_3X, str(ours)], check=True, capture_output=True
    )
    _run_ref(SNIPPET_3X, str(ref))
    assert _files(ours) == _files(ref)
    assert "a.zarr/raw/1/1" in _files(ours) and "a.zarr/g/inner/1" in _files(ours)
    assert "c.zarr/y/1" in _files(ours)
    for name in ("a.zarr/raw", "a.zarr/g/inner", "b.zarr/x", "c.zarr/y"):
        assert _zarray(ours / name)["dimension_separator"] == _zarray(ref / name).get(
            "dimension_separator", "."
        ), name
        for chunk in _files(ref / name):
            if not chunk.startswith("."):
                assert (ours / name / chunk).read_bytes() == (ref / name / chunk).read_bytes()
    f = z5py.File(ours / "a.zarr", "r")
    np.testing.assert_array_equal(f["raw"][:], np.arange(24).reshape(4, 6))


def test_dimension_separator_applies_below_the_file_object_only(tmp_path):
    f = z5py.File(tmp_path / "c.zarr", "a", None, "/")
    g = f.create_group("g")
    nested = f.create_dataset("a/b/nested", shape=(4,), chunks=(2,), dtype="u1")
    inner = g.require_group("h").create_dataset("d", shape=(4,), chunks=(2,), dtype="u1")
    required = g.require_dataset("r", shape=(4,), chunks=(2,), dtype="u1")
    from_lookup = f["g"]["h"].create_dataset("e", shape=(4,), chunks=(2,), dtype="u1")
    override = f.create_dataset("o", shape=(4,), chunks=(2,), dtype="u1", dimension_separator=".")
    for ds in (nested, inner, required, from_lookup):
        assert _zarray(ds.path)["dimension_separator"] == "/", ds.name
    assert _zarray(override.path)["dimension_separator"] == "."
    nested[:] = 1
    assert os.path.isfile(os.path.join(nested.path, "1"))
    # not persisted on the container: reopening without it gives the default again
    assert not any("dimension_separator" in n for n in _files(tmp_path / "c.zarr") if "zgroup" in n)
    again = z5py.File(tmp_path / "c.zarr", "a")
    assert (
        _zarray(again.create_dataset("later", shape=(2,), dtype="u1").path)["dimension_separator"]
        == "."
    )
    # pickling keeps it
    clone = pickle.loads(pickle.dumps(g))
    made = clone.create_dataset("p", shape=(2,), dtype="u1")
    assert _zarray(made.path)["dimension_separator"] == "/"


def test_zarrfile_positional_order(tmp_path):
    z = z5py.ZarrFile(tmp_path / "z.zarr", "w", "/", 2)
    assert z.mode == "w" and z.zarr_format == 2
    assert _zarray(z.create_dataset("d", shape=(2,), dtype="u1").path)["dimension_separator"] == "/"
    v3 = z5py.ZarrFile(tmp_path / "v3.zarr", "a", "/", 3)
    assert v3.zarr_format == 3


@pytest.mark.parametrize("bad", ["_", "", "//", None, 1, b"/"])
def test_dimension_separator_is_validated(tmp_path, bad):
    with pytest.raises(ValueError, match="dimension_separator"):
        z5py.File(tmp_path / "c.zarr", "a", dimension_separator=bad)
    with pytest.raises(ValueError, match="dimension_separator"):
        z5py.ZarrFile(tmp_path / "c.zarr", "a", bad)
    assert not (tmp_path / "c.zarr").exists()


@pytest.mark.parametrize("fmt", ["n5", "zarr3"])
def test_dimension_separator_is_ignored_for_n5_and_zarr3(tmp_path, fmt):
    path = tmp_path / ("c.n5" if fmt == "n5" else "c.zarr")
    f = z5py.File(path, "a", None, "/", 3 if fmt == "zarr3" else None)
    ds = f.create_dataset("d", shape=(4,), chunks=(2,), dtype="u1")
    ds[:] = 5
    np.testing.assert_array_equal(z5py.File(path, "r")["d"][:], [5] * 4)
    if fmt == "zarr3":
        with open(os.path.join(ds.path, "zarr.json")) as fh:
            assert json.load(fh)["chunk_key_encoding"]["name"] == "default"


# ------------------------------------------------------------------------------------------
# names with a leading "/" start at the root


def test_leading_slash_means_from_the_root(f):
    f.create_group("a/b")
    f.create_dataset("top", shape=(3,), dtype="u1")
    b = f["a/b"]
    assert b["/top"] == f["top"] and b["/top"].name == "/top"
    assert b["/"] is f and f["/"] is f
    assert "/top" in b and "/a/b" in b and "/" in b and "/nope" not in b
    assert "top" not in b
    made = b.create_group("/made")
    assert made.name == "/made" and "made" in f and "made" not in b
    assert b.require_group("/made") == made and b.require_group("/") is f
    ds = b.create_dataset("/x/y", shape=(2,), dtype="u1")
    assert ds.name == "/x/y" and "x/y" in f
    assert b.require_dataset("/x/y", shape=(2,), dtype="u1") == ds
    assert b.require_dataset("/new", shape=(2,), dtype="u1").name == "/new"
    assert b.is_sub_group("/a") and not b.is_sub_group("/top")
    del b["/top"]
    assert "top" not in f
    with pytest.raises(errors.NodeNotFoundError):
        b["/top"]
    with pytest.raises(ValueError):
        del b["/"]


@pytest.mark.parametrize("name", ["/../escape", "/a/../../escape", "/a//b", "/.zarray", "/a\0"])
def test_leading_slash_never_escapes(f, tmp_path, name):
    g = f.create_group("a")
    for target in (f, g):
        with pytest.raises(ValueError):
            target.create_group(name)
        with pytest.raises(ValueError):
            target.create_dataset(name, shape=(2,), dtype="u1")
        with pytest.raises(ValueError):
            target[name]
        assert name not in target
    assert not (tmp_path / "escape").exists()


# ------------------------------------------------------------------------------------------
# parent, file_modes, is_sub_group


def test_parent_identity(f):
    g = f.create_group("g")
    g.create_group("h/i")
    g.create_dataset("d", shape=(2,), dtype="u1")
    assert f["g"].parent is f and g["d"].parent is g and g["h"].parent is g
    assert g.create_group("new").parent is g
    assert g.create_dataset("nd", shape=(2,), dtype="u1").parent is g
    assert g.require_group("h").parent is g
    assert g.require_dataset("d", shape=(2,)).parent is g
    deep = g["h/i"]
    assert deep.parent.name == "/g/h" and deep.parent == g["h"]
    assert deep.parent.parent is g
    assert f.parent is f
    # without the path through a group object, the parent is found from the name
    assert pickle.loads(pickle.dumps(deep)).parent.name == "/g/h"


def test_file_modes_and_is_sub_group(f):
    assert set(z5py.Group.file_modes) == {"a", "r", "r+", "w", "w-", "x"}
    assert f.file_modes == z5py.File.file_modes == z5py.Group.file_modes
    f.create_group("g/h")
    f.create_dataset("g/d", shape=(2,), dtype="u1")
    assert f.is_sub_group("g") and f.is_sub_group("g/h") and f["g"].is_sub_group("h")
    assert not f.is_sub_group("g/d") and not f.is_sub_group("nope")
    assert not f.is_sub_group("../x") and not f.is_sub_group(3)


# ------------------------------------------------------------------------------------------
# JSON encoder / decoder


class _SetEncoder(json.JSONEncoder):
    def default(self, o):
        if isinstance(o, set):
            return {"__set__": sorted(o)}
        return super().default(o)


class _SetDecoder(json.JSONDecoder):
    def __init__(self, **kwargs):
        super().__init__(object_hook=self._hook, **kwargs)

    @staticmethod
    def _hook(obj):
        return set(obj["__set__"]) if set(obj) == {"__set__"} else obj


@pytest.fixture
def json_hooks():
    yield
    z5py.set_json_encoder(None)
    z5py.set_json_decoder(None)


def test_json_encoder_and_decoder(f, json_hooks):
    with pytest.raises(TypeError):
        f.attrs["s"] = {1, 2}
    z5py.set_json_encoder(_SetEncoder)
    f.attrs["s"] = {3, 1}
    f.attrs["np"] = np.arange(3)  # numpy values keep working with a custom encoder
    assert f.attrs["s"] == {"__set__": [1, 3]}  # the default decoder
    z5py.set_json_decoder(_SetDecoder)
    assert f.attrs["s"] == {1, 3} and f.attrs["np"] == [0, 1, 2]
    assert dict(f.attrs) == {"s": {1, 3}, "np": [0, 1, 2]}
    z5py.set_json_decoder(None)
    assert f.attrs["s"] == {"__set__": [1, 3]}
    z5py.set_json_encoder(None)
    with pytest.raises(TypeError):
        f.attrs["t"] = {1}


def test_json_decoder_never_rewrites_untouched_keys(f, json_hooks):
    class Lossy(json.JSONDecoder):
        def __init__(self, **kwargs):
            super().__init__(parse_float=lambda text: "lossy", **kwargs)

    f.attrs["x"] = 0.5
    z5py.set_json_decoder(Lossy)
    assert f.attrs["x"] == "lossy"
    f.attrs["y"] = 1
    del f.attrs["y"]
    f.attrs.update(z=2)
    z5py.set_json_decoder(None)
    assert dict(f.attrs) == {"x": 0.5, "z": 2}


@pytest.mark.parametrize("bad", [json.JSONDecoder, dict, "json", _SetEncoder(), 3])
def test_json_encoder_refuses_non_encoders(bad, json_hooks):
    with pytest.raises(TypeError):
        z5py.set_json_encoder(bad)


@pytest.mark.parametrize("bad", [json.JSONEncoder, dict, "json", json.JSONDecoder(), 3])
def test_json_decoder_refuses_non_decoders(bad, json_hooks):
    with pytest.raises(TypeError):
        z5py.set_json_decoder(bad)


# ------------------------------------------------------------------------------------------
# exception classes z5py 3.x code catches


def test_read_only_modifications_are_value_errors(f):
    f.create_dataset("d", shape=(4,), chunks=(2,), dtype="u1")
    f.attrs["a"] = 1
    r = z5py.File(f.path, mode="r")
    actions = [
        lambda: r.create_group("g"),
        lambda: r.require_group("g"),
        lambda: r.create_dataset("e", shape=(2,), dtype="u1"),
        lambda: r.require_dataset("e", shape=(2,), dtype="u1"),
        lambda: r["d"].__setitem__(0, 1),
        lambda: r["d"].write_chunk((0,), np.zeros(2, "u1")),
        lambda: r["d"].write_subarray((0,), np.zeros(2, "u1")),
        lambda: r.attrs.__setitem__("b", 1),
        lambda: r.attrs.__delitem__("a"),
        lambda: r.attrs.update(b=1),
        lambda: r.attrs.clear(),
        lambda: r.__delitem__("d"),
    ]
    for action in actions:
        with pytest.raises(ValueError) as info:
            action()
        assert isinstance(info.value, PermissionError)


def test_runtime_errors_of_3x(f):
    ds = f.create_dataset("d", shape=(4,), chunks=(2,), dtype="u1")
    with pytest.raises(RuntimeError) as info:
        ds.write_chunk((0,), np.zeros(3, "u1"))
    assert isinstance(info.value, ValueError)
    if f.is_zarr:
        with pytest.raises(RuntimeError, match="varlen"):
            ds.write_chunk((0,), np.zeros(2, "u1"), varlen=True)
    ds[:] = 1
    with open(ds.chunk_path((0,)), "wb") as fh:
        fh.write(b"\x00\x01garbage")
    with pytest.raises(RuntimeError):
        ds[:]
    with pytest.raises(RuntimeError):
        ds[1] = 2  # read-modify-write of the corrupt chunk
    with pytest.raises(RuntimeError):
        f.create_dataset("bad", shape=(4,), dtype="u1", compression="gzip", level="high")
    with pytest.raises(RuntimeError):
        f.create_dataset("bad", shape=(4,), dtype="u1", compression="gzip", nonsense=1)
    assert "bad" not in f


@pytest.mark.parametrize("fmt", ["n5"])
def test_reserved_n5_dataset_keys_are_runtime_errors(f):
    ds = f.create_dataset("d", shape=(4,), dtype="u1")
    for key in ("dataType", "dimensions", "blockSize", "compression", "compressionType"):
        with pytest.raises(RuntimeError, match="reserved"):
            ds.attrs[key] = 1
        with pytest.raises(RuntimeError, match="reserved"):
            del ds.attrs[key]
    with pytest.raises(RuntimeError, match="reserved"):
        f.attrs["n5"] = "9.0.0"


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("c.n5", {"use_zarr_format": True}),
        ("c.zarr", {"use_zarr_format": False}),
        ("c.zr", {"use_zarr_format": False}),
        ("c.n5", {"zarr_format": 3}),
    ],
)
@pytest.mark.parametrize("mode", ["a", "w", "x"])
def test_format_contradicting_the_extension_is_refused_before_creating(
    tmp_path, name, kwargs, mode
):
    with pytest.raises(RuntimeError, match="extension") as info:
        z5py.File(tmp_path / name, mode=mode, **kwargs)
    assert isinstance(info.value, ValueError)
    assert not (tmp_path / name).exists()


def test_format_contradicting_the_extension_keeps_an_existing_container(tmp_path):
    z5py.File(tmp_path / "c.n5").create_group("keep")
    with pytest.raises(RuntimeError):
        z5py.File(tmp_path / "c.n5", "w", True)
    assert list(z5py.File(tmp_path / "c.n5", "r")) == ["keep"]


# ------------------------------------------------------------------------------------------
# write_chunk never casts; get_chunk_shape


def test_write_chunk_refuses_other_dtypes(f):
    ds = f.create_dataset("d", shape=(4,), chunks=(2,), dtype="u1")
    with pytest.raises(errors.DtypeMismatchError) as info:
        ds.write_chunk((0,), np.full(2, 300.7))
    assert isinstance(info.value, RuntimeError) and isinstance(info.value, ValueError)
    for bad in (np.zeros(2, "i1"), np.zeros(2, "u2"), np.zeros(2, bool)):
        with pytest.raises(errors.DtypeMismatchError):
            ds.write_chunk((0,), bad)
    assert not ds.chunk_exists((0,))
    ds.write_chunk((0,), np.array([1, 2], dtype="u1"))
    ds.write_chunk((1,), [3, 4])  # a list takes the dataset's dtype
    np.testing.assert_array_equal(ds[:], [1, 2, 3, 4])
    wide = f.create_dataset("w", shape=(2,), chunks=(2,), dtype="<u2")
    wide.write_chunk((0,), np.array([1, 513], dtype=">u2"))  # byte order aside
    np.testing.assert_array_equal(wide[:], [1, 513])


def test_get_chunk_shape(f):
    ds = f.create_dataset("d", shape=(5, 7), chunks=(2, 4), dtype="u1")
    assert ds.get_chunk_shape((0, 0)) == (2, 4)
    assert ds.get_chunk_shape((2, 1)) == (1, 3)
    assert ds.get_chunk_shape((2, 1), from_header=True) == (None if not f.is_zarr else (1, 3))
    ds[:] = 1
    assert ds.get_chunk_shape((2, 1), from_header=True) == (1, 3)
    with pytest.raises(ValueError):
        ds.get_chunk_shape((3, 0))


@pytest.mark.parametrize("fmt", ["n5"])
def test_get_chunk_shape_from_an_n5_header_written_elsewhere(f):
    """Some N5 writers store border blocks in the full block shape; the header says so."""
    import tensorstore as ts

    path = os.path.join(f.path, "full")
    store = ts.open(
        {
            "driver": "n5",
            "kvstore": {"driver": "file", "path": path},
            "metadata": {
                "dimensions": [7, 5],
                "blockSize": [4, 2],
                "dataType": "uint8",
                "compression": {"type": "raw"},
            },
            "create": True,
        }
    ).result()
    store[...] = np.ones((7, 5), "u1")
    ds = f["full"]
    assert ds.get_chunk_shape((2, 1)) == (1, 3)  # numpy order: shape (5, 7)
    header = ds.get_chunk_shape((2, 1), from_header=True)
    assert header in ((1, 3), (2, 4))
    with open(ds.chunk_path((2, 1)), "rb") as fh:
        raw = fh.read()
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(2)]
    assert header == tuple(reversed(dims))
