"""``z5py verify``: decode every stored chunk and report the damaged ones (exit status 1)."""

from __future__ import annotations

import argparse

from .._location import is_url
from ..clean import find_lock_files, find_temp_files
from ..verify import iter_datasets, verify_dataset
from .common import (
    CliError,
    add_storage_option,
    default_threads,
    existing_container,
    open_node,
    storage_options,
    tuple_str,
)

__all__ = ["add_parser", "run"]


def add_parser(sub, wrap) -> None:
    p = sub.add_parser(
        "verify",
        help="decode every chunk and report damaged ones",
        description=wrap(
            "Decode every stored chunk of a dataset (or of all datasets below a "
            "group/container) and report chunks that are corrupt or of the wrong size.  Exits "
            "with status 1 when any is found."
        ),
    )
    p.add_argument("path", metavar="PATH[/DATASET]")
    p.add_argument("--key", help="dataset or group inside PATH")
    p.add_argument("-j", "--threads", type=int, default=default_threads())
    p.add_argument("-q", "--quiet", action="store_true", help="only report problems")
    add_storage_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    options = storage_options(args)
    container, key, kind = existing_container(args.path, args.key, options)
    if kind == "h5":
        raise CliError("verify checks N5/Zarr containers; HDF5 files are not supported")
    _f, node = open_node(container, key, options)
    datasets = list(iter_datasets(node, key))
    total_bad = 0
    total_checked = 0
    for name, ds in datasets:
        checked, bad = verify_dataset(ds, args.threads)
        total_checked += checked
        total_bad += len(bad)
        for b in bad:
            where = ds.chunk_path(b.index)
            print(f"{b.kind.upper()}: {name} chunk {tuple_str(b.index)} ({where}): {b.message}")
        if not args.quiet:
            status = "OK" if not bad else f"{len(bad)} bad"
            print(f"{name}: {checked} chunks checked, {status}")
    print(
        f"verified {len(datasets)} dataset(s), {total_checked} chunks: "
        + ("all good" if total_bad == 0 else f"{total_bad} bad chunk(s)")
    )
    below = node.path if hasattr(node, "path") else container
    if is_url(below):  # object stores have no temporary or lock files: puts are atomic
        return 0 if total_bad == 0 else 1
    temps = list(find_temp_files(below))
    for temp in temps:
        print(
            f"TEMPORARY: {temp.path} ({temp.size} bytes, {temp.age:.0f} s old, pid "
            f"{temp.pid}): left by an interrupted write of {temp.target}; readers ignore it, "
            "'z5py clean' removes it once it is older than an hour"
        )
    locks = list(find_lock_files(below))
    for lock, age in locks:
        print(
            f"LOCK: {lock} ({age:.0f} s old): held by a running update, or left by a killed "
            "one; 'z5py clean' removes it once it is older than an hour and not held"
        )
    if (temps or locks) and not args.quiet:
        print(f"{len(temps)} temporary file(s) and {len(locks)} lock file(s) of interrupted writes")
    return 0 if total_bad == 0 else 1
