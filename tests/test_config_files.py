"""Config files: the presets' format (``harness.core.config.read_config_file``) and a user's own
file merged over a preset (``--config``, ``apply_config_file``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.core.config import (
    apply_config_file,
    apply_overrides,
    config_hash,
    file_record,
    read_config_file,
)
from harness.core.registry import BENCHMARKS, METHODS
from harness.errors import ConfigError

BASE = {"finetune": {"epochs": 8, "lr": 1e-3},
        "model": {"text": {"type": "t5", "layers": 2}, "dims": [16, 32]}}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_python_file_inherits_its_bases_and_deletes_marked_sections(tmp_path):
    write(tmp_path / "base.py", "model = dict(text=dict(type='t5', layers=2), dims=(16, 32))\n"
                                "finetune = dict(epochs=8)\n")
    write(tmp_path / "other.yaml", "data: {max_frames: 32}\n")
    child = write(tmp_path / "sub" / "child.py",
                  "_base_ = ['../base.py', '../other.yaml']\n"
                  "import math\n"
                  "def helper():\n    return 1\n"
                  "__hidden = 3\n"
                  "model = dict(text=dict(_delete_=True, type='hf'), extra=dict(_delete_=True))\n"
                  "finetune = dict(lr=math.sqrt(4) / 1000)\n")
    cfg = read_config_file(child)
    assert cfg == {"model": {"text": {"type": "hf"}, "dims": [16, 32], "extra": {}},
                   "finetune": {"epochs": 8, "lr": 0.002}, "data": {"max_frames": 32}}
    assert list(cfg) == ["model", "finetune", "data"]  # the bases' order, then new keys


@pytest.mark.parametrize("files,needle", [
    ({"a.py": "_base_ = ['b.py']\n", "b.py": "_base_ = 'a.py'\n"}, "include it again"),
    ({"a.py": "_base_ = ['b.py', 'c.py']\n", "b.py": "x = 1\n", "c.py": "x = 2\n"},
     "both set x"),
    ({"a.py": "x = dict(y=1\n"}, "invalid python"),
    ({"a.py": "x = undefined_name\n"}, "does not load: NameError"),
    ({"a.py": "_base_ = ['missing.py']\n"}, "missing.py: cannot be read"),
    ({"a.py": "_base_ = ['b.py']\nx = dict(y=1)\n", "b.py": "x = 3\n"},
     "x is a section here but 3 in its base; add _delete_=True"),
    ({"a.py": "x = {1, 2}\n"}, "is not plain data"),
    ({"a.yaml": "- 1\n- 2\n"}, "expected a mapping of config keys, got a list"),
    ({"a.yaml": "x: [1, 2\n"}, "not valid YAML"),
    ({"a.txt": "x = 1\n"}, "a config file is .py, .yaml, .yml or .json"),
])
def test_a_bad_file_is_one_config_error_naming_it(tmp_path, files, needle):
    for name, text in files.items():
        write(tmp_path / name, text)
    first = tmp_path / next(iter(files))
    with pytest.raises(ConfigError) as err:
        read_config_file(first)
    assert needle in str(err.value) and str(first.parent) in str(err.value)


def test_user_file_merges_like_set_and_may_add_listed_keys(tmp_path):
    path = write(tmp_path / "mine.py", "_new_keys_ = ['finetune.freeze_encoder', 'extra']\n"
                                      "finetune = dict(epochs=3, freeze_encoder=True)\n"
                                      "model = dict(text=dict(_delete_=True, type='hf'))\n"
                                      "extra = dict(a=dict(b=1))\n")
    cfg = apply_config_file(BASE, path)
    assert cfg == {"finetune": {"epochs": 3, "lr": 1e-3, "freeze_encoder": True},
                   "model": {"text": {"type": "hf"}, "dims": [16, 32]},
                   "extra": {"a": {"b": 1}}}
    assert BASE["finetune"] == {"epochs": 8, "lr": 1e-3}  # the input is not modified
    same = apply_overrides(BASE, ["finetune.epochs=3", "+finetune.freeze_encoder=True",
                                  "model.text={'type': 'hf'}", "+extra={'a': {'b': 1}}"])
    assert config_hash(cfg) == config_hash(same)


@pytest.mark.parametrize("text,needle", [
    ("finetune = dict(epoch=3)\n",
     "mine.py: finetune.epoch: no key 'epoch' in finetune (did you mean finetune.epochs?)"),
    ("zzz = 1\n", "no key 'zzz' in the top level (list it in _new_keys_ to add a new one)"),
    ("finetune = dict(epochs='many')\n",
     "finetune.epochs takes a number (the preset has 8), not \"many\""),
    ("finetune = 3\n", "finetune is a section; set one of its keys"),
    ("_new_keys_ = 'x'\n", "_new_keys_ must be a list of dotted keys"),
])
def test_user_file_unknown_keys_and_kinds_are_errors(tmp_path, text, needle):
    with pytest.raises(ConfigError) as err:
        apply_config_file(BASE, write(tmp_path / "mine.py", text))
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_yaml_user_file_and_its_record(tmp_path):
    path = write(tmp_path / "mine.yaml", "finetune:\n  epochs: 2\n")
    assert apply_config_file(BASE, path)["finetune"] == {"epochs": 2, "lr": 1e-3}
    record = file_record(path)
    assert record["path"] == str(path.resolve()) and len(record["sha256"]) == 64


def test_resolved_config_takes_the_file_before_set(tmp_path):
    from harness.cell.runner import resolve_config

    path = write(tmp_path / "mine.yaml", "finetune: {epochs: 2, lr: 0.01}\n")
    cfg = resolve_config("scratch", "synth-islr", "smoke", ["finetune.epochs=5"], path)
    assert cfg["finetune"]["epochs"] == 5 and cfg["finetune"]["lr"] == 0.01
    method = write(tmp_path / "method.yaml", "method: {name: sigma}\n")
    with pytest.raises(ConfigError, match=r"method\.name cannot be overridden; use --method"):
        resolve_config("scratch", "synth-islr", "smoke", [], method)


def every_preset_file() -> list[Path]:
    root = Path(__file__).resolve().parent.parent
    return sorted({*root.glob("methods/*/presets/*.py"), *root.glob("benchmarks/presets/*.py")})


def test_the_loader_resolves_every_preset_as_mmengine_did(monkeypatch):
    """The check that replaced mmengine's ``Config.fromfile`` (2026-12-07: 34 preset files
    and 154 method x preset x benchmark configs identical, key order included): it runs
    where mmengine is still installed."""
    config = pytest.importorskip("mmengine.config")
    import harness.cell.runner as runner
    from harness.core.config import plain_data

    def mmengine_preset(path: Path) -> dict:
        return plain_data(config.Config.fromfile(str(path), format_python_code=False).to_dict())

    for path in every_preset_file():
        assert json.dumps(read_config_file(path)) == json.dumps(mmengine_preset(path)), path
    for method, cls in METHODS.entries().items():
        for preset in cls.presets():
            for bench, bench_cls in BENCHMARKS.entries().items():
                if bench_cls.task not in cls.tasks:
                    continue
                ours = runner.resolve_config(method, bench, preset, [])
                with monkeypatch.context() as m:
                    m.setattr(runner, "load_preset", mmengine_preset)
                    theirs = runner.resolve_config(method, bench, preset, [])
                assert json.dumps(ours) == json.dumps(theirs), (method, preset, bench)
