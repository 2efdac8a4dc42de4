"""``z5py rechunk``: ``convert`` restricted to N5 / Zarr, with ``--chunks`` required."""

from __future__ import annotations

import argparse

from . import convert

__all__ = ["add_parser", "run"]


def add_parser(sub, wrap, epilog: str) -> None:
    convert.add_copy_command(
        sub,
        "rechunk",
        help="copy an N5/Zarr dataset with new chunks",
        description=wrap(
            "Copy an N5/Zarr dataset into a new dataset with other chunks (and "
            "optionally dtype, format or codec)."
        ),
        epilog=epilog,
        examples=("vol.n5/raw", "vol.n5/raw_rechunked"),
        chunks_required=True,
        func=run,
    )


def run(args: argparse.Namespace) -> int:
    return convert.run(args, rechunk_only=True)
