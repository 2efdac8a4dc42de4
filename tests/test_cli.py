"""Tests of the z5py command line (z5py.cli): every subcommand, errors and exit codes."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys

import numpy as np
import pytest
import z5py
from z5py.cli import main, split_target

h5py = pytest.importorskip("h5py")


def run_cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    """Run ``python -m z5py ARGS`` in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "z5py", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        timeout=300,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


@pytest.fixture
def h5file(tmp_path):
    rng = np.random.default_rng(5)
    data = rng.integers(0, 100, size=(20, 30, 40)).astype("uint16")
    path = tmp_path / "vol.h5"
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("grp/raw", data=data, chunks=(10, 10, 10), compression="gzip")
        ds.attrs["resolution"] = [1.0, 2.0, 2.0]
    return path, data


# --------------------------------------------------------------------------------------
# naming
# --------------------------------------------------------------------------------------


def test_split_target(tmp_path):
    assert split_target("vol.h5/raw") == ("vol.h5", "raw")
    assert split_target("a/b/vol.n5/g/raw/s0") == ("a/b/vol.n5", "g/raw/s0")
    assert split_target("out.zarr") == ("out.zarr", "")
    assert split_target("plain/dir", key="/x/y") == ("plain/dir", "x/y")
    # an extension-less container is found by walking up its metadata
    root = tmp_path / "noext"
    z5py.File(str(root), use_zarr_format=True, mode="a").create_dataset(
        "g/d", shape=(4,), dtype="uint8"
    )
    assert split_target(str(root / "g" / "d")) == (str(root), "g/d")


# --------------------------------------------------------------------------------------
# convert / rechunk
# --------------------------------------------------------------------------------------


def test_convert_h5_to_n5_and_back(tmp_path, h5file, capsys):
    h5, data = h5file
    n5 = tmp_path / "vol.n5"
    rc = main(
        [
            "convert", f"{h5}/grp/raw", f"{n5}/raw", "--chunks", "8,16,16",
            "--compression", "gzip", "--level", "3", "--no-progress", "-j", "2",
        ]
    )  # fmt: skip
    assert rc == 0
    out = capsys.readouterr().out
    assert "copied" in out
    ds = z5py.File(str(n5), mode="r")["raw"]
    assert ds.chunks == (8, 16, 16)
    assert ds.compression_options == {"compression": "gzip", "level": 3}
    np.testing.assert_array_equal(ds[:], data)
    assert ds.attrs["resolution"] == [1.0, 2.0, 2.0]

    back = tmp_path / "back.h5"
    rc = main(["convert", f"{n5}/raw", f"{back}/copy", "--compression", "gzip", "--no-progress"])
    assert rc == 0
    with h5py.File(back, "r") as f:
        assert f["copy"].compression == "gzip"
        assert f["copy"].chunks == (8, 16, 16)
        np.testing.assert_array_equal(f["copy"][...], data)


def test_convert_with_key_options_and_format(tmp_path, h5file):
    h5, data = h5file
    out = tmp_path / "plain_out"
    rc = main(
        [
            "convert", str(h5), str(out), "--src-key", "grp/raw", "--dst-key", "a/b",
            "--format", "n5", "--chunks", "10", "--dtype", "float32", "--no-progress",
        ]
    )  # fmt: skip
    assert rc == 0
    f = z5py.File(str(out), mode="r")
    assert not f.is_zarr
    ds = f["a/b"]
    assert ds.dtype == np.float32
    assert ds.chunks == (10, 10, 10)
    np.testing.assert_array_equal(ds[:], data.astype("float32"))


def test_convert_resume_reports_skipped(tmp_path, h5file, capsys):
    h5, _ = h5file
    dst = f"{tmp_path / 'r.zarr'}/raw"
    assert main(["convert", f"{h5}/grp/raw", dst, "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["convert", f"{h5}/grp/raw", dst, "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "resumed" in out
    assert "skipped" in out
    assert main(["convert", f"{h5}/grp/raw", dst, "--no-progress", "--no-resume"]) == 0
    assert "skipped" not in capsys.readouterr().out


def test_convert_z5_to_z5_and_codec_options(tmp_path, h5file):
    h5, data = h5file
    src = f"{tmp_path / 'a.n5'}/raw"
    assert main(["convert", f"{h5}/grp/raw", src, "--no-progress"]) == 0
    dst = f"{tmp_path / 'b.zarr'}/raw"
    rc = main(
        [
            "convert", src, dst, "--compression", "blosc", "-o", "codec=zstd",
            "-o", "shuffle=2", "--no-progress",
        ]
    )  # fmt: skip
    assert rc == 0
    ds = z5py.File(str(tmp_path / "b.zarr"), mode="r")["raw"]
    opts = ds.compression_options
    assert opts["compression"] == "blosc"
    assert opts["codec"] == "zstd"
    assert opts["shuffle"] == 2
    np.testing.assert_array_equal(ds[:], data)


def test_rechunk_command(tmp_path, h5file, capsys):
    h5, data = h5file
    src = tmp_path / "a.n5"
    assert main(["convert", f"{h5}/grp/raw", f"{src}/raw", "--no-progress"]) == 0
    rc = main(["rechunk", f"{src}/raw", f"{src}/flat", "-c", "1,30,40", "-b", "4,30,40"])
    assert rc == 0
    ds = z5py.File(str(src), mode="r")["flat"]
    assert ds.chunks == (1, 30, 40)
    assert ds.compression_options["compression"] == "gzip"  # kept from the input
    np.testing.assert_array_equal(ds[:], data)
    # progress bar is on by default in the command line
    assert "block" in capsys.readouterr().err


def test_rechunk_requires_chunks_and_z5(tmp_path, h5file, capsys):
    h5, _ = h5file
    with pytest.raises(SystemExit) as e:
        main(["rechunk", "a.n5/x", "b.n5/x"])
    assert e.value.code == 2
    capsys.readouterr()
    assert main(["rechunk", f"{h5}/grp/raw", f"{tmp_path}/b.n5/x", "-c", "4"]) == 1
    err = capsys.readouterr().err
    assert "convert" in err
    assert len(err.strip().splitlines()) == 1


def test_convert_errors_are_one_line(tmp_path, h5file, capsys):
    h5, _ = h5file
    cases = [
        ["convert", f"{tmp_path}/missing.h5/x", f"{tmp_path}/o.n5/x"],
        ["convert", f"{h5}/nope", f"{tmp_path}/o.n5/x"],
        ["convert", str(h5), f"{tmp_path}/o.n5/x"],  # no source dataset
        ["convert", f"{h5}/grp/raw", f"{tmp_path}/o.n5/x", "-c", "4,4"],  # wrong ndim
        ["convert", f"{h5}/grp/raw", f"{tmp_path}/o.n5/x", "-c", "4", "-b", "6"],
        ["convert", f"{h5}/grp/raw", f"{tmp_path}/o.h5/x"],  # HDF5 to HDF5
        ["convert", f"{h5}/grp/raw", f"{tmp_path}/o.n5/x", "-c", "abc"],
    ]
    for argv in cases:
        rc = main([*argv, "--no-progress"])
        captured = capsys.readouterr()
        assert rc == 1, argv
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1, (argv, captured.err)
        assert lines[0].startswith("z5py convert: error:"), lines
        assert "Traceback" not in captured.err


# --------------------------------------------------------------------------------------
# info / tree
# --------------------------------------------------------------------------------------


def test_info_dataset(tmp_path, h5file, capsys):
    h5, _ = h5file
    n5 = tmp_path / "vol.n5"
    assert main(["convert", f"{h5}/grp/raw", f"{n5}/raw", "-c", "10", "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["info", f"{n5}/raw"]) == 0
    out = capsys.readouterr().out
    assert "N5" in out
    assert "(20, 30, 40)" in out
    assert "(10, 10, 10)" in out
    assert "uint16" in out
    assert "gzip" in out
    assert "chunks stored: 24 / 24" in out
    assert "bytes on disk" in out
    assert "compression ratio" in out
    assert "resolution" in out


def test_info_sparse_and_h5(tmp_path, h5file, capsys):
    f = z5py.File(str(tmp_path / "s.zarr"), mode="a")
    ds = f.create_dataset("x", shape=(100, 100), chunks=(10, 10), dtype="float32")
    ds[:10, :20] = 1.0
    assert main(["info", str(tmp_path / "s.zarr"), "--key", "x"]) == 0
    out = capsys.readouterr().out
    assert "Zarr" in out
    assert "chunks stored: 2 / 100 (2.0%)" in out
    h5, _ = h5file
    assert main(["info", f"{h5}/grp/raw"]) == 0
    out = capsys.readouterr().out
    assert "HDF5" in out
    assert "gzip" in out
    assert main(["info", str(h5)]) == 0
    assert "raw" in capsys.readouterr().out


def test_info_group_and_tree(tmp_path, capsys):
    path = tmp_path / "t.n5"
    f = z5py.File(str(path), mode="a")
    f.create_dataset("a/b/c", shape=(5, 6), chunks=(2, 3), dtype="int8")
    f.create_dataset("z", shape=(7,), chunks=(7,), dtype="float64", compression="raw")
    f.attrs["owner"] = "me"
    assert main(["tree", str(path)]) == 0
    out = capsys.readouterr().out
    assert "a/" in out
    assert "b/" in out
    assert "c  int8 (5, 6)" in out
    assert "z  float64 (7,)" in out
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "group" in out
    assert "owner" in out
    assert main(["tree", f"{path}/a"]) == 0
    assert "c  int8" in capsys.readouterr().out


def test_tree_h5(h5file, capsys):
    h5, _ = h5file
    assert main(["tree", str(h5)]) == 0
    out = capsys.readouterr().out
    assert "grp/" in out
    assert "raw  uint16 (20, 30, 40)" in out


def test_info_errors(tmp_path, capsys):
    assert main(["info", f"{tmp_path}/missing.n5/x"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("z5py info: error:")
    z5py.File(str(tmp_path / "e.n5"), mode="a")
    assert main(["info", f"{tmp_path}/e.n5/nothing"]) == 1
    assert "nothing" in capsys.readouterr().err


# --------------------------------------------------------------------------------------
# verify
# --------------------------------------------------------------------------------------


def _dataset(path, key, **kw):
    f = z5py.File(str(path), mode="a")
    data = (np.arange(64, dtype="uint8").reshape(8, 8) + 1) if "data" not in kw else kw.pop("data")
    return f.create_dataset(key, data=data, chunks=(4, 4), **kw)


def test_verify_clean(tmp_path, capsys):
    _dataset(tmp_path / "ok.n5", "x", compression="gzip")
    _dataset(tmp_path / "ok.n5", "g/y", compression="raw")
    assert main(["verify", str(tmp_path / "ok.n5")]) == 0
    out = capsys.readouterr().out
    assert "8 chunks" in out
    assert "all good" in out
    assert main(["verify", f"{tmp_path / 'ok.n5'}/g/y", "-q"]) == 0


def test_verify_detects_corrupt_chunk(tmp_path, capsys):
    ds = _dataset(tmp_path / "bad.n5", "x", compression="gzip")
    path = ds.chunk_path((1, 0))
    with open(path, "rb") as fh:
        raw = fh.read()
    with open(path, "wb") as fh:  # keep the header, damage the compressed stream
        fh.write(raw[:16] + b"\xff" * (len(raw) - 16))
    assert main(["verify", str(tmp_path / "bad.n5")]) == 1
    out = capsys.readouterr().out
    assert "CORRUPT" in out
    assert "(1, 0)" in out
    assert "1 bad" in out


def test_verify_detects_mis_sized_chunks(tmp_path, capsys):
    ds = _dataset(tmp_path / "ms.n5", "x", compression="raw")
    # a well-formed N5 block whose header claims 2x2 instead of 4x4
    with open(ds.chunk_path((0, 1)), "wb") as fh:
        fh.write(struct.pack(">HHII", 0, 2, 2, 2) + bytes([1, 2, 3, 4]))
    zds = _dataset(tmp_path / "ms.zarr", "x", compression="raw")
    with open(zds.chunk_path((1, 1)), "r+b") as fh:
        fh.truncate(5)
    assert main(["verify", str(tmp_path / "ms.n5")]) == 1
    out = capsys.readouterr().out
    assert "MIS-SIZED" in out
    assert "(0, 1)" in out
    assert main(["verify", f"{tmp_path / 'ms.zarr'}/x"]) == 1
    out = capsys.readouterr().out
    assert "(1, 1)" in out
    assert "1 bad" in out


def test_verify_subprocess_exit_code(tmp_path):
    ds = _dataset(tmp_path / "c.zarr", "x", compression="blosc")
    with open(ds.chunk_path((0, 0)), "wb") as fh:
        fh.write(b"not blosc at all")
    proc = run_cli("verify", str(tmp_path / "c.zarr"))
    assert proc.returncode == 1
    assert "CORRUPT" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_verify_rejects_h5(h5file, capsys):
    h5, _ = h5file
    assert main(["verify", str(h5)]) == 1
    assert "HDF5" in capsys.readouterr().err


# --------------------------------------------------------------------------------------
# demo, help, entry points
# --------------------------------------------------------------------------------------


def test_demo(capsys):
    import time

    start = time.perf_counter()
    assert main(["demo", "--no-progress", "-j", "2"]) == 0
    assert time.perf_counter() - start < 30
    out = capsys.readouterr().out
    assert "(128, 256, 256)" in out
    assert "sample.n5" in out
    assert "sample.zarr" in out
    assert "MB/s" in out
    assert "MISMATCH" not in out
    assert "succeeded" in out


def test_demo_keep_dir(tmp_path, capsys):
    work = tmp_path / "demo"
    assert main(["demo", "--shape", "16,32,32", "--dir", str(work), "--no-progress"]) == 0
    assert (work / "sample.h5").is_file()
    assert (work / "sample.n5").is_dir()
    assert (work / "sample.zarr").is_dir()
    assert "kept" in capsys.readouterr().out


def test_help_and_usage(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for cmd in ("info", "tree", "convert", "rechunk", "verify", "demo"):
        assert cmd in out
    assert "vol.h5/raw" in out
    with pytest.raises(SystemExit):
        main(["convert", "--help"])
    out = capsys.readouterr().out
    assert "--src-key" in out
    assert "--no-progress" in out
    assert main([]) == 2


def test_python_dash_m_error_has_no_traceback(tmp_path):
    proc = run_cli("info", str(tmp_path / "missing.n5/raw"))
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("z5py info: error:")


def test_python_dash_m_runs(tmp_path):
    proc = run_cli("demo", "--shape", "8,16,16", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert "succeeded" in proc.stdout


@pytest.mark.skipif(shutil.which("z5py") is None, reason="console script not installed")
def test_console_script():
    proc = subprocess.run(
        ["z5py", "--help"], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0
    assert "convert" in proc.stdout


def test_convert_to_sharded_zarr3(tmp_path, h5file):
    h5, data = h5file
    out = tmp_path / "v3.zarr"
    rc = main(
        [
            "convert", f"{h5}/grp/raw", f"{out}/raw", "--format", "zarr3", "-c", "5",
            "--shards", "10", "--no-progress",
        ]
    )  # fmt: skip
    assert rc == 0
    f = z5py.File(str(out), mode="r")
    assert f.zarr_format == 3
    assert f["raw"].shards == (10, 10, 10)
    np.testing.assert_array_equal(f["raw"][:], data)
    assert main(["verify", str(out)]) == 0


def test_info_shows_shards_of_string_arrays(tmp_path, capsys):
    """``z5py info`` shows the shard shape of every sharded Zarr v3 array: numbers and
    variable-length strings as zarr-python 3 writes them (codecs inside sharding)."""
    zarr = pytest.importorskip("zarr")
    root = zarr.open_group(str(tmp_path / "s.zarr"), mode="w", zarr_format=3)
    root.create_array("text", shape=(8,), chunks=(2,), shards=(4,), dtype=str)[:5] = np.array(
        list("abcde")
    )
    root.create_array("num", shape=(8,), chunks=(2,), shards=(4,), dtype="u2")[:] = 1
    for name in ["text", "num"]:
        assert main(["info", str(tmp_path / "s.zarr" / name)]) == 0
        out = capsys.readouterr().out
        assert "shards:       (4,)" in out
        assert "chunks:       (2,)" in out


def test_commands_take_a_container_whose_root_is_an_array(tmp_path, capsys):
    """``info``, ``tree`` and ``verify`` of a path holding an array at its root (what
    ``zarr.create_array(path)`` writes) describe that array instead of refusing it."""
    zarr = pytest.importorskip("zarr")
    path = str(tmp_path / "root.zarr")
    a = zarr.create_array(path, shape=(6, 5), chunks=(4, 4), dtype="i2", zarr_format=3)
    a[:] = np.arange(30, dtype="i2").reshape(6, 5)
    assert main(["info", path]) == 0
    out = capsys.readouterr().out
    assert "(6, 5)" in out and "chunks:       (4, 4)" in out
    assert main(["tree", path]) == 0
    assert "int16 (6, 5) chunks (4, 4)" in capsys.readouterr().out
    assert main(["verify", path]) == 0
    assert "4 chunks checked, OK" in capsys.readouterr().out
    # a missing path is still named
    assert main(["info", str(tmp_path / "missing.zarr")]) != 0
    assert "missing.zarr" in capsys.readouterr().err
