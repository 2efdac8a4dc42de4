"""The benchmark script runs end to end on a tiny volume and every read it times is checked
against the source.  Nothing here looks at timings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "benches" / "bench.py"


def test_bench_tiny_preset_reads_equal(tmp_path):
    out = tmp_path / "result.json"
    cmd = [
        sys.executable,
        str(BENCH),
        "--preset",
        "tiny",
        "--quiet",
        "--out",
        str(out),
        "--workdir",
        str(tmp_path / "work"),
    ]
    # the published z5py joins in when its virtualenv is known (CI sets Z5PY_REF_PYTHON)
    ref = os.environ.get("Z5PY_REF_PYTHON")
    if ref and os.path.exists(ref):
        cmd += ["--z5py-ref-python", ref]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    result = json.loads(out.read_text())

    rows = result["rows"]
    # 4 layouts x 4 codecs x 1 thread count x 3 operations
    assert len(rows) == 48
    assert {r["format"] for r in rows} == {"n5", "zarr2", "zarr3", "zarr3s"}
    assert {r["codec"] for r in rows} == {"raw", "gzip", "blosc", "zstd"}
    assert {r["op"] for r in rows} == {"write", "read", "read_partial"}
    assert result["summary"]["unequal_reads"] == []
    for row in rows:
        ours = row["libs"]["z5py"]
        # z5py measured every cell, without error
        assert "error" not in ours, (row["format"], row["codec"], row["op"], ours)
        assert len(ours["times"]) == 1
        if row["op"] != "write":
            # every library's reads were compared with the source and found equal
            assert row["reads_equal"] is True
            # the limit was computed on the same chunk payloads
            assert "median_s" in row["limit"], row["limit"]
        for lib, cell in row["libs"].items():
            assert not cell.get("unequal"), (lib, row["format"], row["codec"], row["op"])
    # peers that are installed took part; zarr-python has no N5
    for lib in result["versions"]:
        if lib in ("zarr", "zarrs"):
            assert all(lib not in r["libs"] for r in rows if r["format"] == "n5")
            assert any(lib in r["libs"] for r in rows)
    # the printed table names every library that ran
    header = next(line for line in proc.stdout.splitlines() if line.startswith("data"))
    for lib in result["versions"]:
        assert lib in header
