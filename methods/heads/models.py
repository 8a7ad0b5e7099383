"""Fine-tuning models: a sign encoder with the head of one task (ISLR, CSLR or SLT)."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from harness.core.config import Rule, choice, count
from harness.core.tasks import Batch, TaskSpec
from methods.common.contrastive import masked_mean
from methods.heads.ctc import greedy_decode, prefix_beam_search


class EncoderTaskModel(nn.Module):
    """Base: runs the sign encoder on a batch; subclasses add the task head."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.input_joints = encoder.input_joints

    def features(self, batch: Batch) -> torch.Tensor:
        """Frame features (B, T, D) of a batch."""
        return self.encoder.encode(batch)


class ClassifierModel(EncoderTaskModel):
    """ISLR: mean-pooled frame features -> linear classifier over the gloss classes."""

    def __init__(self, encoder: nn.Module, spec: TaskSpec, cfg: dict[str, Any]) -> None:
        super().__init__(encoder)
        self.classes = list(spec.classes)
        self.index = {c: i for i, c in enumerate(self.classes)}
        self.drop = nn.Dropout(float(cfg.get("dropout", 0.0)))
        self.head = nn.Linear(encoder.d_model, len(self.classes))
        self.label_smoothing = float(cfg.get("label_smoothing", 0.0))
        self.topk = int(cfg.get("topk", 5))

    def logits(self, batch: Batch) -> torch.Tensor:
        """Class logits (B, n_classes)."""
        return self.head(self.drop(masked_mean(self.features(batch), batch.frame_mask)))

    def loss(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Cross-entropy against the clips' glosses."""
        target = torch.tensor([self.index[g] for g in batch.gloss], device=batch.keypoints.device)
        logits = self.logits(batch)
        loss = F.cross_entropy(logits.float(), target, label_smoothing=self.label_smoothing)
        acc = (logits.argmax(1) == target).float().mean()
        return {"loss": loss, "acc": acc.detach()}

    @torch.no_grad()
    def predict(self, batch: Batch) -> list[list[str]]:
        """Top-k gloss labels per clip, best first."""
        logits = self.logits(batch).float()
        k = min(self.topk, logits.shape[1])
        top = logits.topk(k, dim=1).indices.tolist()
        return [[self.classes[i] for i in row] for row in top]


class CTCModel(EncoderTaskModel):
    """CSLR: frame features -> (optional 2x temporal downsampling) -> temporal context -> CTC.

    ``context``: 'tconv' (two residual temporal convolutions, kernel 5; the default, which
    leaves the blank-only plateau of CTC within a few hundred steps), 'bilstm' (a
    bidirectional LSTM, as in many CSLR systems; slower to start learning) or 'none'.
    """

    CONTEXTS = ("none", "tconv", "bilstm")
    DECODERS = ("beam", "greedy")
    #: What ``model.heads.cslr`` values must be, checked before a cell runs.
    RULES: ClassVar[dict[str, Rule]] = {
        "context": choice(*CONTEXTS), "decoder": choice(*DECODERS), "beam": count(1),
        "downsample": choice(1, 2)}

    def __init__(self, encoder: nn.Module, spec: TaskSpec, cfg: dict[str, Any]) -> None:
        super().__init__(encoder)
        self.vocab = list(spec.classes)
        self.index = {g: i + 1 for i, g in enumerate(self.vocab)}  # 0 is the CTC blank
        d = encoder.d_model
        self.downsample = int(cfg.get("downsample", 1))
        self.pool = (nn.Conv1d(d, d, 5, stride=2, padding=2) if self.downsample == 2
                     else None)
        hidden = int(cfg.get("hidden", d))
        context = cfg.get("context", "tconv")
        if context not in self.CONTEXTS:
            raise ValueError(f"unknown CSLR context {context!r}")
        self.lstm = (nn.LSTM(d, hidden // 2, batch_first=True, bidirectional=True)
                     if context == "bilstm" else None)
        self.tconv = (nn.Sequential(nn.Conv1d(d, d, 5, padding=2), nn.BatchNorm1d(d), nn.ReLU(),
                                    nn.Conv1d(d, d, 5, padding=2), nn.BatchNorm1d(d), nn.ReLU())
                      if context == "tconv" else None)
        self.drop = nn.Dropout(float(cfg.get("dropout", 0.0)))
        self.head = nn.Linear(hidden if self.lstm else d, len(self.vocab) + 1)
        self.beam = int(cfg.get("beam", 5))
        self.decoder = cfg.get("decoder", "beam")
        if self.decoder not in self.DECODERS:
            raise ValueError(f"unknown CSLR decoder {self.decoder!r}")

    def log_probs(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-frame log-probabilities (B, T', V + 1) and output lengths (B,)."""
        x = self.features(batch)
        lengths = batch.frame_mask.sum(1)
        if self.pool is not None:
            x = self.pool(x.transpose(1, 2)).transpose(1, 2)
            lengths = (lengths + 1) // 2
        if self.tconv is not None:  # padded frames read as zeros, as in the encoder
            mask = (torch.arange(x.shape[1], device=x.device)[None] < lengths[:, None])
            x = x * mask[..., None].to(x.dtype)
            x = x + self.tconv(x.transpose(1, 2)).transpose(1, 2)
        if self.lstm is not None:
            packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True,
                                                       enforce_sorted=False)
            x, _ = self.lstm(packed)
            x, _ = nn.utils.rnn.pad_packed_sequence(x, batch_first=True,
                                                    total_length=lengths.max().item())
        return self.head(self.drop(x)).float().log_softmax(-1), lengths

    def loss(self, batch: Batch) -> dict[str, torch.Tensor]:
        """CTC loss against the clips' gloss sequences."""
        lp, lengths = self.log_probs(batch)
        targets = [[self.index[g] for g in seq.split()] for seq in batch.gloss]
        flat = torch.tensor([t for seq in targets for t in seq], dtype=torch.long)
        target_lengths = torch.tensor([len(seq) for seq in targets], dtype=torch.long)
        loss = F.ctc_loss(lp.transpose(0, 1), flat, lengths.cpu(), target_lengths, blank=0,
                          reduction="mean", zero_infinity=True)
        return {"loss": loss}

    @torch.no_grad()
    def predict(self, batch: Batch) -> list[str]:
        """Recognised gloss sequences (``decoder``: prefix beam search or greedy)."""
        lp, lengths = self.log_probs(batch)
        lp_np = lp.cpu().numpy()
        out = []
        for row, n in zip(lp_np, lengths.tolist(), strict=True):
            if self.decoder == "beam":
                ids = prefix_beam_search(row[:n], beam=self.beam)
            else:
                ids = greedy_decode(row[:n])
            out.append(" ".join(self.vocab[i - 1] for i in ids))
        return out


class Seq2SeqModel(EncoderTaskModel):
    """SLT: projected frame features are the input embeddings of a seq2seq text model.

    The text model comes from ``cfg['text']``, or from a pre-training stage (``backbone``
    and ``proj``) whose tokenizer and weights it then continues from.
    """

    def __init__(self, encoder: nn.Module, spec: TaskSpec, cfg: dict[str, Any],
                 backbone: Any = None, proj: nn.Module | None = None) -> None:
        super().__init__(encoder)
        from methods.text.backbone import build_backbone

        self.backbone = backbone if backbone is not None else build_backbone(cfg["text"],
                                                                             spec.train_texts)
        self.text_model = self.backbone.seq2seq
        self.tokenizer = self.backbone.tokenizer
        self.proj = proj if proj is not None else nn.Linear(encoder.d_model,
                                                            self.text_model.config.d_model)
        self.label_smoothing = float(cfg.get("label_smoothing", 0.0))
        self.max_target_tokens = int(cfg.get("max_target_tokens", 128))
        self.beam = int(cfg.get("beam", 4))
        self.max_new_tokens = int(cfg.get("max_new_tokens", 100))

    def encode(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Text-model input embeddings (B, T, D_text) and their attention mask."""
        return self.proj(self.features(batch)), batch.frame_mask.long()

    def loss(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Token cross-entropy of the reference sentences (teacher forcing)."""
        from methods.text.backbone import lm_targets

        embeds, attn = self.encode(batch)
        labels = lm_targets(self.backbone, batch.text, self.max_target_tokens).to(embeds.device)
        out = self.text_model(inputs_embeds=embeds, attention_mask=attn, labels=labels)
        loss = F.cross_entropy(out.logits.float().flatten(0, 1), labels.flatten(),
                               ignore_index=-100, label_smoothing=self.label_smoothing)
        return {"loss": loss}

    @torch.no_grad()
    def predict(self, batch: Batch) -> list[str]:
        """Generated sentences (beam search)."""
        embeds, attn = self.encode(batch)
        ids = self.text_model.generate(
            inputs_embeds=embeds, attention_mask=attn, num_beams=self.beam,
            max_new_tokens=self.max_new_tokens, do_sample=False)
        return [t.strip() for t in self.tokenizer.batch_decode(ids, skip_special_tokens=True)]


HEADS = {"islr": ClassifierModel, "cslr": CTCModel, "slt": Seq2SeqModel}


def build_task_model(encoder: nn.Module, spec: TaskSpec, heads_cfg: dict[str, Any]) -> nn.Module:
    """The fine-tuning model for ``spec.task`` from an encoder and the ``heads`` config."""
    return HEADS[spec.task](encoder, spec, heads_cfg.get(spec.task, {}))
