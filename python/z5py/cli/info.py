"""``z5py info``: describe a dataset (format, shape, chunks, codec, storage), or a group."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
from typing import Any

import numpy as np

from ..blocks import chunk_nbytes
from ..containers import compression_of, disk_usage
from ..converter import H5PY_ERRORS, h5_attrs_to_json
from .common import (
    add_storage_option,
    codec_str,
    format_name,
    human,
    is_dataset,
    kind_name,
    target_node,
    tuple_str,
)
from .tree import h5_tree_lines, z5_tree_lines

__all__ = ["add_parser", "h5_dataset_lines", "run", "z5_dataset_lines"]


def add_parser(sub, wrap, epilog: str) -> None:
    p = sub.add_parser(
        "info",
        help="describe a dataset or container",
        description=wrap(
            "Show format, shape, chunks, dtype, codec, chunks present, bytes on disk "
            "and compression ratio of a dataset (or the tree of a container/group)."
        ),
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("path", metavar="PATH[/DATASET]")
    p.add_argument("--key", help="dataset or group inside PATH")
    add_storage_option(p)
    p.set_defaults(func=run)


def attrs_line(attrs: dict[str, Any]) -> str:
    return "attributes:   " + json.dumps(attrs, default=str)[:2000]


def z5_dataset_lines(ds: Any, label: str) -> list[str]:
    """The description of a z5py dataset, one property a line."""
    shape = tuple(int(s) for s in ds.shape)
    chunks = tuple(int(c) for c in ds.chunks)
    dtype = np.dtype(ds.dtype)
    codec = compression_of(ds)
    filters = codec.pop("filters", None)
    lines = [
        f"dataset:      {label}",
        f"format:       {format_name(ds)}",
        f"shape:        {tuple_str(shape)}",
        f"chunks:       {tuple_str(chunks)}",
        f"dtype:        {dtype}",
        f"compression:  {codec_str(codec)}",
    ]
    if filters:  # numcodecs JSON: {"id": "delta", "dtype": "<u8", ...}
        named = [
            {"compression": f.get("id", "?")} | {k: v for k, v in f.items() if k != "id"}
            for f in filters
        ]
        lines.append("filters:      " + ", ".join(codec_str(f) for f in named))
    if ds.shards:
        lines.append(f"shards:       {tuple_str(ds.shards)}")
    total_chunks = int(ds.number_of_chunks)
    stored = ds.stored_chunks()
    pct = 100.0 * len(stored) / total_chunks if total_chunks else 0.0
    lines.append(f"chunks stored: {len(stored)} / {total_chunks} ({pct:.1f}%)")
    path = ds.path
    if os.path.isdir(path):
        on_disk, chunk_bytes = disk_usage(path)
        lines.append(f"bytes on disk: {human(on_disk)} ({on_disk} B)")
        raw = sum(chunk_nbytes(i, shape, chunks, dtype.itemsize) for i in stored)
        lines.append(f"uncompressed:  {human(raw)} (stored chunks)")
        ratio = f"{raw / chunk_bytes:.2f}x" if chunk_bytes else "-"
        lines.append(f"compression ratio: {ratio}")
    attrs = dict(ds.attrs.items())
    if attrs:
        lines.append(attrs_line(attrs))
    return lines


def h5_dataset_lines(ds: Any, label: str) -> list[str]:
    """The description of an h5py dataset, one property a line."""
    comp = ds.compression or "raw"
    if ds.compression_opts is not None:
        comp += f" (opts={ds.compression_opts})"
    lines = [
        f"dataset:      {label}",
        "format:       HDF5",
        f"shape:        {tuple_str(ds.shape)}",
        f"chunks:       {tuple_str(ds.chunks) if ds.chunks else 'contiguous'}",
        f"dtype:        {ds.dtype}",
        f"compression:  {comp}",
    ]
    with contextlib.suppress(*H5PY_ERRORS):
        stored = ds.id.get_storage_size()
        raw = int(np.prod(ds.shape, dtype=np.int64)) * ds.dtype.itemsize
        lines.append(f"bytes on disk: {human(stored)} ({stored} B)")
        if ds.chunks:
            n = ds.id.get_num_chunks()
            total = int(np.prod([-(-s // c) for s, c in zip(ds.shape, ds.chunks)]))
            lines.append(f"chunks stored: {n} / {total}")
        ratio = f"{raw / stored:.2f}x" if stored else "-"
        lines.append(f"compression ratio: {ratio}")
    if len(ds.attrs):
        lines.append(attrs_line(h5_attrs_to_json(ds.attrs)))
    return lines


def run(args: argparse.Namespace) -> int:
    with target_node(args) as (label, kind, node):
        if kind == "h5":
            import h5py

            if isinstance(node, h5py.Dataset):
                print("\n".join(h5_dataset_lines(node, label)))
            else:
                print(f"group:        {label}\nformat:       {kind_name(kind)}")
                print("\n".join(h5_tree_lines(node)))
        elif is_dataset(node):
            print("\n".join(z5_dataset_lines(node, label)))
        else:
            print(f"group:        {label}")
            print(f"format:       {kind_name(kind)}")
            attrs = dict(node.attrs.items())
            if attrs:
                print(attrs_line(attrs))
            print("\n".join(z5_tree_lines(node)))
    return 0
