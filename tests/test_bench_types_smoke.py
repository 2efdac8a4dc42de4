"""The data-type / filter benchmark rows run end to end on a tiny volume (each read is
checked against the data inside the script)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "benches" / "bench_types.py"


def test_bench_types_runs(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--reps",
            "1",
            "--shape",
            "8,16,16",
            "--threads",
            "1",
            "--vlen",
            "3000",
            "--workdir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ),
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in proc.stdout.splitlines() if line.endswith("x")]
    assert len(rows) == 10, proc.stdout
    assert any("delta" in row for row in rows)
    assert any("vlen-utf8" in row for row in rows)
    assert any("v3 sharded" in row for row in rows)
