"""Config resolution: presets (python config files) + task overrides + a user's config file
(``--config``) + ``--set`` overrides.

A resolved config is a plain nested dict of JSON values. Its canonical JSON (sorted keys,
no whitespace) is hashed into ``config_hash``; the seed is not part of it, so all seeds of
one configuration share a hash.

Value rules (``Rule``: ``count``, ``number``, ``choice``, ``flag``) say what a config value
must be; each is declared beside the code that reads the section it guards (the stage
config in ``harness.training.trainer``, the data options in ``harness.data.loader``, the
encoder and heads in ``methods/``), and ``check`` applies them before anything runs: one line
naming the key, the value, what is expected and the ``--set`` that fixes it.
"""

from __future__ import annotations

import ast
import copy
import difflib
import hashlib
import json
import math
import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ConfigError

#: The keys of a config file that are not config values: the files it is merged into, a
#: section marked to replace its base's whole, and (``--config``) the keys it may add.
BASE_KEY, DELETE_KEY, NEW_KEYS = "_base_", "_delete_", "_new_keys_"
CONFIG_SUFFIXES = (".py", ".yaml", ".yml", ".json")


def load_preset(path: Path) -> dict[str, Any]:
    """Load a preset file (``read_config_file``) into a plain dict."""
    try:
        return read_config_file(path)
    except ConfigError as exc:  # a preset that does not load is a bug in the project
        raise RuntimeError(f"preset {path} failed to load: {exc}") from exc


def read_config_file(path: Path) -> dict[str, Any]:
    """A config file as a plain dict, with the files its ``_base_`` names merged under it.

    The presets' format (the part of mmengine's config format they use): a python file's
    top-level names (those starting with ``__``, functions and modules left out) or a YAML
    or JSON mapping. ``_base_`` is a path or a list of paths, relative to the file; the
    bases are merged in order (no two may set one top-level key), then the file over them:
    sections merge key by key, other values replace, and a section with ``_delete_=True``
    replaces the base's section whole. A python file is code: read only your own. Any
    problem is one ConfigError naming the file.
    """
    return _without_delete(_read_file(Path(path), ()))


def _read_file(path: Path, chain: tuple[Path, ...]) -> dict[str, Any]:
    """``read_config_file`` keeping the ``_delete_`` of sections that replaced nothing (yet:
    a user's file replaces the preset's)."""
    path = path.expanduser().resolve()
    if path in chain:
        raise ConfigError(f"{path}: its _base_ files include it again "
                          f"({' -> '.join(p.name for p in (*chain, path))})")
    if path.suffix not in CONFIG_SUFFIXES:
        raise ConfigError(f"{path}: a config file is .py, .yaml, .yml or .json")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    raw = _read_python(path, text) if path.suffix == ".py" else _read_data(path, text)
    bases = raw.pop(BASE_KEY, [])
    bases = [bases] if isinstance(bases, str) else bases
    if not isinstance(bases, list) or not all(isinstance(b, str) for b in bases):
        raise ConfigError(f"{path}: _base_ must be a path or a list of paths")
    merged: dict[str, Any] = {}
    for base in bases:
        values = _read_file(path.parent / base, (*chain, path))
        both = sorted(set(merged) & set(values))
        if both:
            raise ConfigError(f"{path}: its _base_ files both set {', '.join(both)}")
        merged.update(values)
    try:
        return plain_data(_merge_sections(merged, raw, path))
    except TypeError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _read_python(path: Path, text: str) -> dict[str, Any]:
    """The top-level names of a python config file (``_base_`` read as a literal)."""
    try:
        tree = ast.parse(text, str(path))
    except SyntaxError as exc:
        raise ConfigError(f"{path}:{exc.lineno}: invalid python: {exc.msg}") from None
    found: dict[str, Any] = {}
    body = []
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) else None
        if isinstance(target, ast.Name) and target.id == BASE_KEY:
            try:
                found[BASE_KEY] = ast.literal_eval(node.value)
            except ValueError:
                raise ConfigError(f"{path}:{node.lineno}: _base_ must be a literal path or "
                                  f"list of paths") from None
        else:
            body.append(node)
    tree.body = body
    names: dict[str, Any] = {}
    try:
        exec(compile(tree, str(path), "exec"), names)
    except Exception as exc:  # a user's file: any failure is theirs to fix
        raise ConfigError(f"{path}: does not load: {exc.__class__.__name__}: {exc}") from None
    found.update({k: v for k, v in names.items() if not k.startswith("__")
                  and not isinstance(v, (types.FunctionType, types.ModuleType))})
    return found


def _read_data(path: Path, text: str) -> dict[str, Any]:
    """The mapping of a YAML or JSON config file."""
    import yaml

    try:
        raw = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: not valid {path.suffix[1:].upper()}: {exc}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of config keys, got a "
                          f"{type(raw).__name__}")
    return raw


def _merge_sections(base: dict[str, Any], update: dict[str, Any], path: Path
                    ) -> dict[str, Any]:
    """``update`` merged over ``base`` as config files merge (see ``read_config_file``)."""
    out = dict(base)
    for key, value in update.items():
        if not isinstance(value, dict) or key not in out:
            out[key] = value
        elif value.get(DELETE_KEY):
            out[key] = {k: v for k, v in value.items() if k != DELETE_KEY}
        elif isinstance(out[key], dict):
            out[key] = _merge_sections(out[key], value, path)
        else:
            raise ConfigError(f"{path}: {key} is a section here but {out[key]!r} in its "
                              f"base; add {DELETE_KEY}=True to replace it")
    return out


def _without_delete(section: dict[str, Any]) -> dict[str, Any]:
    """A section without ``_delete_`` markers (they mean nothing where nothing is replaced)."""
    return {k: _without_delete(v) if isinstance(v, dict) else v
            for k, v in section.items() if k != DELETE_KEY}


def plain_data(obj: Any) -> Any:
    """Convert config values to JSON types (tuples become lists)."""
    if isinstance(obj, dict):
        return {str(k): plain_data(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain_data(v) for v in obj]
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
        value = plain_data(value)
    except TypeError:
        raise ConfigError(f"--set {text!r}: value must be a number, string, bool, None, "
                          f"list or dict") from None
    return path, value, may_add


def apply_overrides(cfg: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``--set`` overrides; unknown keys are an error unless prefixed with '+'."""
    cfg = copy.deepcopy(cfg)
    for text in overrides:
        path, value, may_add = parse_override(text)
        _set(cfg, path, value, may_add, f"--set {text!r}",
             "prefix the key with '+' to add a new one")
    return cfg


def apply_config_file(cfg: dict[str, Any], path: Path) -> dict[str, Any]:
    """Merge a user's config file (``read_config_file``) over ``cfg`` as ``--set`` would set
    each of its values: an unknown key is an error unless the file lists it (or a section
    above it) in ``_new_keys_``, and a value keeps the kind of the one it replaces."""
    values = _read_file(Path(path), ())
    new_keys = values.pop(NEW_KEYS, [])
    if not isinstance(new_keys, list) or not all(isinstance(k, str) for k in new_keys):
        raise ConfigError(f"{path}: {NEW_KEYS} must be a list of dotted keys")
    cfg = copy.deepcopy(cfg)
    for keys, value in _leaves(values, cfg, []):
        may_add = any(".".join(keys[:n]) in new_keys for n in range(1, len(keys) + 1))
        _set(cfg, keys, value, may_add, f"{path}: {'.'.join(keys)}",
             f"list it in {NEW_KEYS} to add a new one")
    return cfg


def _leaves(values: dict[str, Any], cfg: Any, keys: list[str]
            ) -> Iterator[tuple[list[str], Any]]:
    """The values a config file sets, by key path: sections that exist in ``cfg`` are
    entered, a new section or one marked ``_delete_`` is one value."""
    for key, value in values.items():
        here = [*keys, str(key)]
        if isinstance(value, dict) and not value.get(DELETE_KEY) \
                and isinstance(cfg, dict) and isinstance(cfg.get(key), dict):
            yield from _leaves(value, cfg[key], here)
        else:
            yield here, _without_delete(value) if isinstance(value, dict) else value


def file_record(path: Path) -> dict[str, str]:
    """Where a user's config file is and the SHA-256 of its bytes (recorded with a cell)."""
    path = Path(path).expanduser().resolve()
    return {"path": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def _set(cfg: dict[str, Any], path: list[str], value: Any, may_add: bool, origin: str,
         add_hint: str) -> None:
    """Set the value at ``path`` in ``cfg`` (in place); ``origin`` starts each error."""
    node = cfg
    for depth, part in enumerate(path):
        last = depth == len(path) - 1
        if not isinstance(node, dict):
            raise ConfigError(f"{origin}: {'.'.join(path[:depth])} is not a section")
        if part not in node and not may_add:
            where = ".".join(path[:depth]) or "the top level"
            close = difflib.get_close_matches(part, list(node), n=1)
            hint = f" (did you mean {'.'.join(path[:depth] + close)}?)" if close else \
                f" ({add_hint})"
            raise ConfigError(f"{origin}: no key {part!r} in {where}{hint}")
        if last:
            _check_kind(origin, ".".join(path), node.get(part), value)
            node[part] = value
        else:
            node = node.setdefault(part, {})


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


def _check_kind(origin: str, key: str, old: Any, new: Any) -> None:
    """An override must keep the kind of the value it replaces (a number stays a number)."""
    want, got = _kind(old), _kind(new)
    if want is None or got is None or want == got:
        return
    if want == "a section":
        raise ConfigError(f"{origin}: {key} is a section; set one of its keys, e.g. "
                          f"{key}.{next(iter(old), 'KEY')}=VALUE")
    raise ConfigError(f"{origin}: {key} takes {want} (the preset has {old!r}), not "
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
