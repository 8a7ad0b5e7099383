"""Sigma's objectives: what each loss rewards, what mining picks, what masks hide."""

from __future__ import annotations

import pytest
import torch

from harness.runner import resolve_config
from harness.tasks import Batch
from methods.common.contrastive import masked_mean, same_text, soft_contrastive
from methods.sigma.losses import ClusterAggregator, hardest_negatives, local_similarity, word_units
from methods.sigma.model import LOSSES, SigmaPretrainer

TEXTS = ["the boy went home .", "i will buy the red apple .", "where is the old house ?",
         "she does not like cold water .", "the boy went home ."]


def tiny_cfg(*overrides: str) -> dict:
    return resolve_config("sigma", "synth-islr", "smoke", [
        "model.encoder.spatial=[8, 16]", "model.encoder.temporal=[16]", "model.encoder.embed=8",
        "model.encoder.d_model=32", "model.encoder.context.ff=32", "model.text.d_model=32",
        "model.text.d_ff=32", "model.text.vocab_size=300", "model.sigma.embed_dim=16",
        "model.text.encoder_layers=1", "model.text.decoder_layers=1",
        # the harness's padding switch, under which a clip's losses cannot see its padding
        "model.encoder.padding=zero", *overrides])


def make_batch(model: SigmaPretrainer, texts: list[str], t: int = 10, seed: int = 0,
               pad_to: int | None = None) -> Batch:
    g = torch.Generator().manual_seed(seed)
    v = len(model.input_joints)
    total = pad_to or t
    kp = torch.rand(len(texts), total, v, 2, generator=g) * 400
    mask = torch.zeros(len(texts), total, dtype=torch.bool)
    mask[:, :t] = True
    kp[:, t:] = torch.rand(len(texts), total - t, v, 2, generator=g) * 1e4  # garbage padding
    return Batch([str(i) for i in range(len(texts))], kp, torch.full((len(texts), total, v), .9),
                 torch.ones(len(texts), total, v, dtype=torch.bool), mask, ["G"] * len(texts),
                 list(texts))


@pytest.fixture(scope="module")
def model() -> SigmaPretrainer:
    torch.manual_seed(0)
    return SigmaPretrainer(tiny_cfg(), TEXTS * 10).eval()


def test_contrastive_loss_prefers_aligned_pairs():
    torch.manual_seed(0)
    text = torch.nn.functional.normalize(torch.randn(6, 8), dim=-1)
    sign = torch.nn.functional.normalize(text + 0.1 * torch.randn(6, 8), dim=-1)
    pos = torch.eye(6, dtype=torch.bool)
    aligned = soft_contrastive(10 * sign @ text.T, pos)
    shuffled = soft_contrastive(10 * sign @ text[torch.randperm(6)].T, pos)
    assert aligned < shuffled


def test_local_alignment_prefers_aligned_pairs():
    torch.manual_seed(0)
    units = torch.randn(4, 5, 8)
    clusters = units[:, torch.tensor([0, 2, 4])] + 0.05 * torch.randn(4, 3, 8)
    mask = torch.ones(4, 5, dtype=torch.bool)
    sim = local_similarity(clusters, units, mask)
    assert torch.all(sim.diag() > sim.masked_fill(torch.eye(4, dtype=torch.bool), -9).amax(1))
    pos = torch.eye(4, dtype=torch.bool)
    assert soft_contrastive(sim / 0.1, pos) < soft_contrastive(sim[:, [1, 2, 3, 0]] / 0.1, pos)


def test_identical_texts_are_positives_not_negatives():
    pos = same_text(TEXTS, torch.device("cpu"))
    assert pos[0, 4] and pos[4, 0] and not pos[0, 1]
    sim = torch.eye(5) + 0.5 * pos.float()
    sim[0, 3] = 0.9   # the most similar non-matching text of sign 0
    sim[2, 1] = 0.95  # the most similar non-matching sign of text 1
    neg_t, has_t, neg_s, has_s = hardest_negatives(sim, pos)
    assert neg_t[0] == 3 and neg_s[1] == 2
    assert has_t.all() and has_s.all()
    for i in range(5):  # never a positive
        assert not pos[i, neg_t[i]] and not pos[neg_s[i], i]


def test_a_batch_of_one_text_has_no_negatives():
    pos = same_text(["a", "a"], torch.device("cpu"))
    _, has_t, _, has_s = hardest_negatives(torch.rand(2, 2), pos)
    assert not has_t.any() and not has_s.any()


def test_padding_never_enters_pooling_clusters_or_units():
    torch.manual_seed(0)
    x = torch.randn(2, 6, 8)
    mask = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 0, 0, 0, 0]], dtype=torch.bool)
    garbage = x.clone()
    garbage[~mask] = 1e3
    torch.testing.assert_close(masked_mean(x, mask), masked_mean(garbage, mask))
    agg = ClusterAggregator(8, 3)
    torch.testing.assert_close(agg(x, mask), agg(garbage, mask))
    units = torch.randn(2, 5, 8)
    unit_mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    noisy = units.clone()
    noisy[~unit_mask] = 5.0
    torch.testing.assert_close(local_similarity(x[:, :3], units, unit_mask),
                               local_similarity(x[:, :3], noisy, unit_mask))


def test_word_units_average_the_subwords_of_a_word():
    tokens = torch.arange(5 * 2, dtype=torch.float).view(1, 5, 2)
    units, mask = word_units(tokens, [[0, 0, 1, None, None]], "word")
    torch.testing.assert_close(units[0, 0], tokens[0, :2].mean(0))
    torch.testing.assert_close(units[0, 1], tokens[0, 2])
    assert mask.tolist() == [[True, True]]
    _, sub_mask = word_units(tokens, [[0, 0, 1, None, None]], "subword")
    assert sub_mask.tolist() == [[True, True, True, False, False]]


def test_padded_frames_change_no_loss(model):
    short = make_batch(model, TEXTS, t=10)
    padded = make_batch(model, TEXTS, t=10, pad_to=16)
    padded.keypoints[:, :10] = short.keypoints
    with torch.no_grad():
        a, b = model.loss(short), model.loss(padded)
    for key in LOSSES:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", LOSSES)
def test_every_loss_reaches_the_sign_encoder(name):
    torch.manual_seed(0)
    model = SigmaPretrainer(tiny_cfg(), TEXTS * 10).train()
    out = model.loss(make_batch(model, TEXTS))
    out[name].backward()
    grads = [p.grad for p in model.sign_encoder.parameters() if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in grads), name
    assert all(g is None or torch.isfinite(g).all() for g in grads)


def test_ablated_losses_are_not_computed():
    torch.manual_seed(0)
    model = SigmaPretrainer(tiny_cfg("model.sigma.weights.sgt_lm=0.0",
                                     "model.sigma.weights.sgt_match=0.0"), TEXTS * 10)
    out = model.loss(make_batch(model, TEXTS))
    assert "sgt_lm" not in out and "sgt_match" not in out
    torch.testing.assert_close(out["loss"], out["hal_global"] + out["hal_local"])


def test_text_only_fusion_leaves_sign_tokens_untouched():
    torch.manual_seed(0)
    model = SigmaPretrainer(tiny_cfg("model.sigma.fusion.mode=text_only"), TEXTS * 10).eval()
    block = model.fusion[0]
    v, t = torch.randn(2, 4, 32), torch.randn(2, 3, 32)
    ones = torch.ones(2, 4, dtype=torch.bool), torch.ones(2, 3, dtype=torch.bool)
    v2, t2 = block(v, ones[0], t, ones[1])
    assert torch.equal(v2, v) and not torch.equal(t2, t)
