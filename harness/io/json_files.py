"""Reading the JSON files the harness wrote, with one-line errors that name the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.errors import DataError


def read_json(path: Path, *, missing: str, damaged: str,
              damage: tuple[type[Exception], ...] = (ValueError,)) -> Any:
    """The content of the JSON file ``path``, or a one-line DataError: ``missing`` where the
    file does not exist, ``damaged`` (in which ``{error}`` becomes the exception's class)
    where reading it raises one of ``damage`` (by default ValueError: not UTF-8, not JSON;
    other errors, e.g. a permission denied, pass through)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(missing) from None
    except damage as exc:
        raise DataError(damaged.replace("{error}", type(exc).__name__)) from None
