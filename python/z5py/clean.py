"""Temporary files left behind by killed writers: finding them and removing the stale ones.

Every write of a chunk, shard or metadata document goes to a temporary file in the same
directory, named ``.z5tmp.<name>.<pid>.<n>``, that is renamed into place when complete
(readers and listings skip dot-files, so they never see one).  A writer killed in between
leaves its temporary file behind.  No write takes anywhere near an hour, so a temporary
file older than that cannot belong to a live writer; younger ones of a process that still
runs on this machine are never touched.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass

from .array_metadata import TMP_PREFIX

__all__ = ["DEFAULT_OLDER_THAN", "TempFile", "clean", "find_temp_files"]

#: Age in seconds after which a temporary file is taken as abandoned (one hour).
DEFAULT_OLDER_THAN = 3600.0

_NAME = re.compile(re.escape(TMP_PREFIX) + r"(?P<target>.+)\.(?P<pid>\d+)\.(?P<n>\d+)$")


@dataclass(frozen=True)
class TempFile:
    """A temporary file of an interrupted (or running) write."""

    path: str
    #: The file it would have become.
    target: str
    #: Process id of the writer (on the machine that wrote it).
    pid: int
    #: Seconds since it was last modified.
    age: float
    size: int


def _alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def find_temp_files(path: str | os.PathLike[str]) -> Iterator[TempFile]:
    """Every z5py temporary file below ``path`` (a container, group or dataset)."""
    now = time.time()
    for directory, subdirs, files in os.walk(os.fspath(path)):
        subdirs.sort()
        for name in sorted(files):
            match = _NAME.match(name)
            if match is None:
                continue
            full = os.path.join(directory, name)
            try:
                stat = os.lstat(full)
            except FileNotFoundError:
                continue  # renamed into place meanwhile
            yield TempFile(
                path=full,
                target=os.path.join(directory, match["target"]),
                pid=int(match["pid"]),
                age=max(0.0, now - stat.st_mtime),
                size=stat.st_size,
            )


def clean(
    path: str | os.PathLike[str], older_than: float = DEFAULT_OLDER_THAN, *, dry_run: bool = False
) -> list[str]:
    """Remove the temporary files below ``path`` that no live writer can own: those older
    than ``older_than`` seconds (default an hour).  Nothing else is touched.  A lower
    ``older_than`` (down to 0) is for a container only this machine writes to: a file
    younger than an hour whose process still runs here is kept whatever ``older_than``.

    Returns the paths removed (or, with ``dry_run``, that would be).
    """
    if older_than < 0:
        raise ValueError(f"older_than must not be negative, got {older_than}")
    if not os.path.isdir(path):
        raise FileNotFoundError(f"no such container or directory: {os.fspath(path)!r}")
    removed = []
    for temp in find_temp_files(path):
        if temp.age < older_than:
            continue
        if temp.age < DEFAULT_OLDER_THAN and _alive(temp.pid):
            continue
        if not dry_run:
            try:
                os.unlink(temp.path)
            except FileNotFoundError:
                continue
        removed.append(temp.path)
    return removed
