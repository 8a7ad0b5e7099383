"""Exclusive advisory file locks (``flock``), one helper for every lock the harness takes."""

from __future__ import annotations

import fcntl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def file_lock(path: Path, *, busy: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created, with its folder) while the block runs.

    Where another process holds it, ``busy`` (when given) is called first: it may say that
    this one waits, or raise to give up; then the lock is waited for. The lock goes with the
    process, so a killed holder never leaves it behind.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        held = False
        if busy is not None:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                held = True
            except BlockingIOError:
                busy()
        if not held:
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
