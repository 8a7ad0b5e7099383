"""Sigma's objectives: what each loss rewards, what mining picks, what masks hide; where
SignEF fuses (alignment features fused with the whole batch, invariant to the pairing; the
LM and fine-tuning without any text) and that fine-tuning runs the SGT encoder layers."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from harness.cell.runner import resolve_config
from harness.core.tasks import Batch, TaskSpec
from methods.common.contrastive import masked_mean, same_text, soft_contrastive
from methods.encoders.stgcn import PartwiseSTGCN
from methods.sigma import Sigma
from methods.sigma.fusion import StreamLayer
from methods.sigma.losses import ClusterAggregator, hardest_negatives, local_similarity, word_units
from methods.sigma.model import LOSSES, SigmaPretrainer, SigmaSignEncoder

TEXTS = ["the boy went home .", "i will buy the red apple .", "where is the old house ?",
         "she does not like cold water .", "the boy went home ."]


def tiny_cfg(*overrides: str) -> dict:
    return resolve_config("sigma", "synth-islr", "smoke", [
        "model.encoder.spatial=[8, 16]", "model.encoder.temporal=[16]", "model.encoder.embed=8",
        "model.encoder.d_model=32", "model.encoder.context.ff=32", "model.text.d_model=32",
        "model.text.d_ff=32", "model.text.vocab_size=300", "model.sigma.embed_dim=16",
        "model.text.encoder_layers=1", "model.text.decoder_layers=1",
        "model.sigma.fusion.ff=32",
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


def open_gates(model: torch.nn.Module, value: float = 0.5) -> torch.nn.Module:
    """Open the cross-attention gates (closed at initialisation), as training does."""
    with torch.no_grad():
        for layer in model.modules():
            if isinstance(layer, StreamLayer) and layer.gate is not None:
                layer.gate.fill_(value)
    return model


@pytest.fixture(scope="module")
def model() -> SigmaPretrainer:
    torch.manual_seed(0)
    return open_gates(SigmaPretrainer(tiny_cfg(), TEXTS * 10).eval())


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


OTHER = ["a cold house is old .", "we buy water .", "he went to the red house .",
         "where is she ?", "i like apples ."]


def with_texts(batch: Batch, texts: list[str]) -> Batch:
    return dataclasses.replace(batch, text=list(texts))


@pytest.mark.parametrize("name", LOSSES)
def test_every_loss_reaches_the_sign_encoder_and_both_sgt_streams(name):
    torch.manual_seed(0)
    model = SigmaPretrainer(tiny_cfg(), TEXTS * 10).train()
    model.loss(make_batch(model, TEXTS))[name].backward()
    # the gates start closed and the losses open them (the LM reads the text stream only
    # through the sign stream's gate, so its text gate moves once that one is open)
    gates = [model.sgt.sign_layers[0].gate] + ([model.sgt.text_layers[0].gate]
                                               if name != "sgt_lm" else [])
    assert all(g.grad is not None and g.grad.abs() > 0 for g in gates), name
    model.zero_grad()
    open_gates(model)
    model.loss(make_batch(model, TEXTS))[name].backward()
    parts = {"sign encoder": model.sign_encoder,
             "sign stream's cross-attention": model.sgt.sign_layers[0].cross_attn,
             "text stream's cross-attention": model.sgt.text_layers[0].cross_attn}
    for part, module in parts.items():
        grads = [p.grad for p in module.parameters() if p.requires_grad]
        assert any(g is not None and g.abs().sum() > 0 for g in grads), (name, part)
        assert all(g is None or torch.isfinite(g).all() for g in grads), (name, part)


def test_ablated_losses_are_not_computed():
    torch.manual_seed(0)
    model = SigmaPretrainer(tiny_cfg("model.sigma.weights.sgt_lm=0.0",
                                     "model.sigma.weights.sgt_match=0.0"), TEXTS * 10)
    out = model.loss(make_batch(model, TEXTS))
    assert "sgt_lm" not in out and "sgt_match" not in out
    torch.testing.assert_close(out["loss"], out["hal_global"] + out["hal_local"])


def alignment(model: SigmaPretrainer, batch: Batch):
    """Fused alignment features of a batch and its (global, local) similarity matrices."""
    v0 = model.encode_sign(batch)
    t0, attn, content, word_ids = model.encode_text(batch.text, v0.device)
    v, t = model.alignment_features(v0, batch.frame_mask, t0, attn)
    return v, t, content, model.similarities(v, batch.frame_mask, t, content, word_ids)


def test_alignment_features_carry_the_batch_but_not_the_pairing(model):
    """No leakage in HAL: each clip reads all of the batch's texts, so permuting which text
    is paired with which clip leaves every clip's features as they were and only permutes
    the columns of the similarity matrices; the contrastive target is not in the inputs."""
    batch = make_batch(model, TEXTS)
    perm = [2, 0, 4, 1, 3]
    moved = with_texts(batch, [TEXTS[j] for j in perm])
    with torch.no_grad():
        v, t, content, sims = alignment(model, batch)
        v2, t2, content2, sims2 = alignment(model, moved)
        other = alignment(model, with_texts(batch, OTHER))[0]
    torch.testing.assert_close(v2, v, rtol=1e-5, atol=1e-6)
    for j, src in enumerate(perm):  # each text's features follow the text, not the clip
        torch.testing.assert_close(t2[j][content2[j]], t[src][content[src]],
                                   rtol=1e-5, atol=1e-6)
    for sim, sim2 in zip(sims, sims2, strict=True):
        torch.testing.assert_close(sim2, sim[:, perm], rtol=1e-5, atol=1e-6)
    # ... while the clips' features do carry the texts (SignEF acts inside the encoding)
    assert (other - v).abs().amax() > 1e-3


def test_the_language_model_conditions_on_no_text(model):
    """The LM's input is the clip's text-free features: other texts, no texts, leave it
    unchanged (its target cannot be copied through fusion)."""
    seen = []
    hook = model.lm_proj.register_forward_hook(lambda m, i, o: seen.append(i[0].clone()))
    batch = make_batch(model, TEXTS)
    try:
        with torch.no_grad():
            for texts in (TEXTS, OTHER, [TEXTS[-1], *TEXTS[:-1]]):
                model.loss(with_texts(batch, texts))
    finally:
        hook.remove()
    assert len(seen) == 3
    for other in seen[1:]:
        torch.testing.assert_close(other, seen[0], rtol=0, atol=0)
    with torch.no_grad():
        textless = model.textless(model.encode_sign(batch), batch.frame_mask)
    torch.testing.assert_close(textless, seen[0], rtol=0, atol=0)


def test_matching_scores_each_pair_on_its_own(model):
    """The matching head sees its own pair (as BLIP's), and nothing else of the batch."""
    batch = make_batch(model, TEXTS)
    with torch.no_grad():
        v = model.encode_sign(batch)
        t, attn, content, _ = model.encode_text(batch.text, v.device)
        m = batch.frame_mask
        pairs = model.fuse(v, m, t, attn, content)
        alone = model.fuse(v[1:2], m[1:2], t[3:4], attn[3:4], content[3:4])
        crossed = model.fuse(v[[1, 1]], m[[1, 1]], t[[1, 3]], attn[[1, 3]], content[[1, 3]])
    torch.testing.assert_close(crossed[1], alone[0], rtol=1e-5, atol=1e-6)
    assert (crossed[0] - pairs[1]).abs().amax() < 1e-5
    assert (crossed[0] - crossed[1]).abs().amax() > 1e-4  # the text matters to the pair


def test_no_early_fusion_removes_fusion_from_the_features():
    torch.manual_seed(0)
    model = SigmaPretrainer(tiny_cfg("model.sigma.fusion.mode=text_only"), TEXTS * 10).eval()
    open_gates(model)
    assert all(layer.cross_attn is None for layer in model.sgt.sign_layers)
    batch = make_batch(model, TEXTS)
    with torch.no_grad():
        v, t, content, _ = alignment(model, batch)
        v2 = alignment(model, with_texts(batch, OTHER))[0]
        other_clips = make_batch(model, TEXTS, seed=5)
        t2, content2, _ = alignment(model, other_clips)[1:]
    torch.testing.assert_close(v2, v, rtol=0, atol=0)  # clips do not read texts
    for j in range(len(TEXTS)):  # texts do not read clips in the alignment features
        torch.testing.assert_close(t2[j][content2[j]], t[j][content[j]], rtol=0, atol=0)
    spec = TaskSpec("islr", classes=["A", "B"])
    encoder = Sigma().build(tiny_cfg("model.sigma.fusion.mode=text_only"), spec,
                            pretrained=model).encoder
    assert encoder.sgt.text_layers is None and encoder.empty_text is None


def test_fine_tuning_runs_the_sgt_layers_without_any_text(model):
    cfg = tiny_cfg()
    method = Sigma()
    specs = {"islr": TaskSpec("islr", classes=["A", "B", "C"]),
             "cslr": TaskSpec("cslr", classes=["A", "B", "C"]),
             "slt": TaskSpec("slt", train_texts=TEXTS)}
    batch = make_batch(model, TEXTS, t=8)
    for task, spec in specs.items():
        tuned = method.build(cfg, spec, pretrained=model).eval()
        encoder = tuned.encoder
        assert isinstance(encoder, SigmaSignEncoder), task
        for name, value in model.sgt.state_dict().items():
            assert torch.equal(encoder.sgt.state_dict()[name], value), (task, name)
        torch.testing.assert_close(encoder.empty_text.detach(), model.empty_text_encoding())
        with torch.no_grad():
            if task == "slt":
                tuned.max_new_tokens = 4
            want = tuned.predict(batch)
            for texts in ([""] * len(TEXTS), OTHER):
                assert tuned.predict(with_texts(batch, texts)) == want, task
            features = tuned.features(batch)
            torch.testing.assert_close(features, encoder.sgt.textless(
                stgcn_features(encoder, batch), batch.frame_mask, encoder.empty_text))
            # the SGT text stream and the empty text take part in the features
            encoder.empty_text.add_(1.0)
            assert (tuned.features(batch) - features).abs().amax() > 1e-4, task
            encoder.empty_text.sub_(1.0)
            for p in encoder.sgt.text_layers[0].ff.parameters():
                p.add_(0.5)
            assert (tuned.features(batch) - features).abs().amax() > 1e-4, task


def stgcn_features(encoder: SigmaSignEncoder, batch: Batch) -> torch.Tensor:
    """The shared encoder's own features, before the SGT layers."""
    return PartwiseSTGCN.encode(encoder, batch)
