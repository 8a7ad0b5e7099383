"""MSLP's objectives: what masking hides, what reconstruction scores, what contrast rewards,
what stays frozen, what padding cannot change."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from harness.cell.runner import resolve_config
from harness.core.tasks import Batch, TaskSpec
from harness.errors import UserError
from methods.common.contrastive import masked_mean, soft_contrastive
from methods.mslp import MSLP
from methods.mslp.losses import fine_similarity, reconstruction_loss
from methods.mslp.masking import PoseMask, random_subset
from methods.mslp.model import LOSSES, MSLPPretrainer

TEXTS = ["the boy went home .", "i will buy the red apple .", "where is the old house ?",
         "she does not like cold water .", "the boy went home ."]
PARTS = ("body", "left_hand", "right_hand", "face")


def tiny_cfg(*overrides: str) -> dict:
    return resolve_config("mslp", "synth-islr", "smoke", [
        "model.encoder.spatial=[8, 16]", "model.encoder.temporal=[16]", "model.encoder.embed=8",
        "model.encoder.d_model=32", "model.encoder.context.ff=32",
        "model.mslp.decoder.hidden=16", "model.mslp.contrast.embed_dim=16",
        "model.heads.slt.text.d_model=32", "model.heads.slt.text.d_ff=32",
        "model.heads.slt.text.vocab_size=300",
        # the harness's padding switch, under which a clip's losses cannot see its padding
        "model.encoder.padding=zero", *overrides])


def make_batch(model: MSLPPretrainer, texts: list[str], lengths: list[int] | None = None,
               pad_to: int = 12, seed: int = 0) -> Batch:
    """Random clips of the given lengths, padded with garbage, with some invalid points and
    some points exactly at the confidence threshold."""
    g = torch.Generator().manual_seed(seed)
    n, v = len(texts), len(model.input_joints)
    lengths = lengths or [pad_to] * n
    kp = 100 + torch.rand(n, pad_to, v, 2, generator=g) * 300
    conf = 0.5 + 0.5 * torch.rand(n, pad_to, v, generator=g)
    conf[torch.rand(n, pad_to, v, generator=g) < 0.1] = 0.3  # at the threshold: not good
    valid = torch.rand(n, pad_to, v, generator=g) > 0.1
    mask = torch.arange(pad_to)[None] < torch.tensor(lengths)[:, None]
    kp[~mask] = torch.rand(int((~mask).sum()), v, 2, generator=g) * 1e4  # garbage padding
    return Batch([str(i) for i in range(n)], kp, conf, valid, mask, ["G"] * n, list(texts))


def pad(batch: Batch, total: int) -> Batch:
    """The same clips padded with garbage frames to ``total`` frames."""
    extra = total - batch.keypoints.shape[1]

    def grow(x: torch.Tensor, fill: float) -> torch.Tensor:
        return torch.cat([x, torch.full((x.shape[0], extra, *x.shape[2:]), fill,
                                        dtype=x.dtype)], dim=1)
    return dataclasses.replace(batch, keypoints=grow(batch.keypoints, 5e3),
                               confidence=grow(batch.confidence, 1.0),
                               valid=grow(batch.valid, True),
                               frame_mask=grow(batch.frame_mask, False))


@pytest.fixture(scope="module")
def model() -> MSLPPretrainer:
    torch.manual_seed(0)
    return MSLPPretrainer(tiny_cfg()).eval()


def test_random_subset_takes_the_rounded_ratio_of_eligible_entries():
    eligible = torch.rand(50, 40, generator=torch.Generator().manual_seed(0)) > 0.3
    picked = random_subset(eligible, 0.3, torch.rand(50, 40))
    assert not (picked & ~eligible).any()
    assert torch.equal(picked.sum(1), (0.3 * eligible.sum(1)).round().long())


def test_masking_covers_the_configured_frame_and_joint_ratios(model):
    batch = make_batch(model, TEXTS, lengths=[12, 7, 10, 3, 12])
    torch.manual_seed(1)
    mask = model.draw_mask(batch)
    good = model.targets(batch)[1] > 0
    anchors = model.anchors
    assert not (mask.frames & ~batch.frame_mask).any()
    assert torch.equal(mask.frames.sum(1), (0.2 * batch.frame_mask.sum(1)).round().long())
    assert mask.points[mask.frames].all()  # a masked frame hides every point
    joints = mask.points & ~mask.frames[..., None]
    assert not (joints & ~good).any() and not joints[..., anchors].any()
    eligible = good & ~mask.frames[..., None] & ~anchors
    for name in PARTS:
        sl = model.sign_encoder.slices[name]
        expected = (0.3 * eligible[:, :, sl].flatten(1).sum(1)).round().long()
        assert torch.equal(joints[:, :, sl].flatten(1).sum(1), expected), name
        assert expected.sum() > 0, name
    hidden = model.hide(batch, mask)
    assert not hidden.valid[mask.points].any()
    assert torch.equal(hidden.valid[~mask.points], batch.valid[~mask.points])


def test_reconstruction_scores_only_masked_points():
    g = torch.Generator().manual_seed(0)
    pred, target = torch.randn(2, 6, 5, 2, generator=g), torch.randn(2, 6, 5, 2, generator=g)
    weight = torch.rand(2, 6, 5, generator=g) + 0.1
    mask = torch.rand(2, 6, 5, generator=g) > 0.5
    base = reconstruction_loss(pred, target, weight, mask, "l1")
    other = target.clone()
    other[~mask] += 3.0
    torch.testing.assert_close(reconstruction_loss(pred, other, weight, mask, "l1"), base)
    other[mask.nonzero()[0].tolist()] += 3.0
    assert reconstruction_loss(pred, other, weight, mask, "l1") != base
    # the weighted mean of per-point errors: L1 averages |dx|, |dy|; L2 their squares
    one = torch.zeros(1, 1, 2, 2)
    tgt = torch.tensor([[[[1.0, 3.0], [2.0, 2.0]]]])
    w = torch.tensor([[[1.0, 3.0]]])
    m = torch.ones(1, 1, 2, dtype=torch.bool)
    torch.testing.assert_close(reconstruction_loss(one, tgt, w, m, "l1"), torch.tensor(2.0))
    torch.testing.assert_close(reconstruction_loss(one, tgt, w, m, "l2"),
                               torch.tensor((5.0 + 3 * 4.0) / 4))
    assert reconstruction_loss(one, tgt, w, ~m, "l1") == 0


def test_only_masked_good_points_enter_the_model_loss(model):
    batch = make_batch(model, TEXTS[:2], seed=3)
    sl = model.sign_encoder.slices["left_hand"]
    points = torch.zeros_like(batch.valid)
    points[0, 4, sl.start + 5] = True   # a good masked point
    points[0, 5, sl.start + 6] = True   # masked but invalid
    points[0, 6, sl.start + 7] = True   # masked but at the confidence threshold
    batch.valid[0, 4, sl.start + 5], batch.confidence[0, 4, sl.start + 5] = True, 0.9
    batch.valid[0, 4, sl.start], batch.confidence[0, 4, sl.start] = True, 0.9  # its wrist
    batch.keypoints[0, 4, sl.start + 5] = batch.keypoints[0, 4, sl.start] + 1.0  # unclipped
    batch.valid[0, 5, sl.start + 6], batch.confidence[0, 5, sl.start + 6] = False, 0.9
    batch.valid[0, 6, sl.start + 7], batch.confidence[0, 6, sl.start + 7] = True, 0.3
    mask = PoseMask(torch.zeros_like(batch.frame_mask), points)

    def mpm(b: Batch) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            return model.loss(b, mask)

    base = mpm(batch)
    for t, j in ((5, 6), (6, 7)):  # moving a masked point that is not good changes nothing
        moved = dataclasses.replace(batch, keypoints=batch.keypoints.clone())
        moved.keypoints[0, t, sl.start + j] += 20.0
        out = mpm(moved)
        for key in ("mpm", *(f"mpm_{p}" for p in PARTS)):
            torch.testing.assert_close(out[key], base[key])
    moved = dataclasses.replace(batch, keypoints=batch.keypoints.clone())
    moved.keypoints[0, 4, sl.start + 5] += 2.0  # hidden from the encoder: only its target moves
    out = mpm(moved)
    assert out["mpm_left_hand"] != base["mpm_left_hand"]
    for p in ("body", "right_hand", "face"):
        torch.testing.assert_close(out[f"mpm_{p}"], base[f"mpm_{p}"])
    torch.testing.assert_close(out["contrast_global"], base["contrast_global"])


def test_padded_frames_change_no_loss(model):
    short = make_batch(model, TEXTS, lengths=[10, 6, 10, 8, 9], pad_to=10)
    padded = pad(short, 16)
    torch.manual_seed(5)
    with torch.no_grad():
        a = model.loss(short)
    torch.manual_seed(5)
    with torch.no_grad():
        b = model.loss(padded)
    for key in (*LOSSES, *(f"mpm_{p}" for p in PARTS), "masked_fraction"):
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5)


def test_padding_never_enters_the_fine_similarity():
    g = torch.Generator().manual_seed(0)
    frames = torch.nn.functional.normalize(torch.randn(3, 6, 8, generator=g), dim=-1)
    tokens = torch.nn.functional.normalize(torch.randn(4, 5, 8, generator=g), dim=-1)
    f_mask = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 0, 0, 0, 0], [1] * 6], dtype=torch.bool)
    t_mask = torch.tensor([[1, 1, 1, 0, 0], [1] * 5, [1, 0, 0, 0, 0], [1, 1, 0, 0, 0]],
                          dtype=torch.bool)
    noisy_f, noisy_t = frames.clone(), tokens.clone()
    noisy_f[~f_mask], noisy_t[~t_mask] = frames[0, 0], tokens[0, 0]  # would match perfectly
    torch.testing.assert_close(fine_similarity(frames, f_mask, tokens, t_mask),
                               fine_similarity(noisy_f, f_mask, noisy_t, t_mask))


def test_contrastive_losses_prefer_aligned_pairs():
    g = torch.Generator().manual_seed(0)
    tokens = torch.nn.functional.normalize(torch.randn(6, 5, 16, generator=g), dim=-1)
    t_mask = torch.ones(6, 5, dtype=torch.bool)
    order = torch.tensor([0, 0, 1, 2, 2, 3, 4, 4])  # frames follow the text's tokens
    frames = torch.nn.functional.normalize(
        tokens[:, order] + 0.2 * torch.randn(6, 8, 16, generator=g), dim=-1)
    f_mask = torch.ones(6, 8, dtype=torch.bool)
    pos = torch.eye(6, dtype=torch.bool)
    shuffle = torch.tensor([1, 2, 3, 4, 5, 0])
    fine = soft_contrastive(10 * fine_similarity(frames, f_mask, tokens, t_mask), pos)
    fine_shuffled = soft_contrastive(
        10 * fine_similarity(frames, f_mask, tokens[shuffle], t_mask), pos)
    assert fine < fine_shuffled
    zs = torch.nn.functional.normalize(masked_mean(frames, f_mask), dim=-1)
    zt = torch.nn.functional.normalize(masked_mean(tokens, t_mask), dim=-1)
    assert soft_contrastive(10 * zs @ zt.T, pos) < soft_contrastive(10 * zs @ zt[shuffle].T, pos)


def test_training_aligns_signs_with_their_own_texts():
    torch.manual_seed(0)
    model = MSLPPretrainer(tiny_cfg("model.mslp.weights.mpm=0.0")).train()
    texts = TEXTS[:4]
    batch = make_batch(model, texts, seed=7)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(40):
        opt.zero_grad()
        model.loss(batch)["loss"].backward()
        opt.step()
    shuffled = dataclasses.replace(batch, text=[texts[i] for i in (1, 2, 3, 0)])
    with torch.no_grad():  # train mode (batch statistics) and the same dropout for both
        torch.manual_seed(1)
        aligned = model.loss(batch)
        torch.manual_seed(1)
        wrong = model.loss(shuffled)
    for key in ("contrast_global", "contrast_fine"):
        assert aligned[key] < wrong[key] - 1.0, key


@pytest.mark.parametrize("name", LOSSES)
def test_every_loss_reaches_the_sign_encoder(name, model):
    model.train()
    model.zero_grad()
    try:
        out = model.loss(make_batch(model, TEXTS))
        out[name].backward()
    finally:
        model.eval()
    grads = [p.grad for p in model.sign_encoder.parameters()]
    assert any(g is not None and g.abs().sum() > 0 for g in grads), name
    assert all(g is None or torch.isfinite(g).all() for g in grads)
    model.zero_grad()


def test_the_text_encoder_is_frozen():
    torch.manual_seed(0)
    model = MSLPPretrainer(tiny_cfg()).train()
    frozen = model.text.parameters()
    before = [p.detach().clone() for p in frozen]
    projection = model.text_fine.weight.detach().clone()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.loss(make_batch(model, TEXTS))["loss"].backward()
    assert all(p.grad is None and not p.requires_grad for p in frozen)
    opt.step()
    assert all(torch.equal(a, b) for a, b in zip(before, frozen, strict=True))
    assert not torch.equal(model.text_fine.weight, projection)  # its projection does train
    ids = {id(p) for p in model.parameters()}
    assert not any(id(p) in ids for p in frozen)
    assert not any(k.startswith("text.") for k in model.state_dict())  # not checkpointed
    model.train()
    assert not model.text.model.training


def test_ablated_losses_are_not_computed():
    torch.manual_seed(0)
    model = MSLPPretrainer(tiny_cfg("model.mslp.weights.mpm=0.0",
                                    "model.mslp.weights.contrast_fine=0.0"))
    out = model.loss(make_batch(model, TEXTS))
    assert "mpm" not in out and "contrast_fine" not in out
    torch.testing.assert_close(out["loss"], out["contrast_global"])


def test_a_missing_text_encoder_fails_with_one_line():
    assert "multilingual" in resolve_config("mslp", "synth-islr", "paper", [])[
        "model"]["text"]["name_or_path"]
    cfg = tiny_cfg("model.text.name_or_path=/nonexistent/text-encoder")
    with pytest.raises(UserError, match="/nonexistent/text-encoder") as err:
        MSLP().build_pretrainer(cfg, TaskSpec("pretrain", train_texts=TEXTS))
    assert "\n" not in str(err.value) and "model.text.name_or_path" in str(err.value)


def test_finetuning_models_continue_from_the_pretrained_encoder(model):
    method = MSLP()
    cfg = tiny_cfg()
    for spec in (TaskSpec("islr", classes=["A", "B"]),
                 TaskSpec("slt", train_texts=["other text entirely ."] * 5)):
        tuned = method.build(cfg, spec, pretrained=model)
        for name, value in model.sign_encoder.state_dict().items():
            assert torch.equal(tuned.encoder.state_dict()[name], value), (spec.task, name)
        assert tuned.encoder is not model.sign_encoder
    assert tuned.text_model.config.d_model == 32  # SLT's text model: model.heads.slt.text
