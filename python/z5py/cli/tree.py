"""``z5py tree``: print the groups and datasets below a container or group."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import numpy as np

from ..containers import compression_of
from .common import (
    add_storage_option,
    is_dataset,
    kind_name,
    target_node,
    tuple_str,
)

__all__ = ["add_parser", "h5_tree_lines", "run", "tree_lines", "z5_tree_lines"]


def add_parser(sub, wrap) -> None:
    p = sub.add_parser(
        "tree",
        help="print the groups and datasets of a container",
        description=wrap("Print the hierarchy of an N5, Zarr or HDF5 container."),
    )
    p.add_argument("path", metavar="PATH[/GROUP]")
    p.add_argument("--key", help="group inside PATH to start from")
    add_storage_option(p)
    p.set_defaults(func=run)


def tree_lines(group: Any, describe: Callable[[Any], str | None], prefix: str = "") -> list[str]:
    """The members below ``group``, one line each, drawn as a tree.  ``describe`` gives the
    text after a member's name: for a group ``"/"`` (its members follow, indented), ``None``
    for a member that is not shown."""
    lines = []
    names = sorted(group.keys())
    for n, name in enumerate(names):
        last = n == len(names) - 1
        obj = group[name]
        text = describe(obj)
        if text is None:
            continue
        lines.append(f"{prefix}{'└── ' if last else '├── '}{name}{text}")
        if text == "/":
            lines.extend(tree_lines(obj, describe, prefix + ("    " if last else "│   ")))
    return lines


def _z5_member(obj: Any) -> str:
    if not is_dataset(obj):
        return "/"
    comp = compression_of(obj).get("compression", "?")
    return f"  {np.dtype(obj.dtype)} {tuple_str(obj.shape)} chunks {tuple_str(obj.chunks)} {comp}"


def _h5_member(obj: Any) -> str | None:
    import h5py

    if isinstance(obj, h5py.Group):
        return "/"
    if not isinstance(obj, h5py.Dataset):
        return None
    chunks = tuple_str(obj.chunks) if obj.chunks else "contiguous"
    return f"  {obj.dtype} {tuple_str(obj.shape)} chunks {chunks} {obj.compression or 'raw'}"


def z5_tree_lines(group: Any) -> list[str]:
    """The tree below a z5py group."""
    return tree_lines(group, _z5_member)


def h5_tree_lines(group: Any) -> list[str]:
    """The tree below an h5py group."""
    return tree_lines(group, _h5_member)


def run(args: argparse.Namespace) -> int:
    with target_node(args) as (label, kind, node):
        print(f"{label} ({kind_name(kind)})")
        if kind == "h5":
            import h5py

            if isinstance(node, h5py.Group):
                print("\n".join(h5_tree_lines(node)))
        elif not is_dataset(node):
            lines = z5_tree_lines(node)
            if lines:
                print("\n".join(lines))
        else:
            print(
                f"    {np.dtype(node.dtype)} {tuple_str(node.shape)} chunks {tuple_str(node.chunks)}"
            )
    return 0
