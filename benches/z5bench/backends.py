"""The libraries under test behind one interface (used in the worker processes)."""

from __future__ import annotations

import os
import time

import numpy as np

from .matrix import CODEC_OPTIONS, is_zarr, region_slices, zarr_version


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
