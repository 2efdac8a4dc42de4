"""Fixtures shared by the tests: one container per format (the h5py-layer tests), and an S3
server per module (the remote tests)."""

from __future__ import annotations

import pytest
import z5py
from remote_servers import s3_server

FORMATS = ["n5", "zarr2", "zarr3"]


def _open(tmp_path, fmt: str, mode: str = "a", name: str = "data") -> z5py.File:
    """Open (or create) the container ``name`` of format ``fmt`` below ``tmp_path``."""
    path = tmp_path / (f"{name}.n5" if fmt == "n5" else f"{name}.zarr")
    zarr_format = None if fmt == "n5" else int(fmt[-1])
    return z5py.File(path, mode=mode, zarr_format=zarr_format)


@pytest.fixture(params=FORMATS)
def fmt(request) -> str:
    """Each format in turn."""
    return request.param


@pytest.fixture
def open_file(tmp_path):
    """``open_file(fmt, mode="a", name="data")`` opens a container below ``tmp_path``."""
    return lambda fmt, mode="a", name="data": _open(tmp_path, fmt, mode, name)


@pytest.fixture
def f(tmp_path, fmt) -> z5py.File:
    """A fresh container of format ``fmt``."""
    return _open(tmp_path, fmt)


@pytest.fixture(scope="module")
def s3(request):
    """moto's S3 API server on 127.0.0.1 for one test module, holding the bucket that the
    module names in ``S3_BUCKET``."""
    with s3_server() as server:
        server.create_bucket(request.module.S3_BUCKET)
        yield server
