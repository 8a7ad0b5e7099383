"""Uni-Sign's pose-only model: sign encoder -> pose tokens after a prompt -> mT5 generation."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from harness.core.tasks import Batch, TaskSpec
from harness.errors import ConfigError, UserError
from methods.encoders.stgcn import PartwiseSTGCN
from methods.heads.models import Seq2SeqModel
from methods.text.backbone import build_backbone

#: The batch field each stage generates, as the release does: the label file's ``text`` for
#: pre-training, SLT and ISLR (a WLASL clip's text is its word), the gloss sequence for CSLR.
TARGET_FIELD = {"pretrain": "text", "slt": "text", "islr": "text", "cslr": "gloss"}


def prompt_text(template: str, language: str) -> str:
    """The prompt for ``language`` ("english" -> "... to English: ")."""
    return template.format(language=language[:1].upper() + language[1:])


def ranked_candidates(texts: Sequence[str], scores: Sequence[float]) -> list[str]:
    """Distinct candidates of one beam, best score first (ties keep the beam's order)."""
    order = sorted(range(len(texts)), key=lambda i: -scores[i])
    return list(dict.fromkeys(texts[i] for i in order))


class UniSignModel(Seq2SeqModel):
    """Generates the target text of a clip from [prompt embeddings ; pose tokens].

    One class serves every stage: "pretrain", "slt" and "islr" generate ``batch.text``,
    "cslr" generates ``batch.gloss``. An ISLR class's target is the text its training clips
    carry (``TaskSpec.class_texts``; the gloss where they carry none), and a generated text
    counts as the class whose target it equals: the predictions are the distinct candidates
    of an ``islr_beam``-beam search, ranked by beam score, as classes (``as_class``).
    """

    def __init__(self, encoder: nn.Module, backbone: Any, proj: nn.Module | None,
                 spec: TaskSpec, language: str, ucfg: dict[str, Any]) -> None:
        task = spec.task
        heads = {k: ucfg[k] for k in ("label_smoothing", "max_target_tokens", "beam",
                                       "max_new_tokens")}
        super().__init__(encoder, TaskSpec(task), heads, backbone=backbone, proj=proj)
        self.task, self.target_field = task, TARGET_FIELD[task]
        texts = spec.class_texts or [""] * len(spec.classes)
        self.target_of = {g: (t or g) for g, t in zip(spec.classes, texts, strict=True)}
        self.class_of = {t: g for g, t in self.target_of.items()}
        if len(self.class_of) < len(self.target_of):
            raise ConfigError(f"{len(self.target_of) - len(self.class_of)} ISLR classes share "
                              f"their text with another class, so a generated text cannot "
                              f"name one class")
        self.islr_beam = int(ucfg["islr_beam"])
        if task == "islr" and self.islr_beam < 5:
            raise ValueError(f"islr_beam={self.islr_beam}: a top-5 list needs at least 5 beams")
        # read by every beam search of this model (ISLR's, and CSLR's and SLT's in the base)
        self.text_model.generation_config.length_penalty = float(ucfg["length_penalty"])
        self.prompt = prompt_text(ucfg["prompt"], language)
        ids = self.tokenizer(self.prompt, add_special_tokens=bool(ucfg["prompt_eos"]))
        self.register_buffer("prompt_ids", torch.tensor(ids["input_ids"]), persistent=False)

    @property
    def sign_encoder(self) -> nn.Module:
        """The sign encoder (what fine-tuning continues from: ``PretrainedModel``)."""
        return self.encoder

    def encode(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """The LM encoder's input: [prompt embeddings ; pose tokens] (B, P + T, D) and mask."""
        pose = self.proj(self.features(batch))
        b, p = pose.shape[0], self.prompt_ids.shape[0]
        prompt = self.text_model.get_input_embeddings()(self.prompt_ids)
        mask = torch.cat([torch.ones(b, p, dtype=torch.long, device=pose.device),
                          batch.frame_mask.long()], dim=1)
        return torch.cat([prompt.expand(b, -1, -1).to(pose.dtype), pose], dim=1), mask

    def targets(self, batch: Batch) -> list[str]:
        """What each clip of the batch must generate."""
        if self.task == "islr":  # a clip of a class without training clips: its gloss
            return [self.target_of.get(g, g) for g in batch.gloss]
        return list(getattr(batch, self.target_field))

    def loss(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Label-smoothed cross-entropy of the clip's target given the prompt."""
        return super().loss(dataclasses.replace(batch, text=self.targets(batch)))

    @torch.no_grad()
    def predict(self, batch: Batch) -> list[Any]:
        """ISLR: ranked distinct glosses; CSLR: a gloss sequence; SLT: a sentence."""
        if self.task != "islr":
            return super().predict(batch)
        embeds, attn = self.encode(batch)
        n = self.islr_beam
        out = self.text_model.generate(
            inputs_embeds=embeds, attention_mask=attn, num_beams=n, num_return_sequences=n,
            max_new_tokens=self.max_new_tokens, do_sample=False, return_dict_in_generate=True,
            output_scores=True)
        texts = [t.strip() for t in self.tokenizer.batch_decode(out.sequences,
                                                                skip_special_tokens=True)]
        scores = out.sequences_scores.view(len(batch), n).tolist()
        return [list(dict.fromkeys(self.as_class(t) for t in ranked_candidates(
            texts[i * n:(i + 1) * n], scores[i]))) for i in range(len(batch))]

    def as_class(self, text: str) -> str:
        """The class whose target a generated text is, else the text marked with a leading
        '?' (so that a generation equal to some gloss but to no class's text never counts)."""
        return self.class_of.get(text, f"?{text}")


def build_model(cfg: dict[str, Any], spec: TaskSpec, texts: Sequence[str], language: str,
                pretrained: UniSignModel | None = None) -> UniSignModel:
    """A Uni-Sign model for ``spec.task``: fresh (tokenizer trained on ``texts``) or a copy of
    ``pretrained``'s encoder, pose projection and LM with its tokenizer."""
    ucfg = cfg["model"]["uni_sign"]
    if pretrained is None:
        encoder = PartwiseSTGCN(layout=spec.layout, **cfg["model"]["encoder"])
        # the prompt is part of every input: a trained tokenizer learns it with the texts
        backbone = build_backbone(cfg["model"]["text"],
                                  [prompt_text(ucfg["prompt"], language), *texts])
        width = backbone.seq2seq.config.d_model
        if encoder.d_model != width:
            raise ConfigError(f"model.encoder.d_model={encoder.d_model}: Uni-Sign feeds the "
                              f"encoder's frames to its LM as they are (the encoder's last "
                              f"Linear is the release's pose_proj), so it must be the LM's width "
                              f"({width}); set model.encoder.d_model={width}")
        return UniSignModel(encoder, backbone, nn.Identity(), spec, language, ucfg)
    lm = copy.deepcopy(pretrained.text_model)
    backbone = dataclasses.replace(pretrained.backbone, seq2seq=lm, encoder=lm.get_encoder(),
                                   encoder_width=lm.config.d_model)
    return UniSignModel(copy.deepcopy(pretrained.encoder), backbone,
                        copy.deepcopy(pretrained.proj), spec, language, ucfg)


def load_release_lm(model: UniSignModel, state: dict[str, Any], source: str) -> list[str]:
    """Load a Uni-Sign release checkpoint's mT5 (``mt5_model.*``) into ``model``'s LM and
    return the keys it took; an LM of another shape is one clear error."""
    from methods.encoders.release import LM_PREFIX

    lm = {k[len(LM_PREFIX):]: v for k, v in state.items() if k.startswith(LM_PREFIX)}
    if not lm:
        return []
    own = model.text_model.state_dict()
    wrong = [k for k, v in lm.items() if k not in own or tuple(own[k].shape) != tuple(v.shape)]
    if wrong:
        key = wrong[0]
        have = tuple(own[key].shape) if key in own else "absent"
        raise UserError(f"{source}: the release's mT5 does not fit model.text ({LM_PREFIX}{key} "
                        f"is {tuple(lm[key].shape)}, this LM's is {have}); give the LM the "
                        f"release used: --set model.text.type=pretrained "
                        f"model.text.name_or_path=<local mt5-base folder>")
    missing = [k for k in own if k not in lm]
    model.text_model.load_state_dict(lm, strict=False)
    if missing:
        tied = {"encoder.embed_tokens.weight", "decoder.embed_tokens.weight", "lm_head.weight"}
        if not set(missing) <= tied:
            raise UserError(f"{source}: the release's mT5 lacks {missing[0]} of model.text")
    return [LM_PREFIX + k for k in lm]
