"""Telling the pose formats apart from a path, without loading a whole dataset pickle.

- A ``.pose`` file, or a folder of them: ``pose``.
- A single pickle: its first opcodes are read (never executed) to see its top-level shape:
  ``{'split': ..., 'annotations': ...}`` is ``pyskl``; ``{name: {'keypoints': ...}}`` or
  ``{name: array}`` is ``slrt``; a per-clip dict (``keypoints`` first) is loaded (clip files
  are small) and told apart by its keys: ``scores`` is ``unisign``, ``confidences``
  ``openhands``.
- A folder of pickles: the first one (sorted) decides; a folder holding one dataset pickle
  is that pickle.
- Anything else, or a folder mixing ``.pose`` files and pickles: a DataError saying to pass
  ``--format``.
"""

from __future__ import annotations

import gzip
import pickletools
from pathlib import Path
from typing import Any

from benchmarks.formats._common import PICKLE_SUFFIXES, clip_files, ranked
from harness.core.registry import POSE_FORMATS
from harness.errors import DataError, UserError
from harness.io.safe_pickle import load_pickle

POSE_SUFFIX = ".pose"
_PEEK_OPCODES = 256
_STRINGS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING",
            "BINSTRING", "STRING"}
_CONTAINERS = {"EMPTY_DICT": "dict", "DICT": "dict", "EMPTY_LIST": "list", "LIST": "list",
               "EMPTY_TUPLE": "tuple", "TUPLE": "tuple"}
_PER_CLIP = {"scores": "unisign", "confidences": "openhands"}


def undetected(path: Path, reason: str) -> DataError:
    """The one-line error for a source whose format cannot be told."""
    return DataError(f"{path}: cannot tell the pose format ({reason}); pass --format with one "
                     f"of: {', '.join(ranked(POSE_FORMATS.entries()))}")


def detect_format(path: str | Path) -> str:
    """The pose format of a file or folder (a registered one), or a DataError naming them."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path} does not exist")
    if path.is_file():
        if path.suffix.lower() == POSE_SUFFIX:
            return "pose"
        return _pickle_format(path)
    poses = clip_files(path, (POSE_SUFFIX,))
    pickles = clip_files(path, PICKLE_SUFFIXES)
    if poses and pickles:
        raise undetected(path, f"it holds both .pose files ({len(poses)}) and pickles "
                               f"({len(pickles)})")
    if poses:
        return "pose"
    if not pickles:
        raise undetected(path, "no .pkl, .pickle or .pose files in it")
    fmt = _pickle_format(pickles[0])
    if fmt in _PER_CLIP.values() or len(pickles) == 1:
        return fmt
    raise undetected(path, f"{pickles[0].name} is a whole-dataset {fmt} pickle but the folder "
                           f"holds {len(pickles)} pickles; pass that file as --source")


def single_pickle(path: Path, fmt: str) -> Path:
    """The dataset pickle of a one-pickle format: ``path`` itself or the only pickle in it."""
    if path.is_file():
        return path
    pickles = clip_files(path, PICKLE_SUFFIXES)
    if len(pickles) != 1:
        raise DataError(f"{path}: a {fmt} source is one pickle file, this folder holds "
                        f"{len(pickles)}; pass the file as --source")
    return pickles[0]


def _pickle_format(file: Path) -> str:
    kind, first_key, after = peek_pickle(file)
    if kind != "dict":
        raise undetected(file, f"its top level is a {kind}, not a dict of clips or a clip")
    if first_key is None:
        raise undetected(file, "its top-level dict does not start with a string key")
    if first_key in ("split", "annotations"):
        return "pyskl"
    if first_key in ("keypoints", "scores", "confidences", "start", "end"):
        return _per_clip_format(file)
    if after in (("dict", "keypoints"), ("global", "numpy")):
        return "slrt"
    raise undetected(file, f"a dict whose first entry {first_key!r} is not a clip's keypoints")


def _per_clip_format(file: Path) -> str:
    data = load_pickle(file)
    keys = set(map(str, data)) if isinstance(data, dict) else set()
    found = [fmt for key, fmt in _PER_CLIP.items() if key in keys and "keypoints" in keys]
    if len(found) != 1:
        raise undetected(file, f"a clip pickle with keys {sorted(keys)}; Uni-Sign clips have "
                               f"keypoints+scores, OpenHands clips keypoints+confidences")
    return found[0]


def peek_pickle(file: Path) -> tuple[str, Any, tuple[str, str] | None]:
    """The top-level container of a pickle, its first key and what follows that key.

    Reads opcodes only (nothing is built or executed). The third item is
    ``("dict", <first key of the nested dict>)``, ``("global", <top module>)`` or None.
    """
    tokens: list[tuple[str, Any]] = []
    try:
        with _open(file) as fh:
            for i, (op, arg, _) in enumerate(pickletools.genops(fh)):
                if i >= _PEEK_OPCODES or op.name == "STOP" or len(tokens) >= 8:
                    break
                if op.name in _STRINGS:
                    tokens.append(("str", arg))
                elif op.name in _CONTAINERS:
                    tokens.append((_CONTAINERS[op.name], None))
                elif op.name == "GLOBAL":
                    tokens.append(("global", str(arg).split(" ")[0]))
                elif op.name == "STACK_GLOBAL" and len(tokens) >= 2:
                    module = tokens[-2][1]
                    del tokens[-2:]
                    tokens.append(("global", str(module)))
    except (ValueError, EOFError, OSError) as exc:
        raise DataError(f"{file}: not a readable pickle ({type(exc).__name__}: "
                        f"{str(exc)[:120]})") from None
    if not tokens:
        raise DataError(f"{file}: not a readable pickle (empty)")
    kind = tokens[0][0]
    first_key = tokens[1][1] if len(tokens) > 1 and tokens[1][0] == "str" else None
    after = None
    if len(tokens) > 2:
        nxt = tokens[2]
        if nxt[0] == "dict" and len(tokens) > 3 and tokens[3][0] == "str":
            after = ("dict", tokens[3][1])
        elif nxt[0] == "global":
            after = ("global", str(nxt[1]).split(".")[0])
    return kind, first_key, after


def _open(file: Path) -> Any:
    with open(file, "rb") as fh:
        magic = fh.read(2)
    return gzip.open(file, "rb") if magic == b"\x1f\x8b" else open(file, "rb")
