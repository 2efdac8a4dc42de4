#!/usr/bin/env python3
"""Side-by-side benchmark: z5py (this rewrite) against the C++ z5py, zarr-python (with and
without the zarrs codec pipeline) and tensorstore.

Every library runs in its own worker process (one per library and thread count), all
driven from this orchestrator, which interleaves the libraries per configuration.  Reads
of every library go to the same files (written once by z5py), and every read is compared
with the source array before its time counts.  For every read row the "limit" is the time
the same codec needs to decode the same chunk payloads already in memory into one
preallocated buffer on the same number of threads (raw: reading the chunk files into one
preallocated buffer).  Peak RSS is measured in fresh processes.

See benches/README.md for how to run it and what each column means.  This file is also the
worker (``--worker``) and the RSS probe (``--rss-probe``); those modes import nothing but
the standard library, numpy and the library under test, so the worker also runs in the
virtualenv of the published z5py (``--z5py-ref-python``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np

MIB = 1 << 20

# ------------------------------------------------------------------------------------------
# the matrix

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


# ------------------------------------------------------------------------------------------
# library back-ends (used in the worker processes)


class Z5Backend:
    """This rewrite or the published C++ z5py: the same h5py-like API."""

    def __init__(self, threads: int, ref: bool) -> None:
        import z5py

        self.z5py = z5py
        self.threads = threads
        self.ref = ref

    def version(self) -> str:
        version = getattr(self.z5py, "__version__", "?")
        if not self.ref:
            # the engine changes under a fixed version number: say which build ran
            ext = getattr(getattr(self.z5py, "_z5py", None), "__file__", None)
            if ext:
                built = time.strftime("%Y-%m-%d %H:%M", time.localtime(os.path.getmtime(ext)))
                version += f" (extension built {built})"
        return version

    def _file(self, path: str, fmt: str, mode: str):
        kwargs = {"use_zarr_format": is_zarr(fmt)}
        if is_zarr(fmt):
            kwargs["zarr_format"] = zarr_version(fmt)
        return self.z5py.File(path, mode=mode, **kwargs)

    def create(self, path: str, cfg: dict):
        options = dict(CODEC_OPTIONS[cfg["codec"]])
        if self.ref and cfg["codec"] == "blosc" and zarr_version(cfg["format"]) == 3:
            options["level"] = options.pop("clevel")
        kwargs = {}
        if cfg["shards"] is not None:
            kwargs["shards"] = tuple(cfg["shards"])
        f = self._file(path, cfg["format"], "w")
        ds = f.create_dataset(
            "data",
            shape=tuple(cfg["shape"]),
            chunks=tuple(cfg["chunks"]),
            dtype=cfg["dtype"],
            compression=cfg["codec"],
            **options,
            **kwargs,
        )
        ds.n_threads = self.threads
        return ds

    def write(self, ds, data: np.ndarray) -> None:
        ds[...] = data

    def open(self, path: str, cfg: dict):
        ds = self._file(path, cfg["format"], "r")["data"]
        ds.n_threads = self.threads
        return ds

    def read(self, ds, region) -> np.ndarray:
        return ds[region_slices(region)]


class ZarrBackend:
    """zarr-python 3, optionally with the zarrs codec pipeline.

    ``threading.max_workers`` (zarr-python's thread pool, used for codec work and local
    file I/O; also the zarrs pipeline's Rust thread count) is the thread count.  zarr's
    asyncio concurrency stays at its default (10 requests in flight).
    """

    def __init__(self, threads: int, use_zarrs: bool) -> None:
        import zarr

        self.zarr = zarr
        config = {"threading.max_workers": threads}
        if use_zarrs:
            import zarrs  # noqa: F401  (registers the pipeline)

            # strict: fail instead of silently falling back to the Python pipeline
            config.update(
                {"codec_pipeline.path": "zarrs.ZarrsCodecPipeline", "codec_pipeline.strict": True}
            )
        zarr.config.set(config)
        self.use_zarrs = use_zarrs

    def version(self) -> str:
        if self.use_zarrs:
            import importlib.metadata

            return f"zarrs {importlib.metadata.version('zarrs')} / zarr {self.zarr.__version__}"
        return self.zarr.__version__

    def _compressors(self, cfg: dict):
        codec, fmt = cfg["codec"], cfg["format"]
        itemsize = np.dtype(cfg["dtype"]).itemsize
        if codec == "raw":
            return None
        if fmt == "zarr2":
            import numcodecs

            return {
                "gzip": lambda: numcodecs.GZip(level=5),
                "blosc": lambda: numcodecs.Blosc(
                    cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE
                ),
                "zstd": lambda: numcodecs.Zstd(level=3),
            }[codec]()
        from zarr import codecs

        return {
            "gzip": lambda: codecs.GzipCodec(level=5),
            "blosc": lambda: codecs.BloscCodec(
                cname="lz4", clevel=5, shuffle="shuffle", typesize=itemsize
            ),
            "zstd": lambda: codecs.ZstdCodec(level=3),
        }[codec]()

    def create(self, path: str, cfg: dict):
        compressor = self._compressors(cfg)
        return self.zarr.create_array(
            store=os.path.join(path, "data"),
            shape=tuple(cfg["shape"]),
            chunks=tuple(cfg["chunks"]),
            shards=tuple(cfg["shards"]) if cfg["shards"] else None,
            dtype=cfg["dtype"],
            compressors=None if compressor is None else [compressor],
            zarr_format=zarr_version(cfg["format"]),
            fill_value=0,
            overwrite=True,
        )

    def write(self, arr, data: np.ndarray) -> None:
        arr[...] = data

    def open(self, path: str, cfg: dict):
        return self.zarr.open_array(os.path.join(path, "data"), mode="r")

    def read(self, arr, region) -> np.ndarray:
        return arr[region_slices(region)]


class TensorstoreBackend:
    """tensorstore with ``data_copy_concurrency`` and ``file_io_concurrency`` limited to
    the thread count, no cache, and ``file_io_sync`` off (its default fsyncs every write,
    which no other library does).  N5 is accessed through the transposed view so that its
    axes are in z5py's (C) order."""

    def __init__(self, threads: int) -> None:
        import tensorstore as ts

        self.ts = ts
        self.context = ts.Context(
            {
                "data_copy_concurrency": {"limit": threads},
                "file_io_concurrency": {"limit": threads},
                "file_io_sync": False,
            }
        )

    def version(self) -> str:
        import importlib.metadata

        return importlib.metadata.version("tensorstore")

    @staticmethod
    def _metadata(cfg: dict) -> tuple[str, dict]:
        fmt, codec, dtype = cfg["format"], cfg["codec"], np.dtype(cfg["dtype"])
        shape, chunks = list(cfg["shape"]), list(cfg["chunks"])
        if fmt == "n5":
            compression = {
                "raw": {"type": "raw"},
                "gzip": {"type": "gzip", "level": 5},
                "blosc": {"type": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1},
                "zstd": {"type": "zstd", "level": 3},
            }[codec]
            return "n5", {
                "dimensions": shape[::-1],
                "blockSize": chunks[::-1],
                "dataType": dtype.name,
                "compression": compression,
            }
        if fmt == "zarr2":
            compressor = {
                "raw": None,
                "gzip": {"id": "gzip", "level": 5},
                "blosc": {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1},
                "zstd": {"id": "zstd", "level": 3},
            }[codec]
            return "zarr", {
                "shape": shape,
                "chunks": chunks,
                "dtype": dtype.str,
                "compressor": compressor,
                "fill_value": 0,
                "order": "C",
            }
        compressors = {
            "raw": [],
            "gzip": [{"name": "gzip", "configuration": {"level": 5}}],
            "blosc": [
                {
                    "name": "blosc",
                    "configuration": {
                        "cname": "lz4",
                        "clevel": 5,
                        "shuffle": "shuffle",
                        "typesize": dtype.itemsize,
                        "blocksize": 0,
                    },
                }
            ],
            "zstd": [{"name": "zstd", "configuration": {"level": 3}}],
        }[codec]
        inner = [{"name": "bytes", "configuration": {"endian": "little"}}] + compressors
        meta = {
            "shape": shape,
            "data_type": dtype.name,
            "fill_value": 0,
            "chunk_key_encoding": {"name": "default"},
        }
        if cfg["shards"]:
            meta["chunk_grid"] = {
                "name": "regular",
                "configuration": {"chunk_shape": list(cfg["shards"])},
            }
            meta["codecs"] = [
                {
                    "name": "sharding_indexed",
                    "configuration": {
                        "chunk_shape": chunks,
                        "codecs": inner,
                        "index_codecs": [
                            {"name": "bytes", "configuration": {"endian": "little"}},
                            {"name": "crc32c"},
                        ],
                        "index_location": "end",
                    },
                }
            ]
        else:
            meta["chunk_grid"] = {"name": "regular", "configuration": {"chunk_shape": chunks}}
            meta["codecs"] = inner
        return "zarr3", meta

    def _view(self, store, cfg: dict):
        return store.T if cfg["format"] == "n5" else store

    def create(self, path: str, cfg: dict):
        driver, meta = self._metadata(cfg)
        spec = {
            "driver": driver,
            "metadata": meta,
            "kvstore": {"driver": "file", "path": os.path.join(path, "data") + "/"},
        }
        store = self.ts.open(spec, create=True, delete_existing=True, context=self.context).result()
        return self._view(store, cfg)

    def write(self, view, data: np.ndarray) -> None:
        view.write(data).result()

    def open(self, path: str, cfg: dict):
        driver = {"n5": "n5", "zarr2": "zarr"}.get(cfg["format"], "zarr3")
        spec = {
            "driver": driver,
            "kvstore": {"driver": "file", "path": os.path.join(path, "data") + "/"},
        }
        store = self.ts.open(spec, read=True, context=self.context).result()
        return self._view(store, cfg)

    def read(self, view, region) -> np.ndarray:
        if region is None:
            return view.read().result()
        return view[region_slices(region)].read().result()


def make_backend(lib: str, threads: int):
    if lib in ("z5py", "z5py-ref"):
        return Z5Backend(threads, ref=lib == "z5py-ref")
    if lib in ("zarr", "zarrs"):
        return ZarrBackend(threads, use_zarrs=lib == "zarrs")
    if lib == "tensorstore":
        return TensorstoreBackend(threads)
    raise ValueError(f"unknown library {lib}")


# ------------------------------------------------------------------------------------------
# worker process


def _minflt() -> int:
    """Minor page faults of this process so far (all threads)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def worker_main(lib: str, threads: int) -> None:
    """Answer JSON requests, one a line on stdin, with one JSON line each on stdout."""
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything a library prints goes to stderr, not into the protocol
    sys.stdout = sys.stderr
    try:
        backend = make_backend(lib, threads)
        hello = {"ok": True, "version": backend.version()}
    except Exception as error:  # noqa: BLE001  (whatever stops the library loading)
        hello = {"ok": False, "error": f"{type(error).__name__}: {error}"}
        backend = None
    proto.write(json.dumps(hello) + "\n")
    source = {"path": None, "array": None}

    def load(path: str) -> np.ndarray:
        if source["path"] != path:
            source["array"] = None
            source["array"] = np.load(path)
            source["path"] = path
        return source["array"]

    for line in sys.stdin:
        request = json.loads(line)
        command = request["cmd"]
        if command == "quit":
            break
        try:
            data = load(request["data"])
            cfg = request["cfg"]
            if command == "write":
                handle = backend.create(request["path"], cfg)
                f0 = _minflt()
                c0, t0 = time.process_time(), time.perf_counter()
                backend.write(handle, data)
                reply = {
                    "t": time.perf_counter() - t0,
                    "cpu": time.process_time() - c0,
                    "minflt": _minflt() - f0,
                }
            elif command == "read":
                region = request["region"]
                handle = backend.open(request["path"], cfg)
                f0 = _minflt()
                c0, t0 = time.process_time(), time.perf_counter()
                out = backend.read(handle, region)
                elapsed = time.perf_counter() - t0
                cpu = time.process_time() - c0
                minflt = _minflt() - f0
                expected = data[region_slices(region)]
                equal = (
                    isinstance(out, np.ndarray)
                    and out.shape == expected.shape
                    and out.dtype == expected.dtype
                    and bool(np.array_equal(out, expected))
                )
                del out
                reply = {"t": elapsed, "cpu": cpu, "minflt": minflt, "equal": equal}
            else:
                reply = {"error": f"unknown command {command}"}
        except Exception as error:  # noqa: BLE001  (reported in the table, never fatal)
            reply = {"error": f"{type(error).__name__}: {str(error)[:300]}"}
        proto.write(json.dumps(reply) + "\n")


def worker_env(lib: str, threads: int) -> dict:
    """Environment of a worker.  The zarrs pipeline runs chunks on rayon's global pool,
    which ``threading.max_workers`` does not bound (on 2 cores a "1-thread" zarrs read
    used 1.7 cores), so its size is set here."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if lib == "zarrs":
        env["RAYON_NUM_THREADS"] = str(threads)
    return env


class Worker:
    """A worker process for one library and thread count."""

    def __init__(self, lib: str, threads: int, python: str, log_dir: str) -> None:
        self.lib, self.threads = lib, threads
        self.log_path = os.path.join(log_dir, f"{lib}_t{threads}.log")
        self.log = open(self.log_path, "w")  # noqa: SIM115  (closed in close())
        env = worker_env(lib, threads)
        self.proc = subprocess.Popen(
            [python, os.path.abspath(__file__), "--worker", lib, "--threads", str(threads)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            env=env,
        )
        hello = self._receive()
        self.available = bool(hello.get("ok"))
        self.version = hello.get("version") or hello.get("error")

    def _receive(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            return {"ok": False, "error": f"worker died; see {self.log_path}"}
        return json.loads(line)

    def request(self, **request) -> dict:
        if self.proc.poll() is not None:
            return {"error": f"worker exited; see {self.log_path}"}
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        return self._receive()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write('{"cmd": "quit"}\n')
                self.proc.stdin.flush()
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self.log.close()


# ------------------------------------------------------------------------------------------
# peak RSS probe (a fresh process per measurement)


def _status_kib(key: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return -1


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux: write 5 to /proc/self/clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def rss_probe_main(args) -> None:
    """One full read or full write; prints base and peak RSS (KiB) as JSON."""
    proto = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    cfg = json.loads(args.cfg)
    backend = make_backend(args.rss_probe, args.threads)
    if args.op == "read":
        handle = backend.open(args.path, cfg)
        base = _status_kib("VmRSS")
        reset = _reset_peak()
        out = backend.read(handle, None)
        peak = _status_kib("VmHWM")
        ok = out.shape == tuple(cfg["shape"])
    else:
        handle = backend.create(args.path, cfg)
        base = _status_kib("VmRSS")
        data = np.load(args.data)
        reset = _reset_peak()
        backend.write(handle, data)
        peak = _status_kib("VmHWM")
        ok = True
    proto.write(
        json.dumps({"base_kib": base, "peak_kib": peak, "hwm_reset": reset, "ok": bool(ok)}) + "\n"
    )


# ------------------------------------------------------------------------------------------
# the limit: decode the same chunk payloads in memory


def chunk_sources(path: str, cfg: dict, region) -> list[tuple[str, int, int | None]]:
    """(file, offset, length or None for "to the end") of every stored chunk payload that
    the read of ``region`` (None: everything) touches, in the format's own layout."""
    shape, chunks, fmt = cfg["shape"], cfg["chunks"], cfg["format"]
    if region is None:
        region = [(0, s) for s in shape]
    ranges = [range(a // c, (b - 1) // c + 1) for (a, b), c in zip(region, chunks)]
    wanted = [tuple(i) for i in np.ndindex(*[len(r) for r in ranges])]
    wanted = [tuple(r[j] for r, j in zip(ranges, idx)) for idx in wanted]
    root = os.path.join(path, "data")
    out = []
    if fmt == "n5":
        for idx in wanted:
            file = os.path.join(root, *[str(i) for i in idx[::-1]])
            with open(file, "rb") as f:
                head = f.read(8)
                mode, ndim = int.from_bytes(head[0:2], "big"), int.from_bytes(head[2:4], "big")
            offset = 4 + 4 * ndim + (4 if mode == 1 else 0)
            out.append((file, offset, None))
    elif fmt == "zarr2":
        with open(os.path.join(root, ".zarray")) as f:
            sep = json.load(f).get("dimension_separator") or "."
        for idx in wanted:
            out.append((os.path.join(root, sep.join(str(i) for i in idx)), 0, None))
    elif not cfg["shards"]:
        for idx in wanted:
            out.append((os.path.join(root, "c", *[str(i) for i in idx]), 0, None))
    else:
        shards = cfg["shards"]
        per_shard = [s // c for s, c in zip(shards, chunks)]
        n_inner = int(np.prod(per_shard))
        indexes: dict[tuple, np.ndarray] = {}
        for idx in wanted:
            shard = tuple(i // p for i, p in zip(idx, per_shard))
            file = os.path.join(root, "c", *[str(i) for i in shard])
            if shard not in indexes:
                with open(file, "rb") as f:
                    f.seek(-(16 * n_inner + 4), os.SEEK_END)
                    raw = f.read(16 * n_inner)
                indexes[shard] = np.frombuffer(raw, dtype="<u8").reshape(n_inner, 2)
            inner = tuple(i % p for i, p in zip(idx, per_shard))
            offset, nbytes = indexes[shard][int(np.ravel_multi_index(inner, per_shard))]
            out.append((file, int(offset), int(nbytes)))
    return out


def _gzip_decoder():
    """The fastest whole-buffer gzip/zlib decoder installed: libdeflate (the ``deflate``
    package) or the standard library's zlib."""
    try:
        import deflate

        def decode(payload, out):
            if payload[:2] == b"\x1f\x8b":
                data = deflate.gzip_decompress(payload)
            else:
                data = deflate.zlib_decompress(payload, len(out))
            out[:] = data

        return decode, f"libdeflate (deflate {_version('deflate')})"
    except ImportError:

        def decode(payload, out):
            out[:] = zlib.decompress(payload, wbits=47)

        return decode, f"zlib {zlib.ZLIB_RUNTIME_VERSION}"


def _version(package: str) -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "?"


class Limit:
    """Times the decode of the same payloads in memory (see the module docstring)."""

    def __init__(self, path: str, cfg: dict, region, threads: int) -> None:
        self.cfg, self.threads = cfg, threads
        self.sources = chunk_sources(path, cfg, region)
        chunk_bytes = int(np.prod(cfg["chunks"])) * np.dtype(cfg["dtype"]).itemsize
        self.chunk_bytes = chunk_bytes
        # the preallocated destination: one slot per chunk, touched once so that page
        # faults are not part of the limit
        self.buffer = np.ones(len(self.sources) * chunk_bytes, dtype=np.uint8)
        self.slots = [
            memoryview(self.buffer)[i * chunk_bytes : (i + 1) * chunk_bytes]
            for i in range(len(self.sources))
        ]
        codec = cfg["codec"]
        if codec == "raw":
            self.impl = "os.preadv of the chunk files"
            self.payloads = None
        else:
            self.payloads = []
            for file, offset, length in self.sources:
                with open(file, "rb") as f:
                    f.seek(offset)
                    self.payloads.append(f.read() if length is None else f.read(length))
            if codec == "gzip":
                self.decode, self.impl = _gzip_decoder()
            elif codec == "blosc":
                from numcodecs import blosc

                blosc.use_threads = False  # contextual, single-threaded decompression
                self.decode = lambda payload, out: blosc.decompress(payload, out)
                self.impl = f"numcodecs {_version('numcodecs')} blosc"
            elif codec == "zstd":
                from numcodecs import Zstd

                zstd = Zstd()
                self.decode = lambda payload, out: zstd.decode(payload, out=out)
                self.impl = f"numcodecs {_version('numcodecs')} zstd"
            # check once that the payloads decode to the chunk size
            self.decode(self.payloads[0], self.slots[0])

    def _run_raw(self, indices) -> None:
        fd, current = -1, None
        for i in indices:
            file, offset, _ = self.sources[i]
            if file != current:
                if fd >= 0:
                    os.close(fd)
                fd, current = os.open(file, os.O_RDONLY), file
            os.preadv(fd, [self.slots[i]], offset)
        if fd >= 0:
            os.close(fd)

    def _run_codec(self, indices) -> None:
        decode, payloads, slots = self.decode, self.payloads, self.slots
        for i in indices:
            decode(payloads[i], slots[i])

    def time(self) -> float:
        run = self._run_raw if self.payloads is None else self._run_codec
        n = len(self.sources)
        if self.threads == 1:
            t0 = time.perf_counter()
            run(range(n))
            return time.perf_counter() - t0
        # contiguous blocks per thread (a shard's chunks stay together)
        bounds = [n * k // self.threads for k in range(self.threads + 1)]
        parts = [range(bounds[k], bounds[k + 1]) for k in range(self.threads)]
        with ThreadPoolExecutor(self.threads) as pool:
            pool.submit(lambda: None).result()  # threads started before timing
            t0 = time.perf_counter()
            for future in [pool.submit(run, part) for part in parts]:
                future.result()
            return time.perf_counter() - t0


# ------------------------------------------------------------------------------------------
# orchestration


def machine_info() -> dict:
    info = {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            info["mem_gib"] = round(int(f.readline().split()[1]) / MIB, 1)
    except OSError:
        pass
    try:
        info["loadavg_start"] = os.getloadavg()
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            check=False,
            text=True,
            cwd=os.path.dirname(os.path.abspath(__file__)),
        )
        info["git_commit"] = commit.stdout.strip()
    except OSError:
        pass
    return info


def median(values):
    return statistics.median(values) if values else None


class Bench:
    def __init__(self, args) -> None:
        self.args = args
        preset = PRESETS[args.preset]
        self.data = args.data or preset["data"]
        self.formats = args.formats or preset["formats"]
        self.codecs = args.codecs or preset["codecs"]
        nproc = os.cpu_count() or 1
        self.threads = args.threads or preset["threads"] or sorted({1, 2, nproc})
        self.reps = args.reps or preset["reps"]
        # reads are cheap next to writes: more of them make the median robust against the
        # occasional slow first touch of freshly mapped memory (see README)
        self.read_reps = args.read_reps or preset.get("read_reps") or self.reps
        # extra rounds (all operations) while a configuration has taken less than budget_s
        self.max_reps = max(args.max_reps or preset.get("max_reps") or 0, self.reps, self.read_reps)
        self.budget_s = args.budget if args.budget is not None else preset.get("budget_s", 0.0)
        self.rss = preset["rss"] if args.rss is None else args.rss
        self.libs = [
            lib
            for lib in (args.libs or preset.get("libs") or LIBS)
            if lib != "z5py-ref" or args.z5py_ref_python
        ]
        if "z5py" not in self.libs:
            self.libs.insert(0, "z5py")
        self.own_workdir = args.workdir is None
        self.workdir = args.workdir or tempfile.mkdtemp(prefix="z5py-bench-")
        os.makedirs(self.workdir, exist_ok=True)
        self.log_dir = os.path.join(self.workdir, "logs")
        os.makedirs(self.log_dir, exist_ok=True)
        self.workers: dict[tuple[str, int], Worker] = {}
        self.versions: dict[str, str] = {}
        self.unavailable: dict[str, str] = {}
        self.rows: list[dict] = []
        self.rss_rows: list[dict] = []

    def python_for(self, lib: str) -> str:
        return self.args.z5py_ref_python if lib == "z5py-ref" else sys.executable

    def start_workers(self) -> None:
        for lib in list(self.libs):
            for threads in self.threads:
                worker = Worker(lib, threads, self.python_for(lib), self.log_dir)
                if not worker.available:
                    self.unavailable[lib] = worker.version
                    worker.close()
                    break
                self.workers[(lib, threads)] = worker
                self.versions[lib] = worker.version
        self.libs = [lib for lib in self.libs if lib not in self.unavailable]
        if "z5py" not in self.libs:
            raise SystemExit(f"z5py is not importable: {self.unavailable.get('z5py')}")

    def stop_workers(self) -> None:
        for worker in self.workers.values():
            worker.close()

    def supported(self, lib: str, cfg: dict) -> bool:
        return cfg["format"] not in UNSUPPORTED_FORMATS.get(lib, set())

    def log(self, message: str) -> None:
        if not self.args.quiet:
            print(message, file=sys.stderr, flush=True)

    def run(self) -> dict:
        started = time.time()
        info = machine_info()
        self.start_workers()
        try:
            for data in self.data:
                src = source_path(self.workdir, data)
                for fmt in self.formats:
                    for codec in self.codecs:
                        subset = DATASETS[data].get("codecs")
                        if subset and not self.args.codecs and codec not in subset:
                            continue
                        self.run_config(src, make_cfg(data, fmt, codec))
            if self.rss:
                self.run_rss()
        finally:
            self.stop_workers()
        try:
            info["loadavg_end"] = os.getloadavg()
        except OSError:
            pass
        result = {
            "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
            "preset": self.args.preset,
            "date": time.strftime("%Y-%m-%d %H:%M", time.localtime(started)),
            "machine": info,
            "versions": self.versions,
            "unavailable": self.unavailable,
            "reps": self.reps,
            "read_reps": self.read_reps,
            "max_reps": self.max_reps,
            "budget_s": self.budget_s,
            "threads": self.threads,
            "elapsed_s": round(time.time() - started, 1),
            "rows": self.rows,
            "rss": self.rss_rows,
        }
        result["summary"] = summarize(self.rows)
        if self.own_workdir and not self.args.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)
        return result

    def run_config(self, src: str, cfg: dict) -> None:
        ext = "n5" if cfg["format"] == "n5" else "zarr"
        name = f"{cfg['data']}_{cfg['format']}_{cfg['codec']}"
        self.log(f"== {name}")
        canonical = os.path.join(self.workdir, f"canonical_{name}.{ext}")
        writer = self.workers[("z5py", max(self.threads))]
        reply = writer.request(cmd="write", path=canonical, cfg=cfg, data=src)
        if "error" in reply:
            self.log(f"   z5py cannot write {name}: {reply['error']}")
            for threads in self.threads:
                for op in ("write", "read", "read_partial"):
                    self.rows.append(
                        self._row(cfg, threads, op, {"z5py": {"error": reply["error"]}}, None)
                    )
            return
        region = [list(r) for r in DATASETS[cfg["data"]]["region"]]
        for threads in self.threads:
            libs = [lib for lib in self.libs if self.supported(lib, cfg)]
            results = {
                op: {lib: {"times": [], "cpu": [], "errors": []} for lib in libs}
                for op in ("write", "read", "read_partial")
            }
            own_copy: dict[str, str] = {}
            limits = {op: {"times": []} for op in ("read", "read_partial")}
            limit_objects = {}
            for op, reg in (("read", None), ("read_partial", region)):
                try:
                    limit_objects[op] = Limit(canonical, cfg, reg, threads)
                    limits[op]["impl"] = limit_objects[op].impl
                except Exception as error:  # noqa: BLE001  (numcodecs missing, say)
                    limits[op]["error"] = f"{type(error).__name__}: {error}"
            # one untimed full read per library first (lazy initialisation, first-touch
            # effects); a library that cannot open z5py's files reads its own from then on
            for lib in libs:
                reply = self.workers[(lib, threads)].request(
                    cmd="read", path=canonical, cfg=cfg, data=src, region=None
                )
                if "error" in reply:
                    for op in ("read", "read_partial"):
                        results[op][lib]["own_files"] = True
                        results[op][lib]["canonical_error"] = reply["error"]
                elif reply.get("equal") is False:
                    for op in ("read", "read_partial"):
                        results[op][lib]["errors"].append("read differs from the source")
                        results[op][lib]["unequal"] = True
            base = max(self.reps, self.read_reps)
            begun = time.perf_counter()
            rep = 0
            while rep < base or (
                rep < self.max_reps and time.perf_counter() - begun < self.budget_s
            ):
                order = libs[rep % len(libs) :] + libs[: rep % len(libs)]
                for lib in order if rep < self.reps or rep >= base else ():
                    target = os.path.join(self.workdir, f"w_{lib}_t{threads}_r{rep}.{ext}")
                    reply = self.workers[(lib, threads)].request(
                        cmd="write", path=target, cfg=cfg, data=src
                    )
                    self._record(results["write"][lib], reply)
                    # keep the last copy: a library that cannot read z5py's files reads it
                    previous = own_copy.get(lib)
                    own_copy[lib] = target
                    if previous:
                        shutil.rmtree(previous, ignore_errors=True)
                for op, reg in (("read", None), ("read_partial", region)):
                    for lib in order:
                        worker = self.workers[(lib, threads)]
                        cell = results[op][lib]
                        if cell.get("own_files") and lib not in own_copy:
                            continue  # its write failed too
                        # e.g. tensorstore rejects z5py's N5 blosc "nthreads" member
                        path = own_copy[lib] if cell.get("own_files") else canonical
                        reply = worker.request(cmd="read", path=path, cfg=cfg, data=src, region=reg)
                        self._record(cell, reply)
                    if op in limit_objects:
                        limits[op]["times"].append(limit_objects[op].time())
                rep += 1
            for path in own_copy.values():
                shutil.rmtree(path, ignore_errors=True)
            for op in ("write", "read", "read_partial"):
                self.rows.append(self._row(cfg, threads, op, results[op], limits.get(op)))
                self.log("   " + format_row(self.rows[-1], self.libs))
        shutil.rmtree(canonical, ignore_errors=True)

    @staticmethod
    def _record(cell: dict, reply: dict) -> None:
        if "error" in reply:
            cell["errors"].append(reply["error"])
        elif reply.get("equal", True) is False:
            cell["errors"].append("read differs from the source")
            cell["unequal"] = True
        else:
            cell["times"].append(reply["t"])
            cell["cpu"].append(reply["cpu"])
            cell.setdefault("minflt", []).append(reply.get("minflt"))

    def _row(self, cfg: dict, threads: int, op: str, cells: dict, limit) -> dict:
        region = None if op != "read_partial" else DATASETS[cfg["data"]]["region"]
        nbytes = region_nbytes(cfg, region)
        libs = {}
        for lib, cell in cells.items():
            entry = {
                "times": cell.get("times", []),
                "cpu": cell.get("cpu", []),
                "minflt": cell.get("minflt", []),
            }
            if cell.get("errors"):
                entry["error"] = cell["errors"][0]
            if cell.get("unequal"):
                entry["unequal"] = True
            if cell.get("own_files"):
                entry["own_files"] = True
                entry["canonical_error"] = cell["canonical_error"]
            # a cell counts only if every repetition succeeded and every read was equal
            if entry["times"] and "error" not in entry:
                entry["median_s"] = median(entry["times"])
                entry["median_cpu_s"] = median(entry["cpu"])
                entry["mb_s"] = nbytes / entry["median_s"] / 1e6
            libs[lib] = entry
        if op != "write":
            libs_equal = all(not c.get("unequal") for c in libs.values())
        else:
            libs_equal = None
        row = {
            "data": cfg["data"],
            "format": cfg["format"],
            "codec": cfg["codec"],
            "dtype": cfg["dtype"],
            "shape": cfg["shape"],
            "chunks": cfg["chunks"],
            "shards": cfg["shards"],
            "threads": threads,
            "op": op,
            "nbytes": nbytes,
            "libs": libs,
            "reads_equal": libs_equal,
            "loadavg_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        }
        ours = libs.get("z5py", {}).get("mb_s")
        others = [c["mb_s"] for lib, c in libs.items() if lib != "z5py" and "mb_s" in c]
        if ours and others:
            best = max(others)
            row["fastest_other"] = next(
                lib for lib, c in libs.items() if lib != "z5py" and c.get("mb_s") == best
            )
            row["ratio"] = ours / best
            if threads == 1:
                # on one thread CPU time is the work done, and it moves far less than wall
                # time when other processes share the machine
                cpus = [
                    c["median_cpu_s"] for lib, c in libs.items() if lib != "z5py" and "mb_s" in c
                ]
                row["cpu_ratio"] = min(cpus) / libs["z5py"]["median_cpu_s"]
        if limit is not None:
            row["limit"] = dict(limit)
            if limit.get("times"):
                row["limit"]["median_s"] = median(limit["times"])
                row["limit"]["mb_s"] = nbytes / row["limit"]["median_s"] / 1e6
                if ours:
                    row["efficiency"] = row["limit"]["median_s"] / libs["z5py"]["median_s"]
        return row

    def run_rss(self) -> None:
        data = self.data[0]
        src = source_path(self.workdir, data)
        for fmt, codec in RSS_CASES:
            if fmt not in self.formats:
                continue
            cfg = make_cfg(data, fmt, codec)
            ext = "n5" if fmt == "n5" else "zarr"
            canonical = os.path.join(self.workdir, f"rss_canonical.{ext}")
            self.workers[("z5py", max(self.threads))].request(
                cmd="write", path=canonical, cfg=cfg, data=src
            )
            itemsize = np.dtype(cfg["dtype"]).itemsize
            unit = cfg["shards"] or cfg["chunks"]
            unit_bytes = int(np.prod(unit)) * itemsize
            nbytes = region_nbytes(cfg, None)
            for threads in self.threads:
                for lib in self.libs:
                    if not self.supported(lib, cfg):
                        continue
                    if lib != "z5py" and threads != max(self.threads):
                        continue  # peers only at the highest thread count
                    for op in ("read", "write"):
                        path = (
                            canonical
                            if op == "read"
                            else os.path.join(self.workdir, f"rss_write.{ext}")
                        )
                        cmd = [
                            self.python_for(lib),
                            os.path.abspath(__file__),
                            "--rss-probe",
                            lib,
                            "--threads",
                            str(threads),
                            "--op",
                            op,
                            "--path",
                            path,
                            "--cfg",
                            json.dumps(cfg),
                            "--data",
                            src,
                        ]
                        proc = subprocess.run(
                            cmd,
                            capture_output=True,
                            text=True,
                            check=False,
                            env=worker_env(lib, threads),
                        )
                        row = {
                            "data": data,
                            "format": fmt,
                            "codec": codec,
                            "lib": lib,
                            "threads": threads,
                            "op": op,
                            "array_bytes": nbytes,
                            "unit_bytes": unit_bytes,
                            "budget_bytes": nbytes + 2 * unit_bytes * threads + 64 * MIB,
                        }
                        try:
                            probe = json.loads(proc.stdout.strip().splitlines()[-1])
                            row.update(probe)
                            row["extra_bytes"] = (probe["peak_kib"] - probe["base_kib"]) * 1024
                            if op == "write":
                                # the source array is loaded after "base": it is the array
                                pass
                            row["within_budget"] = row["extra_bytes"] <= row["budget_bytes"]
                        except (IndexError, ValueError, KeyError):
                            row["error"] = (proc.stderr or "no output").strip()[-300:]
                        self.rss_rows.append(row)
                        self.log("   rss " + format_rss(row))
                        if op == "write":
                            shutil.rmtree(path, ignore_errors=True)
            shutil.rmtree(canonical, ignore_errors=True)


# ------------------------------------------------------------------------------------------
# reporting


def summarize(rows: list[dict]) -> dict:
    ratios = [r["ratio"] for r in rows if r.get("ratio")]
    effs = [r["efficiency"] for r in rows if r.get("efficiency")]
    unequal = [
        f"{r['data']}/{r['format']}/{r['codec']}/t{r['threads']}/{r['op']}/{lib}"
        for r in rows
        for lib, c in r["libs"].items()
        if c.get("unequal")
    ]
    cpu_ratios = [r["cpu_ratio"] for r in rows if r.get("cpu_ratio")]
    summary = {
        "rows": len(rows),
        "one_thread_rows": len(cpu_ratios),
        "geomean_cpu_ratio_one_thread": math.exp(statistics.fmean(math.log(x) for x in cpu_ratios))
        if cpu_ratios
        else None,
        "one_thread_rows_cpu_below_1_1": sum(1 for x in cpu_ratios if x < 1.1),
        "rows_with_ratio": len(ratios),
        "geomean_ratio": math.exp(statistics.fmean(math.log(x) for x in ratios))
        if ratios
        else None,
        "min_ratio": min(ratios) if ratios else None,
        "rows_below_1_1": sum(1 for x in ratios if x < 1.1),
        "read_rows_with_limit": len(effs),
        "read_rows_below_85pct": sum(1 for x in effs if x < 0.85),
        "unequal_reads": unequal,
    }
    return summary


def _cell(entry) -> str:
    if entry is None:
        return "—"
    if entry.get("unequal"):
        return "NEQ"
    if "mb_s" not in entry:
        return "err"
    return f"{entry['mb_s']:.0f}" + ("*" if entry.get("own_files") else "")


def _short_format(fmt: str) -> str:
    return {"n5": "N5", "zarr2": "zarr2", "zarr3": "zarr3", "zarr3s": "zarr3-sh"}[fmt]


def repetitions(result: dict) -> str:
    """How many repetitions each cell's median is of."""
    reps, read_reps = result["reps"], result.get("read_reps", result["reps"])
    text = f"median of {reps} repetitions ({read_reps} for reads)"
    more = result.get("max_reps", 0)
    if more > max(reps, read_reps) and result.get("budget_s"):
        text += (
            f", more rounds of all (up to {more}) while a configuration has taken less "
            f"than {result['budget_s']:g} s"
        )
    return text


def format_row(row: dict, libs: list[str]) -> str:
    op = {"write": "write", "read": "read", "read_partial": "partial"}[row["op"]]
    cells = [_cell(row["libs"].get(lib)) for lib in libs]
    ratio = f"{row['ratio']:.2f}x" if row.get("ratio") else "—"
    limit = f"{row['limit']['mb_s']:.0f}" if row.get("limit", {}).get("mb_s") else "—"
    eff = f"{row['efficiency'] * 100:.0f}%" if row.get("efficiency") else "—"
    if row["op"] == "write":
        limit = eff = ""
    head = (
        f"{row['data']:<6}{_short_format(row['format']):<9}{row['codec']:<6}"
        f"{row['threads']:>2} {op:<8}"
    )
    body = "".join(f"{c:>12}" for c in cells)
    cpu = f"{row['cpu_ratio']:.2f}x" if row.get("cpu_ratio") else ""
    return f"{head}{body}{ratio:>8}{cpu:>7}{limit:>9}{eff:>6}"


def format_rss(row: dict) -> str:
    if "error" in row:
        return f"{row['lib']:<12}{row['format']:<8}{row['op']:<6} t{row['threads']} error"
    return (
        f"{row['lib']:<12}{_short_format(row['format']):<9}{row['codec']:<6}"
        f"{row['threads']:>2} {row['op']:<6}"
        f"{row['extra_bytes'] / MIB:>9.1f}{(row['extra_bytes'] - row['array_bytes']) / MIB:>9.1f}"
        f"{row['budget_bytes'] / MIB:>9.1f}{'yes' if row['within_budget'] else 'NO':>6}"
    )


def print_scaling(result: dict, out) -> None:
    """z5py's throughput on the 1 GiB volume against the 64 MiB one, when both ran."""
    small = {
        (r["format"], r["codec"], r["threads"], r["op"]): r
        for r in result["rows"]
        if r["data"] == "u8"
    }
    lines = []
    for r in result["rows"]:
        key = (r["format"], r["codec"], r["threads"], r["op"])
        if r["data"] != "u8big" or key not in small:
            continue
        a = small[key]["libs"]["z5py"].get("mb_s")
        b = r["libs"]["z5py"].get("mb_s")
        if a and b:
            lines.append(
                f"{_short_format(key[0]):<9}{key[1]:<6}{key[2]:>2} {key[3]:<13}"
                f"{a:>9.0f}{b:>9.0f}{b / a:>8.2f}x"
            )
    if lines:
        print(file=out)
        print("z5py from 64 MiB (u8) to 1 GiB (u8big), MB/s:", file=out)
        print(
            f"{'format':<9}{'codec':<6}{'th':>2} {'op':<13}{'64 MiB':>9}{'1 GiB':>9}{'ratio':>9}",
            file=out,
        )
        for line in lines:
            print(line, file=out)


def print_report(result: dict, out=sys.stdout) -> None:
    libs = [lib for lib in LIBS if lib in result["versions"]]
    m = result["machine"]
    print(
        f"machine: {m.get('cpu', '?')}, {m.get('nproc')} cores, {m.get('mem_gib')} GiB; "
        f"load average at start {[round(x, 1) for x in m.get('loadavg_start', [])]}",
        file=out,
    )
    loads = [r["loadavg_1min"] for r in result["rows"] if r.get("loadavg_1min") is not None]
    if loads:
        print(
            f"1-minute load average during the run: min {min(loads):.1f}, median "
            f"{statistics.median(loads):.1f}, max {max(loads):.1f} (the benchmark itself adds "
            "about 1-2)",
            file=out,
        )
    print("versions: " + ", ".join(f"{lib} {v}" for lib, v in result["versions"].items()), file=out)
    if result["unavailable"]:
        print(
            "not measured: "
            + ", ".join(f"{lib} ({why})" for lib, why in result["unavailable"].items()),
            file=out,
        )
    print(
        f"{repetitions(result)}; warm page cache; MB/s = 1e6 bytes of uncompressed data per second",
        file=out,
    )
    print(file=out)
    head = f"{'data':<6}{'format':<9}{'codec':<6}{'th':>2} {'op':<8}"
    print(
        head
        + "".join(f"{lib:>12}" for lib in libs)
        + f"{'ratio':>8}{'cpu':>7}{'limit':>9}{'eff':>6}",
        file=out,
    )
    for row in result["rows"]:
        print(format_row(row, libs), file=out)
    s = result["summary"]
    print(file=out)
    if s["geomean_ratio"]:
        print(
            f"ratio = z5py / fastest other library: geometric mean {s['geomean_ratio']:.2f}x, "
            f"minimum {s['min_ratio']:.2f}x, {s['rows_below_1_1']} of "
            f"{s['rows_with_ratio']} rows below 1.1x",
            file=out,
        )
    if s.get("geomean_cpu_ratio_one_thread"):
        print(
            "CPU-time ratio on 1 thread (least CPU time of another library / z5py's): "
            f"geometric mean {s['geomean_cpu_ratio_one_thread']:.2f}x, "
            f"{s['one_thread_rows_cpu_below_1_1']} of {s['one_thread_rows']} rows below 1.1x",
            file=out,
        )
    print(
        f"reads below 85% of the limit: {s['read_rows_below_85pct']} of "
        f"{s['read_rows_with_limit']}",
        file=out,
    )
    if s["unequal_reads"]:
        print("READS NOT EQUAL TO THE SOURCE: " + ", ".join(s["unequal_reads"]), file=out)
    errors = [
        (r, lib, c["error"])
        for r in result["rows"]
        for lib, c in r["libs"].items()
        if "error" in c and not c.get("unequal")
    ]
    own = [
        (r, lib, c["canonical_error"])
        for r in result["rows"]
        for lib, c in r["libs"].items()
        if c.get("own_files")
    ]
    seen = set()
    for r, lib, error in own:
        key = (r["data"], r["format"], r["codec"], lib)
        if key not in seen:
            seen.add(key)
            print(
                f"* {lib} {r['data']}/{r['format']}/{r['codec']}: read its own files, it "
                f"cannot open z5py's: {error[:160]}",
                file=out,
            )
    for r, lib, error in errors:
        print(
            f"err {lib} {r['data']}/{r['format']}/{r['codec']}/t{r['threads']}/{r['op']}: "
            f"{error[:200]}",
            file=out,
        )
    print_scaling(result, out)
    if result["rss"]:
        print(file=out)
        print(
            "peak RSS of a full read / write in a fresh process: extra = peak - RSS before "
            "the operation (MiB), -array = extra minus the array's size; budget = array + 2 storage "
            "units per thread + 64 MiB",
            file=out,
        )
        print(
            f"{'lib':<12}{'format':<9}{'codec':<6}{'th':>2} {'op':<6}{'extra':>9}"
            f"{'-array':>9}{'budget':>9}{'ok':>6}",
            file=out,
        )
        for row in result["rss"]:
            print(format_rss(row), file=out)


def markdown_report(result: dict) -> str:
    """The run's table as a Markdown section (machine, command, then the plain table)."""
    import io

    m = result["machine"]
    buf = io.StringIO()
    print_report(result, out=buf)
    lines = [
        f"## Run of {result.get('date', '?')}",
        "",
        (
            f"- machine: {m.get('cpu', '?')} ({m.get('nproc')} cores), {m.get('mem_gib')} GiB, "
            f"Linux {m.get('kernel')}, Python {m.get('python')}"
        ),
        f"- repository commit: {m.get('git_commit', '?')}",
        f"- command: `{result['command']}`",
        f"- {repetitions(result)}, threads {result['threads']}, {result['elapsed_s']} s in all",
        "",
        "```text",
        buf.getvalue().rstrip(),
        "```",
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------
# command line


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="quick",
        help="matrix size: tiny (smoke test), quick (default), full",
    )
    p.add_argument("--reps", type=int, help="repetitions per cell (median is reported)")
    p.add_argument("--read-reps", type=int, help="repetitions of the reads (default: --reps)")
    p.add_argument(
        "--max-reps",
        type=int,
        help="more rounds of every operation, up to this many, while a configuration has "
        "taken less than --budget seconds (full preset: 9)",
    )
    p.add_argument(
        "--budget", type=float, help="seconds per configuration for --max-reps (full: 5)"
    )
    p.add_argument(
        "--threads",
        type=lambda s: [int(x) for x in s.split(",")],
        help="thread counts, comma separated (full default: 1, 2, nproc)",
    )
    p.add_argument("--data", nargs="+", choices=sorted(DATASETS), help="data sets")
    p.add_argument("--formats", nargs="+", choices=FORMATS)
    p.add_argument("--codecs", nargs="+", choices=CODECS)
    p.add_argument(
        "--libs",
        nargs="+",
        choices=LIBS,
        help="libraries (z5py always runs; missing ones are reported)",
    )
    p.add_argument(
        "--z5py-ref-python",
        default=os.environ.get("Z5PY_REF_PYTHON"),
        help="python of a virtualenv with the published z5py (default: $Z5PY_REF_PYTHON)",
    )
    p.add_argument(
        "--rss",
        dest="rss",
        action="store_true",
        default=None,
        help="measure peak RSS (on in the full preset)",
    )
    p.add_argument("--no-rss", dest="rss", action="store_false")
    p.add_argument("--out", help="JSON output path (default: benches/results/<time>.json)")
    p.add_argument("--workdir", help="scratch directory (default: a new temporary one)")
    p.add_argument("--keep", action="store_true", help="keep the scratch directory")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.add_argument("--report", metavar="JSON", help="print the table of a saved result")
    p.add_argument(
        "--markdown", action="store_true", help="with --report: as Markdown (for RESULTS.md)"
    )
    # internal modes
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--rss-probe", help=argparse.SUPPRESS)
    p.add_argument("--op", help=argparse.SUPPRESS)
    p.add_argument("--path", help=argparse.SUPPRESS)
    p.add_argument("--cfg", help=argparse.SUPPRESS)
    p.add_argument("--data-file", dest="data_file", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--rss-probe" in argv:
        # the probe's --data is a file, not a data set name
        i = argv.index("--data")
        argv = argv[:i] + ["--data-file", argv[i + 1]] + argv[i + 2 :]
        args = parse_args(argv)
        args.data = args.data_file
        args.threads = args.threads[0]
        rss_probe_main(args)
        return 0
    args = parse_args(argv)
    if args.worker:
        worker_main(args.worker, args.threads[0])
        return 0
    if args.report:
        with open(args.report) as f:
            saved = json.load(f)
        if args.markdown:
            print(markdown_report(saved))
        else:
            print_report(saved)
        return 0
    result = Bench(args).run()
    out = args.out or os.path.join(
        os.path.dirname(os.path.abspath(__file__)),
        "results",
        time.strftime("%Y%m%d-%H%M%S") + ".json",
    )
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
    print_report(result)
    print(f"\nJSON: {out}  ({result['elapsed_s']} s)")
    unequal = result["summary"]["unequal_reads"]
    return 1 if unequal else 0


if __name__ == "__main__":
    sys.exit(main())
