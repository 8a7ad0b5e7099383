"""CCL-SLR's pre-training: momentum encoders, queues, mining, masking, views, the motion
stream and the cross-stream consistency, resume, and what a result calls the method."""

from __future__ import annotations

import copy
import logging
import math

import pytest
import torch
import torch.nn.functional as F

from harness.cell.runner import resolve_config
from harness.core.tasks import Batch, TaskSpec
from harness.errors import ConfigError
from methods.ccl_slr import CCLSLR
from methods.ccl_slr.losses import info_nce, mine_positives
from methods.ccl_slr.masking import motion_preserving_mask
from methods.ccl_slr.model import POSE_ONLY, RGB_SKIPPED, CCLPretrainer
from methods.ccl_slr.motion import MotionSTGCN
from methods.ccl_slr.views import ViewConfig, make_view
from methods.encoders.stgcn import PartwiseSTGCN

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
    """(query, key) parameters of every stream: the joint stream's, then the motion's."""
    pairs = []
    for query_modules, key_modules in (
            ((model.sign_encoder, model.projector), (model.key_encoder, model.key_projector)),
            ((model.motion_encoder, model.motion_projector),
             (model.motion_key_encoder, model.motion_key_projector))):
        query = [p for m in query_modules for p in m.parameters()]
        key = [p for m in key_modules for p in m.parameters()]
        pairs += list(zip(query, key, strict=True))
    return pairs


NO_AUGMENT = ViewConfig(**{k: 0.0 for k in ("scale", "rotate_deg", "shear", "shift", "speed",
                                            "jitter")}, crop_min=1.0)


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
        motion = updated.embed(updated.motion_key_encoder, updated.motion_key_projector, view_k)
        motion_old = stale.embed(stale.motion_key_encoder, stale.motion_key_projector, view_k)
    torch.testing.assert_close(model.queue[:4], keys)
    assert not torch.allclose(model.queue[:4], old, atol=1e-4)
    torch.testing.assert_close(model.motion_queue[:4], motion)  # the motion stream's own
    assert not torch.allclose(model.motion_queue[:4], motion_old, atol=1e-4)


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
    before = model.queue.clone(), model.motion_queue.clone()
    model.loss(batch)
    assert int(model.steps) == 1
    for queue, ptr, old in zip((model.queue, model.motion_queue),
                               (model.queue_ptr, model.motion_queue_ptr), before, strict=True):
        assert int(ptr) == 4
        assert not torch.equal(queue[:4], old[:4]) and torch.equal(queue[4:], old[4:])
        torch.testing.assert_close(queue[:4].norm(dim=1), torch.ones(4))
    assert not torch.allclose(model.queue[:4], model.motion_queue[:4], atol=1e-3)


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


def test_with_rgb_features_the_cross_modal_branch_is_pose_against_rgb():
    model = tiny_model()
    batch = make_batch(model)
    batch.rgb = torch.randn(4, 12)
    motion_queue = model.motion_queue.clone()
    out = model.loss(batch)
    assert "cross" in out and out["cross"] > 0 and "motion" not in out
    torch.testing.assert_close(out["loss"], out["intra"] + out["cross"])
    out["cross"].backward()
    assert model.rgb_projector[0].weight.grad.abs().sum() > 0
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in model.sign_encoder.parameters())
    # the paper's pair is pose and RGB: the motion stream sits out (no gradient, no keys)
    assert all(p.grad is None for p in model.motion_encoder.parameters())
    assert torch.equal(model.motion_queue, motion_queue) and int(model.motion_queue_ptr) == 0


def test_without_rgb_features_the_cross_modal_branch_is_joint_against_motion(caplog):
    model = tiny_model()
    batch = make_batch(model)
    with caplog.at_level(logging.INFO, logger="methods.ccl_slr"):
        first, second = model.loss(batch), model.loss(batch)
    for out in (first, second):
        assert {"intra", "motion", "cross", "cross_acc"} <= set(out)
        torch.testing.assert_close(out["loss"], out["intra"] + out["motion"] + out["cross"])
    assert [r.getMessage() for r in caplog.records if r.name == "methods.ccl_slr"] == [
        POSE_ONLY]  # said once
    caplog.clear()
    single = tiny_model("model.ccl.motion.enabled=False")
    with caplog.at_level(logging.INFO, logger="methods.ccl_slr"):
        first, second = single.loss(batch), single.loss(batch)
    assert "cross" not in first and "motion" not in second
    torch.testing.assert_close(first["loss"], first["intra"])
    assert [r.getMessage() for r in caplog.records if r.name == "methods.ccl_slr"] == [
        RGB_SKIPPED]


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


# -- the motion stream ------------------------------------------------------------------------
def with_gaps(model: CCLPretrainer, batch: Batch) -> Batch:
    """``batch`` with a missing body point (clip 0, frame 5) and a missing right-hand wrist,
    the hand's anchor (clip 2, frame 7)."""
    enc = model.sign_encoder
    valid = batch.valid.clone()
    valid[0, 5, enc.slices["body"].start + 3] = False
    valid[2, 7, enc.slices["right_hand"].start + enc.anchors["right_hand"]] = False
    return Batch(batch.ids, batch.keypoints, batch.confidence * valid, valid,
                 batch.frame_mask, batch.gloss, batch.text)


def test_motion_input_is_the_scaled_frame_difference_of_what_the_joint_stream_reads():
    model = tiny_model("model.ccl.motion.scale=4.0")
    enc, joint = model.motion_encoder, model.sign_encoder
    batch = with_gaps(model, make_batch(model, t=10))
    g = torch.Generator().manual_seed(1)
    batch.confidence = batch.confidence * (0.5 + 0.5 * torch.rand(batch.confidence.shape,
                                                                  generator=g))
    args = (batch.keypoints, batch.confidence, batch.valid, batch.frame_mask)
    motion, pose = enc.normalized(*args), joint.normalized(*args)
    lengths = batch.frame_mask.sum(1).tolist()
    for name, m in motion.items():
        x = pose[name]
        anchor = enc.anchors.get(name)
        for b, n in enumerate(lengths):
            for t in range(m.shape[1]):
                for v in range(m.shape[2]):
                    ends = [x[b, u, v, 2] > 0 and (anchor is None or x[b, u, anchor, 2] > 0)
                            for u in (t, t + 1)] if t + 1 < n else [False]
                    if all(ends):
                        want = torch.cat([4.0 * (x[b, t + 1, v, :2] - x[b, t, v, :2]),
                                          torch.minimum(x[b, t, v, 2:], x[b, t + 1, v, 2:])])
                    else:  # the last real frame, padding, a missing point or anchor
                        want = torch.zeros(3)
                    torch.testing.assert_close(m[b, t, v], want, msg=f"{name} {b} {t} {v}")
    # the gaps: the body point's motion into and out of frame 5 is gone, and the whole right
    # hand's around frame 7 (its points there are relative to a missing wrist)
    assert (motion["body"][0, 4:6, 3] == 0).all() and (motion["body"][0, 3, 3] != 0).any()
    assert (motion["right_hand"][2, 6:8] == 0).all()
    assert (motion["right_hand"][2, 5, 1:, 2] > 0).all()
    # and the encoder reads it: two still clips in different poses are one clip to it
    still = batch.keypoints[:, :1].expand(-1, batch.keypoints.shape[1], -1, -1)
    other = still.flip(0)
    full = (batch.confidence[:1].expand_as(batch.confidence), batch.valid[:1].expand_as(
        batch.valid), batch.frame_mask[:1].expand_as(batch.frame_mask))
    torch.testing.assert_close(enc(still, *full), enc(other, *full))
    assert not torch.allclose(joint(still, *full), joint(other, *full), atol=1e-4)


def test_motion_of_a_translating_signer_is_its_velocity_in_body_units():
    model = tiny_model("model.ccl.motion.scale=8.0")
    enc = model.motion_encoder
    b, t, v = 2, 9, len(model.input_joints)
    base = torch.rand(1, 1, v, 2, generator=torch.Generator().manual_seed(2)) * 100 + 200
    velocity = torch.tensor([[3.0, -2.0], [0.0, 5.0]])  # pixels per frame
    kp = base + velocity[:, None, None, :] * torch.arange(t, dtype=torch.float)[None, :, None,
                                                                                   None]
    batch = Batch(["a", "b"], kp, torch.full((b, t, v), 0.9), torch.ones(b, t, v, dtype=torch.bool),
                  torch.ones(b, t, dtype=torch.bool), ["G"] * b, [""] * b)
    motion = enc.normalized(kp, batch.confidence, batch.valid, batch.frame_mask)
    body = kp[:, :, enc.slices["body"]]
    size = (body.amax(dim=(1, 2)) - body.amin(dim=(1, 2))).amax(1)  # the clip's body box
    want = 8.0 * velocity / (size[:, None] / 2)
    torch.testing.assert_close(motion["body"][:, :-1, :, :2],
                               want[:, None, None].expand(-1, t - 1, 9, -1))
    assert (motion["body"][:, -1] == 0).all()  # the last frame has no successor
    for name in ("left_hand", "right_hand", "face"):  # relative to their anchors: still
        torch.testing.assert_close(motion[name][..., :2], torch.zeros_like(motion[name][..., :2]))
    # the motion of the pose, not of where it is: a translation of the raw clip or of the
    # normalised one (the view's affine) changes nothing; a rotation and scale turn it
    moved = enc.normalized(kp + torch.tensor([40.0, -25.0]), batch.confidence, batch.valid,
                           batch.frame_mask)
    # (the body box spans [-1, 1]: a transform that kept its scale would clip it)
    def transformed(mat: torch.Tensor, shift: tuple[float, float]) -> dict:
        affine = torch.cat([mat, torch.tensor(shift)[:, None]], 1).expand(b, -1, -1)
        return enc.normalized(kp, batch.confidence, batch.valid, batch.frame_mask, affine)

    half = torch.eye(2) * 0.5
    turn = torch.tensor([[math.cos(0.4), -math.sin(0.4)], [math.sin(0.4), math.cos(0.4)]]) * 0.5
    scaled, shifted = transformed(half, (0.0, 0.0)), transformed(half, (0.3, -0.2))
    turned = transformed(turn, (0.2, -0.1))
    for name in motion:
        torch.testing.assert_close(moved[name], motion[name], atol=1e-5, rtol=0)
        torch.testing.assert_close(scaled[name][..., :2], motion[name][..., :2] * 0.5)
        torch.testing.assert_close(shifted[name], scaled[name], atol=1e-5, rtol=0)
        torch.testing.assert_close(turned[name][..., :2], motion[name][..., :2] @ turn.T,
                                   atol=1e-5, rtol=0)


def test_the_motion_encoder_is_the_shared_encoder_with_its_own_weights():
    model = tiny_model()
    assert isinstance(model.motion_encoder, MotionSTGCN)
    assert isinstance(model.motion_encoder, PartwiseSTGCN)
    # it starts from the joint stream's initial weights (motion.init='joint'), in
    # parameters of its own, which the first step moves apart
    for a, b in ((model.sign_encoder, model.motion_encoder),
                 (model.projector, model.motion_projector)):
        joint, motion = a.state_dict(), b.state_dict()
        assert set(joint) == set(motion) and all(torch.equal(joint[k], motion[k]) for k in joint)
    own = {p.data_ptr() for p in model.sign_encoder.parameters()}
    assert not any(p.data_ptr() in own for p in model.motion_encoder.parameters())
    # the joint stream does not depend on whether a motion stream is built after it
    single = tiny_model("model.ccl.motion.enabled=False")
    assert not any(k.startswith("motion") for k in single.state_dict())
    for name, value in single.state_dict().items():
        assert torch.equal(model.state_dict()[name], value), name
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    model.loss(make_batch(model))["loss"].backward()
    opt.step()
    joint, motion = model.sign_encoder.state_dict(), model.motion_encoder.state_dict()
    assert not all(torch.equal(joint[k], motion[k]) for k in joint)
    drawn = tiny_model("model.ccl.motion.init='random'")
    joint, motion = drawn.sign_encoder.state_dict(), drawn.motion_encoder.state_dict()
    assert not all(torch.equal(joint[k], motion[k]) for k in joint)
    with pytest.raises(ConfigError, match=r"model\.ccl\.motion\.init"):
        tiny_model("model.ccl.motion.init='copy'")


def test_the_cross_stream_loss_is_infonce_against_the_other_streams_key_and_queue():
    model = tiny_model("model.ccl.momentum=0.5", "model.ccl.spm.start_step=0",
                       "model.ccl.spm.topk=2", "model.ccl.spm.threshold=-1.0")
    with torch.no_grad():
        for q, _ in key_pairs(model):
            q.add_(torch.randn_like(q) * 0.1)
    updated = copy.deepcopy(model)
    updated.momentum_update()
    queues = {"joint": model.queue.clone(), "motion": model.motion_queue.clone()}
    batch = make_batch(model)
    torch.manual_seed(3)
    out = model.loss(batch)
    torch.manual_seed(3)  # replay the draws of loss(): query view, its mask, key view
    view_q = updated.mask_view(make_view(batch, model.views, 0.3))
    view_k = make_view(batch, model.views, 0.3)
    with torch.no_grad():
        q = {"joint": updated.embed(updated.sign_encoder, updated.projector, view_q),
             "motion": updated.embed(updated.motion_encoder, updated.motion_projector, view_q)}
        k = {"joint": updated.embed(updated.key_encoder, updated.key_projector, view_k),
             "motion": updated.embed(updated.motion_key_encoder, updated.motion_key_projector,
                                     view_k)}
    # SPM's positives of a queue: the entries nearest its own stream's key
    mined = {s: mine_positives(k[s], queues[s], 2, -1.0) for s in queues}
    joint_to_motion, _ = info_nce(q["joint"], k["motion"], queues["motion"], 0.07,
                                  mined["motion"])
    motion_to_joint, _ = info_nce(q["motion"], k["joint"], queues["joint"], 0.07,
                                  mined["joint"])
    torch.testing.assert_close(out["cross"], (joint_to_motion + motion_to_joint) / 2)
    motion, _ = info_nce(q["motion"], k["motion"], queues["motion"], 0.07, mined["motion"])
    torch.testing.assert_close(out["motion"], motion)


def test_the_cross_stream_loss_reaches_both_encoders_and_neither_key_encoder():
    model = tiny_model("model.ccl.weights.intra=0.0", "model.ccl.weights.motion=0.0")
    out = model.loss(make_batch(model))
    torch.testing.assert_close(out["loss"], out["cross"])
    out["loss"].backward()
    for module in (model.sign_encoder, model.projector, model.motion_encoder,
                   model.motion_projector):
        grads = [p.grad for p in module.parameters()]
        assert sum(float(g.abs().sum()) for g in grads if g is not None) > 0
    for module in (model.key_encoder, model.key_projector, model.motion_key_encoder,
                   model.motion_key_projector):
        assert all(p.grad is None and not p.requires_grad for p in module.parameters())


def moving_clips(model: CCLPretrainer, b: int = 8, t: int = 8) -> Batch:
    """Clips that differ in how they move: each translates the body and moves each hand's
    fingers (relative to the wrist) at its own random velocities, with point jitter."""
    v, enc = len(model.input_joints), model.sign_encoder
    kps = []
    for i in range(b):
        g = torch.Generator().manual_seed(100 + i)
        base = torch.rand(1, v, 2, generator=g) * 200 + 150
        velocity = torch.zeros(1, v, 2) + torch.randn(1, 1, 2, generator=g) * 5
        for name in ("left_hand", "right_hand"):
            velocity[:, enc.slices[name]] += torch.randn(1, 2, generator=g) * 3
        steps = torch.arange(t, dtype=torch.float)[:, None, None]
        kps.append(base + velocity * steps + torch.randn(t, v, 2, generator=g))
    return Batch([str(i) for i in range(b)], torch.stack(kps), torch.full((b, t, v), 0.9),
                 torch.ones(b, t, v, dtype=torch.bool), torch.ones(b, t, dtype=torch.bool),
                 ["G"] * b, [""] * b)


def matching(model: CCLPretrainer, batch: Batch) -> tuple[float, float]:
    """How much more similar a clip's joint query is to its own clip's motion key than to
    the other clips' (mean cosine, matched minus mismatched pairs), and the fraction of clips
    whose own motion key is more similar than the mean of the others'; unaugmented clips,
    batch statistics as in training."""
    with torch.no_grad():
        j = model.embed(model.sign_encoder, model.projector, batch)
        m = model.embed(model.motion_key_encoder, model.motion_key_projector, batch)
    sim = j @ m.T
    b = len(sim)
    others = (sim.sum(1) - sim.diag()) / (b - 1)
    return float((sim.diag() - others).mean()), float((sim.diag() > others).float().mean())


def test_cross_stream_contrast_learns_to_match_a_clips_joint_and_motion_streams():
    # only the cross-stream term, 40 steps on 8 clips; the queue holds the previous step's
    # keys of the same clips (a corpus as small as a batch). Measured, matched minus
    # mismatched cosine before and after the 40 steps: these clips 0.008 -> 0.48, three
    # perturbations of them (20 px noise on every point) 0.001-0.003 -> 0.13-0.16; with
    # motion.init='random' 0.00 -> 0.00-0.01 on all four (the streams start unaligned, and
    # every query is first pulled toward the other stream's mean embedding)
    model = tiny_model("model.ccl.weights.intra=0.0", "model.ccl.weights.motion=0.0",
                       "model.ccl.queue_size=8", "model.ccl.momentum=0.99",
                       "model.ccl.temperature=0.2")
    batch = moving_clips(model)
    before, _ = matching(model, batch)
    assert abs(before) < 0.02  # a shared start, but positions are not motion
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-3)
    torch.manual_seed(0)
    for _ in range(40):
        out = model.loss(batch)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
    margin, preferred = matching(model, batch)
    assert margin > 0.2 and preferred == 1.0, (margin, preferred)


# -- what a result calls the method ------------------------------------------------------------
def test_describe_names_the_pose_only_adaptation_unless_rgb_features_are_given():
    method, cfg = CCLSLR(), tiny_cfg()
    assert method.describe(cfg, TaskSpec("islr")) == {"input": "pose",
                                                      "variant": "pose-only adaptation"}
    assert method.describe(cfg, TaskSpec("islr", inputs=("pose", "rgb"))) == {
        "input": "pose+rgb", "variant": None}
    assert "pose-only adaptation (joint/motion streams) unless RGB features are given" in \
        method.summary
    import methods.ccl_slr as package

    assert "pose-only adaptation (joint/motion streams) unless RGB features are given" in \
        " ".join(package.__doc__.split())


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
    assert {"queue", "queue_ptr", "steps", "motion_queue", "motion_queue_ptr"} <= set(state)
    for prefix in ("key_encoder.", "key_projector.", "motion_encoder.", "motion_projector.",
                   "motion_key_encoder.", "motion_key_projector."):
        assert any(k.startswith(prefix) for k in state), prefix
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
        assert type(model.encoder) is PartwiseSTGCN  # the joint stream's, on positions


def test_a_queue_as_large_as_the_corpus_is_refused():
    with pytest.raises(ConfigError, match=r"queue_size=16 is not smaller"):
        CCLSLR().build_pretrainer(tiny_cfg(), TaskSpec("pretrain", train_texts=["a"] * 16))


@pytest.mark.parametrize("override", ["model.ccl.spm.mine_by=value",
                                      "model.ccl.spm.loss=max"])
def test_unknown_mining_choices_are_config_errors(override):
    with pytest.raises(ConfigError, match=override.split("=")[0].replace(".", r"\.")):
        tiny_model(override)
