"""What every command of the ``z5py`` command line shares: naming a dataset as
``container/key``, opening it, parsing number lists and formatting sizes and shapes."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Sequence
from typing import Any

from .._location import is_url, options_for
from ..containers import open_z5_read
from ..formats import CONTAINER_EXTS, H5_EXTS, infer_zarr_format, is_node_dir

__all__ = [
    "CliError",
    "add_storage_option",
    "broadcast",
    "codec_str",
    "container_kind",
    "default_threads",
    "existing_container",
    "format_name",
    "human",
    "is_dataset",
    "kind_name",
    "open_node",
    "parse_ints",
    "parse_value",
    "split_target",
    "storage_options",
    "target_node",
    "tuple_str",
]


class CliError(Exception):
    """A user-facing error of the command line (printed without traceback)."""


def split_target(text: str, key: str | None = None) -> tuple[str, str]:
    """Split ``PATH[/DATASET]`` into the container path and the key inside it.

    With an explicit ``key`` the whole text is the container.  Otherwise the first path
    prefix with a container extension (.h5, .n5, .zarr, ...) is the container.  Failing
    that, an existing directory is walked upwards while its parents are N5/Zarr nodes.
    """
    if is_url(text):
        return _split_url(text, key)
    text = os.path.normpath(os.path.expanduser(text))
    if key is not None:
        return text, key.strip("/")
    parts = text.split(os.sep)
    for i in range(len(parts)):
        prefix = os.sep.join(parts[: i + 1]) or os.sep
        if os.path.splitext(parts[i])[1].lower() in CONTAINER_EXTS:
            return prefix, "/".join(parts[i + 1 :])
    if is_node_dir(text):
        root = text
        while True:
            parent = os.path.dirname(root)
            if not parent or parent == root or not is_node_dir(parent):
                break
            root = parent
        rel = os.path.relpath(text, root)
        return root, "" if rel == "." else rel.replace(os.sep, "/")
    return text, ""


def _split_url(text: str, key: str | None) -> tuple[str, str]:
    """:func:`split_target` for a URL: the first path component with a container extension
    ends the container (``s3://bucket/vol.n5/raw`` -> ``s3://bucket/vol.n5``, ``raw``);
    without one the whole URL is the container."""
    text = text.rstrip("/")
    if key is not None:
        return text, key.strip("/")
    scheme, rest = text.split("://", 1)
    parts = rest.split("/")
    for i, part in enumerate(parts):
        if os.path.splitext(part)[1].lower() in CONTAINER_EXTS:
            return f"{scheme}://{'/'.join(parts[: i + 1])}", "/".join(parts[i + 1 :])
    return text, ""


def add_storage_option(p: Any) -> None:
    """The ``--storage-option KEY=VALUE`` option of commands that open containers."""
    p.add_argument(
        "-S",
        "--storage-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="storage_option",
        help="configure the URLs among the operands (s3://, gs://, az://, http(s)://) with "
        "an object_store key, e.g. endpoint=http://127.0.0.1:9000, region=eu-west-1, "
        "skip_signature=true; repeatable.  Without it, credentials, region and endpoint "
        "come from the environment (AWS_*, GOOGLE_APPLICATION_CREDENTIALS, AZURE_STORAGE_*)",
    )


def storage_options(args: Any) -> dict[str, str] | None:
    """The ``--storage-option`` values of ``args`` as ``storage_options`` (``None``: none)."""
    options: dict[str, str] = {}
    for item in getattr(args, "storage_option", None) or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise CliError(f"--storage-option needs KEY=VALUE, got {item!r}")
        options[name.strip()] = value
    return options or None


def container_kind(path: str, options: dict[str, Any] | None = None) -> str:
    """``"h5"``, ``"zarr"`` or ``"n5"`` for a container path or URL (existing or to be made;
    ``options`` are the URL's ``storage_options``)."""
    ext = os.path.splitext(path)[1].lower()
    if is_url(path):
        if ext in H5_EXTS:
            raise CliError(f"{path}: HDF5 files are read and written on local disk only")
        fmt = infer_zarr_format(path)
        if fmt is None:
            try:
                fmt = open_z5_read(path, options).is_zarr
            except FileNotFoundError:
                raise CliError(
                    f"cannot tell the format of {path}: use an extension (.n5, .zarr) or --format"
                ) from None
        return "zarr" if fmt else "n5"
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


def existing_container(
    text: str, key: str | None, options: dict[str, Any] | None = None
) -> tuple[str, str, str]:
    """The container, the key and the container's kind of an argument naming existing data
    (``options``: ``storage_options`` of a URL)."""
    container, key = split_target(text, key)
    if not is_url(container) and not os.path.exists(container):
        raise CliError(f"no such file or directory: {container}")
    return container, key, container_kind(container, options)


def open_node(container: str, key: str, options: dict[str, Any] | None = None):
    """Open a z5py container (read-only) and the node at ``key`` (``options``:
    ``storage_options`` of a URL). Without a key the node is the container's root: its
    File, or the Dataset of a container whose root is an array (as zarr-python's
    ``create_array(path)`` and tensorstore write it)."""
    if not key:
        from ..file import open as open_root

        node = open_root(container, "r", storage_options=options_for(container, options))
        return node, node
    f = open_z5_read(container, options)
    try:
        node = f[key]
    except KeyError:
        raise CliError(f"{container} has no dataset or group {key!r}") from None
    return f, node


def kind_name(kind: str) -> str:
    """How the command line names a container kind (``h5``, ``zarr``, ``n5``)."""
    return {"h5": "HDF5", "zarr": "Zarr", "n5": "N5"}[kind]


@contextlib.contextmanager
def target_node(args: Any) -> Iterator[tuple[str, str, Any]]:
    """The existing node that a command's ``path`` / ``--key`` / ``-S`` arguments name, as
    ``(label, kind, node)``: an h5py group or dataset of the file, open while the block
    runs, for HDF5 (``kind`` ``"h5"``), else the z5py node."""
    options = storage_options(args)
    container, key, kind = existing_container(args.path, args.key, options)
    label = f"{container}/{key}" if key else container
    if kind == "h5":
        import h5py

        with h5py.File(container, "r") as f:
            yield label, kind, (f[key] if key else f)
        return
    _f, node = open_node(container, key, options)
    yield label, kind, node


def is_dataset(obj: Any) -> bool:
    return hasattr(obj, "chunks") and hasattr(obj, "shape") and hasattr(obj, "dtype")


def default_threads() -> int:
    return max(1, os.cpu_count() or 1)


def human(nbytes: float) -> str:
    """A byte count with a decimal unit (``1.5 MB``)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(nbytes) < 1000 or unit == "TB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1000.0
    return f"{nbytes:.1f} TB"  # pragma: no cover


def tuple_str(t: Sequence[int] | None) -> str:
    if t is None:
        return "-"
    return str(tuple(int(v) for v in t))


def parse_ints(text: str | None) -> list[int] | None:
    """``"64,64,64"`` (or ``64x64x64``) as a list of ints."""
    if text is None:
        return None
    parts = [p for p in text.replace("x", ",").replace(" ", ",").split(",") if p]
    try:
        return [int(p) for p in parts]
    except ValueError:
        raise CliError(f"expected comma-separated integers, got {text!r}") from None


def broadcast(values: list[int] | None, ndim: int, name: str) -> tuple[int, ...] | None:
    """One value per axis (a single value applies to every axis)."""
    if values is None:
        return None
    if len(values) == 1 and ndim != 1:
        values = values * ndim
    if len(values) != ndim:
        raise CliError(f"{name} has {len(values)} values but the dataset has {ndim} dimensions")
    return tuple(values)


def parse_value(text: str) -> Any:
    """A ``--option`` value: JSON when it parses, else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def format_name(ds: Any) -> str:
    """``N5``, ``Zarr v2`` or ``Zarr v3`` for a z5py dataset or group."""
    return f"Zarr v{ds.zarr_format}" if ds.is_zarr else "N5"


def codec_str(opts: dict[str, Any]) -> str:
    """``gzip (level=5)`` from ``create_dataset`` compression arguments."""
    opts = dict(opts)
    name = opts.pop("compression", "?")
    if not opts:
        return str(name)
    return f"{name} (" + ", ".join(f"{k}={v}" for k, v in sorted(opts.items())) + ")"
