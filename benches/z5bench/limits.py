"""The limit: decoding the same chunk payloads in memory."""

from __future__ import annotations

import json
import os
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np


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


def gzip_decoder():
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

        return decode, f"libdeflate (deflate {package_version('deflate')})"
    except ImportError:

        def decode(payload, out):
            out[:] = zlib.decompress(payload, wbits=47)

        return decode, f"zlib {zlib.ZLIB_RUNTIME_VERSION}"


def package_version(package: str) -> str:
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
                self.decode, self.impl = gzip_decoder()
            elif codec == "blosc":
                from numcodecs import blosc

                blosc.use_threads = False  # contextual, single-threaded decompression
                self.decode = lambda payload, out: blosc.decompress(payload, out)
                self.impl = f"numcodecs {package_version('numcodecs')} blosc"
            elif codec == "zstd":
                from numcodecs import Zstd

                zstd = Zstd()
                self.decode = lambda payload, out: zstd.decode(payload, out=out)
                self.impl = f"numcodecs {package_version('numcodecs')} zstd"
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
