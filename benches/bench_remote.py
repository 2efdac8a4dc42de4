"""Remote reads over a link with latency (issue 11): z5py against tensorstore, zarr-python
(fsspec and obstore stores) and zarr-python with the zarrs codec pipeline, in one run.

Object stores answer each request after tens of milliseconds; what decides a library's speed
there is how many requests it has in flight and how many it makes. This benchmark serves a
directory over HTTP from a server in another process that waits ``--latency-ms`` before
every answer (as a cloud object store does), and times the same reads with each library:

* ``plain``: Zarr v3, 32^3 chunks, zstd, 1,000 chunks in all;
* ``sharded``: the same data in 160^3 shards of those chunks (8 shards);
* ``full``: the whole volume; ``partial``: an unaligned box of about one eighth of it.

Each library runs in its own process (peak RSS is that process's, baseline after imports
subtracted), each row is the median of ``--reps`` runs, and the server counts the requests
every run made; it tags files with an ETag and honours If-Match, as S3, GCS and nginx do.
Every read is checked against the source. HTTP is read-only, so writes are
not measured here.

    python benches/bench_remote.py [--latency-ms 20] [--reps 3] [--libs z5py,tensorstore,...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

SHAPE = (320, 320, 320)
CHUNK = (32, 32, 32)
SHARD = (160, 160, 160)
PARTIAL = (slice(17, 177), slice(45, 205), slice(3, 163))
LIBS = ["z5py", "tensorstore", "zarr-fsspec", "zarr-obstore", "zarr-zarrs"]


# --------------------------------------------------------------------------------------
# the server: static files with Range support, a fixed delay per request, request counts


def serve(root: str, latency: float, ready_fd: int) -> None:
    """Serve ``root`` on 127.0.0.1 (HTTP/1.1, keep-alive) until killed; write the port to
    ``ready_fd``. ``GET /__stats`` returns and resets the request count (not delayed)."""
    counts = {"requests": 0, "bytes": 0, "in_flight": 0, "most_in_flight": 0}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                if target == "/__stats":
                    body = json.dumps(counts).encode()
                    counts.update(requests=0, bytes=0, most_in_flight=0)
                    status, extra = "200 OK", {}
                else:
                    counts["requests"] += 1
                    counts["in_flight"] += 1
                    counts["most_in_flight"] = max(counts["most_in_flight"], counts["in_flight"])
                    await asyncio.sleep(latency)
                    counts["in_flight"] -= 1
                    status, extra, body = _answer(root, method, target, headers)
                    counts["bytes"] += len(body)
                hdr = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}"]
                hdr += [f"{k}: {v}" for k, v in extra.items()]
                writer.write(("\r\n".join(hdr) + "\r\n\r\n").encode())
                if method != "HEAD":
                    writer.write(body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
        port = server.sockets[0].getsockname()[1]
        os.write(ready_fd, f"{port}\n".encode())
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def _answer(root: str, method: str, target: str, headers: dict) -> tuple[str, dict, bytes]:
    path = Path(root) / urllib.request.url2pathname(target.split("?", 1)[0].lstrip("/"))
    if method not in ("GET", "HEAD"):
        return "405 Method Not Allowed", {}, b""
    try:
        data = path.read_bytes()
        st = path.stat()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return "404 Not Found", {}, b""
    size = len(data)
    tag = f'"{st.st_mtime_ns:x}-{size:x}"'  # as nginx tags files: mtime and size
    if headers.get("if-match", tag) != tag:
        return "412 Precondition Failed", {"ETag": tag}, b""
    rng = headers.get("range")
    if rng is None:
        return "200 OK", {"Accept-Ranges": "bytes", "ETag": tag}, data
    a, b = rng.removeprefix("bytes=").split(",")[0].split("-")
    start, end = (size - int(b), size - 1) if a == "" else (int(a), int(b) if b else size - 1)
    start, end = max(start, 0), min(end, size - 1)
    if start > end:
        return "416 Range Not Satisfiable", {"Content-Range": f"bytes */{size}"}, b""
    return (
        "206 Partial Content",
        {"Content-Range": f"bytes {start}-{end}/{size}", "ETag": tag},
        data[start : end + 1],
    )


def start_server(root: str, latency_ms: float) -> tuple[subprocess.Popen, str]:
    r, w = os.pipe()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", root, str(latency_ms / 1000), str(w)],
        pass_fds=(w,),
    )
    os.close(w)
    with os.fdopen(r) as f:
        port = int(f.readline())
    return proc, f"http://127.0.0.1:{port}"


def stats(base: str) -> dict:
    with urllib.request.urlopen(f"{base}/__stats") as r:
        return json.loads(r.read())


# --------------------------------------------------------------------------------------
# the libraries, each in its own worker process


def open_array(lib: str, url: str):
    """An object with ``read(selection) -> numpy array`` for ``url`` (a Zarr v3 array)."""
    if lib == "z5py":
        import z5py

        ds = z5py.File(url.rsplit("/", 1)[0], mode="r")[url.rsplit("/", 1)[1]]
        return lambda sel: ds[sel]
    if lib == "tensorstore":
        import tensorstore as ts

        arr = ts.open(
            {"driver": "zarr3", "kvstore": {"driver": "http", "base_url": url}}, read=True
        ).result()
        return lambda sel: arr[sel].read().result()
    import zarr

    if lib == "zarr-fsspec":
        arr = zarr.open_array(url, mode="r")
        return lambda sel: arr[sel]
    from obstore.store import HTTPStore

    if lib == "zarr-zarrs":
        import zarrs  # noqa: F401  (registers the pipeline)

        zarr.config.set({"codec_pipeline.path": "zarrs.ZarrsCodecPipeline"})
    http = HTTPStore.from_url(url, client_options={"allow_http": True})
    store = zarr.storage.ObjectStore(http, read_only=True)
    arr = zarr.open_array(store, mode="r")
    return lambda sel: arr[sel]


def _rss(field: str) -> int:
    """A memory figure of this process from /proc (KiB)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def worker(lib: str, url: str, which: str, reps: int, source: str) -> None:
    import numpy as np

    expect = np.load(source, mmap_mode="r")
    sel = PARTIAL if which == "partial" else tuple(slice(None) for _ in SHAPE)
    want = expect[sel]  # a view of the mapped file: compared slab by slab, never copied whole
    read = open_array(lib, url)
    times, cpus, peaks = [], [], []
    for _ in range(reps):
        base = _rss("VmRSS")
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # the peak (VmHWM) starts again from here
        w0, c0 = time.perf_counter(), time.process_time()
        got = np.asarray(read(sel))
        times.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
        peaks.append(_rss("VmHWM") - base)  # before the comparison maps the source in
        same = got.shape == want.shape and all(
            np.array_equal(got[i : i + 8], want[i : i + 8]) for i in range(0, len(got), 8)
        )
        if not same:
            raise SystemExit(f"{lib}: the {which} read differs from the source")
        del got
    print(
        json.dumps(
            {
                "seconds": statistics.median(times),
                "cpu": statistics.median(cpus),
                "rss_mib": max(peaks) / 1024,
                "out_mib": want.size * want.itemsize / 2**20,
            }
        )
    )


# --------------------------------------------------------------------------------------


def available(lib: str) -> bool:
    mod = {"z5py": "z5py", "tensorstore": "tensorstore", "zarr-fsspec": "fsspec"}.get(lib)
    mods = [mod] if mod else ["zarr", "obstore"] + (["zarrs"] if lib == "zarr-zarrs" else [])
    if lib == "zarr-fsspec":
        mods += ["zarr", "aiohttp"]
    import importlib.util

    return all(importlib.util.find_spec(m) for m in mods)


def write_source(root: Path) -> Path:
    import numpy as np
    import z5py

    rng = np.random.default_rng(0)
    grad = np.add.outer(np.add.outer(np.arange(SHAPE[0]), np.arange(SHAPE[1])), np.arange(SHAPE[2]))
    data = ((grad // 3) + rng.integers(0, 8, SHAPE)).astype("uint8")
    np.save(root / "source.npy", data)
    f = z5py.File(root / "v.zarr", mode="w", zarr_format=3)
    f.create_dataset("plain", data=data, chunks=CHUNK, compression="zstd")
    f.create_dataset("sharded", data=data, chunks=CHUNK, shards=SHARD, compression="zstd")
    return root / "source.npy"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--latency-ms", type=float, default=20.0)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--libs", default=",".join(LIBS))
    ap.add_argument("--cases", default="plain,sharded")
    ap.add_argument("--reads", default="full,partial")
    args = ap.parse_args()
    libs = [lib for lib in args.libs.split(",") if available(lib)]
    missing = sorted(set(args.libs.split(",")) - set(libs))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        source = write_source(root)
        proc, base = start_server(str(root), args.latency_ms)
        try:
            rows = []
            for case in args.cases.split(","):
                for which in args.reads.split(","):
                    for lib in libs:
                        stats(base)
                        out = subprocess.run(
                            [
                                sys.executable,
                                __file__,
                                "--worker",
                                lib,
                                f"{base}/v.zarr/{case}",
                                which,
                                str(args.reps),
                                str(source),
                            ],
                            capture_output=True,
                            check=False,
                            text=True,
                        )
                        if out.returncode:
                            rows.append((case, which, lib, None, out.stderr.strip()[-300:]))
                            continue
                        r = json.loads(out.stdout.strip().splitlines()[-1])
                        r["requests"] = stats(base)["requests"]  # opening included
                        rows.append((case, which, lib, r, ""))
        finally:
            proc.kill()
    report(rows, args, missing)


def report(rows, args, missing) -> None:
    print(
        f"\nReads over HTTP with {args.latency_ms:g} ms per request; volume {SHAPE} uint8, "
        f"chunks {CHUNK}, shards {SHARD}, zstd; median of {args.reps}"
    )
    print(
        f"{'case':8} {'read':8} {'library':13} {'MiB/s':>8} {'s':>7} {'CPU s':>6} "
        f"{'requests':>9} {'peak MiB':>9} {'vs best peer':>12}"
    )
    for case in dict.fromkeys(r[0] for r in rows):
        for which in dict.fromkeys(r[1] for r in rows if r[0] == case):
            group = [r for r in rows if r[0] == case and r[1] == which]
            peers = [r[3]["seconds"] for r in group if r[3] and r[2] != "z5py"]
            best = min(peers) if peers else None
            for _, _, lib, r, err in group:
                if r is None:
                    print(f"{case:8} {which:8} {lib:13} failed: {err}")
                    continue
                ratio = f"{best / r['seconds']:.2f}x" if best and lib == "z5py" else ""
                print(
                    f"{case:8} {which:8} {lib:13} {r['out_mib'] / r['seconds']:8.1f} "
                    f"{r['seconds']:7.3f} {r['cpu']:6.2f} {r['requests'] // args.reps:9d} "
                    f"{r['rss_mib']:9.1f} {ratio:>12}"
                )
    if missing:
        print(f"not measured (not installed): {', '.join(missing)}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve(sys.argv[2], float(sys.argv[3]), int(sys.argv[4]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6])
    else:
        main()
