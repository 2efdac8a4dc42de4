"""``z5py convert``: copy a dataset between HDF5, N5 and Zarr (the converters and
:func:`z5py.rechunking.copy_dataset` do the work; this module turns options into their
arguments and reports the result)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from .._location import is_url, same_container
from ..blocks import as_shape
from ..containers import copy_compression, native_dtype
from ..jobs import JobOptions, JobResult
from ..rechunking import copy_dataset
from .common import (
    CliError,
    add_storage_option,
    broadcast,
    container_kind,
    default_threads,
    is_dataset,
    open_node,
    parse_ints,
    parse_value,
    split_target,
    storage_options,
)

__all__ = ["add_copy_command", "add_parser", "run"]


def add_parser(sub, wrap, epilog: str) -> None:
    add_copy_command(
        sub,
        "convert",
        help="convert between HDF5, N5 and Zarr",
        description=wrap(
            "Copy a dataset between HDF5, N5 and Zarr (any direction except "
            "HDF5 to HDF5), optionally changing chunks, dtype and codec.  Works block by block "
            "with bounded memory; an interrupted run resumes where it stopped."
        ),
        epilog=epilog,
        examples=("vol.h5/raw", "vol.n5/raw"),
        chunks_required=False,
        func=run,
    )


def add_copy_command(
    sub,
    name: str,
    *,
    help: str,
    description: str,
    epilog: str,
    examples: tuple[str, str],
    chunks_required: bool,
    func,
) -> None:
    """Add the command ``name`` with the arguments and options ``convert`` and ``rechunk``
    share: SRC and DST (``examples`` shows one of each) and the copy options."""
    p = sub.add_parser(
        name,
        help=help,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("src", metavar="SRC", help=f"source, e.g. {examples[0]}")
    p.add_argument("dst", metavar="DST", help=f"destination, e.g. {examples[1]}")
    p.add_argument("--src-key", help="dataset inside SRC (when SRC is only the container)")
    p.add_argument("--dst-key", help="dataset inside DST (default: the source's name)")
    add_storage_option(p)
    p.add_argument(
        "-c",
        "--chunks",
        required=chunks_required,
        help="output chunk shape, e.g. 64,64,64 (one number applies to every axis; "
        "default: the input's chunks)",
    )
    p.add_argument(
        "-b",
        "--blocks",
        help="copy block shape, a multiple of --chunks (default: chunks enlarged to cover "
        "whole input chunks, up to 64 MiB)",
    )
    p.add_argument("--dtype", help="output dtype, e.g. float32 (values cast with numpy)")
    p.add_argument(
        "--compression",
        help="output codec: raw, gzip, zlib, bzip2, xz, lz4, blosc, zstd for N5/Zarr; raw, gzip, "
        "lzf for HDF5 (default: N5/Zarr keep the input's codec within one format, else the "
        "format default; HDF5 uncompressed)",
    )
    p.add_argument("--level", type=int, help="compression level")
    p.add_argument(
        "-o",
        "--option",
        action="append",
        metavar="KEY=VALUE",
        help="extra codec option (repeatable), e.g. -o codec=zstd -o shuffle=2",
    )
    p.add_argument(
        "--format",
        choices=["n5", "zarr", "zarr3"],
        help="output format when DST has no telling extension; zarr3 makes a new Zarr "
        "container version 3 (default for Zarr: version 2)",
    )
    p.add_argument(
        "--shards",
        help="Zarr v3 only: shard shape, a multiple of --chunks (chunks are then stored "
        "inside shard files)",
    )
    p.add_argument(
        "-j", "--threads", type=int, default=default_threads(), help="threads (default: all cores)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--no-resume",
        action="store_true",
        help="rewrite every block even if the output exists (default: resume, skipping "
        "blocks whose output chunks are all present)",
    )
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run the blocks on a Dask distributed scheduler, e.g. tcp://host:8786",
    )
    p.set_defaults(func=func)


def _client(args: argparse.Namespace):
    address = getattr(args, "scheduler", None)
    if not address:
        return None
    try:
        from distributed import Client
    except ImportError:
        raise CliError("--scheduler needs the 'distributed' package") from None
    return Client(address)


def _zarr_format(args: argparse.Namespace) -> int | None:
    return 3 if getattr(args, "format", None) == "zarr3" else None


def _options(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in args.option or []:
        if "=" not in item:
            raise CliError(f"--option expects KEY=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = parse_value(v.strip())
    return out


def _z5_compression(args: argparse.Namespace, ndim: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    shards = broadcast(parse_ints(getattr(args, "shards", None)), ndim, "--shards")
    if shards is not None:
        out["shards"] = shards
    if args.compression is not None:
        out["compression"] = args.compression
    if args.level is not None:
        out["level"] = args.level
    out.update(_options(args))
    return out


def _h5_compression(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    comp = args.compression
    if comp in (None, "raw"):
        if args.level is not None:
            raise CliError("--level needs --compression gzip for HDF5 output")
    elif comp in ("gzip", "zlib"):
        out["compression"] = "gzip"
        if args.level is not None:
            out["compression_opts"] = args.level
    elif comp == "lzf":
        out["compression"] = "lzf"
    else:
        raise CliError(f"HDF5 output supports the compressions raw, gzip and lzf, not {comp!r}")
    out.update(_options(args))
    return out


def _dst_format(args: argparse.Namespace, container: str) -> str:
    if getattr(args, "format", None):
        return "zarr" if args.format.startswith("zarr") else args.format
    return container_kind(container, storage_options(args))


def run(args: argparse.Namespace, *, rechunk_only: bool = False) -> int:
    """``z5py convert`` (and ``rechunk``): copy a dataset between HDF5, N5 and Zarr."""
    src, src_key = split_target(args.src, args.src_key)
    dst, dst_key = split_target(args.dst, args.dst_key)
    if not src_key:
        raise CliError(f"no source dataset given: write {args.src}/DATASET or use --src-key")
    dst_key = dst_key or src_key
    if not is_url(src) and not os.path.exists(src):
        raise CliError(f"no such file or directory: {src}")
    options = storage_options(args)
    src_kind = container_kind(src, options)
    dst_kind = _dst_format(args, dst)
    if rechunk_only and "h5" in (src_kind, dst_kind):
        raise CliError("rechunk works on N5/Zarr datasets; use `z5py convert` for HDF5")
    if src_kind == "h5" and dst_kind == "h5":
        raise CliError("HDF5 to HDF5 is not supported; convert to N5/Zarr or use h5repack")
    chunks_arg = parse_ints(args.chunks)
    blocks_arg = parse_ints(args.blocks)
    client = _client(args)
    label_src, label_dst = f"{src}/{src_key}", f"{dst}/{dst_key}"
    try:
        if src_kind == "h5" or dst_kind == "h5":
            from ..converter import convert_from_h5, convert_to_h5

            if src_kind == "h5":
                import h5py

                with h5py.File(src, "r") as f:
                    if src_key not in f:
                        raise CliError(f"{src} has no dataset {src_key!r}")
                    ndim = f[src_key].ndim
                convert, kwargs = convert_from_h5, _z5_compression(args, ndim)
                kwargs["use_zarr_format"] = dst_kind == "zarr"
                if _zarr_format(args):
                    kwargs["zarr_format"] = _zarr_format(args)
            else:
                _f, ds = open_node(src, src_key, options)
                if not is_dataset(ds):
                    raise CliError(f"{label_src} is a group, not a dataset")
                ndim = len(ds.shape)
                convert, kwargs = convert_to_h5, _h5_compression(args)
            if args.dtype:
                kwargs["dtype"] = args.dtype
            result = convert(
                src,
                dst,
                src_key,
                dst_key,
                broadcast(chunks_arg, ndim, "--chunks"),
                args.threads,
                out_blocks=broadcast(blocks_arg, ndim, "--blocks"),
                progress=not args.no_progress,
                resume=not args.no_resume,
                client=client,
                storage_options=options,
                **kwargs,
            )
        else:
            result = _convert_z5(
                args, src, src_key, dst, dst_key, dst_kind, chunks_arg, blocks_arg, client
            )
    finally:
        if client is not None:
            client.close()
    print(f"{label_src} -> {label_dst}: {result.summary()}")
    return 0


def _convert_z5(
    args: argparse.Namespace,
    src: str,
    src_key: str,
    dst: str,
    dst_key: str,
    dst_kind: str,
    chunks_arg: list[int] | None,
    blocks_arg: list[int] | None,
    client: Any,
) -> JobResult:
    options = storage_options(args)
    if same_container(src, dst) and src_key == dst_key:
        raise CliError("source and destination are the same dataset")
    _f, ds_in = open_node(src, src_key, options)
    if not is_dataset(ds_in):
        raise CliError(f"{src}/{src_key} is a group, not a dataset")
    ndim = len(ds_in.shape)
    chunks = broadcast(chunks_arg, ndim, "--chunks") or tuple(ds_in.chunks)
    chunks = as_shape(chunks, "--chunks", ndim)
    dst_is_zarr = dst_kind == "zarr"
    compression = _z5_compression(args, ndim)
    # across formats without --compression: the target format's default codec
    if ds_in.is_zarr == dst_is_zarr:
        compression = copy_compression(ds_in, compression)
    return copy_dataset(
        ds_in,
        dst,
        dst_key,
        is_zarr=dst_is_zarr,
        zarr_format=_zarr_format(args),
        chunks=chunks,
        dtype=native_dtype(args.dtype or ds_in.dtype),
        compression=compression,
        out_blocks=broadcast(blocks_arg, ndim, "--blocks"),
        job=JobOptions(
            args.threads,
            resume=not args.no_resume,
            client=client,
            progress=not args.no_progress,
            desc=f"{src_key} -> {dst_key}",
        ),
        storage_options=options,
    )
