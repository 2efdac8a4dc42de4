"""The command line of benches/bench.py."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from . import BENCHES_DIR
from .matrix import CODECS, DATASETS, FORMATS, LIBS, PRESETS
from .report import markdown_report, print_report
from .rss import rss_probe_main
from .runner import Bench
from .worker import worker_main

DESCRIPTION = """\
Side-by-side benchmark: z5py (this rewrite) against the C++ z5py, zarr-python (with and
without the zarrs codec pipeline) and tensorstore."""


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
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
        BENCHES_DIR,
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
