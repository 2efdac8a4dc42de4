"""Containers: the root group of an N5 or Zarr hierarchy, opened with an h5py file mode."""

from __future__ import annotations

import os
from types import TracebackType
from typing import Any, ClassVar, Self

from . import _z5py
from ._location import Loc, durable_writes, open_location, with_consolidated
from ._node import REOPEN_MODES
from .dataset import Dataset, open_dataset
from .errors import (
    FormatMismatchError,
    InvalidArgumentError,
    Z5FileExistsError,
    Z5FileNotFoundError,
    Z5OSError,
)
from .formats import N5_EXTS, ZARR_EXTS
from .group import Group, format_below

__all__ = ["File", "N5File", "ZarrFile", "open"]


_UNSET: Any = object()

#: ``File``'s positional arguments after ``path``: z5py 3.x's order (mode first) and the
#: documented order (``use_zarr_format`` first); the first argument's type tells which.
_ORDER_3X = ("mode", "use_zarr_format", "dimension_separator", "zarr_format")
_ORDER_SEED = ("use_zarr_format", "mode", "dimension_separator", "zarr_format")

#: Separators between chunk indices in Zarr v2 chunk keys.
DIMENSION_SEPARATORS = (".", "/")


def _positional(args: tuple[Any, ...], given: dict[str, Any]) -> dict[str, Any]:
    """Merge ``File``'s positional arguments into the keyword arguments ``given``.

    A string first argument is the mode (z5py 3.x: ``File(path, "r", None, "/", 2)``),
    anything else is ``use_zarr_format`` (``File(path, True, "r")``).  Giving an argument
    twice is a ``TypeError``.
    """
    order = _ORDER_3X if args and isinstance(args[0], str) else _ORDER_SEED
    if len(args) > len(order):
        raise TypeError(
            f"File() takes at most {len(order) + 1} positional arguments ({len(args) + 1} given)"
        )
    merged = dict(given)
    for name, value in zip(order, args):
        if merged.get(name, _UNSET) is not _UNSET:
            raise TypeError(f"File() got multiple values for argument {name!r}")
        merged[name] = value
    return merged


def check_dimension_separator(separator: Any) -> str:
    """Validate a Zarr v2 ``dimension_separator`` (``'.'`` or ``'/'``)."""
    if not isinstance(separator, str) or separator not in DIMENSION_SEPARATORS:
        raise InvalidArgumentError(f"dimension_separator must be '.' or '/', got {separator!r}")
    return separator


class File(Group):
    """An N5 or Zarr container on disk, opened like an ``h5py.File``.

    The container is a directory; its groups are subdirectories and its datasets
    subdirectories holding chunk files.  A ``File`` is the root :class:`~z5py.Group`.

    **Format.**  An existing container's format (N5, Zarr v2 or Zarr v3) is read from its
    metadata.  For a new container it is ``use_zarr_format`` if given, else inferred from
    the extension (``.n5`` for N5, ``.zarr``/``.zr`` for Zarr, see :meth:`infer_format`);
    ``ValueError`` if nothing tells.  New Zarr containers use ``zarr_format`` (default 2).
    An explicit ``use_zarr_format`` or ``zarr_format`` that contradicts a recognised
    extension or an existing container raises :class:`~z5py.errors.FormatMismatchError`
    (a ``ValueError`` and ``RuntimeError``) before anything is created.

    **Modes** (as in h5py): ``'r'`` read only, must exist; ``'r+'`` read/write, must
    exist; ``'a'`` read/write, created if missing (default); ``'w'`` create, truncating
    an existing container; ``'w-'`` and ``'x'`` create, fail if the path exists.  Missing
    containers raise :class:`~z5py.errors.Z5FileNotFoundError`, existing ones in ``'w-'``/
    ``'x'`` :class:`~z5py.errors.Z5FileExistsError`.  In mode ``'r'`` every modification
    raises :class:`~z5py.errors.ReadOnlyError`.

    Truncation (``'w'``) deletes the directory tree, but only if it is empty or has N5 or
    Zarr metadata at its top; other directories are refused with
    :class:`~z5py.errors.Z5OSError` so that a mistyped path cannot wipe unrelated data.

    The arguments after ``path`` may be given by keyword or by position, in the order
    documented here (``File(path, use_zarr_format, mode, dimension_separator,
    zarr_format)``) or in z5py 3.x's order, mode first (``File(path, mode,
    use_zarr_format, dimension_separator, zarr_format)``): a string first argument is the
    mode.  Giving one of them twice is a ``TypeError``.

    Closing is a no-op (nothing is held open); ``File`` is a context manager, and
    pickling reopens the container by path (a container opened with ``'w'``, ``'w-'``
    or ``'x'`` is reopened with ``'r+'``, so unpickling never truncates).

    **Where.**  ``path`` is a directory or a URL: ``s3://bucket/prefix/c.zarr``, ``gs://``,
    ``az://`` / ``abfs://``, read-only ``http(s)://``, ``memory://NAME`` (a store living in
    this process under NAME) or ``file://``.  Object stores are configured by
    ``storage_options`` (the ``object_store`` crate's keys: ``endpoint``, ``region``,
    ``access_key_id``, ``secret_access_key``, ``session_token``, ``skip_signature``, ...,
    plus ``concurrency``, ``timeout``, ``connect_timeout``, ``max_retries``,
    ``retry_timeout``), else by the standard environment variables (``AWS_*``,
    ``GOOGLE_APPLICATION_CREDENTIALS``, ``AZURE_STORAGE_*``).  A pickle of a container
    opened with ``storage_options`` carries them, secrets included.

    Parameters
    ----------
    path:
        Directory or URL of the container.
    use_zarr_format:
        ``True`` for Zarr, ``False`` for N5, ``None`` to infer.
    mode:
        One of :attr:`file_modes`.
    dimension_separator:
        ``'.'`` (default) or ``'/'``: the separator between chunk indices of new Zarr v2
        datasets created through this object and the groups obtained from it (a
        ``dimension_separator`` given to ``create_dataset`` wins).  It is stored in each
        dataset's ``.zarray``, not in the container; N5 and Zarr v3 ignore it.
    zarr_format:
        Zarr version (2 or 3) of a new Zarr container; implies Zarr.
    write_empty_chunks:
        Whether datasets created or opened through this file store chunks that hold only
        the fill value (default ``False``: such chunks are removed and read back as the
        fill value); ``create_dataset(write_empty_chunks=...)`` overrides it.
    storage_options:
        Configuration of an object store (see above); an error with a local path.
    durable:
        Make every write through this container (chunks, metadata, attributes) durable
        before it returns: the file is synced before it is renamed into place and its
        directory after, as with ``Z5PY_DURABLE=1`` for a whole process (see the README's
        "Durability").  Off by default; object stores are durable when a write returns.
    """

    #: Extensions inferred as N5.
    n5_exts: ClassVar[frozenset[str]] = frozenset(N5_EXTS)
    #: Extensions inferred as Zarr.
    zarr_exts: ClassVar[frozenset[str]] = frozenset(ZARR_EXTS)

    def __init__(
        self,
        path: str | os.PathLike[str],
        *args: Any,
        use_zarr_format: bool | None | object = _UNSET,
        mode: str | object = _UNSET,
        dimension_separator: str | object = _UNSET,
        zarr_format: int | None | object = _UNSET,
        write_empty_chunks: bool = False,
        storage_options: dict[str, Any] | None = None,
        durable: bool = False,
    ) -> None:
        merged = _positional(
            args,
            {
                "use_zarr_format": use_zarr_format,
                "mode": mode,
                "dimension_separator": dimension_separator,
                "zarr_format": zarr_format,
            },
        )
        use_zarr_format = merged["use_zarr_format"]
        use_zarr_format = None if use_zarr_format is _UNSET else use_zarr_format
        mode = "a" if merged["mode"] is _UNSET else merged["mode"]
        separator = merged["dimension_separator"]
        separator = check_dimension_separator("." if separator is _UNSET else separator)
        zarr_format = None if merged["zarr_format"] is _UNSET else merged["zarr_format"]
        self._write_empty_chunks = bool(write_empty_chunks)
        if not isinstance(mode, str):
            raise TypeError(f"mode must be a string, got {mode!r}")
        if use_zarr_format is not None and not isinstance(use_zarr_format, bool):
            raise TypeError(f"use_zarr_format must be True, False or None, not {use_zarr_format!r}")
        if mode not in self.file_modes:
            raise InvalidArgumentError(
                f"invalid file mode {mode!r}; expected one of {sorted(self.file_modes)}"
            )
        if isinstance(zarr_format, bool) or zarr_format not in (None, 2, 3):
            raise InvalidArgumentError(f"zarr_format must be 2 or 3, got {zarr_format!r}")
        if zarr_format is not None and use_zarr_format is False:
            raise InvalidArgumentError("zarr_format was given together with use_zarr_format=False")
        loc, path = open_location(path, storage_options)
        self._check_extension(path, use_zarr_format, zarr_format)
        if mode != "r" and loc.remote and loc.target.read_only:
            raise InvalidArgumentError(
                f"{path!r} is read-only (HTTP); open it with mode 'r', not {mode!r}"
            )
        if not loc.remote and os.path.exists(path) and not os.path.isdir(path):
            raise Z5OSError(f"{path!r} exists and is not a directory")
        local = not loc.remote
        if durable and local:
            # every write through this container, metadata included, goes through a store
            # that syncs it before returning (object stores' PUTs are durable as they are)
            loc = Loc(_z5py.Store(path, durable=True), "")

        # A Zarr container with consolidated metadata is read through it (the hierarchy in
        # one request); looked for first, its document also tells that the container exists.
        consolidated = False
        if (
            mode in ("r", "r+", "a")
            and self.infer_format(path) is not False
            and (not local or os.path.isdir(path))
        ):
            through = with_consolidated(loc)
            consolidated, loc = through is not loc, through
        # (a read-only web server cannot be listed: what is there shows in its metadata)
        present = consolidated or (loc.remote and loc.target.read_only) or loc.exists()
        if mode in ("r", "r+") and not present and local:
            raise Z5FileNotFoundError(f"no container at {path!r} (mode {mode!r})")
        if mode in ("w-", "x") and present:
            raise Z5FileExistsError(f"{path!r} already exists (mode {mode!r})")
        # the root's own metadata is checked strictly, except when it is about to be replaced
        kind, disk_fmt = loc.info() if mode == "w" else loc.root_info()
        implicit = False
        if mode == "w":
            # the old container's format only matters if nothing else tells the new one's
            fmt = self._format_for_new(path, use_zarr_format, zarr_format, fallback=disk_fmt)
            if present:
                self._truncate(loc, path, kind)
            kind = "none"
        elif kind == "array":
            raise InvalidArgumentError(
                f"{path!r} holds a dataset at its root, not a group: open it with "
                f"z5py.open({path!r}), which returns the Dataset"
            )
        else:
            if kind == "dir":
                # no root metadata: an implicit root if members below have theirs
                below = format_below(loc)
                implicit = below is not None
                disk_fmt = below if implicit else disk_fmt
            fmt = self._resolve_format(path, disk_fmt, use_zarr_format, zarr_format)
        exists = kind == "group" or implicit or (kind == "dir" and fmt == "n5")

        if mode in ("r", "r+") and not exists:
            raise Z5FileNotFoundError(f"no {_describe(fmt)} container at {path!r} (mode {mode!r})")
        if not exists:
            _z5py.create_group(loc.target, fmt, True, key=loc.key)
        self._init_node(loc, fmt, mode, loc, "/", self, separator=separator)

    @classmethod
    def _check_extension(
        cls, path: str, use_zarr_format: bool | None, zarr_format: int | None
    ) -> None:
        """Refuse an explicit format that contradicts a recognised extension of ``path``."""
        by_extension = cls.infer_format(path)
        explicit = use_zarr_format if use_zarr_format is not None else None
        if explicit is None and zarr_format is not None:
            explicit = True
        if by_extension is not None and explicit is not None and explicit != by_extension:
            given = (
                f"use_zarr_format={use_zarr_format}"
                if use_zarr_format is not None
                else f"zarr_format={zarr_format}"
            )
            raise FormatMismatchError(
                f"{path!r} has the {'Zarr' if by_extension else 'N5'} extension "
                f"{os.path.splitext(path)[1]!r} but {given} was given"
            )

    @staticmethod
    def _truncate(loc: Loc, path: str, kind: str) -> None:
        """Delete the container at ``loc`` for mode ``'w'``, refusing foreign directories."""
        if kind in ("group", "array") or loc.is_empty():
            loc.remove()
        else:
            raise Z5OSError(
                f"refusing to truncate {path!r} (mode 'w'): it is a non-empty directory without "
                "N5 or Zarr metadata; delete it yourself if this is intended"
            )

    @classmethod
    def _resolve_format(
        cls,
        path: str,
        disk_fmt: str | None,
        use_zarr_format: bool | None,
        zarr_format: int | None,
    ) -> str:
        """Format of an existing (``disk_fmt``) or new container; refuses contradictions."""
        if disk_fmt is not None:
            if use_zarr_format is not None and use_zarr_format != (disk_fmt != "n5"):
                raise FormatMismatchError(
                    f"{path!r} is an existing {_describe(disk_fmt)} container but "
                    f"use_zarr_format={use_zarr_format} was given"
                )
            if zarr_format is not None and disk_fmt != f"zarr{zarr_format}":
                raise FormatMismatchError(
                    f"{path!r} is an existing {_describe(disk_fmt)} container but "
                    f"zarr_format={zarr_format} was given"
                )
            return disk_fmt
        return cls._format_for_new(path, use_zarr_format, zarr_format)

    @classmethod
    def _format_for_new(
        cls,
        path: str,
        use_zarr_format: bool | None,
        zarr_format: int | None,
        fallback: str | None = None,
    ) -> str:
        """Format of a new container: explicit arguments, else extension, else ``fallback``."""
        is_zarr = use_zarr_format
        if is_zarr is None:
            is_zarr = True if zarr_format is not None else cls.infer_format(path)
        if is_zarr is None:
            if fallback is not None:
                return fallback
            raise InvalidArgumentError(
                f"cannot infer the format of {path!r}: use an extension in "
                f"{sorted(cls.n5_exts | cls.zarr_exts)} or pass use_zarr_format"
            )
        return f"zarr{zarr_format or 2}" if is_zarr else "n5"

    @classmethod
    def infer_format(cls, path: str | os.PathLike[str]) -> bool | None:
        """Format implied by the extension of ``path`` (a path or URL): True for Zarr, False
        for N5, else None."""
        ext = os.path.splitext(os.fspath(path).rstrip("/"))[1].lower()
        if ext in cls.zarr_exts:
            return True
        if ext in cls.n5_exts:
            return False
        return None

    @property
    def durable(self) -> bool:
        """Whether writes through this container are synced before they return
        (``durable=True`` or ``Z5PY_DURABLE=1``; see :class:`File`)."""
        return durable_writes(self._loc)

    @property
    def write_empty_chunks(self) -> bool:
        """Whether datasets of this file store chunks holding only the fill value (the
        default of ``create_dataset``'s ``write_empty_chunks`` and of opened datasets)."""
        return self._write_empty_chunks

    @property
    def filename(self) -> str:
        """Path of the container, as given when opening it."""
        return self._path

    def close(self) -> None:
        """Do nothing: a container holds no open resources (kept for h5py compatibility)."""

    def __enter__(self) -> Self:
        """Enter a ``with`` block; returns the file."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Leave a ``with`` block (calls :meth:`close`)."""
        self.close()

    def _reopen_target(self) -> Any:
        """What pickling reopens: the path, or the store (which carries its URL and
        ``storage_options``, secrets included)."""
        return self._loc.target if self._loc.remote else self._path

    @property
    def storage_options(self) -> dict[str, Any] | None:
        """The ``storage_options`` this container was opened with (None for local ones)."""
        return self._loc.target.storage_options if self._loc.remote else None

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle by path or URL; unpickling reopens without ever truncating."""
        return (
            _reopen,
            (
                self._reopen_target(),
                self.is_zarr,
                REOPEN_MODES[self._mode],
                self.zarr_format,
                self._separator,
            ),
        )

    def __repr__(self) -> str:
        """Path, format and mode."""
        return f"<z5py File {self._path!r} ({self._fmt}, mode {self._mode!r})>"


class N5File(File):
    """An N5 container (see :class:`File` for the modes).

    Parameters
    ----------
    path:
        Directory of the container.
    mode:
        One of :attr:`File.file_modes` (default ``'a'``).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        mode: str = "a",
        storage_options: dict[str, Any] | None = None,
        durable: bool = False,
    ) -> None:
        super().__init__(
            path,
            use_zarr_format=False,
            mode=mode,
            storage_options=storage_options,
            durable=durable,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle by path; unpickling reopens without ever truncating."""
        return (N5File, (self._reopen_target(), REOPEN_MODES[self._mode]))


class ZarrFile(File):
    """A Zarr container (see :class:`File` for the modes).

    Parameters
    ----------
    path:
        Directory of the container.
    mode:
        One of :attr:`File.file_modes` (default ``'a'``).
    dimension_separator:
        Default separator of new Zarr v2 datasets (see :class:`File`).
    zarr_format:
        Zarr version (2 or 3) of a new container (default 2); an existing container's
        version is read from disk.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        mode: str = "a",
        dimension_separator: str = ".",
        zarr_format: int | None = None,
        storage_options: dict[str, Any] | None = None,
        durable: bool = False,
    ) -> None:
        super().__init__(
            path,
            use_zarr_format=True,
            mode=mode,
            dimension_separator=dimension_separator,
            zarr_format=zarr_format,
            storage_options=storage_options,
            durable=durable,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle by path; unpickling reopens without ever truncating."""
        return (
            ZarrFile,
            (self._reopen_target(), REOPEN_MODES[self._mode], self._separator, self.zarr_format),
        )


def open(
    path: str | os.PathLike[str], mode: str = "r", *args: Any, **kwargs: Any
) -> File | Dataset:
    """Open whatever is stored at ``path``: a :class:`~z5py.Dataset` when the root of the
    store is an array (what ``zarr.create_array(path)`` and tensorstore write), else the
    :class:`File` ``File(path, mode, *args, **kwargs)``.

    The arguments are :class:`File`'s, mode first (default ``'r'``).  For an array root,
    ``mode`` ``'r'`` gives a read-only dataset, ``'r+'`` and ``'a'`` a writable one, ``'w'``
    replaces it by a new container (as ``File`` does) and ``'w-'`` / ``'x'`` refuse it;
    ``use_zarr_format`` and ``zarr_format`` must agree with it
    (:class:`~z5py.errors.FormatMismatchError`), ``dimension_separator`` is validated and
    ``write_empty_chunks`` applies to the dataset.  ``path`` may be a URL, configured by
    ``storage_options`` (see :class:`File`).
    """
    loc, text = open_location(path, kwargs.get("storage_options"))
    kind = "none"
    if mode != "w" and (loc.remote or os.path.isdir(text)):
        loc = with_consolidated(loc)
        kind, disk_fmt = loc.root_info()
    if kind != "array":
        return File(path, mode, *args, **kwargs)
    kwargs.pop("storage_options", None)
    merged = _positional(
        (mode, *args),
        {
            name: kwargs.pop(name, _UNSET)
            for name in ("use_zarr_format", "mode", "dimension_separator", "zarr_format")
        },
    )
    write_empty_chunks = kwargs.pop("write_empty_chunks", False)
    if kwargs:
        raise TypeError(f"open() got unexpected keyword arguments {sorted(kwargs)}")
    if merged["mode"] not in Group.file_modes:
        raise InvalidArgumentError(
            f"invalid file mode {merged['mode']!r}; expected one of {sorted(Group.file_modes)}"
        )
    if merged["mode"] in ("w-", "x"):
        raise Z5FileExistsError(f"{text!r} already exists (mode {merged['mode']!r})")
    if merged.get("dimension_separator", _UNSET) is not _UNSET:
        check_dimension_separator(merged["dimension_separator"])
    use_zarr_format = merged.get("use_zarr_format", _UNSET)
    zarr_format = merged.get("zarr_format", _UNSET)
    use_zarr_format = None if use_zarr_format is _UNSET else use_zarr_format
    zarr_format = None if zarr_format is _UNSET else zarr_format
    File._check_extension(text, use_zarr_format, zarr_format)
    File._resolve_format(text, disk_fmt, use_zarr_format, zarr_format)
    dataset = open_dataset(loc, merged["mode"], loc, "/", None)
    if write_empty_chunks:
        dataset.write_empty_chunks = True
    return dataset


def _reopen(
    path: str,
    use_zarr_format: bool,
    mode: str,
    zarr_format: int | None,
    dimension_separator: str = ".",
) -> File:
    """Unpickle a ``File``."""
    return File(
        path,
        use_zarr_format=use_zarr_format,
        mode=mode,
        zarr_format=zarr_format,
        dimension_separator=dimension_separator,
    )


def _describe(fmt: str) -> str:
    """Human-readable name of a format."""
    return {"n5": "N5", "zarr2": "Zarr v2", "zarr3": "Zarr v3"}[fmt]
