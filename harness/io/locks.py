"""Exclusive advisory file locks (``flock``), one helper for every lock the harness takes."""

from __future__ import annotations

import fcntl
import os
import time
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


@contextmanager
def one_of(folder: Path, n: int, *, marker: Path | None = None,
           poll_s: float = 1.0) -> Iterator[int]:
    """Hold one of ``n`` slot locks (``folder/slot-<k>.lock``) while the block runs, so that
    at most ``n`` processes run it at once; wait, polling every ``poll_s``, while all are
    held. ``marker`` (when given) exists while this process waits, so that others can tell
    a waiting process from a working one. Yields the slot's number. Like ``file_lock``, a
    slot goes with its process: a killed holder frees it."""
    if n < 1:
        raise ValueError(f"one_of: n must be >= 1, got {n}")
    folder.mkdir(parents=True, exist_ok=True)
    if marker is not None:
        marker.write_text(f"{os.getpid()}\n")
    try:
        while True:
            for k in range(n):
                fh = open(folder / f"slot-{k}.lock", "a")  # noqa: SIM115 (held past the loop)
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    fh.close()
                    continue
                break
            else:
                time.sleep(poll_s)
                continue
            break
    finally:
        if marker is not None:
            marker.unlink(missing_ok=True)
    try:
        yield k
    finally:
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()
