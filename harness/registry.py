"""Registries of methods and benchmarks (mmengine Registry underneath), loaded lazily.

Each top-level package (``methods``, ``benchmarks``) is scanned for modules and
subpackages, which register their entries with a decorator when imported. Entry modules
import nothing heavy at module level (no torch), so listing everything stays fast; the
heavy parts are imported when an entry builds a model or reads data.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Callable
from typing import Any, TypeVar

from mmengine.registry import Registry

from harness.errors import UserError

T = TypeVar("T")


class Catalog:
    """A named registry whose entries are found by importing one package's modules."""

    def __init__(self, kind: str, package: str) -> None:
        self.kind = kind
        self.package = package
        self._registry = Registry(kind)
        self._loaded = False

    def register(self, name: str) -> Callable[[type[T]], type[T]]:
        """Class decorator that registers an entry under ``name``; duplicates are an error."""

        def decorator(cls: type[T]) -> type[T]:
            if name in self._registry.module_dict:
                other = self._registry.module_dict[name]
                raise ValueError(f"duplicate {self.kind} name {name!r}: "
                                 f"{other.__module__}.{other.__qualname__} and "
                                 f"{cls.__module__}.{cls.__qualname__}")
            self._registry.register_module(name=name, module=cls)
            cls.name = name  # type: ignore[attr-defined]
            return cls

        return decorator

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        pkg = importlib.import_module(self.package)
        for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
            if not info.name.startswith("_"):
                importlib.import_module(f"{self.package}.{info.name}")

    def names(self) -> list[str]:
        """All registered names, sorted."""
        self._load()
        return sorted(self._registry.module_dict)

    def get(self, name: str) -> Any:
        """The entry registered as ``name``; a UserError with suggestions if there is none."""
        self._load()
        entry = self._registry.module_dict.get(name)
        if entry is None:
            close = difflib.get_close_matches(name, self.names(), n=3, cutoff=0.5)
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            raise UserError(f"unknown {self.kind} {name!r}{hint} "
                            f"(python -m harness list shows them all)")
        return entry

    def entries(self) -> dict[str, Any]:
        """Mapping of name to entry, sorted by name."""
        self._load()
        return {n: self._registry.module_dict[n] for n in self.names()}


METHODS = Catalog("method", "methods")
BENCHMARKS = Catalog("benchmark", "benchmarks")
