"""Config resolution: presets, overrides, hashing."""

import pytest

from harness.core.config import apply_overrides, config_hash, merge, parse_override
from harness.errors import ConfigError

BASE = {"finetune": {"epochs": 8, "lr": 1e-3}, "model": {"encoder": {"dims": [16, 32]}}}


def test_override_types_and_nesting():
    cfg = apply_overrides(BASE, ["finetune.epochs=3", "model.encoder.dims=[8, 8]",
                                 "finetune.lr=5e-4"])
    assert cfg["finetune"] == {"epochs": 3, "lr": 5e-4}
    assert cfg["model"]["encoder"]["dims"] == [8, 8]
    assert BASE["finetune"]["epochs"] == 8  # the input is not modified


def test_bare_words_are_strings_and_plus_adds_keys():
    cfg = apply_overrides(BASE, ["+finetune.schedule=cosine"])
    assert cfg["finetune"]["schedule"] == "cosine"


@pytest.mark.parametrize("bad", ["finetune.epochs", "=3", "finetune..epochs=3", "a b=1"])
def test_malformed_override_is_a_config_error(bad):
    with pytest.raises(ConfigError, match="malformed"):
        parse_override(bad)


def test_unknown_key_suggests_the_close_one():
    with pytest.raises(ConfigError, match=r"did you mean finetune\.epochs"):
        apply_overrides(BASE, ["finetune.epoch=3"])


def test_override_into_a_value_is_an_error():
    with pytest.raises(ConfigError, match="not a section"):
        apply_overrides(BASE, ["finetune.epochs.x=3"])


def test_hash_is_canonical_and_sensitive():
    a = {"x": 1, "y": {"b": 2, "a": [1, 2]}}
    b = {"y": {"a": [1, 2], "b": 2}, "x": 1}
    assert config_hash(a) == config_hash(b)
    assert config_hash(a) != config_hash(merge(a, {"x": 2}))


# -- value rules, declared beside the code that reads each section (issue 20) --------------

BAD_VALUES = [  # (override, what the one line must hold)
    ("finetune.epochs=0", "finetune.epochs=0: expected an integer >= 1; fix it with "
                          "--set finetune.epochs=VALUE"),
    ("finetune.lr=0.0", "finetune.lr=0.0: expected a number > 0"),
    ("finetune.lr=-1e-3", "finetune.lr=-0.001: expected a number > 0"),
    ("finetune.batch_size=0", "finetune.batch_size=0: expected an integer >= 1"),
    ("finetune.eval_batch_size=0", "finetune.eval_batch_size=0: expected an integer >= 1"),
    ("finetune.warmup_ratio=1.5", "finetune.warmup_ratio=1.5: expected a number in [0, 1]"),
    ("finetune.weight_decay=-0.1", "finetune.weight_decay=-0.1: expected a number >= 0"),
    ("data.train_fraction=0.0", "data.train_fraction=0.0: expected a number in (0, 1]"),
    ("data.max_frames=0", "data.max_frames=0: expected an integer >= 1"),
    ("data.sampling=randm", "data.sampling='randm': expected one of uniform, random"),
    ("data.augment.speed=1.0", "data.augment.speed=1.0: expected a number in [0, 1)"),
    ("model.encoder.padding=reflect", "model.encoder.padding='reflect': expected one of "
                                      "repeat, zero"),
    ("model.heads.cslr.decoder=beem", "model.heads.cslr.decoder='beem': expected one of "
                                      "beam, greedy"),
    ("model.heads.cslr.downsample=3", "model.heads.cslr.downsample=3: expected one of 1, 2"),
    ("+compile=yes", "compile='yes': expected true or false"),
]


@pytest.mark.parametrize("override,needle", BAD_VALUES, ids=[b[0] for b in BAD_VALUES])
def test_values_out_of_range_or_not_a_choice_are_one_config_error(override, needle):
    from harness.cell.runner import check_values, resolve_config

    cfg = resolve_config("scratch", "synth-islr", "smoke", [override])
    with pytest.raises(ConfigError) as err:
        check_values(cfg)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_pretraining_epochs_may_be_zero_but_not_below():
    from harness.cell.runner import check_values, resolve_config

    check_values(resolve_config("sigma", "synth-islr", "smoke", ["pretrain.epochs=0"]))
    cfg = resolve_config("sigma", "synth-islr", "smoke", ["pretrain.epochs=-1"])
    with pytest.raises(ConfigError, match=r"pretrain.epochs=-1: expected an integer >= 0"):
        check_values(cfg)
    cfg = resolve_config("sigma", "synth-islr", "smoke", ["pretrain.lr=0.0"])
    with pytest.raises(ConfigError, match=r"pretrain.lr=0.0: expected a number > 0"):
        check_values(cfg)


def test_every_preset_of_every_method_passes_its_rules():
    from harness.cell.runner import check_values, resolve_config
    from harness.core.registry import BENCHMARKS, METHODS

    for name, method in METHODS.entries().items():
        for preset in method.presets():
            for bench in ("synth-islr", "synth-cslr", "synth-slt", "wlasl", "how2sign"):
                if BENCHMARKS.get(bench).task in method.tasks:
                    check_values(resolve_config(name, bench, preset, []))


def test_config_command_refuses_a_bad_value_in_one_line(harness):
    done = harness("config", "--method", "scratch", "--bench", "synth-islr",
                   "--set", "finetune.epochs=0")
    assert done.code == 2 and done.err.count("\n") == 1, done.err
    assert done.err.startswith("error: finetune.epochs=0: expected an integer >= 1")
