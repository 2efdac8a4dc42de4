"""The benchmark matrix (libraries, layouts, codecs, data sets, presets) and the source data."""

from __future__ import annotations

import os

import numpy as np

MIB = 1 << 20

#: Libraries in table order.  "z5py" is this rewrite; "z5py-ref" the published C++ z5py.
LIBS = ["z5py", "z5py-ref", "tensorstore", "zarr", "zarrs"]
#: Storage layouts: N5, Zarr v2, Zarr v3 unsharded, Zarr v3 sharded.
FORMATS = ["n5", "zarr2", "zarr3", "zarr3s"]
CODECS = ["raw", "gzip", "blosc", "zstd"]
#: Which (library, format) cells exist at all ("—" in the table otherwise).
UNSUPPORTED_FORMATS = {"zarr": {"n5"}, "zarrs": {"n5"}}

#: Data sets: shape, dtype, chunk shape, shard shape for "zarr3s", unaligned partial region.
DATASETS = {
    # the main case: 64 MiB of uint8, smooth gradient plus noise, 64^3 chunks
    "u8": {
        "dtype": "uint8",
        "shape": (256, 512, 512),
        "chunks": (64, 64, 64),
        "shards": (128, 128, 128),
        "region": ((17, 145), (33, 290), (5, 400)),
    },
    # float32, 32 MiB (a smaller volume to keep the full run short)
    "f32": {
        "dtype": "float32",
        "shape": (128, 256, 256),
        "chunks": (64, 64, 64),
        "shards": (128, 128, 128),
        "region": ((17, 113), (33, 190), (5, 200)),
    },
    # many small chunks: 16^3 chunks, 4 MiB of uint8 (1024 chunks; creating files is what
    # costs here, so the volume is small)
    "u8c16": {
        "dtype": "uint8",
        "shape": (64, 256, 256),
        "chunks": (16, 16, 16),
        "shards": (64, 64, 64),
        "region": ((5, 59), (17, 190), (3, 200)),
        # per-chunk overhead shows with any codec: raw and zstd only, unless --codecs says
        "codecs": ("raw", "zstd"),
    },
    # 1 GiB of the same kind as "u8", for the flatness check (preset "scaling")
    "u8big": {
        "dtype": "uint8",
        "shape": (1024, 1024, 1024),
        "chunks": (64, 64, 64),
        "shards": (128, 128, 128),
        "region": ((17, 529), (33, 545), (5, 517)),
    },
    # the smoke test's volume
    "tiny": {
        "dtype": "uint8",
        "shape": (32, 64, 64),
        "chunks": (16, 16, 16),
        "shards": (32, 32, 32),
        "region": ((3, 29), (5, 60), (1, 50)),
    },
}

PRESETS = {
    # throughput from 64 MiB to 1 GiB (z5py only unless --libs says otherwise)
    "scaling": {
        "data": ["u8", "u8big"],
        "formats": ["n5", "zarr3s"],
        "codecs": ["raw", "zstd"],
        "threads": [2],
        "reps": 2,
        "rss": False,
        "libs": ["z5py"],
    },
    "tiny": {
        "data": ["tiny"],
        "formats": FORMATS,
        "codecs": CODECS,
        "threads": [1],
        "reps": 1,
        "rss": False,
    },
    "quick": {
        "data": ["u8"],
        "formats": ["n5", "zarr2", "zarr3s"],
        "codecs": ["raw", "gzip"],
        "threads": [2],
        "reps": 3,
        "rss": False,
    },
    "full": {
        "data": ["u8", "f32", "u8c16"],
        "formats": FORMATS,
        "codecs": CODECS,
        "threads": None,
        "reps": 3,
        "read_reps": 5,
        # cheap configurations get more rounds: single repetitions on this file system vary
        # 2-3x for every library (see RESULTS.md), and a median of 3 does not hide that
        "max_reps": 9,
        "budget_s": 5.0,
        "rss": True,
    },
}

#: Compressor options in z5py's spelling (the published z5py spells blosc's level "level"
#: for Zarr v3; see Z5Backend).
CODEC_OPTIONS = {
    "raw": {},
    "gzip": {"level": 5},
    "blosc": {"codec": "lz4", "clevel": 5, "shuffle": 1},
    "zstd": {"level": 3},
}

#: The first data set's full-read and full-write RSS is probed for these (format, codec).
RSS_CASES = [("n5", "gzip"), ("zarr2", "blosc"), ("zarr3s", "zstd")]


def is_zarr(fmt: str) -> bool:
    return fmt != "n5"


def zarr_version(fmt: str) -> int | None:
    return None if fmt == "n5" else (2 if fmt == "zarr2" else 3)


def make_cfg(data: str, fmt: str, codec: str) -> dict:
    spec = DATASETS[data]
    return {
        "data": data,
        "dtype": spec["dtype"],
        "shape": list(spec["shape"]),
        "chunks": list(spec["chunks"]),
        "shards": list(spec["shards"]) if fmt == "zarr3s" else None,
        "format": fmt,
        "codec": codec,
    }


def region_slices(region) -> tuple:
    if region is None:
        return (Ellipsis,)
    return tuple(slice(a, b) for a, b in region)


def region_nbytes(cfg: dict, region) -> int:
    shape = cfg["shape"] if region is None else [b - a for a, b in region]
    return int(np.prod(shape)) * np.dtype(cfg["dtype"]).itemsize


# ------------------------------------------------------------------------------------------
# source data


def generate(data: str, path: str) -> None:
    """Smooth gradient plus noise (deterministic), saved as .npy at ``path``."""
    spec = DATASETS[data]
    shape, dtype = spec["shape"], np.dtype(spec["dtype"])
    rng = np.random.default_rng(42)
    out = np.empty(shape, dtype=dtype)
    y = np.arange(shape[1], dtype=np.float32)[:, None]
    x = np.arange(shape[2], dtype=np.float32)[None, :]
    for z in range(shape[0]):
        smooth = (
            40.0 * np.sin(z / 23.0 + y / 41.0)
            + 30.0 * np.cos(x / 37.0 - z / 53.0)
            + 0.15 * (y + x)
            + 0.2 * z
        )
        if dtype == np.uint8:
            noise = rng.integers(0, 12, size=smooth.shape, dtype=np.uint8)
            out[z] = (smooth.astype(np.int64) % 244).astype(np.uint8) + noise
        else:
            noise = rng.standard_normal(size=smooth.shape, dtype=np.float32)
            # quantised to 1/64 so the float data compresses a little
            out[z] = np.round((smooth + noise) * 64.0) / 64.0
    tmp = path + ".tmp.npy"
    np.save(tmp, out)
    os.replace(tmp, path)


def source_path(workdir: str, data: str) -> str:
    path = os.path.join(workdir, f"source_{data}.npy")
    if not os.path.exists(path):
        generate(data, path)
    return path
