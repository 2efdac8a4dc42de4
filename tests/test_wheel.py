"""The abi3 wheel installs into a clean virtualenv on a machine path without a Rust toolchain."""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

WHEEL = os.environ.get("Z5PY_WHEEL")

pytestmark = pytest.mark.skipif(
    not WHEEL,
    reason="Z5PY_WHEEL is not set: .ci/run builds the wheel with `maturin build --release`",
)

SCRIPT = """
import numpy as np, z5py, z5py._z5py as ext
assert "site-packages" in ext.__file__, ext.__file__
for ext_name in ("data.n5", "data.zarr"):
    with z5py.File(ext_name, mode="w") as f:
        a = (np.arange(60 * 70) % 251).astype("uint8").reshape(60, 70)
        ds = f.create_dataset("x", data=a, chunks=(16, 16), compression="gzip")
        assert (z5py.File(ext_name, mode="r")["x"][:] == a).all()
print("ok", ext.__file__)
"""


def test_wheel_is_abi3():
    name = Path(WHEEL).name
    assert "-abi3-" in name, name
    with zipfile.ZipFile(WHEEL) as z:
        wheel_meta = next(n for n in z.namelist() if n.endswith(".dist-info/WHEEL"))
        assert "cp311-abi3" in z.read(wheel_meta).decode()
        assert any(n.startswith("z5py/_z5py") and n.endswith(".so") for n in z.namelist())
        assert "z5py/py.typed" in z.namelist()


def test_wheel_installs_and_runs_without_rust(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    # A PATH without cargo/rustc: if pip tried to build from source it would fail.
    env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "CARGO_HOME": str(tmp_path / "no-cargo"),
        "RUSTUP_HOME": str(tmp_path / "no-rustup"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    assert shutil.which("cargo", path=env["PATH"]) is None
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--only-binary=:all:"]
    subprocess.run([*pip, WHEEL], check=True, env=env, cwd=tmp_path)
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", SCRIPT],
        check=True,
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert out.stdout.startswith("ok")
