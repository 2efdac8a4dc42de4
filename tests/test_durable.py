"""Durable writes (issue 13): ``File(durable=True)``, ``create_dataset(durable=True)`` and
``Z5PY_DURABLE=1`` sync every write before it returns; the default syncs nothing.

Whether a write was synced is seen from outside: the writing process runs under ``strace``,
which lists its ``fsync``/``fdatasync`` calls."""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import z5py

STRACE = shutil.which("strace")
needs_strace = pytest.mark.skipif(
    STRACE is None, reason="strace is not installed (it counts the writer's sync calls)"
)

WRITER = textwrap.dedent(
    """
    import sys, numpy as np, z5py
    path, how = sys.argv[1], sys.argv[2]
    f = z5py.File(path, mode="w", durable=(how == "file"))
    ds = f.create_dataset("a", shape=(40, 40), dtype="uint16", chunks=(10, 10),
                          compression="raw", durable=(how == "dataset"))
    other = f.create_dataset("b", shape=(40, 40), dtype="uint16", chunks=(10, 10),
                             compression="raw")
    import os; os.write(2, b"--- writes ---\\n")
    ds[:] = np.arange(1600, dtype="uint16").reshape(40, 40)  # 16 chunks
    ds[3:7, 3:7] = 7                                          # 1 read-modify-write
    ds.attrs["k"] = 1
    os.write(2, b"--- other ---\\n")
    other[:] = 1                                              # 16 chunks
    """
)


def _syncs(tmp_path, how: str, env: dict[str, str] | None = None) -> tuple[int, int]:
    """Sync calls made while writing dataset ``a`` and then dataset ``b``."""
    log = tmp_path / f"strace-{how}.txt"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    cmd = [STRACE, "-f", "-qq", "-e", "trace=fsync,fdatasync,write", "-o", str(log)]
    cmd += [sys.executable, str(script), str(tmp_path / f"{how}.zarr"), how]
    subprocess.run(cmd, check=True, env={**os.environ, **(env or {})}, capture_output=True)
    lines = log.read_text().splitlines()
    marks = [i for i, line in enumerate(lines) if "--- writes ---" in line or "--- other" in line]
    assert len(marks) == 2, lines[-20:]

    def count(part: list[str]) -> int:
        return sum(1 for line in part if "fsync(" in line or "fdatasync(" in line)

    return count(lines[marks[0] : marks[1]]), count(lines[marks[1] :])


@needs_strace
def test_writes_are_synced_only_when_asked(tmp_path):
    # the default syncs nothing
    assert _syncs(tmp_path, "none") == (0, 0)
    # a durable file syncs every chunk it writes (the file, then its directory) and the
    # attribute document; the other dataset of that file as well
    a, b = _syncs(tmp_path, "file")
    assert a >= 2 * (16 + 1 + 1) and b >= 2 * 16, (a, b)
    # a durable dataset of a plain file: only its own writes
    a, b = _syncs(tmp_path, "dataset")
    assert a >= 2 * (16 + 1 + 1) and b == 0, (a, b)
    # the environment variable makes the whole process durable
    a, b = _syncs(tmp_path, "env", {"Z5PY_DURABLE": "1"})
    assert a >= 2 * 17 and b >= 2 * 16, (a, b)


def test_durable_is_reported_kept_by_pickles_and_reads_the_same(tmp_path):
    data = np.arange(100, dtype="int32").reshape(10, 10)
    f = z5py.File(tmp_path / "d.n5", mode="w", durable=True)
    ds = f.create_dataset("g/a", data=data, chunks=(4, 4))
    assert f.durable and ds.durable and f["g/a"].durable
    assert ds.path == str(tmp_path / "d.n5" / "g" / "a") and ds.name == "/g/a"
    again = pickle.loads(pickle.dumps(ds))
    assert again.durable
    np.testing.assert_array_equal(again[:], data)
    # the same bytes as a plain write
    plain = z5py.File(tmp_path / "p.n5", mode="w").create_dataset("g/a", data=data, chunks=(4, 4))
    assert not plain.durable
    for name in ("0/0", "2/1", "attributes.json"):
        assert (tmp_path / "d.n5/g/a" / name).read_bytes() == (
            tmp_path / "p.n5/g/a" / name
        ).read_bytes()

    g = z5py.ZarrFile(tmp_path / "z.zarr", mode="w")
    one = g.create_dataset("x", data=data, chunks=(5, 5), durable=True)
    assert one.durable and not g.durable and not g["x"].durable
    assert one.name == "/x" and one.parent.name == "/"
    np.testing.assert_array_equal(g["x"][:], data)


def test_durable_dataset_in_a_consolidated_container_is_refused(tmp_path):
    path = tmp_path / "c.zarr"
    f = z5py.File(path, mode="w", zarr_format=2)
    f.create_dataset("a", shape=(4,), dtype="u1")
    z5py.consolidate_metadata(path)
    g = z5py.File(path, mode="a")
    with pytest.raises(z5py.InvalidArgumentError, match="File\\(..., durable=True\\)"):
        g.create_dataset("b", shape=(4,), dtype="u1", durable=True)
    # the container-wide setting works there
    h = z5py.File(path, mode="a", durable=True)
    assert h.create_dataset("b", shape=(4,), dtype="u1").durable


@needs_strace
def test_file_locking_none_turns_off_only_the_lock_files(tmp_path):
    """``Z5PY_FILE_LOCKING=none`` (tensorstore's ``file_io_locking`` mode ``none``): a
    partial-chunk write opens no lock file, and still writes the same data. By default the
    write call opens the array's lock file once, not once per chunk or chunk directory."""
    script = tmp_path / "partial.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys, numpy as np, z5py
            f = z5py.File(sys.argv[1], mode="w")
            ds = f.create_dataset("a", shape=(20, 20), dtype="uint8", chunks=(10, 10))
            ds[3:17, 3:17] = 5
            ds.attrs["k"] = 1
            """
        )
    )
    opened = {}
    for setting in ("lockfile", "none"):
        log = tmp_path / f"{setting}.txt"
        path = tmp_path / f"{setting}.n5"
        cmd = [STRACE, "-f", "-qq", "-e", "trace=openat", "-o", str(log)]
        cmd += [sys.executable, str(script), str(path)]
        env = {**os.environ, "Z5PY_FILE_LOCKING": setting}
        subprocess.run(cmd, check=True, env=env, capture_output=True)
        opens = [
            line.split('"')[1]
            for line in log.read_text().splitlines()
            if ".z5lock" in line and "ENOENT" not in line
        ]
        opened[setting] = sorted(os.path.relpath(p, path) for p in opens)
        want = np.zeros((20, 20), "uint8")
        want[3:17, 3:17] = 5
        np.testing.assert_array_equal(z5py.File(path, "r")["a"][:], want)
        assert not [n for _, _, names in os.walk(path) for n in names if n.startswith(".z5lock")]
    # the root's metadata; the 4 chunks (in 2 directories: 1 open); the attributes
    assert opened["lockfile"] == [".z5lock", "a/.z5lock", "a/.z5lock"], opened
    assert opened["none"] == [], opened
