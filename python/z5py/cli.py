"""The ``z5py`` command line: inspect, convert, rechunk and verify N5 / Zarr / HDF5 data.

Run ``z5py --help`` or ``z5py COMMAND --help`` for the details; ``python -m z5py`` works
the same.  Errors are reported as one line on stderr with a non-zero exit status (set
``Z5PY_DEBUG=1`` or pass ``--debug`` for the full traceback).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import json
import os
import shutil
import sys
import tempfile
import textwrap
from collections.abc import Sequence
from typing import Any

import numpy as np

from .clean import DEFAULT_OLDER_THAN, clean, find_temp_files
from .converter import H5PY_ERRORS
from .errors import ChunkSizeError, Z5Error
from .util import (
    H5_EXTS,
    N5_EXTS,
    ZARR_EXTS,
    JobResult,
    Timer,
    _as_shape,
    _check_blocks,
    _compression_of,
    _copy_z5_to_z5,
    _dataset_path,
    _native,
    _open_z5_file,
    _open_z5_read,
    _require_z5_dataset,
    _set_threads,
    infer_zarr_format,
)

__all__ = ["build_parser", "main", "split_target"]

_CONTAINER_EXTS = tuple(H5_EXTS) + tuple(ZARR_EXTS) + tuple(N5_EXTS)
_METADATA_FILES = {".zarray", ".zattrs", ".zgroup", "zarr.json", "attributes.json", ".zmetadata"}

EPILOG = """\
Naming data: a dataset is given as the container path followed by the dataset's path
inside it, e.g. `vol.h5/raw`, `vol.n5/volumes/raw` or `out.zarr/raw/s0`.  The container
is recognised by its extension (.h5 .hdf5 .hdf for HDF5, .n5 for N5, .zarr .zr for
Zarr).  For containers without such an extension give the container path alone and the
dataset with --key (info, verify) or --src-key / --dst-key (convert, rechunk).

Examples:
  z5py info vol.n5/raw
  z5py tree vol.zarr
  z5py convert vol.h5/raw vol.n5/raw --chunks 64,64,64 --compression gzip --level 5
  z5py convert vol.n5/raw back.h5/raw --compression gzip
  z5py rechunk vol.n5/raw vol.n5/raw_flat --chunks 1,256,256
  z5py verify vol.n5
  z5py clean vol.n5 --older-than 3600
  z5py demo
"""


class CliError(Exception):
    """A user-facing error of the command line (printed without traceback)."""


# ---------------------------------------------------------------------------------------
# naming: container + key
# ---------------------------------------------------------------------------------------


def _looks_like_z5_dir(path: str) -> bool:
    return os.path.isdir(path) and any(
        os.path.exists(os.path.join(path, m))
        for m in (".zgroup", ".zarray", "zarr.json", "attributes.json")
    )


def split_target(text: str, key: str | None = None) -> tuple[str, str]:
    """Split ``PATH[/DATASET]`` into the container path and the key inside it.

    With an explicit ``key`` the whole text is the container.  Otherwise the first path
    prefix with a container extension (.h5, .n5, .zarr, ...) is the container.  Failing
    that, an existing directory is walked upwards while its parents are N5/Zarr nodes.
    """
    text = os.path.normpath(os.path.expanduser(text))
    if key is not None:
        return text, key.strip("/")
    parts = text.split(os.sep)
    for i in range(len(parts)):
        prefix = os.sep.join(parts[: i + 1]) or os.sep
        if os.path.splitext(parts[i])[1].lower() in _CONTAINER_EXTS:
            return prefix, "/".join(parts[i + 1 :])
    if os.path.isdir(text) and _looks_like_z5_dir(text):
        root = text
        while True:
            parent = os.path.dirname(root)
            if not parent or parent == root or not _looks_like_z5_dir(parent):
                break
            root = parent
        rel = os.path.relpath(text, root)
        return root, "" if rel == "." else rel.replace(os.sep, "/")
    return text, ""


def container_kind(path: str) -> str:
    """``"h5"``, ``"zarr"`` or ``"n5"`` for a container path (existing or to be made)."""
    ext = os.path.splitext(path)[1].lower()
    if ext in H5_EXTS:
        return "h5"
    if os.path.isfile(path):
        try:
            import h5py

            if h5py.is_hdf5(path):
                return "h5"
        except ImportError:
            pass
        raise CliError(f"{path} is a file but not an HDF5 file")
    fmt = infer_zarr_format(path)
    if fmt is None:
        if os.path.isdir(path):
            return "n5"  # a plain directory is an N5 root
        raise CliError(
            f"cannot tell the format of {path}: use an extension (.h5, .n5, .zarr) or --format"
        )
    return "zarr" if fmt else "n5"


# ---------------------------------------------------------------------------------------
# formatting helpers
# ---------------------------------------------------------------------------------------


def _human(nbytes: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(nbytes) < 1000 or unit == "TB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1000.0
    return f"{nbytes:.1f} TB"  # pragma: no cover


def _tuple_str(t: Sequence[int] | None) -> str:
    if t is None:
        return "-"
    return str(tuple(int(v) for v in t))


def _parse_ints(text: str | None) -> list[int] | None:
    if text is None:
        return None
    parts = [p for p in text.replace("x", ",").replace(" ", ",").split(",") if p]
    try:
        return [int(p) for p in parts]
    except ValueError:
        raise CliError(f"expected comma-separated integers, got {text!r}") from None


def _broadcast(values: list[int] | None, ndim: int, name: str) -> tuple[int, ...] | None:
    if values is None:
        return None
    if len(values) == 1 and ndim != 1:
        values = values * ndim
    if len(values) != ndim:
        raise CliError(f"{name} has {len(values)} values but the dataset has {ndim} dimensions")
    return tuple(values)


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _z5_format_name(ds: Any) -> str:
    handle = getattr(ds, "_handle", None)
    fmt = getattr(handle, "format", None)
    names = {"n5": "N5", "zarr2": "Zarr v2", "zarr3": "Zarr v3"}
    if isinstance(fmt, str):
        return names.get(fmt, fmt)
    return "Zarr" if getattr(ds, "is_zarr", False) else "N5"


def _codec_str(opts: dict[str, Any]) -> str:
    opts = dict(opts)
    name = opts.pop("compression", "?")
    if not opts:
        return str(name)
    return f"{name} (" + ", ".join(f"{k}={v}" for k, v in sorted(opts.items())) + ")"


def _dir_bytes(path: str) -> tuple[int, int]:
    """Total bytes under ``path`` and the bytes of non-metadata (chunk) files."""
    total = chunk = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                size = os.path.getsize(os.path.join(root, name))
            except OSError:
                continue
            total += size
            if name not in _METADATA_FILES:
                chunk += size
    return total, chunk


def _is_dataset(obj: Any) -> bool:
    return hasattr(obj, "chunks") and hasattr(obj, "shape") and hasattr(obj, "dtype")


def _chunk_nbytes(
    idx: Sequence[int], shape: Sequence[int], chunks: Sequence[int], item: int
) -> int:
    n = item
    for i, s, c in zip(idx, shape, chunks):
        n *= max(0, min(c, s - i * c))
    return n


# ---------------------------------------------------------------------------------------
# info / tree
# ---------------------------------------------------------------------------------------


def _z5_dataset_info(ds: Any, label: str) -> list[str]:
    shape = tuple(int(s) for s in ds.shape)
    chunks = tuple(int(c) for c in ds.chunks)
    dtype = np.dtype(ds.dtype)
    lines = [
        f"dataset:      {label}",
        f"format:       {_z5_format_name(ds)}",
        f"shape:        {_tuple_str(shape)}",
        f"chunks:       {_tuple_str(chunks)}",
        f"dtype:        {dtype}",
        f"compression:  {_codec_str(_compression_of(ds))}",
    ]
    handle = getattr(ds, "_handle", None)
    shards = getattr(handle, "shards", None)
    if shards:
        lines.append(f"shards:       {_tuple_str(shards)}")
    total_chunks = int(getattr(ds, "number_of_chunks", 0) or 0)
    try:
        existing = [tuple(i) for i in handle.existing_chunks()]
    except OSError:  # the store cannot list its chunks
        existing = None
    if existing is not None:
        pct = 100.0 * len(existing) / total_chunks if total_chunks else 0.0
        lines.append(f"chunks stored: {len(existing)} / {total_chunks} ({pct:.1f}%)")
    path = _dataset_path(ds)
    if path and os.path.isdir(path):
        on_disk, chunk_bytes = _dir_bytes(path)
        lines.append(f"bytes on disk: {_human(on_disk)} ({on_disk} B)")
        if existing is not None:
            raw = sum(_chunk_nbytes(i, shape, chunks, dtype.itemsize) for i in existing)
            lines.append(f"uncompressed:  {_human(raw)} (stored chunks)")
            ratio = f"{raw / chunk_bytes:.2f}x" if chunk_bytes else "-"
            lines.append(f"compression ratio: {ratio}")
    attrs = dict(ds.attrs.items())
    if attrs:
        lines.append("attributes:   " + json.dumps(attrs, default=str)[:2000])
    return lines


def _h5_dataset_info(ds: Any, label: str) -> list[str]:
    comp = ds.compression or "raw"
    if ds.compression_opts is not None:
        comp += f" (opts={ds.compression_opts})"
    lines = [
        f"dataset:      {label}",
        "format:       HDF5",
        f"shape:        {_tuple_str(ds.shape)}",
        f"chunks:       {_tuple_str(ds.chunks) if ds.chunks else 'contiguous'}",
        f"dtype:        {ds.dtype}",
        f"compression:  {comp}",
    ]
    with contextlib.suppress(*H5PY_ERRORS):
        stored = ds.id.get_storage_size()
        raw = int(np.prod(ds.shape, dtype=np.int64)) * ds.dtype.itemsize
        lines.append(f"bytes on disk: {_human(stored)} ({stored} B)")
        if ds.chunks:
            n = ds.id.get_num_chunks()
            total = int(np.prod([-(-s // c) for s, c in zip(ds.shape, ds.chunks)]))
            lines.append(f"chunks stored: {n} / {total}")
        ratio = f"{raw / stored:.2f}x" if stored else "-"
        lines.append(f"compression ratio: {ratio}")
    if len(ds.attrs):
        from .converter import _h5_attrs_to_json

        lines.append("attributes:   " + json.dumps(_h5_attrs_to_json(ds.attrs), default=str)[:2000])
    return lines


def _tree_lines_z5(group: Any, prefix: str = "") -> list[str]:
    lines = []
    names = sorted(group.keys())
    for n, name in enumerate(names):
        last = n == len(names) - 1
        branch = "└── " if last else "├── "
        obj = group[name]
        if _is_dataset(obj):
            comp = _compression_of(obj).get("compression", "?")
            lines.append(
                f"{prefix}{branch}{name}  {np.dtype(obj.dtype)} {_tuple_str(obj.shape)} "
                f"chunks {_tuple_str(obj.chunks)} {comp}"
            )
        else:
            lines.append(f"{prefix}{branch}{name}/")
            lines.extend(_tree_lines_z5(obj, prefix + ("    " if last else "│   ")))
    return lines


def _tree_lines_h5(group: Any, prefix: str = "") -> list[str]:
    import h5py

    lines = []
    names = sorted(group.keys())
    for n, name in enumerate(names):
        last = n == len(names) - 1
        branch = "└── " if last else "├── "
        obj = group[name]
        if isinstance(obj, h5py.Dataset):
            chunks = _tuple_str(obj.chunks) if obj.chunks else "contiguous"
            lines.append(
                f"{prefix}{branch}{name}  {obj.dtype} {_tuple_str(obj.shape)} chunks {chunks} "
                f"{obj.compression or 'raw'}"
            )
        elif isinstance(obj, h5py.Group):
            lines.append(f"{prefix}{branch}{name}/")
            lines.extend(_tree_lines_h5(obj, prefix + ("    " if last else "│   ")))
    return lines


def _open_node(container: str, key: str):
    """Open a z5py container (read-only) and the node at ``key``."""
    f = _open_z5_read(container)
    if not key:
        return f, f
    try:
        node = f[key]
    except KeyError:
        raise CliError(f"{container} has no dataset or group {key!r}") from None
    return f, node


def cmd_info(args: argparse.Namespace) -> int:
    """``z5py info``: describe a dataset, or list a container/group."""
    container, key = split_target(args.path, args.key)
    if not os.path.exists(container):
        raise CliError(f"no such file or directory: {container}")
    kind = container_kind(container)
    label = f"{container}/{key}" if key else container
    if kind == "h5":
        import h5py

        with h5py.File(container, "r") as f:
            node = f[key] if key else f
            if isinstance(node, h5py.Dataset):
                print("\n".join(_h5_dataset_info(node, label)))
            else:
                print(f"group:        {label}\nformat:       HDF5")
                print("\n".join(_tree_lines_h5(node)))
        return 0
    _f, node = _open_node(container, key)
    if _is_dataset(node):
        print("\n".join(_z5_dataset_info(node, label)))
    else:
        print(f"group:        {label}")
        print(f"format:       {'Zarr' if kind == 'zarr' else 'N5'}")
        attrs = dict(node.attrs.items())
        if attrs:
            print("attributes:   " + json.dumps(attrs, default=str)[:2000])
        print("\n".join(_tree_lines_z5(node)))
    return 0


def cmd_tree(args: argparse.Namespace) -> int:
    """``z5py tree``: print the hierarchy below a container or group."""
    container, key = split_target(args.path, args.key)
    if not os.path.exists(container):
        raise CliError(f"no such file or directory: {container}")
    kind = container_kind(container)
    label = f"{container}/{key}" if key else container
    if kind == "h5":
        import h5py

        with h5py.File(container, "r") as f:
            node = f[key] if key else f
            print(f"{label} (HDF5)")
            if isinstance(node, h5py.Group):
                print("\n".join(_tree_lines_h5(node)))
        return 0
    _f, node = _open_node(container, key)
    print(f"{label} ({'Zarr' if kind == 'zarr' else 'N5'})")
    if not _is_dataset(node):
        lines = _tree_lines_z5(node)
        if lines:
            print("\n".join(lines))
    else:
        print(
            f"    {np.dtype(node.dtype)} {_tuple_str(node.shape)} chunks {_tuple_str(node.chunks)}"
        )
    return 0


# ---------------------------------------------------------------------------------------
# convert / rechunk
# ---------------------------------------------------------------------------------------


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


def _z5_compression(args: argparse.Namespace, ndim: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    shards = _broadcast(_parse_ints(getattr(args, "shards", None)), ndim, "--shards")
    if shards is not None:
        out["shards"] = shards
    if args.compression is not None:
        out["compression"] = args.compression
    if args.level is not None:
        out["level"] = args.level
    for item in args.option or []:
        if "=" not in item:
            raise CliError(f"--option expects KEY=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = _parse_value(v.strip())
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
    for item in args.option or []:
        if "=" not in item:
            raise CliError(f"--option expects KEY=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = _parse_value(v.strip())
    return out


def _dst_format(args: argparse.Namespace, container: str) -> str:
    if getattr(args, "format", None):
        return "zarr" if args.format.startswith("zarr") else args.format
    return container_kind(container)


def _report(result: JobResult, src: str, dst: str) -> None:
    print(f"{src} -> {dst}: {result.summary()}")


def cmd_convert(args: argparse.Namespace, *, rechunk_only: bool = False) -> int:
    """``z5py convert`` (and ``rechunk``): copy a dataset between HDF5, N5 and Zarr."""
    src, src_key = split_target(args.src, args.src_key)
    dst, dst_key = split_target(args.dst, args.dst_key)
    if not src_key:
        raise CliError(f"no source dataset given: write {args.src}/DATASET or use --src-key")
    dst_key = dst_key or src_key
    if not os.path.exists(src):
        raise CliError(f"no such file or directory: {src}")
    src_kind = container_kind(src)
    dst_kind = _dst_format(args, dst)
    if rechunk_only and "h5" in (src_kind, dst_kind):
        raise CliError("rechunk works on N5/Zarr datasets; use `z5py convert` for HDF5")
    if src_kind == "h5" and dst_kind == "h5":
        raise CliError("HDF5 to HDF5 is not supported; convert to N5/Zarr or use h5repack")
    chunks_arg = _parse_ints(args.chunks)
    blocks_arg = _parse_ints(args.blocks)
    threads = args.threads
    progress = not args.no_progress
    resume = not args.no_resume
    client = _client(args)
    label_src, label_dst = f"{src}/{src_key}", f"{dst}/{dst_key}"
    try:
        if src_kind == "h5":
            import h5py

            from .converter import convert_from_h5

            with h5py.File(src, "r") as f:
                if src_key not in f:
                    raise CliError(f"{src} has no dataset {src_key!r}")
                ndim = f[src_key].ndim
            kwargs = _z5_compression(args, ndim)
            if _zarr_format(args):
                kwargs["zarr_format"] = _zarr_format(args)
            if args.dtype:
                kwargs["dtype"] = args.dtype
            result = convert_from_h5(
                src,
                dst,
                src_key,
                dst_key,
                _broadcast(chunks_arg, ndim, "--chunks"),
                threads,
                out_blocks=_broadcast(blocks_arg, ndim, "--blocks"),
                use_zarr_format=dst_kind == "zarr",
                progress=progress,
                resume=resume,
                client=client,
                **kwargs,
            )
        elif dst_kind == "h5":
            from .converter import convert_to_h5

            _f, ds = _open_node(src, src_key)
            if not _is_dataset(ds):
                raise CliError(f"{label_src} is a group, not a dataset")
            ndim = len(ds.shape)
            kwargs = _h5_compression(args)
            if args.dtype:
                kwargs["dtype"] = args.dtype
            result = convert_to_h5(
                src,
                dst,
                src_key,
                dst_key,
                _broadcast(chunks_arg, ndim, "--chunks"),
                threads,
                out_blocks=_broadcast(blocks_arg, ndim, "--blocks"),
                progress=progress,
                resume=resume,
                client=client,
                **kwargs,
            )
        else:
            result = _convert_z5(
                args,
                src,
                src_key,
                dst,
                dst_key,
                dst_kind,
                chunks_arg,
                blocks_arg,
                threads,
                progress,
                resume,
                client,
            )
    finally:
        if client is not None:
            client.close()
    _report(result, label_src, label_dst)
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
    threads: int,
    progress: bool,
    resume: bool,
    client: Any,
) -> JobResult:
    if os.path.abspath(src) == os.path.abspath(dst) and src_key == dst_key:
        raise CliError("source and destination are the same dataset")
    _f, ds_in = _open_node(src, src_key)
    if not _is_dataset(ds_in):
        raise CliError(f"{src}/{src_key} is a group, not a dataset")
    ndim = len(ds_in.shape)
    chunks = _broadcast(chunks_arg, ndim, "--chunks") or tuple(ds_in.chunks)
    chunks = _as_shape(chunks, "--chunks", ndim)
    dtype = _native(args.dtype or ds_in.dtype)
    src_is_zarr = container_kind(src) == "zarr"
    dst_is_zarr = dst_kind == "zarr"
    compression = _z5_compression(args, ndim)
    # across formats without --compression: the target format's default codec
    if "compression" not in compression and src_is_zarr == dst_is_zarr:
        base = _compression_of(ds_in)
        if compression:  # only options given: keep the codec, replace its options
            compression = {"compression": base.get("compression"), **compression}
        else:
            compression = base
    blocks = _broadcast(blocks_arg, ndim, "--blocks")
    if blocks is not None:
        blocks = _check_blocks(blocks, chunks, compression.get("shards"))
    f_out = _open_z5_file(dst, dst_is_zarr, zarr_format=_zarr_format(args))
    ds_out, existed = _require_z5_dataset(
        f_out,
        dst_key,
        shape=tuple(ds_in.shape),
        chunks=chunks,
        dtype=dtype,
        create_kwargs=compression,
        dimension_names=getattr(ds_in, "dimension_names", None),
    )
    return _copy_z5_to_z5(
        ds_in,
        ds_out,
        blocks,
        dtype,
        threads,
        existed=existed,
        resume=resume,
        client=client,
        progress=progress,
        on_block=None,
        desc=f"{src_key} -> {dst_key}",
    )


def cmd_rechunk(args: argparse.Namespace) -> int:
    """``z5py rechunk``: copy an N5/Zarr dataset with new chunks."""
    return cmd_convert(args, rechunk_only=True)


# ---------------------------------------------------------------------------------------
# verify
# ---------------------------------------------------------------------------------------


def _walk_datasets(node: Any, key: str) -> list[tuple[str, Any]]:
    if _is_dataset(node):
        return [(key or ".", node)]
    out = []
    for name in sorted(node.keys()):
        child = node[name]
        out.extend(_walk_datasets(child, f"{key}/{name}" if key else name))
    return out


def _expected_stored_shape(
    idx: Sequence[int], shape: Sequence[int], chunks: Sequence[int], is_n5: bool
) -> tuple[int, ...]:
    if is_n5:
        return tuple(max(0, min(c, s - i * c)) for i, s, c in zip(idx, shape, chunks))
    return tuple(int(c) for c in chunks)


def verify_dataset(
    ds: Any, n_threads: int = 1
) -> tuple[int, list[tuple[tuple[int, ...], str, str]]]:
    """Decode every stored chunk of ``ds``.

    Returns the number of chunks checked and a list of ``(chunk index, kind, message)`` for
    the bad ones, where kind is ``"corrupt"`` (cannot be decoded) or ``"mis-sized"``.
    """
    handle = ds._handle
    shape = tuple(int(s) for s in ds.shape)
    chunks = tuple(int(c) for c in ds.chunks)
    is_n5 = getattr(handle, "format", "") == "n5" or not getattr(ds, "is_zarr", True)
    existing = [tuple(int(i) for i in idx) for idx in handle.existing_chunks()]

    def check(idx: tuple[int, ...]):
        try:
            data = handle.read_chunk(list(idx))
        except (Z5Error, OSError) as e:  # any failure to read or decode is a finding
            kind = "mis-sized" if isinstance(e, ChunkSizeError) else "corrupt"
            return idx, kind, f"{type(e).__name__}: {' '.join(str(e).split())}"
        if data is None:
            return idx, "corrupt", "chunk vanished while verifying"
        got = tuple(int(s) for s in np.shape(data))
        want = _expected_stored_shape(idx, shape, chunks, is_n5)
        ok = got == want or (is_n5 and got == chunks)
        if not ok:
            return idx, "mis-sized", f"decoded shape {got}, expected {want}"
        return None

    bad = []
    with cf.ThreadPoolExecutor(max_workers=max(1, n_threads)) as pool:
        for res in pool.map(check, existing):
            if res is not None:
                bad.append(res)
    return len(existing), bad


def cmd_verify(args: argparse.Namespace) -> int:
    """``z5py verify``: decode every chunk; exit status 1 if any is damaged."""
    container, key = split_target(args.path, args.key)
    if not os.path.exists(container):
        raise CliError(f"no such file or directory: {container}")
    if container_kind(container) == "h5":
        raise CliError("verify checks N5/Zarr containers; HDF5 files are not supported")
    _f, node = _open_node(container, key)
    datasets = _walk_datasets(node, key)
    total_bad = 0
    total_checked = 0
    for name, ds in datasets:
        checked, bad = verify_dataset(ds, args.threads)
        total_checked += checked
        total_bad += len(bad)
        for idx, kind, message in bad:
            where = ds.chunk_path(idx)
            print(f"{kind.upper()}: {name} chunk {_tuple_str(idx)} ({where}): {message}")
        if not args.quiet:
            status = "OK" if not bad else f"{len(bad)} bad"
            print(f"{name}: {checked} chunks checked, {status}")
    print(
        f"verified {len(datasets)} dataset(s), {total_checked} chunks: "
        + ("all good" if total_bad == 0 else f"{total_bad} bad chunk(s)")
    )
    below = node.path if hasattr(node, "path") else container
    temps = list(find_temp_files(below))
    for temp in temps:
        print(
            f"TEMPORARY: {temp.path} ({temp.size} bytes, {temp.age:.0f} s old, pid "
            f"{temp.pid}): left by an interrupted write of {temp.target}; readers ignore it, "
            "'z5py clean' removes it once it is older than an hour"
        )
    if temps and not args.quiet:
        print(f"{len(temps)} temporary file(s) of interrupted writes")
    return 0 if total_bad == 0 else 1


# ---------------------------------------------------------------------------------------
# clean
# ---------------------------------------------------------------------------------------


def cmd_clean(args: argparse.Namespace) -> int:
    """``z5py clean``: remove temporary files of interrupted writes."""
    if not os.path.isdir(args.path):
        raise CliError(f"no such container or directory: {args.path}")
    removed = clean(args.path, older_than=args.older_than, dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    for path in removed:
        print(f"{verb} {path}")
    if not args.quiet:
        print(f"{verb} {len(removed)} temporary file(s) older than {args.older_than:g} s")
    return 0


# ---------------------------------------------------------------------------------------
# demo
# ---------------------------------------------------------------------------------------


def make_sample_volume(shape: Sequence[int], seed: int = 0) -> np.ndarray:
    """A uint8 sample volume: an ellipsoid of smooth gradients and ripples with a little
    noise, on an empty background (compresses, but not trivially, like real scans)."""
    shape = tuple(int(s) for s in shape)
    grids = np.ogrid[tuple(slice(0, s) for s in shape)]
    vol = np.full(shape, 20.0, dtype=np.float32)
    radius = np.zeros(shape, dtype=np.float32)
    for g, s in zip(grids, shape):
        x = g.astype(np.float32) / max(1, s - 1)
        vol += x * (160.0 / len(shape))
        radius += ((x - 0.5) / 0.48) ** 2
    if len(shape) >= 2:
        vol += (
            30.0
            * np.sin(grids[-1].astype(np.float32) / 9.0)
            * np.cos(grids[-2].astype(np.float32) / 13.0)
        )
    rng = np.random.default_rng(seed)
    vol += rng.integers(0, 6, size=shape, dtype=np.uint8)
    vol[radius > 1.0] = 0
    return np.clip(vol, 0, 255).astype(np.uint8)


def cmd_demo(args: argparse.Namespace) -> int:
    """``z5py demo``: sample volume -> HDF5 -> N5/Zarr -> parallel read -> HDF5, checked."""
    import h5py

    from . import converter

    shape = _parse_ints(args.shape) or [128, 256, 256]
    shape = tuple(shape)
    chunks = tuple(min(64, s) for s in shape)
    threads = args.threads
    workdir = args.dir or tempfile.mkdtemp(prefix="z5py-demo-")
    os.makedirs(workdir, exist_ok=True)
    progress = not args.no_progress
    try:
        vol = make_sample_volume(shape)
        mb = vol.nbytes / 1e6
        print(f"z5py demo in {workdir} ({threads} threads)")
        print(
            f"  sample volume: {_tuple_str(shape)} uint8, {mb:.1f} MB (ellipsoid of gradients + ripples + noise)"
        )

        h5_path = os.path.join(workdir, "sample.h5")
        with Timer() as t, h5py.File(h5_path, "w") as f:
            f.create_dataset("raw", data=vol, chunks=chunks)
        print(
            f"  wrote HDF5       {h5_path}: {_human(os.path.getsize(h5_path))} in {t.elapsed:.2f} s"
        )

        rows = []
        for name in ("sample.n5", "sample.zarr"):
            out = os.path.join(workdir, name)
            res = converter.convert_from_h5(
                h5_path, out, "raw", "raw", chunks, threads, progress=progress
            )
            f = _open_z5_read(out)
            ds = f["raw"]
            _set_threads(ds, threads)
            with Timer() as tr:
                back = ds[...]
            equal = bool(np.array_equal(back, vol))
            on_disk, _ = _dir_bytes(out)
            codec = _compression_of(ds).get("compression", "?")
            rows.append((name, codec, on_disk, res, tr.elapsed, equal))
            print(
                f"  converted to {name:<12} {codec:<6} {_human(on_disk):>9} "
                f"(ratio {vol.nbytes / max(1, on_disk):.2f}x) in {res.seconds:.2f} s "
                f"({mb / max(res.seconds, 1e-9):.0f} MB/s); read back in {tr.elapsed:.3f} s "
                f"({mb / max(tr.elapsed, 1e-9):.0f} MB/s): "
                + ("identical" if equal else "MISMATCH")
            )

        back_h5 = os.path.join(workdir, "roundtrip.h5")
        res = converter.convert_to_h5(
            os.path.join(workdir, "sample.n5"),
            back_h5,
            "raw",
            "raw",
            chunks,
            threads,
            progress=progress,
        )
        with h5py.File(back_h5, "r") as f:
            rt_equal = bool(np.array_equal(f["raw"][...], vol))
        print(
            f"  converted N5 back to HDF5 in {res.seconds:.2f} s "
            f"({mb / max(res.seconds, 1e-9):.0f} MB/s): "
            + ("identical" if rt_equal else "MISMATCH")
        )
        ok = all(r[5] for r in rows) and rt_equal
        print("demo " + ("succeeded: all copies are identical" if ok else "FAILED: data differ"))
        return 0 if ok else 1
    finally:
        if not args.keep and not args.dir:
            shutil.rmtree(workdir, ignore_errors=True)
        elif args.keep or args.dir:
            print(f"  files kept in {workdir}")


# ---------------------------------------------------------------------------------------
# parser / main
# ---------------------------------------------------------------------------------------


def _default_threads() -> int:
    return max(1, os.cpu_count() or 1)


def _add_copy_options(p: argparse.ArgumentParser, chunks_required: bool) -> None:
    p.add_argument("--src-key", help="dataset inside SRC (when SRC is only the container)")
    p.add_argument("--dst-key", help="dataset inside DST (default: the source's name)")
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
        "-j", "--threads", type=int, default=_default_threads(), help="threads (default: all cores)"
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

    p = sub.add_parser(
        "info",
        help="describe a dataset or container",
        description=_wrap(
            "Show format, shape, chunks, dtype, codec, chunks present, bytes on disk "
            "and compression ratio of a dataset (or the tree of a container/group)."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("path", metavar="PATH[/DATASET]")
    p.add_argument("--key", help="dataset or group inside PATH")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser(
        "tree",
        help="print the groups and datasets of a container",
        description=_wrap("Print the hierarchy of an N5, Zarr or HDF5 container."),
    )
    p.add_argument("path", metavar="PATH[/GROUP]")
    p.add_argument("--key", help="group inside PATH to start from")
    p.set_defaults(func=cmd_tree)

    p = sub.add_parser(
        "convert",
        help="convert between HDF5, N5 and Zarr",
        description=_wrap(
            "Copy a dataset between HDF5, N5 and Zarr (any direction except "
            "HDF5 to HDF5), optionally changing chunks, dtype and codec.  Works block by block "
            "with bounded memory; an interrupted run resumes where it stopped."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("src", metavar="SRC", help="source, e.g. vol.h5/raw")
    p.add_argument("dst", metavar="DST", help="destination, e.g. vol.n5/raw")
    _add_copy_options(p, chunks_required=False)
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser(
        "rechunk",
        help="copy an N5/Zarr dataset with new chunks",
        description=_wrap(
            "Copy an N5/Zarr dataset into a new dataset with other chunks (and "
            "optionally dtype, format or codec)."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("src", metavar="SRC", help="source dataset, e.g. vol.n5/raw")
    p.add_argument("dst", metavar="DST", help="destination dataset, e.g. vol.n5/raw_rechunked")
    _add_copy_options(p, chunks_required=True)
    p.set_defaults(func=cmd_rechunk)

    p = sub.add_parser(
        "verify",
        help="decode every chunk and report damaged ones",
        description=_wrap(
            "Decode every stored chunk of a dataset (or of all datasets below a "
            "group/container) and report chunks that are corrupt or of the wrong size.  Exits "
            "with status 1 when any is found."
        ),
    )
    p.add_argument("path", metavar="PATH[/DATASET]")
    p.add_argument("--key", help="dataset or group inside PATH")
    p.add_argument("-j", "--threads", type=int, default=_default_threads())
    p.add_argument("-q", "--quiet", action="store_true", help="only report problems")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser(
        "clean",
        help="remove temporary files left by killed writers",
        description=_wrap(
            "Remove the temporary files (.z5tmp.*) that writers killed mid-write left below "
            "PATH, once they are older than --older-than seconds (default an hour: no write "
            "takes that long, so no live writer can own them).  Nothing else is touched."
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
    p.set_defaults(func=cmd_clean)

    p = sub.add_parser(
        "demo",
        help="make a sample volume, convert it and read it back",
        description=_wrap(
            "Make a sample uint8 volume, write it as HDF5, convert it to N5 and "
            "Zarr, read both back in parallel, convert back to HDF5, check every copy is "
            "identical, and print sizes and speeds.  Uses a temporary directory unless --dir."
        ),
    )
    p.add_argument("--shape", default="128,256,256", help="volume shape (default 128,256,256)")
    p.add_argument("--dir", help="work in this directory and keep the files")
    p.add_argument("--keep", action="store_true", help="keep the temporary files")
    p.add_argument("-j", "--threads", type=int, default=_default_threads())
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_demo)
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
