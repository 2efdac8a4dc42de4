"""Bounded stress runs compared with a numpy mirror after every operation.

One run applies a few hundred random operations (strided and negative-step writes and
reads, subarrays, whole chunks, fill-value writes that delete chunks, attribute updates,
reopening, n_threads 1 or 2) to datasets of random format, codec, dtype, shape and chunks.
A second run lets several threads hammer storage-aligned stripes of one dataset each.
Seeds come from ``Z5PY_STRESS_SEED`` (default fixed) and are in every failure message.
"""

from __future__ import annotations

import os
import random
import threading

import numpy as np
import pytest
import z5py

SEED = int(os.environ.get("Z5PY_STRESS_SEED", "515"))
N_OPS = int(os.environ.get("Z5PY_STRESS_OPS", "1500"))

COMPRESSORS = {
    "n5": z5py.Dataset.compressors_n5,
    "zarr2": z5py.Dataset.compressors_zarr,
    "zarr3": z5py.Dataset.compressors_zarr_v3,
}
N5_DTYPES = ["u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8", "f4", "f8"]
ZARR_DTYPES = N5_DTYPES + ["b1", "f2", "c8", "c16", ">i4", ">f8"]


def random_values(rng: np.random.Generator, shape, dtype) -> np.ndarray:
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, shape).astype(bool)
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, shape, dtype=dtype.newbyteorder("="))
    if dtype.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    return (rng.standard_normal(shape) * 1000).astype(dtype)


class Case:
    """One dataset with its numpy mirror."""

    def __init__(self, root, rng: np.random.Generator, k: int):
        self.fmt = str(rng.choice(["n5", "zarr2", "zarr3", "zarr3"]))
        self.sharded = self.fmt == "zarr3" and bool(rng.integers(0, 2))
        ndim = int(rng.integers(1, 4))
        max_side = {1: 300, 2: 40, 3: 14}[ndim]
        shape = tuple(int(rng.integers(1, max_side)) for _ in range(ndim))
        chunks = tuple(int(rng.integers(max(1, s // 6), s + 3)) for s in shape)
        dtype = str(rng.choice(N5_DTYPES if self.fmt == "n5" else ZARR_DTYPES))
        self.codec = str(rng.choice(COMPRESSORS[self.fmt]))
        kwargs = {}
        fill = 0
        if self.fmt != "n5":
            # quarter steps: exact in short decimal JSON (long float literals are parsed with
            # a one-ulp error, see test_properties.py::test_floats_survive_json_exactly)
            fill = np.asarray(random_values(rng, (), dtype)).astype(dtype)
            if fill.dtype.kind in "fc":
                fill = np.round(fill * 4) / 4
            fill = fill.astype(dtype)[()]
            kwargs["fillvalue"] = fill
        if self.sharded:
            kwargs["shards"] = tuple(c * int(rng.integers(1, 4)) for c in chunks)
        zarr_format = None if self.fmt == "n5" else int(self.fmt[-1])
        name = f"{self.fmt}.n5" if self.fmt == "n5" else f"{self.fmt}.zarr"
        self.file = z5py.File(root / name, mode="a", zarr_format=zarr_format)
        self.name = f"d{k}"
        self.ds = self.file.create_dataset(
            self.name, shape=shape, chunks=chunks, dtype=dtype, compression=self.codec, **kwargs
        )
        self.mirror = np.full(shape, fill, dtype=self.ds.dtype)
        self.fill = self.mirror.flat[0] if self.mirror.size else fill
        self.attrs: dict = {}

    def __repr__(self) -> str:
        ds = self.ds
        return (
            f"<{self.fmt}{' sharded' if self.sharded else ''} {self.codec} {ds.dtype} "
            f"shape {ds.shape} chunks {ds.chunks} shards {ds.shards}>"
        )


def random_index(rng: random.Random, shape):
    index = []
    for s in shape:
        kind = rng.random()
        if kind < 0.15:
            index.append(rng.randrange(-s, s))
        elif kind < 0.25:
            index.append(slice(None))
        else:
            a = rng.randrange(-s - 2, s + 2)
            b = rng.randrange(-s - 2, s + 3)
            step = rng.choice([1, 1, 1, 2, 3, -1, -2])
            index.append(slice(a if rng.random() < 0.9 else None, b, step))
    if rng.random() < 0.1:
        index.insert(rng.randrange(len(index) + 1), Ellipsis)
    return tuple(index)


def random_box(rng: random.Random, shape):
    start = [rng.randrange(0, s) for s in shape]
    stop = [rng.randrange(a + 1, s + 1) for a, s in zip(start, shape)]
    return start, stop


def stored_chunk_shape(case: Case, idx):
    ds = case.ds
    if case.fmt == "n5":
        return tuple(min(c, s - i * c) for i, c, s in zip(idx, ds.chunks, ds.shape))
    return ds.chunks


def chunk_box(ds, idx):
    return tuple(slice(i * c, min((i + 1) * c, s)) for i, c, s in zip(idx, ds.chunks, ds.shape))


def apply_random_op(case: Case, rng: random.Random, nrng: np.random.Generator) -> str:
    ds, mirror = case.ds, case.mirror
    op = rng.choice(
        [
            "setitem",
            "setitem",
            "setitem_scalar",
            "getitem",
            "write_subarray",
            "read_subarray",
            "write_chunk",
            "read_chunk",
            "fill_chunk",
            "threads",
            "reopen",
            "attrs",
        ]
    )
    if op in ("setitem", "setitem_scalar"):
        index = random_index(rng, ds.shape)
        target = mirror[index]
        if op == "setitem_scalar":
            value = random_values(nrng, (), ds.dtype)[()]
        else:
            value = random_values(nrng, np.shape(target), ds.dtype)
        ds[index] = value
        mirror[index] = value
        return f"{op} {index}"
    if op == "getitem":
        index = random_index(rng, ds.shape)
        got, want = ds[index], mirror[index]
        assert np.shape(got) == np.shape(want)
        np.testing.assert_array_equal(got, want)
        return f"getitem {index}"
    if op == "write_subarray":
        start, stop = random_box(rng, ds.shape)
        data = random_values(nrng, tuple(b - a for a, b in zip(start, stop)), ds.dtype)
        ds.write_subarray(start, data)
        mirror[tuple(slice(a, b) for a, b in zip(start, stop))] = data
        return f"write_subarray {start} {stop}"
    if op == "read_subarray":
        start, stop = random_box(rng, ds.shape)
        np.testing.assert_array_equal(
            ds.read_subarray(start, stop), mirror[tuple(slice(a, b) for a, b in zip(start, stop))]
        )
        return f"read_subarray {start} {stop}"
    idx = tuple(rng.randrange(n) for n in ds.chunks_per_dimension)
    box = chunk_box(ds, idx)
    inside = tuple(slice(0, b.stop - b.start) for b in box)
    if op == "write_chunk":
        data = random_values(nrng, stored_chunk_shape(case, idx), ds.dtype)
        ds.write_chunk(idx, data)
        mirror[box] = data[inside]
        return f"write_chunk {idx}"
    if op == "read_chunk":
        chunk = ds.read_chunk(idx)
        if chunk is None:
            assert (mirror[box] == case.fill).all(), "a missing chunk must hold the fill value"
            assert not ds.chunk_exists(idx)
        else:
            assert chunk.shape == stored_chunk_shape(case, idx)
            np.testing.assert_array_equal(chunk[inside], mirror[box])
        return f"read_chunk {idx}"
    if op == "fill_chunk":
        ds[box] = case.fill
        mirror[box] = case.fill
        # a chunk that holds only the fill value is not stored
        assert not ds.chunk_exists(idx)
        return f"fill_chunk {idx}"
    if op == "threads":
        ds.n_threads = rng.choice([1, 2])
        return f"n_threads={ds.n_threads}"
    if op == "reopen":
        case.file = z5py.File(case.file.path, mode="r+")
        case.ds = case.file[case.name]
        case.ds.n_threads = ds.n_threads
        return "reopen"
    key = f"k{rng.randrange(5)}"
    value = rng.choice([rng.randrange(1000) / 8, rng.randrange(1000), "text", [1, 2, {"x": None}]])
    ds.attrs[key] = value
    case.attrs[key] = value
    assert dict(ds.attrs) == case.attrs
    return f"attrs {key}"


def test_random_operations_match_numpy(tmp_path):
    rng = random.Random(SEED)
    nrng = np.random.default_rng(SEED)
    cases = [Case(tmp_path, nrng, k) for k in range(8)]
    history: list[str] = []
    for step in range(N_OPS):
        case = rng.choice(cases)
        try:
            history.append(f"{step}: {case!r} " + apply_random_op(case, rng, nrng))
            np.testing.assert_array_equal(case.ds[...], case.mirror)
        except BaseException as error:
            raise AssertionError(
                f"seed {SEED}, step {step} on {case!r}; last ops:\n" + "\n".join(history[-5:])
            ) from error
    # everything is on disk: a fresh process view agrees
    for case in cases:
        fresh = z5py.File(case.file.path, mode="r")[case.name]
        np.testing.assert_array_equal(fresh[...], case.mirror, err_msg=repr(case))
        assert dict(fresh.attrs) == case.attrs


@pytest.mark.parametrize("layout", ["n5", "zarr2", "zarr3", "zarr3_sharded"])
def test_threads_hammering_stripes_match_numpy(tmp_path, layout):
    """Eight threads each own a storage-aligned stripe and do random region I/O inside it."""
    rng = random.Random(f"{SEED}-{layout}")
    fmt = layout.split("_")[0]
    n_threads = 8
    chunks = (7, 9)
    unit = (14, 18) if layout.endswith("sharded") else chunks
    shape = (unit[0] * n_threads - 3, 50)  # the last stripe is ragged
    f = z5py.File(
        tmp_path / (f"{layout}.n5" if fmt == "n5" else f"{layout}.zarr"),
        zarr_format=None if fmt == "n5" else int(fmt[-1]),
    )
    kwargs = {"shards": unit} if unit != chunks else {}
    codec = rng.choice(COMPRESSORS[fmt])
    ds = f.create_dataset("x", shape=shape, chunks=chunks, dtype="i4", compression=codec, **kwargs)
    mirror = np.zeros(shape, "i4")
    failures = []
    barrier = threading.Barrier(n_threads)

    def work(k):
        trng = random.Random(f"{SEED}-{layout}-{k}")
        lo, hi = k * unit[0], min((k + 1) * unit[0], shape[0])
        own = ds if k % 2 else z5py.File(f.path, mode="r+")["x"]
        own.n_threads = 1 + k % 2
        try:
            barrier.wait()
            for _ in range(40):
                y0 = trng.randrange(lo, hi)
                y1 = trng.randrange(y0 + 1, hi + 1)
                x0 = trng.randrange(0, shape[1])
                x1 = trng.randrange(x0 + 1, shape[1] + 1)
                box = (slice(y0, y1), slice(x0, x1))
                if trng.random() < 0.6:
                    value = np.full((y1 - y0, x1 - x0), trng.randrange(-(2**31), 2**31), "i4")
                    value[:: trng.randrange(1, 3)] += 1
                    own[box] = value
                    mirror[box] = value
                else:
                    np.testing.assert_array_equal(own[box], mirror[box])
        except BaseException as error:  # noqa: BLE001
            failures.append((k, error))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, (SEED, layout, codec, failures)
    np.testing.assert_array_equal(ds[...], mirror)
