"""The ``z5py`` command line: inspect, convert, rechunk and verify N5 / Zarr / HDF5 data.

Run ``z5py --help`` or ``z5py COMMAND --help`` for the details; ``python -m z5py`` works
the same.  Errors are reported as one line on stderr with a non-zero exit status (set
``Z5PY_DEBUG=1`` or pass ``--debug`` for the full traceback).

One module per command (``info``, ``tree``, ``convert``, ``rechunk``, ``verify``,
``clean``, ``demo``), each with ``add_parser`` and ``run``; they call library functions and only
format what those return.  What they share is in :mod:`z5py.cli.common`.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from collections.abc import Sequence

from . import clean, convert, demo, info, rechunk, tree, verify
from .common import CliError, split_target

__all__ = ["CliError", "build_parser", "main", "split_target"]

EPILOG = """\
Naming data: a dataset is given as the container path followed by the dataset's path
inside it, e.g. `vol.h5/raw`, `vol.n5/volumes/raw` or `out.zarr/raw/s0`.  The container
is recognised by its extension (.h5 .hdf5 .hdf for HDF5, .n5 for N5, .zarr .zr for
Zarr).  For containers without such an extension give the container path alone and the
dataset with --key (info, verify) or --src-key / --dst-key (convert, rechunk).
Containers may be URLs (s3://bucket/vol.n5/raw, gs://, az://, http(s)://): configure
them with -S KEY=VALUE (object_store keys such as endpoint, region) or the AWS_* /
GOOGLE_APPLICATION_CREDENTIALS / AZURE_STORAGE_* environment variables.

Examples:
  z5py info vol.n5/raw
  z5py tree vol.zarr
  z5py convert vol.h5/raw vol.n5/raw --chunks 64,64,64 --compression gzip --level 5
  z5py convert vol.n5/raw back.h5/raw --compression gzip
  z5py rechunk vol.n5/raw vol.n5/raw_flat --chunks 1,256,256
  z5py verify vol.n5
  z5py convert vol.h5/raw s3://lab/em/vol.zarr/raw -S endpoint=http://127.0.0.1:9000
  z5py clean vol.n5 --older-than 3600
  z5py demo
"""


def _wrap(text: str) -> str:
    return textwrap.fill(" ".join(text.split()), width=88)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``z5py`` command."""
    parser = argparse.ArgumentParser(
        prog="z5py",
        description=_wrap(
            "Inspect, convert, rechunk and verify chunked N-d arrays in N5, Zarr and HDF5."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    info.add_parser(sub, _wrap, EPILOG)
    tree.add_parser(sub, _wrap)
    convert.add_parser(sub, _wrap, EPILOG)
    rechunk.add_parser(sub, _wrap, EPILOG)
    verify.add_parser(sub, _wrap)
    clean.add_parser(sub, _wrap)
    demo.add_parser(sub, _wrap)
    return parser


def _error_message(e: BaseException) -> str:
    if isinstance(e, KeyError) and e.args:
        msg = str(e.args[0])
    else:
        msg = str(e) or type(e).__name__
    msg = " ".join(msg.split())  # one line
    if isinstance(e, (CliError, ValueError, KeyError, OSError)):
        return msg
    return f"{type(e).__name__}: {msg}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``z5py`` command line with ``argv`` (default: ``sys.argv[1:]``).

    Returns the exit status: 0 on success, 1 on errors (and on failed verification), 2
    for invalid usage, 130 when interrupted.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return 2
    debug = args.debug or os.environ.get("Z5PY_DEBUG") not in (None, "", "0")
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("z5py: interrupted (run the same command again to resume)", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `z5py tree x | head`
        return 0
    except Exception as e:
        if debug:
            raise
        print(f"z5py {args.command}: error: {_error_message(e)}", file=sys.stderr)
        return 1
