"""Temporary files in the model cache: held (locked) while written, removed once stale.

A download or an extraction killed by SIGKILL/SIGTERM leaves its temporary file behind:
pooch's ``tmpXXXXXXXX`` (pooch picks the name; it cannot be given a prefix), or our
``.<member>.<random>.part`` (+ ``.json``) from an archive extraction. Each is held under an
exclusive ``flock`` while a process writes it; the kernel drops the lock when that process
dies, however it dies. A temp file is stale, and removed before and after the next download,
only when no process holds it AND it has not been modified for :data:`STALE_AFTER_S`
seconds: the age covers the instants a live file is not yet (or no longer) held, between
its creation and the lock, and between the end of the transfer and pooch's rename. So two
processes downloading into one cache never remove each other's files.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no flock; the age alone decides
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

STALE_AFTER_S = 60.0
# pooch's NamedTemporaryFile names ("tmp" + 8 of [a-z0-9_]) and our ".part" / ".part.json" files
TEMP_NAME = re.compile(r"tmp[a-z0-9_]{8}|\..+\.part(\.json)?")


@contextmanager
def holding(path: str | os.PathLike[str]) -> Iterator[None]:
    """Hold an exclusive lock on the file at ``path`` (created if missing) for the block.

    The lock is taken on the file the path names after locking: if a cleaner removed the
    file between our open and our lock, it is created again and locked anew.
    """
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if os.path.samestat(os.fstat(fd), os.stat(path)):
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        yield
    finally:
        os.close(fd)


def remove_stale(folder: Path) -> list[Path]:
    """Remove the stale temporary files directly in ``folder``; returns what was removed."""
    try:
        candidates = [p for p in folder.iterdir() if TEMP_NAME.fullmatch(p.name)]
    except OSError:  # no cache folder yet, or not readable: nothing of ours to clean
        return []
    return [path for path in candidates if _remove_if_stale(path)]


def _remove_if_stale(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:  # gone meanwhile (its writer finished), a symlink, or not ours to read
        return False
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # held: a download or extraction in progress
                return False
        info = os.fstat(fd)
        if time.time() - info.st_mtime < STALE_AFTER_S or not os.path.samestat(info, os.lstat(path)):
            return False
        os.unlink(path)
    except OSError:
        return False
    finally:
        os.close(fd)
    log.info("removed %s (%d bytes), left by an interrupted download or extraction", path, info.st_size)
    return True
