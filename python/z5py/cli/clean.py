"""``z5py clean``: remove the temporary and lock files of interrupted writes
(:func:`z5py.clean`)."""

from __future__ import annotations

import argparse
import os

from ..clean import DEFAULT_OLDER_THAN, clean
from .common import CliError

__all__ = ["add_parser", "run"]


def add_parser(sub, wrap) -> None:
    p = sub.add_parser(
        "clean",
        help="remove temporary files left by killed writers",
        description=wrap(
            "Remove the temporary files (.z5tmp.*) and lock files (.z5lock.*) that writers "
            "killed mid-write left below PATH, once they are older than --older-than seconds "
            "(default an hour: no write takes that long, so no live writer can own them; a "
            "lock file some process holds is kept).  Nothing else is touched."
        ),
    )
    p.add_argument("path", metavar="PATH")
    p.add_argument(
        "--older-than",
        type=float,
        default=DEFAULT_OLDER_THAN,
        metavar="SECONDS",
        help="minimum age of a removed file (default %(default)g)",
    )
    p.add_argument("-n", "--dry-run", action="store_true", help="only list what would go")
    p.add_argument("-q", "--quiet", action="store_true", help="no summary line")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not os.path.isdir(args.path):
        raise CliError(f"no such container or directory: {args.path}")
    removed = clean(args.path, older_than=args.older_than, dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    for path in removed:
        print(f"{verb} {path}")
    if not args.quiet:
        print(f"{verb} {len(removed)} temporary file(s) older than {args.older_than:g} s")
    return 0
