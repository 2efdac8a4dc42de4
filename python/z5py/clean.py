"""Temporary and lock files left behind by killed writers: finding them and removing the
stale ones.

Every write of a chunk, shard or metadata document goes to a temporary file in the same
directory, named ``.z5tmp.<name>.<pid>.<n>``, that is renamed into place when complete
(readers and listings skip dot-files, so they never see one).  A writer killed in between
leaves its temporary file behind.  No write takes anywhere near an hour, so a temporary
file older than that cannot belong to a live writer; younger ones of a process that still
runs on this machine are never touched.

A read-modify-write (a partial chunk or shard write, an attribute update) holds an advisory
lock on one byte (the key's) of its node's lock file ``.z5lock`` (in the array's directory
for chunks, the node's for metadata and attributes), which the last writer done with the
node removes.  A killed writer leaves the file (its locks go with the process), at most one
per node; older builds named one per chunk directory, or one per key, ``.z5lock.<name>``.
Such a file is removed only while this process holds a lock on all of it, after checking
that it is still the file under that name, the same protocol writers follow, so a lock a
live writer holds is never broken.
"""

from __future__ import annotations

import fcntl
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass

from .array_metadata import TMP_PREFIX

__all__ = [
    "DEFAULT_OLDER_THAN",
    "LOCK_PREFIX",
    "TempFile",
    "clean",
    "find_lock_files",
    "find_temp_files",
]

#: Prefix of lock files: a node's ``.z5lock`` (as in ``src/store/lockfile.rs``), and
#: an older build's per-key ``.z5lock.<name>``.
LOCK_PREFIX = ".z5lock"

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


def find_lock_files(path: str | os.PathLike[str]) -> Iterator[tuple[str, float]]:
    """Every lock file below ``path`` with its age in seconds (a lock file exists while a
    read-modify-write holds it, and after a writer was killed during one)."""
    now = time.time()
    for directory, subdirs, files in os.walk(os.fspath(path)):
        subdirs.sort()
        for name in sorted(files):
            if name.startswith(LOCK_PREFIX):
                full = os.path.join(directory, name)
                try:
                    yield full, max(0.0, now - os.lstat(full).st_mtime)
                except FileNotFoundError:
                    continue


def _remove_unheld_lock(path: str) -> bool:
    """Remove the lock file ``path`` if no process holds its lock (taking the lock first and
    checking that the file is still the one under that name, as writers do)."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # held by a live writer
        try:
            now = os.stat(path)
        except FileNotFoundError:
            return False
        held = os.fstat(fd)
        if (now.st_ino, now.st_dev) != (held.st_ino, held.st_dev):
            return False
        os.unlink(path)
        return True
    finally:
        os.close(fd)


def clean(
    path: str | os.PathLike[str], older_than: float = DEFAULT_OLDER_THAN, *, dry_run: bool = False
) -> list[str]:
    """Remove the temporary files below ``path`` that no live writer can own: those older
    than ``older_than`` seconds (default an hour).  Nothing else is touched.  A lower
    ``older_than`` (down to 0) is for a container only this machine writes to: a file
    younger than an hour whose process still runs here is kept whatever ``older_than``.

    Lock files (``.z5lock``, and older builds' ``.z5lock.*``) older than ``older_than`` go
    too, unless a writer holds a lock on them.

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
    for lock, age in find_lock_files(path):
        if age < older_than:
            continue
        if dry_run or _remove_unheld_lock(lock):
            removed.append(lock)
    return removed
