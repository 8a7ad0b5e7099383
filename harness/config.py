"""Config resolution: presets (mmengine python configs) + task overrides + ``--set`` overrides.

A resolved config is a plain nested dict of JSON values. Its canonical JSON (sorted keys,
no whitespace) is hashed into ``config_hash``; the seed is not part of it, so all seeds of
one configuration share a hash.

Value rules (``Rule``: ``count``, ``number``, ``choice``, ``flag``) say what a config value
must be; each is declared beside the code that reads the section it guards (the stage
config in ``harness.trainer``, the data options in ``harness.data``, the encoder and heads
in ``methods/``), and ``check`` applies them before anything runs: one line naming the key,
the value, what is expected and the ``--set`` that fixes it.
"""

from __future__ import annotations

import ast
import copy
import difflib
import hashlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Rule:
    """What one config value must be: ``expected`` in words, ``ok`` as a test."""

    expected: str
    ok: Callable[[Any], bool]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


def count(least: int) -> Rule:
    """An integer of at least ``least``."""
    return Rule(f"an integer >= {least}", lambda v: isinstance(v, int)
                and not isinstance(v, bool) and v >= least)


def number(low: float, high: float = math.inf, *, low_open: bool = False,
           high_open: bool = False) -> Rule:
    """A finite number in the interval from ``low`` to ``high`` (open ends as named)."""
    if high == math.inf:
        words = f"a number {'>' if low_open else '>='} {low:g}"
    else:
        words = (f"a number in {'(' if low_open else '['}{low:g}, {high:g}"
                 f"{')' if high_open else ']'}")
    return Rule(words, lambda v: _is_number(v) and (v > low if low_open else v >= low)
                and (v < high if high_open else v <= high))


def choice(*values: Any) -> Rule:
    """One of ``values``."""
    return Rule(f"one of {', '.join(map(str, values))}",
                lambda v: not isinstance(v, bool) and v in values)


def flag() -> Rule:
    """true or false."""
    return Rule("true or false", lambda v: isinstance(v, bool))


#: A positive number (learning rates, epsilons); a fraction in (0, 1].
POSITIVE = number(0, low_open=True)
FRACTION = number(0, 1, low_open=True)


def check(prefix: str, section: Any, rules: Mapping[str, Rule]) -> None:
    """Raise one ConfigError for the first value of ``section`` (the config at the dotted
    ``prefix``, "" for the top level) that breaks its rule; absent keys and None pass."""
    if not isinstance(section, dict):
        return
    for key, rule in rules.items():
        value = section.get(key)
        if value is None or rule.ok(value):
            continue
        name = f"{prefix}.{key}" if prefix else key
        raise ConfigError(f"{name}={value!r}: expected {rule.expected}; fix it with "
                          f"--set {name}=VALUE")
