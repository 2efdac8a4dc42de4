"""The peak RSS probe: one full read or write in a fresh process."""

from __future__ import annotations

import json
import os
import sys

import numpy as np

from .backends import make_backend


def status_kib(key: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return -1


def reset_peak() -> bool:
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
        base = status_kib("VmRSS")
        reset = reset_peak()
        out = backend.read(handle, None)
        peak = status_kib("VmHWM")
        ok = out.shape == tuple(cfg["shape"])
    else:
        handle = backend.create(args.path, cfg)
        base = status_kib("VmRSS")
        data = np.load(args.data)
        reset = reset_peak()
        backend.write(handle, data)
        peak = status_kib("VmHWM")
        ok = True
    proto.write(
        json.dumps({"base_kib": base, "peak_kib": peak, "hwm_reset": reset, "ok": bool(ok)}) + "\n"
    )
