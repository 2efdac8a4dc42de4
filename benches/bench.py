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

import sys

from z5bench.cli import main

if __name__ == "__main__":
    sys.exit(main())
