"""CCL-SLR's pre-training: momentum encoder, queue, mining, masking, views, resume."""

from __future__ import annotations

import copy
import logging

import pytest
import torch
import torch.nn.functional as F

from harness.errors import ConfigError
from harness.runner import resolve_config
from harness.tasks import Batch, TaskSpec
from methods.ccl_slr import CCLSLR
from methods.ccl_slr.losses import info_nce, mine_positives
from methods.ccl_slr.masking import motion_preserving_mask
from methods.ccl_slr.model import RGB_SKIPPED, CCLPretrainer
from methods.ccl_slr.views import ViewConfig, make_view

TINY = ["model.encoder.spatial=[8, 16]", "model.encoder.temporal=[16]", "model.encoder.embed=8",
        "model.encoder.d_model=32", "model.encoder.context.ff=32", "model.ccl.embed_dim=16",
        "model.ccl.proj_hidden=32", "model.ccl.queue_size=16", "model.ccl.rgb.dim=12"]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models: intra-op threads only add overhead (and contend on a shared machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_cfg(*overrides: str) -> dict:
    return resolve_config("ccl_slr", "synth-islr", "smoke", [*TINY, *overrides])


def tiny_model(*overrides: str) -> CCLPretrainer:
    torch.manual_seed(0)
    return CCLSLR().build_pretrainer(tiny_cfg(*overrides), TaskSpec("pretrain")).train()


def make_batch(model: CCLPretrainer, b: int = 4, t: int = 12, seed: int = 0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    v = len(model.input_joints)
    base = torch.rand(b, 1, v, 2, generator=g) * 300 + 100
    kp = base + torch.randn(b, t, v, 2, generator=g).cumsum(1) * 3
    mask = torch.ones(b, t, dtype=torch.bool)
    mask[1, t - 4:] = False
    return Batch([str(i) for i in range(b)], kp, torch.full((b, t, v), 0.9),
                 torch.ones(b, t, v, dtype=torch.bool), mask, ["G"] * b, [""] * b)


def key_pairs(model: CCLPretrainer) -> list[tuple[torch.Tensor, torch.Tensor]]:
    query = [*model.sign_encoder.parameters(), *model.projector.parameters()]
    key = [*model.key_encoder.parameters(), *model.key_projector.parameters()]
    return list(zip(query, key, strict=True))


def test_key_encoder_takes_no_gradient_and_moves_by_the_momentum():
    model = tiny_model("model.ccl.momentum=0.9")
    with torch.no_grad():  # make query and key differ, as after some training
        for q, _ in key_pairs(model):
            q.add_(torch.randn_like(q) * 0.1)
    before = [(q.detach().clone(), k.detach().clone()) for q, k in key_pairs(model)]
    out = model.loss(make_batch(model))  # the update comes first, before the keys
    out["loss"].backward()
    for (q0, k0), (q, k) in zip(before, key_pairs(model), strict=True):
        assert not k.requires_grad and k.grad is None
        torch.testing.assert_close(k.detach(), 0.9 * k0 + 0.1 * q0, rtol=0, atol=1e-6)
        assert torch.equal(q.detach(), q0)
    assert any(q.grad is not None and q.grad.abs().sum() > 0 for q, _ in key_pairs(model))
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert not any(id(k) in trainable for _, k in key_pairs(model))


def test_the_keys_of_a_step_come_from_the_updated_key_encoder():
    model = tiny_model("model.ccl.momentum=0.5", "model.encoder.context.dropout=0.0")
    with torch.no_grad():
        for q, _ in key_pairs(model):
            q.add_(torch.randn_like(q) * 0.1)
    stale, updated = copy.deepcopy(model), copy.deepcopy(model)
    updated.momentum_update()
    batch = make_batch(model)
    torch.manual_seed(3)
    model.loss(batch)
    torch.manual_seed(3)  # replay the draws of loss(): query view, its mask, key view
    updated.mask_view(make_view(batch, model.views, 0.3))
    view_k = make_view(batch, model.views, 0.3)
    with torch.no_grad():
        keys = updated.embed(updated.key_encoder, updated.key_projector, view_k)
        old = stale.embed(stale.key_encoder, stale.key_projector, view_k)
    torch.testing.assert_close(model.queue[:4], keys)
    assert not torch.allclose(model.queue[:4], old, atol=1e-4)


def test_eval_mode_leaves_the_key_encoder_and_queue_alone():
    model = tiny_model()
    with torch.no_grad():
        for q, _ in key_pairs(model):
            q.add_(1.0)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    model.eval().loss(make_batch(model))
    for name, value in model.state_dict().items():
        assert torch.equal(value, state[name]), name


def test_queue_is_first_in_first_out_and_its_pointer_wraps():
    model = tiny_model("model.ccl.queue_size=8")
    keys = F.normalize(torch.randn(9, 16), dim=1)
    for i in range(3):
        model.enqueue(keys[3 * i:3 * i + 3])
    assert int(model.queue_ptr) == 1  # 9 keys into 8 slots
    torch.testing.assert_close(model.queue[0], keys[8])  # the oldest (key 0) was overwritten
    torch.testing.assert_close(model.queue[1:], keys[1:8])
    model.enqueue(keys[:2])
    assert int(model.queue_ptr) == 3
    torch.testing.assert_close(model.queue[1:3], keys[:2])


def test_a_training_step_enqueues_its_keys():
    model = tiny_model()
    batch = make_batch(model)
    before = model.queue.clone()
    model.loss(batch)
    assert int(model.queue_ptr) == 4 and int(model.steps) == 1
    assert not torch.equal(model.queue[:4], before[:4]) and torch.equal(model.queue[4:],
                                                                         before[4:])
    torch.testing.assert_close(model.queue[:4].norm(dim=1), torch.ones(4))


def test_mined_positives_are_the_nearest_keys_above_the_threshold():
    queue = torch.eye(6)[:, :4].clone()
    queue[4:] = F.normalize(torch.tensor([[1.0, 1.0, 0, 0], [0, 0, 1.0, 0.2]]), dim=1)
    anchors = F.normalize(torch.tensor([[1.0, 0.3, 0, 0], [0, 0, 0, 1.0]]), dim=1)
    mined = mine_positives(anchors, F.normalize(queue, dim=1), topk=2, threshold=0.5)
    # anchor 0: nearest are entry 0 (0.96) and entry 4 (0.91); anchor 1: entry 3 (1.0), then
    # entry 5 (0.20, below the threshold)
    assert mined.tolist() == [[True, False, False, False, True, False],
                              [False, False, False, True, False, False]]
    assert mine_positives(anchors, F.normalize(queue, dim=1), 1, 0.5).sum(1).tolist() == [1, 1]


def test_semantic_positive_mining_waits_for_its_start_step():
    model = tiny_model("model.ccl.spm.start_step=2", "model.ccl.spm.topk=3",
                       "model.ccl.spm.threshold=-1.0")
    mined = [float(model.loss(make_batch(model, seed=i))["mined"]) for i in range(3)]
    assert mined == [0.0, 0.0, 3.0]


def test_extra_positives_turn_infonce_into_a_multi_positive_loss():
    torch.manual_seed(0)
    q = F.normalize(torch.randn(3, 8), dim=1)
    k = F.normalize(q + 0.1 * torch.randn(3, 8), dim=1)
    queue = F.normalize(torch.randn(5, 8), dim=1)
    none = torch.zeros(3, 5, dtype=torch.bool)
    plain, _ = info_nce(q, k, queue, 0.1)
    torch.testing.assert_close(info_nce(q, k, queue, 0.1, none)[0], plain)
    torch.testing.assert_close(info_nce(q, k, queue, 0.1, none, "sum")[0], plain)
    extra = none.clone()
    extra[:, 2] = True
    logits = torch.cat([(q * k).sum(1, keepdim=True), q @ queue.T], 1) / 0.1
    log_p = logits.log_softmax(1)
    torch.testing.assert_close(info_nce(q, k, queue, 0.1, extra)[0],
                               -((log_p[:, 0] + log_p[:, 3]) / 2).mean())
    torch.testing.assert_close(info_nce(q, k, queue, 0.1, extra, "sum")[0],
                               -torch.logaddexp(log_p[:, 0], log_p[:, 3]).mean())


def test_infonce_is_lower_for_the_matching_key_than_for_a_random_one():
    torch.manual_seed(0)
    q = F.normalize(torch.randn(8, 16), dim=1)
    queue = F.normalize(torch.randn(32, 16), dim=1)
    matching = F.normalize(q + 0.1 * torch.randn(8, 16), dim=1)
    random_key = F.normalize(torch.randn(8, 16), dim=1)
    low, acc = info_nce(q, matching, queue, 0.07)
    high, _ = info_nce(q, random_key, queue, 0.07)
    assert low < high and acc == 1.0


def moving_clip(t: int, v: int, moving_joints: slice, moving_frames: slice) -> torch.Tensor:
    """(1, T, V, 2): points still except the given joints over the given frames."""
    kp = torch.zeros(1, t, v, 2)
    walk = torch.zeros(1, t, v, 2)
    walk[:, moving_frames, moving_joints] = 5.0
    return kp + walk.cumsum(1)


def test_motion_preserving_masking_masks_the_ratio_and_spares_motion():
    t, v = 40, 10
    good = torch.ones(1, t, v, dtype=torch.bool)
    eligible = good.clone()
    eligible[:, :, 0] = False  # e.g. an anchor joint
    kp = moving_clip(t, v, slice(5, 10), slice(None))  # joints 5-9 move, 0-4 stay still
    torch.manual_seed(0)
    masks = torch.stack([motion_preserving_mask(kp, good, eligible, 0.3, 1.0, 0.0)[0]
                         for _ in range(50)])
    assert (masks.flatten(1).sum(1) == round(0.3 * t * (v - 1))).all()
    assert not masks[..., 0].any()
    still, moving = masks[..., 1:5].float().mean(), masks[..., 5:].float().mean()
    assert still > 2 * moving
    # frames: the second half moves, the first half is still
    kp = moving_clip(t, v, slice(None), slice(20, None))
    masks = torch.stack([motion_preserving_mask(kp, good, good, 0.3, 0.0, 1.0)[0]
                         for _ in range(50)])
    assert masks[:, :19].float().mean() > 2 * masks[:, 21:].float().mean()
    # no protection: uniform random masking, still the exact ratio
    masks = torch.stack([motion_preserving_mask(kp, good, good, 0.3, 0.0, 0.0)[0]
                         for _ in range(50)])
    assert (masks.flatten(1).sum(1) == round(0.3 * t * v)).all()
    assert abs(masks[:, :19].float().mean() - masks[:, 21:].float().mean()) < 0.05


def test_the_query_view_is_masked_but_never_at_the_anchors():
    model = tiny_model("model.ccl.mpm.ratio=0.5")
    view = make_view(make_batch(model), model.views, 0.3)
    masked = model.mask_view(view)
    removed = view.valid & ~masked.valid
    real = view.valid.sum()
    assert abs(removed.sum() / (real - view.valid[..., model.anchors].sum()) - 0.5) < 0.01
    assert not removed[..., model.anchors].any() and model.anchors.sum() == 3
    assert (masked.confidence[removed] == 0).all() and (masked.keypoints[removed] == 0).all()


def test_views_are_random_draws_of_the_global_generator_within_the_clip():
    model = tiny_model()
    batch = make_batch(model)
    cfg = ViewConfig(crop_min=0.5, speed=0.3)
    torch.manual_seed(1)
    a, b = make_view(batch, cfg, 0.3), make_view(batch, cfg, 0.3)
    torch.manual_seed(1)
    again = make_view(batch, cfg, 0.3)
    assert torch.equal(a.keypoints, again.keypoints) and torch.equal(a.frame_mask,
                                                                     again.frame_mask)
    assert not torch.equal(a.keypoints[:, :4], b.keypoints[:, :4])
    lengths = batch.frame_mask.sum(1)
    for view in (a, b):
        n = view.frame_mask.sum(1)
        assert (n >= 1).all() and (n <= torch.ceil(lengths * 1.3)).all()
        assert view.frame_mask.shape[1] <= batch.frame_mask.shape[1]
        assert (view.frame_mask.int().diff(dim=1) <= 0).all()  # real frames come first
        assert not view.valid[~view.frame_mask].any()
        assert (view.keypoints[~view.frame_mask] == 0).all()
    identity = ViewConfig(**{k: 0.0 for k in ("scale", "rotate_deg", "shear", "shift",
                                                "speed", "jitter")}, crop_min=1.0)
    same = make_view(batch, identity, 0.3)
    torch.testing.assert_close(same.keypoints, batch.keypoints * batch.frame_mask[..., None,
                                                                                  None])


def test_cross_modal_branch_uses_rgb_features_when_given(caplog):
    model = tiny_model()
    batch = make_batch(model)
    batch.rgb = torch.randn(4, 12)
    out = model.loss(batch)
    assert "cross" in out and out["cross"] > 0
    torch.testing.assert_close(out["loss"], out["intra"] + out["cross"])
    out["cross"].backward()
    assert model.rgb_projector[0].weight.grad.abs().sum() > 0
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in model.sign_encoder.parameters())
    batch.rgb = None
    with caplog.at_level(logging.INFO, logger="methods.ccl_slr"):
        first, second = model.loss(batch), model.loss(batch)
    assert "cross" not in first and "cross" not in second
    assert [r.getMessage() for r in caplog.records if r.name == "methods.ccl_slr"] == [
        RGB_SKIPPED]
    torch.testing.assert_close(first["loss"], first["intra"])


def test_cross_modal_contrast_prefers_the_clips_own_rgb_features():
    model = tiny_model("model.ccl.weights.intra=0.0").eval()
    batch = make_batch(model, b=6)
    with torch.no_grad():
        q = model.embed(model.sign_encoder, model.projector, batch)
    model.rgb_projector = torch.nn.Identity()  # RGB features already in the embedding space
    model.views = ViewConfig(**{k: 0.0 for k in ("scale", "rotate_deg", "shear", "shift",
                                                 "speed", "jitter")}, crop_min=1.0)
    model.mpm["ratio"] = 0.0
    batch.rgb = q
    own = model.loss(batch)["cross"]
    batch.rgb = q.roll(1, 0)
    assert own < model.loss(batch)["cross"]


def train_steps(model: CCLPretrainer, opt: torch.optim.Optimizer, seeds: range) -> list[float]:
    """Optimise ``model`` on one batch per seed, as the trainer does; the losses."""
    losses = []
    for i in seeds:
        out = model.loss(make_batch(model, seed=i))
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        losses.append(float(out["loss"].detach()))
    return losses


def model_and_optimizer() -> tuple[CCLPretrainer, torch.optim.Optimizer]:
    model = tiny_model("model.ccl.spm.start_step=1", "model.ccl.spm.threshold=0.0")
    return model, torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)


def test_state_dict_holds_everything_an_exact_resume_needs():
    model, opt = model_and_optimizer()
    state = model.state_dict()
    assert {"queue", "queue_ptr", "steps"} <= set(state)
    assert any(k.startswith("key_encoder.") for k in state)
    assert any(k.startswith("key_projector.") for k in state)
    torch.manual_seed(5)
    full = train_steps(model, opt, range(4))
    # the same run, stopped after two steps and resumed in fresh objects from what the
    # trainer checkpoints (model state dict, optimiser state, torch RNG state)
    first, first_opt = model_and_optimizer()
    torch.manual_seed(5)
    head = train_steps(first, first_opt, range(2))
    saved = (copy.deepcopy(first.state_dict()), copy.deepcopy(first_opt.state_dict()),
             torch.get_rng_state())
    torch.manual_seed(123)  # whatever happened in between
    resumed, resumed_opt = model_and_optimizer()
    resumed.load_state_dict(saved[0])
    resumed_opt.load_state_dict(saved[1])
    torch.set_rng_state(saved[2])
    assert head + train_steps(resumed, resumed_opt, range(2, 4)) == full
    assert int(resumed.steps) == 4 and int(resumed.queue_ptr) == (4 * 4) % 16
    for name, value in model.state_dict().items():
        assert torch.equal(resumed.state_dict()[name], value), name


def test_finetuning_models_continue_from_the_query_encoder():
    cfg = tiny_cfg("model.heads.slt.text.d_model=32", "model.heads.slt.text.d_ff=32",
                   "model.heads.slt.text.vocab_size=300", "model.heads.slt.text.encoder_layers=1",
                   "model.heads.slt.text.decoder_layers=1")
    method = CCLSLR()
    pre = method.build_pretrainer(cfg, TaskSpec("pretrain", train_texts=["a"] * 40))
    with torch.no_grad():
        for q, _ in key_pairs(pre):
            q.add_(1.0)  # the key encoder now differs: fine-tuning must take the query
    for spec in (TaskSpec("islr", classes=["A", "B"]), TaskSpec("cslr", classes=["A", "B"]),
                 TaskSpec("slt", train_texts=["the boy went home ."] * 5)):
        model = method.build(cfg, spec, pretrained=pre)
        for name, value in pre.sign_encoder.state_dict().items():
            assert torch.equal(model.encoder.state_dict()[name], value), (spec.task, name)
        assert model.encoder is not pre.sign_encoder


def test_a_queue_as_large_as_the_corpus_is_refused():
    with pytest.raises(ConfigError, match=r"queue_size=16 is not smaller"):
        CCLSLR().build_pretrainer(tiny_cfg(), TaskSpec("pretrain", train_texts=["a"] * 16))


@pytest.mark.parametrize("override", ["model.ccl.spm.mine_by=value",
                                      "model.ccl.spm.loss=max"])
def test_unknown_mining_choices_are_config_errors(override):
    with pytest.raises(ConfigError, match=override.split("=")[0].replace(".", r"\.")):
        tiny_model(override)
