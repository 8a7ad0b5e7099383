"""Uni-Sign: what the LM reads, what the loss is, how generations become predictions."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest
import torch

from benchmarks.metrics.recognition import topk_accuracy
from harness.cell.runner import resolve_config
from harness.core.tasks import Batch, TaskSpec
from harness.errors import UserError
from methods.uni_sign import UniSign
from methods.uni_sign.model import UniSignModel

CORPUS = ["the boy went home .", "i will buy the red apple .", "where is the old house ?",
          "she does not like cold water ."] * 10
PROMPT = "Translate sign language video to English: "


def tiny_cfg(*overrides: str) -> dict:
    return resolve_config("uni_sign", "synth-islr", "smoke", [
        "model.encoder.spatial=[8, 16]", "model.encoder.temporal=[16]", "model.encoder.embed=8",
        "model.encoder.d_model=32", "model.text.d_model=32", "model.text.d_ff=32",
        "model.text.vocab_size=300", "model.text.encoder_layers=1",
        "model.text.decoder_layers=1",
        # the harness's padding switch, under which a clip's loss cannot see its padding
        "model.encoder.padding=zero", *overrides])


def make_batch(model: UniSignModel, n: int = 3, t: int = 8, pad_to: int | None = None,
               seed: int = 0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    v = len(model.input_joints)
    total = pad_to or t
    kp = torch.rand(n, total, v, 2, generator=g) * 400
    kp[:, t:] = torch.rand(n, total - t, v, 2, generator=g) * 1e4  # garbage padding
    mask = torch.zeros(n, total, dtype=torch.bool)
    mask[:, :t] = True
    return Batch([str(i) for i in range(n)], kp, torch.full((n, total, v), 0.9),
                 torch.ones(n, total, v, dtype=torch.bool), mask,
                 ["HOUSE", "IX-3 GO", "BOY"][:n], CORPUS[:n])


@pytest.fixture(scope="module")
def pretrainer() -> UniSignModel:
    torch.manual_seed(0)
    return UniSign().build_pretrainer(tiny_cfg(), TaskSpec("pretrain", train_texts=CORPUS))


def finetuned(pretrainer: UniSignModel, task: str) -> UniSignModel:
    classes = ["BOY", "GO", "HOUSE", "IX-3"]
    spec = TaskSpec(task, classes=classes, train_texts=CORPUS if task == "slt" else [],
                    class_texts=[c.lower() for c in classes] if task == "islr" else [])
    return UniSign().build(tiny_cfg(), spec, pretrained=pretrainer)


def captured_lm_inputs(model: UniSignModel, batch: Batch) -> dict:
    """The keyword arguments the LM receives when the model computes its loss."""
    seen: dict = {}
    forward = model.text_model.forward

    def spy(**kwargs):
        seen.update(kwargs)
        return forward(**kwargs)

    model.text_model.forward = spy
    try:
        model.loss(batch)
    finally:
        del model.text_model.forward
    return seen


def test_the_lm_reads_prompt_embeddings_then_pose_tokens(pretrainer):
    model = finetuned(pretrainer, "islr").eval()
    batch = make_batch(model, t=6, pad_to=9)
    seen = captured_lm_inputs(model, batch)
    ids = model.prompt_ids
    assert model.tokenizer.decode(ids, skip_special_tokens=True).strip() == PROMPT.strip()
    assert ids[-1] == model.tokenizer.eos_token_id  # the release's tokenizer call adds it
    p = len(ids)
    embeds, mask = seen["inputs_embeds"], seen["attention_mask"]
    assert embeds.shape[:2] == mask.shape == (3, p + 9)
    prompt = model.text_model.get_input_embeddings()(ids)
    for row in embeds:
        torch.testing.assert_close(row[:p], prompt)
    with torch.no_grad():
        pose = model.proj(model.encoder(batch.keypoints, batch.confidence, batch.valid,
                                        batch.frame_mask))
    torch.testing.assert_close(embeds[:, p:], pose)
    assert mask[:, :p].all()
    assert torch.equal(mask[:, p:].bool(), batch.frame_mask)  # padded frames masked out


def test_padded_frames_change_no_loss(pretrainer):
    model = finetuned(pretrainer, "cslr").eval()
    short = make_batch(model, t=6)
    padded = make_batch(model, t=6, pad_to=11)
    padded.keypoints[:, :6] = short.keypoints
    with torch.no_grad():
        torch.testing.assert_close(model.loss(short)["loss"], model.loss(padded)["loss"])


def test_the_loss_is_cross_entropy_with_label_smoothing_02(pretrainer):
    model = finetuned(pretrainer, "cslr").eval()
    assert model.label_smoothing == 0.2
    batch = make_batch(model)
    with torch.no_grad():
        loss = model.loss(batch)["loss"]
        embeds, mask = model.encode(batch)
        targets = [model.tokenizer(g, add_special_tokens=False)["input_ids"] + [1]
                   for g in batch.gloss]  # the glosses, not the sentences, then </s> (id 1)
        width = max(map(len, targets))
        labels = torch.tensor([t + [-100] * (width - len(t)) for t in targets])
        logp = model.text_model(inputs_embeds=embeds, attention_mask=mask,
                                labels=labels).logits.log_softmax(-1)
    keep = labels != -100
    nll = -logp.gather(-1, labels.clamp_min(0)[..., None])[..., 0][keep]
    uniform = -logp.mean(-1)[keep]
    torch.testing.assert_close(loss, (0.8 * nll + 0.2 * uniform).mean())
    assert not torch.isclose(loss, nll.mean())


def fake_generate(tokenizer, candidates: list[list[tuple[str, float]]], calls: list):
    """A stand-in for ``generate`` returning fixed beams (text, score) per clip."""
    def generate(**kwargs):
        calls.append(kwargs)
        rows = [[0, *tokenizer(text)["input_ids"]] for beams in candidates for text, _ in beams]
        width = max(map(len, rows))
        return SimpleNamespace(
            sequences=torch.tensor([r + [0] * (width - len(r)) for r in rows]),
            sequences_scores=torch.tensor([s for beams in candidates for _, s in beams]))
    return generate


def test_islr_ranks_distinct_generations_by_beam_score_and_scores_exact_match(pretrainer):
    model = finetuned(pretrainer, "islr").eval()
    # the classes' texts are their words ("house" for HOUSE): a generation counts as a
    # class only where it is that class's text, exactly
    beams = [[("houses", -0.5), ("HOUSE", -0.2), ("home", -0.9), (" house", -0.3),
              ("house", -0.4)],
             [("houses", -0.1), ("house", -0.6), ("boy", -0.7), ("boy", -0.8), ("go", -0.9)]]
    calls: list = []
    model.text_model.generate = fake_generate(model.tokenizer, beams, calls)
    try:
        preds = model.predict(make_batch(model, n=2))
    finally:
        del model.text_model.generate
    assert calls[0]["num_beams"] >= 5 and calls[0]["num_return_sequences"] == 5
    assert preds == [["?HOUSE", "HOUSE", "?houses", "?home"], ["?houses", "HOUSE", "BOY", "GO"]]
    acc = topk_accuracy({"a": preds[0], "b": preds[1]}, {"a": "HOUSE", "b": "HOUSE"})
    assert acc["top1"] == 0.0 and acc["top5"] == 100.0  # the gloss itself is not the text


def test_each_task_generates_its_own_target(pretrainer):
    batch = make_batch(pretrainer)
    # as the release: the label's text, except for CSLR, which generates the glosses; an
    # ISLR clip's text is its class's word (the batch's first clip is of class HOUSE)
    want = {"pretrain": batch.text[0], "islr": "house", "cslr": batch.gloss[0],
            "slt": batch.text[0]}
    for task, target in want.items():
        model = pretrainer if task == "pretrain" else finetuned(pretrainer, task)
        labels = captured_lm_inputs(model.eval(), batch)["labels"]
        first = [t for t in labels[0].tolist() if t not in (-100, 1)]
        assert model.tokenizer.decode(first).strip() == target, task


def test_finetuning_continues_from_the_pretrained_model(pretrainer):
    with torch.no_grad():  # the pre-trained state differs from any fresh initialisation
        for p in pretrainer.parameters():
            p.add_(0.01)
    for task in ("islr", "cslr", "slt"):
        model = finetuned(pretrainer, task)
        assert model.tokenizer.get_vocab() == pretrainer.tokenizer.get_vocab()
        state = model.state_dict()
        for name, value in pretrainer.state_dict().items():
            assert torch.equal(state[name], value), (task, name)
        assert model.text_model is not pretrainer.text_model  # fine-tuning copies
        assert torch.equal(model.prompt_ids, pretrainer.prompt_ids)  # the same prompt


def test_the_same_prompt_is_read_in_pretraining_and_finetuning(pretrainer):
    batch = make_batch(pretrainer)
    model = finetuned(pretrainer, "slt")
    pre = captured_lm_inputs(pretrainer.eval(), batch)["inputs_embeds"]
    fine = captured_lm_inputs(model.eval(), batch)["inputs_embeds"]
    p = len(pretrainer.prompt_ids)
    torch.testing.assert_close(pre[:, :p], fine[:, :p])
    assert model.prompt == pretrainer.prompt == PROMPT


def test_the_prompt_names_the_benchmarks_language():
    cfg = tiny_cfg()
    spec = TaskSpec("slt", train_texts=CORPUS, language="chinese")
    assert UniSign().build(cfg, spec).prompt == "Translate sign language video to Chinese: "
    pre_cfg = tiny_cfg("model.uni_sign.pretrain_language=chinese")
    pre = UniSign().build_pretrainer(pre_cfg, TaskSpec("pretrain", train_texts=CORPUS))
    assert pre.prompt == "Translate sign language video to Chinese: "


def test_without_pretraining_the_tokenizer_learns_the_glosses():
    spec = TaskSpec("cslr", classes=["HOUSE", "IX-3", "YESTERDAY"])
    model = UniSign().build(tiny_cfg("model.text.vocab_size=500"), spec)
    assert "ĠHOUSE" in model.tokenizer.get_vocab()  # with the leading space, as SentencePiece
    labels = captured_lm_inputs(model.eval(), dataclasses.replace(
        make_batch(model, n=1), gloss=["YESTERDAY HOUSE"]))["labels"]
    assert labels.shape[1] <= 4  # whole-gloss pieces, not bytes


def test_islr_needs_five_beams():
    with pytest.raises(ValueError, match="islr_beam"):
        UniSign().build(tiny_cfg("model.uni_sign.islr_beam=4"),
                        TaskSpec("islr", classes=["A", "B"]))


def test_paper_preset_needs_the_local_mt5(tmp_path):
    cfg = resolve_config("uni_sign", "synth-islr", "paper",
                         [f"model.text.name_or_path={tmp_path / 'missing-mt5'}"])
    assert cfg["pretrain"]["epochs"] == 20 and cfg["pretrain"]["lr"] == 3e-4
    assert cfg["model"]["uni_sign"]["label_smoothing"] == 0.2
    assert cfg["model"]["uni_sign"]["beam"] == 4
    with pytest.raises(UserError, match="missing-mt5"):
        UniSign().build_pretrainer(cfg, TaskSpec("pretrain", train_texts=CORPUS))


def test_beam_length_penalty_is_a_switch(pretrainer):
    assert pretrainer.text_model.generation_config.length_penalty == 1.0  # the release's
    cfg = tiny_cfg("model.uni_sign.length_penalty=0.0")
    model = UniSign().build(cfg, TaskSpec("islr", classes=["A", "B"]), pretrained=pretrainer)
    assert model.text_model.generation_config.length_penalty == 0.0
    assert pretrainer.text_model.generation_config.length_penalty == 1.0
