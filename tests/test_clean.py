"""Temporary files of killed writers: `z5py verify` names them, `z5py clean` and
`z5py.clean` remove those no live writer can own (older than the limit) and nothing else."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest
import z5py
from z5py.clean import find_temp_files
from z5py.cli import main


def _dead_pid() -> int:
    """The id of a process that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _make(tmp_path):
    f = z5py.File(tmp_path / "c.zarr", zarr_format=2)
    ds = f.create_dataset("x", data=np.arange(16, dtype="u1").reshape(4, 4), chunks=(2, 2))
    hour = time.time() - 7200
    old = os.path.join(ds.path, f".z5tmp.0.0.{_dead_pid()}.3")
    old_live = os.path.join(ds.path, f".z5tmp.1.1.{os.getpid()}.4")
    young_dead = os.path.join(ds.path, f".z5tmp.0.1.{_dead_pid()}.5")
    young_live = os.path.join(ds.path, f".z5tmp..zarray.{os.getpid()}.6")
    for path in (old, old_live, young_dead, young_live):
        with open(path, "wb") as fh:
            fh.write(b"partial")
    for path in (old, old_live):
        os.utime(path, (hour, hour))
    # files that are not ours: kept whatever their age
    other = os.path.join(ds.path, ".z5tmp-not-ours")
    hidden = os.path.join(ds.path, ".hidden.123.4")
    for path in (other, hidden):
        with open(path, "wb") as fh:
            fh.write(b"x")
        os.utime(path, (hour, hour))
    return ds, old, old_live, young_dead, young_live, other, hidden


def test_verify_names_temporary_files(tmp_path, capsys):
    ds, old, old_live, young_dead, young_live, other, hidden = _make(tmp_path)
    assert main(["verify", str(tmp_path / "c.zarr")]) == 0
    out = capsys.readouterr().out
    for path in (old, old_live, young_dead, young_live):
        assert f"TEMPORARY: {path}" in out
    assert other not in out and hidden not in out
    np.testing.assert_array_equal(ds[...], np.arange(16).reshape(4, 4))  # readers ignore them


def test_clean_removes_only_stale_temporary_files(tmp_path, capsys):
    ds, old, old_live, young_dead, young_live, other, hidden = _make(tmp_path)
    chunks = sorted(os.listdir(ds.path))
    assert main(["clean", str(tmp_path / "c.zarr"), "--dry-run"]) == 0
    assert all(os.path.exists(p) for p in (old, old_live))
    assert main(["clean", str(tmp_path / "c.zarr")]) == 0
    out = capsys.readouterr().out
    assert f"removed {old}" in out and f"removed {old_live}" in out
    assert not os.path.exists(old) and not os.path.exists(old_live)
    assert all(os.path.exists(p) for p in (young_dead, young_live, other, hidden))
    # a lower limit takes the young file of a dead writer, never a live writer's
    assert z5py.clean(tmp_path / "c.zarr", older_than=0) == [young_dead]
    assert os.path.exists(young_live) and os.path.exists(other) and os.path.exists(hidden)
    assert [t.path for t in find_temp_files(ds.path)] == [young_live]
    left = set(chunks) - {os.path.basename(p) for p in (old, old_live, young_dead)}
    assert set(os.listdir(ds.path)) == left
    np.testing.assert_array_equal(ds[...], np.arange(16).reshape(4, 4))
    with pytest.raises(FileNotFoundError):
        z5py.clean(tmp_path / "missing")


def test_clean_removes_stale_lock_files_but_never_a_held_one(tmp_path, capsys):
    """A node's lock file ``.z5lock`` (and an older build's per-key ``.z5lock.<name>``)
    left by a killed writer goes; one on which a live writer holds a key's byte stays."""
    ds = z5py.File(tmp_path / "l.n5").create_dataset("x", shape=(4,), chunks=(2,), dtype="u1")
    stale = os.path.join(tmp_path / "l.n5", ".z5lock")
    stale_old = os.path.join(ds.path, ".z5lock.0")
    held = os.path.join(ds.path, ".z5lock")
    hour = time.time() - 7200
    for path in (stale, stale_old, held):
        with open(path, "wb"):
            pass
        os.utime(path, (hour, hour))
    # another process holds the lock on one byte of `held`, far beyond its end, as writers do
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import fcntl, os, sys\n"
                f"fd = os.open({held!r}, os.O_RDWR)\n"
                "fcntl.lockf(fd, fcntl.LOCK_EX, 1, 2**61 + 12345)\n"
                "print('locked', flush=True)\n"
                "sys.stdin.read()\n"
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert main(["verify", str(tmp_path / "l.n5")]) == 0
        out = capsys.readouterr().out
        assert all(f"LOCK: {p}" in out for p in (stale, stale_old, held)), out
        assert z5py.clean(tmp_path / "l.n5") == [stale, stale_old]
        assert not os.path.exists(stale) and not os.path.exists(stale_old)
        assert os.path.exists(held)
    finally:
        holder.stdin.close()
        holder.wait()
    assert z5py.clean(tmp_path / "l.n5") == [held]
