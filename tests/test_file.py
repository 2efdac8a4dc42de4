"""File: modes, format detection, read-only enforcement, pickling."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import z5py
from z5py import errors

ROOT_METADATA = {"n5": "attributes.json", "zarr2": ".zgroup", "zarr3": "zarr.json"}


def _ext(fmt: str) -> str:
    return ".n5" if fmt == "n5" else ".zarr"


def _zarr_format(fmt: str) -> int | None:
    return None if fmt == "n5" else int(fmt[-1])


# ------------------------------------------------------------------------------------------
# creation and root metadata


def test_mode_a_creates_container_with_root_metadata(tmp_path, fmt):
    path = tmp_path / f"c{_ext(fmt)}"
    f = z5py.File(path, zarr_format=_zarr_format(fmt))
    assert f.mode == "a"
    assert (path / ROOT_METADATA[fmt]).is_file()
    meta = json.loads((path / ROOT_METADATA[fmt]).read_text())
    if fmt == "n5":
        assert "n5" in meta
    else:
        assert meta["zarr_format"] == _zarr_format(fmt)
    assert f.is_zarr == (fmt != "n5")
    assert f.zarr_format == _zarr_format(fmt)
    assert f.name == "/"
    assert f.filename == str(path)
    assert f.path == str(path)
    assert len(f) == 0


def test_n5_root_version_is_hidden_from_attrs(tmp_path):
    f = z5py.File(tmp_path / "c.n5")
    assert "n5" not in f.attrs
    assert dict(f.attrs) == {}


@pytest.mark.parametrize("mode", ["r", "r+"])
def test_modes_r_and_rplus_require_existing_container(tmp_path, mode):
    path = tmp_path / "missing.n5"
    with pytest.raises(errors.Z5FileNotFoundError, match="missing.n5"):
        z5py.File(path, mode=mode)
    with pytest.raises(FileNotFoundError):
        z5py.File(path, mode=mode)
    assert not path.exists()


def test_mode_r_on_directory_without_zarr_metadata_is_not_found(tmp_path):
    (tmp_path / "empty.zarr").mkdir()
    with pytest.raises(FileNotFoundError, match="Zarr v2 container"):
        z5py.File(tmp_path / "empty.zarr", mode="r")


def test_mode_r_accepts_plain_n5_directory(tmp_path):
    """In N5 any directory is a group, including a root without attributes.json."""
    (tmp_path / "plain.n5" / "sub").mkdir(parents=True)
    f = z5py.File(tmp_path / "plain.n5", mode="r")
    assert list(f) == ["sub"]


@pytest.mark.parametrize("mode", ["w-", "x"])
def test_exclusive_modes(tmp_path, fmt, mode):
    path = tmp_path / f"c{_ext(fmt)}"
    f = z5py.File(path, mode=mode, zarr_format=_zarr_format(fmt))
    assert (path / ROOT_METADATA[fmt]).is_file()
    f.create_group("g")
    with pytest.raises(errors.Z5FileExistsError, match="already exists"):
        z5py.File(path, mode=mode)
    with pytest.raises(FileExistsError):
        z5py.File(path, mode=mode)
    assert "g" in z5py.File(path, mode="r")


def test_mode_w_truncates(tmp_path, fmt):
    path = tmp_path / f"c{_ext(fmt)}"
    f = z5py.File(path, mode="w", zarr_format=_zarr_format(fmt))
    f.create_dataset("x", data=np.arange(10))
    f.create_group("g")
    assert sorted(f) == ["g", "x"]
    f2 = z5py.File(path, mode="w", zarr_format=_zarr_format(fmt))
    assert len(f2) == 0
    assert sorted(p.name for p in path.iterdir()) == [ROOT_METADATA[fmt]]


def test_mode_w_can_change_the_format(tmp_path):
    path = tmp_path / "container"
    z5py.File(path, use_zarr_format=False).create_group("g")
    replaced = z5py.File(path, use_zarr_format=True, mode="w")
    assert replaced.zarr_format == 2 and len(replaced) == 0
    assert sorted(p.name for p in path.iterdir()) == [".zgroup"]
    # without a flag or an extension the old format is kept
    again = z5py.File(path, mode="w")
    assert again.zarr_format == 2


def test_mode_w_validates_before_deleting(tmp_path):
    path = tmp_path / "c.zarr"
    z5py.File(path).create_group("keep")
    with pytest.raises(ValueError, match="zarr_format"):
        z5py.File(path, mode="w", zarr_format=5)
    with pytest.raises(ValueError):
        z5py.File(path, mode="w", use_zarr_format=False, zarr_format=3)
    assert "keep" in z5py.File(path, mode="r")


def test_mode_w_refuses_to_delete_foreign_directory(tmp_path):
    victim = tmp_path / "home"
    victim.mkdir()
    (victim / "thesis.tex").write_text("precious")
    with pytest.raises(errors.Z5OSError, match="refusing to truncate"):
        z5py.File(victim, use_zarr_format=True, mode="w")
    assert (victim / "thesis.tex").read_text() == "precious"


def test_mode_w_accepts_empty_directory(tmp_path):
    (tmp_path / "empty.zarr").mkdir()
    f = z5py.File(tmp_path / "empty.zarr", mode="w")
    assert (tmp_path / "empty.zarr" / ".zgroup").is_file()
    assert f.zarr_format == 2


def test_mode_rplus_and_a_open_existing_without_truncating(tmp_path):
    f = z5py.File(tmp_path / "c.n5")
    f.create_group("keep")
    for mode in ("r+", "a"):
        assert list(z5py.File(tmp_path / "c.n5", mode=mode)) == ["keep"]


def test_invalid_mode(tmp_path):
    with pytest.raises(ValueError, match="invalid file mode 'q'"):
        z5py.File(tmp_path / "c.n5", mode="q")


def test_mode_as_second_positional_argument(tmp_path):
    """z5py >= 2 takes the mode second; File(path, "r") must not be misread."""
    z5py.File(tmp_path / "c.n5", mode="a").create_group("g")
    f = z5py.File(tmp_path / "c.n5", "r")
    assert f.mode == "r"
    with pytest.raises(errors.ReadOnlyError):
        f.create_group("h")


def test_arguments_in_the_documented_and_in_the_3x_order(tmp_path):
    """``File(path, use_zarr_format, mode)`` (documented here) and ``File(path, mode,
    use_zarr_format)`` (z5py 3.x) both work, also mixed with keywords."""
    z5py.File(tmp_path / "a", True, "w").create_group("g")
    assert z5py.File(tmp_path / "a", "r", use_zarr_format=True).mode == "r"
    assert z5py.File(tmp_path / "a", "r", True).is_zarr
    assert z5py.File(tmp_path / "a", True, mode="r+").mode == "r+"
    n5 = z5py.File(tmp_path / "b", "w", use_zarr_format=False)
    assert not n5.is_zarr and n5.mode == "w"
    assert z5py.File(tmp_path / "b", False).mode == "a"
    for args, kwargs in [
        (("r",), {"mode": "a"}),
        ((True,), {"use_zarr_format": True}),
        (("a", "r"), {}),
        ((True, False), {}),
        (("a", True, ".", 2, "extra"), {}),
        (("a", None, "/"), {"dimension_separator": "."}),
    ]:
        with pytest.raises(TypeError):
            z5py.File(tmp_path / "a", *args, **kwargs)


def test_use_zarr_format_must_be_bool(tmp_path):
    with pytest.raises(TypeError):
        z5py.File(tmp_path / "c", use_zarr_format="yes")


def test_path_must_be_a_directory(tmp_path):
    (tmp_path / "file.n5").write_text("not a container")
    with pytest.raises(errors.Z5OSError, match="not a directory"):
        z5py.File(tmp_path / "file.n5")


def test_file_on_a_dataset_is_refused(f, tmp_path):
    f.create_dataset("x", shape=(3,), dtype="u1")
    with pytest.raises(ValueError, match=r"dataset at its root.*z5py\.open"):
        z5py.File(f.path + "/x", mode="r")


# ------------------------------------------------------------------------------------------
# format detection


def test_infer_format():
    assert z5py.File.infer_format("a/b.n5") is False
    assert z5py.File.infer_format("b.zarr") is True
    assert z5py.File.infer_format("b.zr/") is True
    assert z5py.File.infer_format("b.ZARR") is True
    assert z5py.File.infer_format("b.h5") is None
    assert z5py.File.infer_format("noext") is None
    assert z5py.File.n5_exts == {".n5"}
    assert z5py.File.zarr_exts == {".zarr", ".zr"}
    assert set(z5py.File.file_modes) == {"a", "r", "r+", "w", "w-", "x"}


def test_format_needs_extension_metadata_or_flag(tmp_path):
    with pytest.raises(ValueError, match="cannot infer the format"):
        z5py.File(tmp_path / "noext")
    assert not (tmp_path / "noext").exists()
    assert z5py.File(tmp_path / "z", use_zarr_format=True).zarr_format == 2
    assert z5py.File(tmp_path / "n", use_zarr_format=False).is_zarr is False
    assert z5py.File(tmp_path / "z3", zarr_format=3).zarr_format == 3


@pytest.mark.parametrize("fmt_name", ["n5", "zarr2", "zarr3"])
def test_existing_container_format_is_detected_without_extension(tmp_path, fmt_name):
    path = tmp_path / "container"
    z5py.File(path, use_zarr_format=fmt_name != "n5", zarr_format=_zarr_format(fmt_name))
    f = z5py.File(path, mode="r")
    assert f.is_zarr == (fmt_name != "n5")
    assert f.zarr_format == _zarr_format(fmt_name)


def test_existing_zarr3_detected_by_zarrfile_default(tmp_path):
    z5py.File(tmp_path / "c.zarr", zarr_format=3)
    f = z5py.ZarrFile(tmp_path / "c.zarr", mode="r")
    assert f.zarr_format == 3


def test_explicit_format_contradicting_disk_is_refused(tmp_path):
    z5py.File(tmp_path / "c.zarr", zarr_format=3)
    with pytest.raises(ValueError, match="Zarr v3 container but zarr_format=2"):
        z5py.File(tmp_path / "c.zarr", zarr_format=2)
    with pytest.raises(ValueError, match="use_zarr_format=False"):
        z5py.File(tmp_path / "c.zarr", use_zarr_format=False)
    with pytest.raises(ValueError):
        z5py.N5File(tmp_path / "c.zarr")


def test_invalid_zarr_format(tmp_path):
    with pytest.raises(ValueError, match="zarr_format must be 2 or 3"):
        z5py.File(tmp_path / "c.zarr", zarr_format=4)
    with pytest.raises(ValueError, match="use_zarr_format=False"):
        z5py.File(tmp_path / "c", use_zarr_format=False, zarr_format=3)


def test_n5file_and_zarrfile(tmp_path):
    n5 = z5py.N5File(tmp_path / "anything")
    assert isinstance(n5, z5py.File) and not n5.is_zarr
    assert (tmp_path / "anything" / "attributes.json").is_file()
    zr = z5py.ZarrFile(tmp_path / "other")
    assert zr.zarr_format == 2
    assert (tmp_path / "other" / ".zgroup").is_file()
    z3 = z5py.ZarrFile(tmp_path / "v3", zarr_format=3)
    assert (tmp_path / "v3" / "zarr.json").is_file()
    assert z3.zarr_format == 3


def test_pathlike_and_str_paths(tmp_path):
    z5py.File(tmp_path / "c.n5").create_group("g")
    assert list(z5py.File(str(tmp_path / "c.n5") + "/", mode="r")) == ["g"]


# ------------------------------------------------------------------------------------------
# read-only mode


def test_mode_r_refuses_every_write(f, tmp_path):
    f.create_group("g")
    ds = f.create_dataset("x", shape=(4, 4), chunks=(2, 2), dtype="i4")
    ds[:] = 1
    f.attrs["a"] = 1
    ds.attrs["b"] = 2
    r = z5py.File(f.path, mode="r")
    rds = r["x"]
    writes = {
        "create_group": lambda: r.create_group("h"),
        "nested create_group": lambda: r["g"].create_group("h"),
        "require_group (new)": lambda: r.require_group("h"),
        "create_dataset": lambda: r.create_dataset("y", shape=(2,), dtype="u1"),
        "require_dataset (new)": lambda: r.require_dataset("y", shape=(2,), dtype="u1"),
        "setitem": lambda: rds.__setitem__((0, 0), 5),
        "write_subarray": lambda: rds.write_subarray((0, 0), np.zeros((1, 1), "i4")),
        "write_direct": lambda: rds.write_direct(np.zeros((4, 4), "i4")),
        "write_chunk": lambda: rds.write_chunk((0, 0), np.zeros((2, 2), "i4")),
        "attrs set": lambda: r.attrs.__setitem__("a", 2),
        "attrs del": lambda: r.attrs.__delitem__("a"),
        "attrs update": lambda: rds.attrs.update(b=3),
        "dataset attrs del": lambda: rds.attrs.__delitem__("b"),
        "delitem": lambda: r.__delitem__("g"),
    }
    for what, write in writes.items():
        with pytest.raises(errors.ReadOnlyError, match="read-only"):
            write()
        with pytest.raises(PermissionError):
            write()
        assert what  # every write path was refused
    # nothing changed on disk and reading works
    assert sorted(r) == ["g", "x"]
    np.testing.assert_array_equal(rds[:], np.ones((4, 4), "i4"))
    assert r.attrs["a"] == 1 and rds.attrs["b"] == 2
    assert r.require_group("g").name == "/g"
    assert r.require_dataset("x", shape=(4, 4), dtype="i4").shape == (4, 4)
    assert r["g"].mode == "r" and rds.mode == "r"


# ------------------------------------------------------------------------------------------
# context manager, pickling, identity


def test_context_manager_and_close(tmp_path):
    with z5py.File(tmp_path / "c.n5") as f:
        f.create_group("g")
    f.close()
    assert "g" in f  # close is a no-op


@pytest.mark.parametrize(
    ("mode", "reopened"), [("r", "r"), ("r+", "r+"), ("a", "a"), ("w", "r+"), ("w-", "r+")]
)
def test_pickle_reopens_by_path_without_truncating(tmp_path, mode, reopened):
    path = tmp_path / "c.zarr"
    if mode in ("r", "r+", "a"):
        z5py.File(path).create_dataset("x", data=np.arange(5))
        f = z5py.File(path, mode=mode)
    else:
        f = z5py.File(path, mode=mode)
        f.create_dataset("x", data=np.arange(5))
    g = pickle.loads(pickle.dumps(f))
    assert type(g) is z5py.File
    assert g.mode == reopened
    assert g.filename == f.filename
    np.testing.assert_array_equal(g["x"][:], np.arange(5))
    if reopened == "r":
        with pytest.raises(errors.ReadOnlyError):
            g.create_group("nope")


def test_pickle_keeps_file_subclass(tmp_path):
    n5 = pickle.loads(pickle.dumps(z5py.N5File(tmp_path / "n")))
    zr = pickle.loads(pickle.dumps(z5py.ZarrFile(tmp_path / "z", zarr_format=3)))
    assert type(n5) is z5py.N5File and not n5.is_zarr
    assert type(zr) is z5py.ZarrFile and zr.zarr_format == 3


def test_file_identity_and_equality(tmp_path):
    f = z5py.File(tmp_path / "c.n5")
    g = f.create_group("a/b")
    assert g.file is f
    assert g.parent.parent is f
    assert f.file is f and f.parent is f
    assert z5py.File(tmp_path / "c.n5", mode="r") == f
    assert hash(z5py.File(tmp_path / "c.n5", mode="r")) == hash(f)
    assert f["a"] == g.parent
    assert f["a"] != g
