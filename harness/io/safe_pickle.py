"""A restricted unpickler for the field's pose and label pickles.

Pickles execute code when loaded. The field publishes keypoints and labels as pickles
(Uni-Sign, SLRT, pyskl, OpenHands), so the harness reads them with an unpickler that builds
only numpy arrays and scalars, Python numbers, strings, bytes and containers, and refuses
anything else, naming the file and the refused global. Gzip-compressed pickles (Uni-Sign's
label files) are detected by their magic bytes.
"""

from __future__ import annotations

import _compat_pickle
import codecs
import collections
import gzip
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import DataError

_NUMPY_CORE = ("numpy.core", "numpy._core")  # numpy 1 and numpy 2 names of the same module


def _frombuffer() -> Any:
    for core in reversed(_NUMPY_CORE):
        try:
            return __import__(f"{core}.numeric", fromlist=["_frombuffer"])._frombuffer
        except (ImportError, AttributeError):
            continue
    raise ImportError("numpy has no _frombuffer")


_RECONSTRUCT = np.zeros(0).__reduce__()[0]   # numpy's array reconstructor
_SCALAR = np.float64(0).__reduce__()[0]      # numpy's scalar reconstructor
_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,  # how protocol-2 pickles store bytes
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "complex"): complex,
    ("builtins", "bytearray"): bytearray,
}
for _core in _NUMPY_CORE:
    _ALLOWED[(f"{_core}.multiarray", "_reconstruct")] = _RECONSTRUCT
    _ALLOWED[(f"{_core}.multiarray", "scalar")] = _SCALAR
    _ALLOWED[(f"{_core}.numeric", "_frombuffer")] = _frombuffer()
_SCALARS = {name: getattr(np, name) for name in (
    "bool_", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "complex64", "complex128", "str_", "bytes_")}


class _Restricted(pickle.Unpickler):
    def __init__(self, fh: Any, where: str) -> None:
        super().__init__(fh)
        self.where = where

    def find_class(self, module: str, name: str) -> Any:
        # Python 2 names (protocols 0-2), mapped as pickle's own find_class maps them.
        module, name = _compat_pickle.NAME_MAPPING.get(
            (module, name), (_compat_pickle.IMPORT_MAPPING.get(module, module), name))
        obj = _ALLOWED.get((module, name))
        if obj is None and module == "numpy":
            obj = _SCALARS.get(name)
        if obj is None:
            raise DataError(f"{self.where}: the pickle refers to {module}.{name}, which the "
                            f"harness does not load (it only builds numpy arrays, numbers, "
                            f"strings and containers); convert the file to plain arrays")
        return obj


def load_pickle(path: str | Path) -> Any:
    """Load a (possibly gzip-compressed) pickle of arrays, numbers, strings and containers."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return loads(raw, str(path))


def loads(raw: bytes, where: str = "pickle") -> Any:
    """Like ``load_pickle`` for bytes already in memory; ``where`` names them in errors."""
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DataError(f"{where}: corrupt gzip data ({exc})") from None
    try:
        return _Restricted(io.BytesIO(raw), where).load()
    except DataError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, UnicodeDecodeError) as exc:
        raise DataError(f"{where}: not a readable pickle ({type(exc).__name__}: "
                        f"{str(exc)[:120]})") from None
