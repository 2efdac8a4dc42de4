"""Orchestration: runs the matrix, interleaving the libraries per configuration."""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from . import BENCH_SCRIPT, BENCHES_DIR
from .limits import Limit
from .matrix import (
    DATASETS,
    LIBS,
    MIB,
    PRESETS,
    RSS_CASES,
    UNSUPPORTED_FORMATS,
    make_cfg,
    region_nbytes,
    source_path,
)
from .report import format_row, format_rss, summarize
from .worker import Worker, worker_env


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
            cwd=BENCHES_DIR,
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
                            BENCH_SCRIPT,
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
