"""Config resolution: presets (mmengine python configs) + task overrides + ``--set`` overrides.

A resolved config is a plain nested dict of JSON values. Its canonical JSON (sorted keys,
no whitespace) is hashed into ``config_hash``; the seed is not part of it, so all seeds of
one configuration share a hash.
"""

from __future__ import annotations

import ast
import copy
import difflib
import hashlib
import json
from pathlib import Path
from typing import Any

from harness.errors import ConfigError


def load_preset(path: Path) -> dict[str, Any]:
    """Load a python preset file (with mmengine ``_base_`` inheritance) into a plain dict."""
    from mmengine.config import Config

    try:
        cfg = Config.fromfile(str(path), format_python_code=False)
    except Exception as exc:  # a preset that does not load is a bug in the project
        raise RuntimeError(f"preset {path} failed to load: {exc}") from exc
    return _plain(cfg.to_dict())


def _plain(obj: Any) -> Any:
    """Convert config values to JSON types (tuples become lists)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"config value {obj!r} of type {type(obj).__name__} is not plain data")


def merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Recursively merge ``update`` into a copy of ``base``; dicts merge, other values replace."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_override(text: str) -> tuple[list[str], Any, bool]:
    """Parse ``a.b=c`` (or ``+a.b=c`` to add a new key) into (path, value, may_add)."""
    key, sep, raw = text.partition("=")
    may_add = key.startswith("+")
    key = key.lstrip("+").strip()
    path = key.split(".")
    if not sep or not key or any(not part.isidentifier() for part in path):
        raise ConfigError(f"malformed --set {text!r}: expected KEY=VALUE with a dotted key "
                          f"such as finetune.epochs=3")
    try:
        value = ast.literal_eval(raw.strip())
    except (ValueError, SyntaxError):
        value = raw.strip()  # a bare word is a string
    try:
        value = _plain(value)
    except TypeError:
        raise ConfigError(f"--set {text!r}: value must be a number, string, bool, None, "
                          f"list or dict") from None
    return path, value, may_add


def apply_overrides(cfg: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``--set`` overrides; unknown keys are an error unless prefixed with '+'."""
    cfg = copy.deepcopy(cfg)
    for text in overrides:
        path, value, may_add = parse_override(text)
        node = cfg
        for depth, part in enumerate(path):
            last = depth == len(path) - 1
            if not isinstance(node, dict):
                raise ConfigError(f"--set {text!r}: {'.'.join(path[:depth])} is not a section")
            if part not in node and not may_add:
                where = ".".join(path[:depth]) or "the top level"
                close = difflib.get_close_matches(part, list(node), n=1)
                hint = f" (did you mean {'.'.join(path[:depth] + close)}?)" if close else \
                    " (prefix the key with '+' to add a new one)"
                raise ConfigError(f"--set {text!r}: no key {part!r} in {where}{hint}")
            if last:
                _check_kind(text, ".".join(path), node.get(part), value)
                node[part] = value
            else:
                node = node.setdefault(part, {})
    return cfg


def _kind(value: Any) -> str | None:
    """What a config value is, for type checks of overrides (None: any value goes)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "True or False"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "a section"


def _check_kind(text: str, key: str, old: Any, new: Any) -> None:
    """An override must keep the kind of the value it replaces (a number stays a number)."""
    want, got = _kind(old), _kind(new)
    if want is None or got is None or want == got:
        return
    if want == "a section":
        raise ConfigError(f"--set {text!r}: {key} is a section; set one of its keys, e.g. "
                          f"{key}.{next(iter(old), 'KEY')}=VALUE")
    raise ConfigError(f"--set {text!r}: {key} takes {want} (the preset has {old!r}), not "
                      f"{json.dumps(new)}")


def canonical_json(obj: Any) -> str:
    """The canonical JSON text of a config: sorted keys, compact separators."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def short_hash(*parts: Any, length: int = 16) -> str:
    """A hex sha256 prefix over the canonical JSON of ``parts``."""
    return hashlib.sha256(canonical_json(list(parts)).encode()).hexdigest()[:length]


def config_hash(cfg: dict[str, Any]) -> str:
    """Hash of a resolved config."""
    return short_hash(cfg)
