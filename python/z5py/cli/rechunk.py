"""``z5py rechunk``: ``convert`` restricted to N5 / Zarr, with ``--chunks`` required."""

from __future__ import annotations

import argparse

from . import convert

__all__ = ["add_parser", "run"]


def add_parser(sub, wrap, epilog: str) -> None:
    p = sub.add_parser(
        "rechunk",
        help="copy an N5/Zarr dataset with new chunks",
        description=wrap(
            "Copy an N5/Zarr dataset into a new dataset with other chunks (and "
            "optionally dtype, format or codec)."
        ),
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("src", metavar="SRC", help="source dataset, e.g. vol.n5/raw")
    p.add_argument("dst", metavar="DST", help="destination dataset, e.g. vol.n5/raw_rechunked")
    convert.add_copy_options(p, chunks_required=True)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return convert.run(args, rechunk_only=True)
