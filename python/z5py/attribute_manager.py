"""Dict-like access to the user attributes of a group or dataset."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

from . import _z5py
from .attrs_json import json_default
from .errors import InvalidArgumentError, ReadOnlyError, ReservedAttributeError

__all__ = [
    "HIDDEN_KEYS",
    "MAXSHAPE_KEY",
    "N5_RESERVED_KEYS",
    "AttributeManager",
    "get_json_decoder",
    "get_json_encoder",
    "set_json_decoder",
    "set_json_encoder",
]

#: Keys that N5 keeps in ``attributes.json`` for itself: a dataset's metadata and the root's
#: container version.  There (only) they are hidden from and protected against the
#: AttributeManager; ``_z5py.reserved_attrs`` tells which apply at a node.
N5_RESERVED_KEYS = frozenset(
    {"dimensions", "blockSize", "dataType", "compression", "compressionType", "n5"}
)

#: Attribute under which z5py keeps a dataset's ``maxshape`` when one was given (other
#: readers ignore attributes).  Hidden from and protected against the AttributeManager.
MAXSHAPE_KEY = "_z5py_maxshape"

#: Keys z5py keeps in the attributes for itself.
HIDDEN_KEYS = frozenset({MAXSHAPE_KEY})

_FORMATS = ("n5", "zarr2", "zarr3")


#: The process-wide encoder and decoder classes of attributes (``None``: json's own).
_json_encoder: type[json.JSONEncoder] | None = None
_json_decoder: type[json.JSONDecoder] | None = None


def _check_json_class(cls: Any, base: type, setter: str) -> None:
    """Refuse anything but ``None`` or a subclass of ``base``."""
    if cls is not None and not (isinstance(cls, type) and issubclass(cls, base)):
        raise TypeError(f"{setter} needs a subclass of json.{base.__name__} or None, got {cls!r}")


def set_json_encoder(encoder: type[json.JSONEncoder] | None) -> None:
    """Serialize attribute values with ``encoder`` (a ``json.JSONEncoder`` subclass) from now
    on, in the whole process; ``None`` restores the default.

    Values the encoder's ``default`` refuses still fall back to the built-in conversion of
    numpy scalars and arrays.  Anything else than such a class or ``None`` raises
    ``TypeError``.
    """
    global _json_encoder
    _check_json_class(encoder, json.JSONEncoder, "set_json_encoder")
    _json_encoder = encoder


def set_json_decoder(decoder: type[json.JSONDecoder] | None) -> None:
    """Deserialize the attribute values handed to callers with ``decoder`` (a
    ``json.JSONDecoder`` subclass) from now on, in the whole process; ``None`` restores the
    default.

    Updates (``attrs[key] = value``, ``del``, ``update``) rewrite the other keys exactly as
    stored, never passing them through the decoder.  Anything else than such a class or
    ``None`` raises ``TypeError``.
    """
    global _json_decoder
    _check_json_class(decoder, json.JSONDecoder, "set_json_decoder")
    _json_decoder = decoder


def get_json_encoder() -> type[json.JSONEncoder] | None:
    """The encoder class set with :func:`set_json_encoder` (``None``: the default)."""
    return _json_encoder


def get_json_decoder() -> type[json.JSONDecoder] | None:
    """The decoder class set with :func:`set_json_decoder` (``None``: the default)."""
    return _json_decoder


def _dumps(attrs: dict[str, Any]) -> str:
    """JSON text of ``attrs`` with the configured encoder (numpy values always work)."""
    encoder = _json_encoder
    if encoder is None:
        return json.dumps(attrs, allow_nan=True, default=json_default)

    class _WithNumpy(encoder):  # type: ignore[misc, valid-type]
        def default(self, o: Any) -> Any:
            try:
                return super().default(o)
            except TypeError:
                return json_default(o)

    return json.dumps(attrs, allow_nan=True, cls=_WithNumpy)


class AttributeManager(MutableMapping):
    """The user attributes of one group or dataset, as a mutable mapping.

    Attributes are stored as JSON: in ``attributes.json`` for N5, ``.zattrs`` for Zarr v2
    and the ``attributes`` member of ``zarr.json`` for Zarr v3.  Values must be JSON
    serializable; numpy scalars and arrays are converted to Python numbers and (nested)
    lists, tuples come back as lists, and NaN/Infinity are allowed.  Every assignment or
    deletion rewrites the whole attribute set atomically; use :meth:`update` to change
    several keys with a single write.

    In N5, a dataset's ``attributes.json`` also holds its metadata (``dimensions``,
    ``blockSize``, ``dataType``, ``compression``, ``compressionType``) and the root's holds
    the container version (``n5``).  There these keys are not shown and cannot be set or
    deleted (:class:`~z5py.errors.ReservedAttributeError`); on other groups they are
    ordinary attributes (BigDataViewer puts ``dataType`` on its ``setupN`` groups), except
    that a group cannot get all of ``dimensions``, ``blockSize`` and ``dataType``, which
    would make it a dataset.

    Parameters
    ----------
    path:
        Filesystem path of the group or dataset, or its location in a store (a
        ``(Store, key)`` pair).
    is_zarr:
        Whether the node is Zarr (``True``) or N5 (``False``).  The Zarr version is read
        from disk.  May be omitted when ``fmt`` is given or the node's metadata tells.
    fmt:
        The exact format (``"n5"``, ``"zarr2"`` or ``"zarr3"``); overrides ``is_zarr``.
    read_only:
        Refuse every modification with :class:`~z5py.errors.ReadOnlyError`.
    root:
        Whether the node is the root of its container (N5 reserves ``n5`` there).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        is_zarr: bool | None = None,
        *,
        fmt: str | None = None,
        read_only: bool = False,
        root: bool = False,
    ) -> None:
        from ._location import as_loc

        self._loc = as_loc(path)
        self._path = self._loc.shown()
        self._root = bool(root)
        self._fmt = fmt if fmt is not None else self._detect_format(self._loc, is_zarr)
        if self._fmt not in _FORMATS:
            raise InvalidArgumentError(f"unknown format {self._fmt!r}; expected one of {_FORMATS}")
        self._read_only = read_only

    @staticmethod
    def _detect_format(loc: Any, is_zarr: bool | None) -> str:
        """The format of the node at ``loc``, using ``is_zarr`` only where disk is silent."""
        _, on_disk = loc.info()
        path = loc.shown()
        if on_disk is not None and (is_zarr is None or is_zarr == (on_disk != "n5")):
            return on_disk
        if is_zarr is None:
            raise InvalidArgumentError(
                f"cannot tell whether {path!r} is N5 or Zarr; pass is_zarr or fmt"
            )
        return "zarr2" if is_zarr else "n5"

    @property
    def path(self) -> str:
        """Filesystem path of the node these attributes belong to."""
        return self._path

    @property
    def read_only(self) -> bool:
        """Whether modifications are refused."""
        return self._read_only

    def _read_text(self) -> str:
        """The stored attribute document's JSON text, freshly read."""
        return _z5py.read_attrs(self._loc.target, self._fmt, key=self._loc.key, root=self._root)

    def _read_all(self) -> dict[str, Any]:
        """All attributes as stored (z5py's hidden ones too), freshly read from disk."""
        return json.loads(self._read_text())

    def _read(self) -> dict[str, Any]:
        """All user attributes as stored, freshly read from disk (for updates)."""
        return {k: v for k, v in self._read_all().items() if k not in HIDDEN_KEYS}

    def _read_decoded(self) -> dict[str, Any]:
        """All user attributes as handed to callers: decoded with the configured decoder."""
        decoder = _json_decoder
        if decoder is None:
            return self._read()
        attrs = json.loads(self._read_text(), cls=decoder)
        if not isinstance(attrs, Mapping):
            raise TypeError(
                f"the JSON decoder {decoder.__name__} turned the attributes of {self._path!r} "
                f"into {type(attrs).__name__}; it must return a mapping for a JSON object"
            )
        return {k: v for k, v in attrs.items() if k not in HIDDEN_KEYS}

    def _update(self, new: Mapping[str, Any], delete: tuple[str, ...] = ()) -> None:
        """Set ``new`` and remove ``delete`` in one read-modify-write of the stored document,
        which other threads and processes cannot interleave (nothing of theirs is lost)."""
        try:
            _z5py.update_attrs(
                self._loc.target,
                self._fmt,
                _dumps(dict(new)),
                list(delete),
                key=self._loc.key,
                root=self._root,
            )
        except InvalidArgumentError as error:  # a key N5 reserves at this node
            raise ReservedAttributeError(str(error)) from None

    def _check_key(self, key: Any, action: str) -> None:
        """Refuse modifications in read-only mode, non-string keys and reserved N5 keys."""
        if self._read_only:
            raise ReadOnlyError(f"cannot {action} attribute {key!r}: opened in read-only mode 'r'")
        if not isinstance(key, str):
            raise TypeError(f"attribute names must be strings, got {type(key).__name__}")
        if key in HIDDEN_KEYS:
            raise InvalidArgumentError(f"cannot {action} attribute {key!r}: it is reserved by z5py")
        if (
            self._fmt == "n5"
            and key in N5_RESERVED_KEYS
            and key
            in _z5py.reserved_attrs(self._loc.target, self._fmt, key=self._loc.key, root=self._root)
        ):
            raise ReservedAttributeError(
                f"cannot {action} attribute {key!r} of {self._path!r}: it is reserved for N5 "
                f"{'the container version' if key == 'n5' else 'dataset metadata'}"
            )

    def __getitem__(self, key: str) -> Any:
        """The value of attribute ``key`` (``KeyError`` if it does not exist)."""
        attrs = self._read_decoded()
        if key not in attrs:
            raise KeyError(key)
        return attrs[key]

    def __setitem__(self, key: str, value: Any) -> None:
        """Set attribute ``key`` to the JSON-serializable ``value``."""
        self._check_key(key, "set")
        self._update({key: value})

    def __delitem__(self, key: str) -> None:
        """Remove attribute ``key`` (``KeyError`` if it does not exist)."""
        self._check_key(key, "delete")
        if key not in self._read():
            raise KeyError(key)
        self._update({}, (key,))

    def update(self, other: Any = (), /, **kwargs: Any) -> None:
        """Set several attributes at once, with a single write to disk (like ``dict.update``)."""
        new = dict(other, **kwargs)
        for key in new:
            self._check_key(key, "set")
        self._update(new)

    def clear(self) -> None:
        """Remove all user attributes (reserved N5 keys are kept), with a single write."""
        if self._read_only:
            raise ReadOnlyError("cannot clear attributes: opened in read-only mode 'r'")
        # one locked read-modify-write, like set and delete: keys other writers set
        # meanwhile are removed with the rest or set after, and z5py's hidden keys stay
        _z5py.clear_attrs(
            self._loc.target, self._fmt, sorted(HIDDEN_KEYS), key=self._loc.key, root=self._root
        )

    def __iter__(self) -> Iterator[str]:
        """Iterate over the attribute names."""
        return iter(list(self._read_decoded()))

    def __len__(self) -> int:
        """Number of user attributes."""
        return len(self._read_decoded())

    def __contains__(self, key: object) -> bool:
        """Whether attribute ``key`` exists."""
        return key in self._read_decoded()

    def __repr__(self) -> str:
        """Path, format and current attributes."""
        return f"<z5py AttributeManager of {self._path!r} ({self._fmt}): {self._read_decoded()!r}>"
