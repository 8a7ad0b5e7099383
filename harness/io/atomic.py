"""Atomic file writes: a temporary sibling, fsync, then rename over the target."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from harness.io import faults


def write_text(path: str | Path, text: str) -> None:
    """Write text to ``path`` atomically."""
    write_bytes(path, text.encode("utf-8"))


def write_bytes(path: str | Path, data: bytes) -> None:
    """Write bytes to ``path`` atomically."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        faults.point("atomic.replace", path)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_all(files: dict[Path, bytes]) -> None:
    """Write several files atomically as one: every temporary file is written and synced
    before the first is renamed over its target, so a full disk replaces none of them."""
    tmps: dict[Path, Path] = {}
    try:
        for path, data in files.items():
            tmps[path] = path.with_name(f".{path.name}.tmp-{os.getpid()}")
            with open(tmps[path], "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            faults.point("atomic.replace", path)
        for path, tmp in tmps.items():
            os.replace(tmp, path)
    except BaseException:
        for tmp in tmps.values():
            tmp.unlink(missing_ok=True)
        raise


def write_json(path: str | Path, obj: Any) -> None:
    """Write pretty, key-sorted JSON to ``path`` atomically."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def write_jsonl(path: str | Path, rows: list[dict[str, Any]]) -> None:
    """Write one JSON object per line to ``path`` atomically."""
    write_text(path, "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n"
                             for r in rows))
