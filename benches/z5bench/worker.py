"""The worker process of one library and thread count, and its handle in the orchestrator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np

from . import BENCH_SCRIPT
from .backends import make_backend
from .matrix import region_slices


def minor_faults() -> int:
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
                f0 = minor_faults()
                c0, t0 = time.process_time(), time.perf_counter()
                backend.write(handle, data)
                reply = {
                    "t": time.perf_counter() - t0,
                    "cpu": time.process_time() - c0,
                    "minflt": minor_faults() - f0,
                }
            elif command == "read":
                region = request["region"]
                handle = backend.open(request["path"], cfg)
                f0 = minor_faults()
                c0, t0 = time.process_time(), time.perf_counter()
                out = backend.read(handle, region)
                elapsed = time.perf_counter() - t0
                cpu = time.process_time() - c0
                minflt = minor_faults() - f0
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
            [python, BENCH_SCRIPT, "--worker", lib, "--threads", str(threads)],
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
