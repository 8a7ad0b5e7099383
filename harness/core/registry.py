"""Registries of methods and benchmarks: names to classes, loaded lazily.

Each top-level package (``methods``, ``benchmarks``) is scanned for modules and
subpackages, which register their entries with a decorator when imported. Entry modules
import nothing heavy at module level (no torch), so listing everything stays fast; the
heavy parts are imported when an entry builds a model or reads data.

Every kind of plugin registers the same way: methods, benchmarks, metric protocols (the
modules of ``benchmarks.metrics``), pose formats and label formats (``benchmarks.formats``).
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Callable
from typing import Any, TypeVar

from harness.errors import UserError

T = TypeVar("T")


class Catalog:
    """A named registry whose entries are found by importing one package's modules."""

    def __init__(self, kind: str, package: str, *, listed: bool = True) -> None:
        self.kind = kind
        self.package = package
        #: whether ``python -m harness list`` shows the entries (else errors name them)
        self.listed = listed
        self._entries: dict[str, Any] = {}
        self._loaded = False

    def register(self, name: str) -> Callable[[type[T]], type[T]]:
        """Class decorator that registers an entry under ``name``; duplicates are an error."""

        def decorator(cls: type[T]) -> type[T]:
            if name in self._entries:
                other = self._entries[name]
                raise ValueError(f"duplicate {self.kind} name {name!r}: "
                                 f"{other.__module__}.{other.__qualname__} and "
                                 f"{cls.__module__}.{cls.__qualname__}")
            self._entries[name] = cls
            cls.name = name  # type: ignore[attr-defined]
            return cls

        return decorator

    def _load(self) -> None:
        # Marked loaded only when every module is in: a package whose __init__ asks its own
        # catalog for the entries (benchmarks.formats' FORMATS) while this imports it loads
        # them all right there, whichever of the two was imported first.
        if self._loaded:
            return
        pkg = importlib.import_module(self.package)
        for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
            if not info.name.startswith("_"):
                importlib.import_module(f"{self.package}.{info.name}")
        self._loaded = True

    def names(self) -> list[str]:
        """All registered names, sorted."""
        self._load()
        return sorted(self._entries)

    def get(self, name: str) -> Any:
        """The entry registered as ``name``; a UserError with suggestions if there is none."""
        self._load()
        entry = self._entries.get(name)
        if entry is None:
            close = difflib.get_close_matches(name, self.names(), n=3, cutoff=0.5)
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            where = "python -m harness list shows them all" if self.listed else \
                f"known: {', '.join(self.names())}"
            raise UserError(f"unknown {self.kind} {name!r}{hint} ({where})")
        return entry

    def entries(self) -> dict[str, Any]:
        """Mapping of name to entry, sorted by name."""
        self._load()
        return {n: self._entries[n] for n in self.names()}


METHODS = Catalog("method", "methods")
BENCHMARKS = Catalog("benchmark", "benchmarks")
#: Metric protocols (``harness.core.metric.MetricProtocol``), in ``benchmarks/metrics/``.
PROTOCOLS = Catalog("metric protocol", "benchmarks.metrics", listed=False)
#: Readers of the pose formats and of the label files the field publishes, in
#: ``benchmarks/formats/`` (which the engine never reads: the benchmark adapters do).
POSE_FORMATS = Catalog("pose format", "benchmarks.formats", listed=False)
LABEL_FORMATS = Catalog("label format", "benchmarks.formats", listed=False)
