"""Config resolution: presets, overrides, hashing."""

import pytest

from harness.config import apply_overrides, config_hash, merge, parse_override
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
