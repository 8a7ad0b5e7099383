"""Sigma's pre-training model (sign encoder + text backbone + SGT encoder layers with SignEF,
HAL and SGT objectives) and its fine-tuning sign encoder (``SigmaSignEncoder``)."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from harness.core.tasks import Batch
from methods.common.contrastive import masked_mean, same_text, soft_contrastive
from methods.encoders.stgcn import PartwiseSTGCN
from methods.sigma.fusion import SGTEncoder, build_sgt
from methods.sigma.losses import ClusterAggregator, hardest_negatives, local_similarity, word_units
from methods.text.backbone import build_backbone, lm_targets

#: The pre-training objectives, named by the paper's components (weights in model.sigma.weights).
LOSSES = ("hal_global", "hal_local", "sgt_match", "sgt_lm")



class SigmaPretrainer(nn.Module):
    """Computes L = sum of w_k L_k over ``LOSSES`` on sign-text pairs.

    - unimodal features: the sign encoder's frames v (B, T, d) and the text encoder's tokens
      mapped to the same width t (B, L, d);
    - the SGT encoder layers (``sgt``, ``methods.sigma.fusion``) run three ways: for
      alignment, each clip reads all of the batch's texts and each text all of its clips
      (``hal_memory='batch'``; ``'none'`` in the ``text_only`` ablation); for matching, each
      scored pair reads itself; for language modelling, the clip reads the empty text only
      (``textless``, the path fine-tuning and inference run);
    - HAL global: symmetric InfoNCE between pooled fused v and pooled fused t, learnable
      temperature;
    - HAL local: fused frames pooled into K clusters, fused text tokens grouped into units
      (sub-words or words), cluster-wise similarity (``local_similarity``) in a symmetric
      InfoNCE with a fixed temperature;
    - SGT matching: a binary classifier on the pooled pair-fused features of each positive
      pair and of the hardest negatives mined from the alignment similarities;
    - SGT LM: the seq2seq LM generates the text from the text-free sign features.

    Pairs with identical text are positives of each other in both contrastive losses and are
    never mined as negatives.
    """

    def __init__(self, cfg: dict[str, Any], texts: list[str]) -> None:
        super().__init__()
        mcfg, scfg = cfg["model"], cfg["model"]["sigma"]
        self.sign_encoder = PartwiseSTGCN(**mcfg["encoder"])
        self.input_joints = self.sign_encoder.input_joints
        d = self.sign_encoder.d_model
        self.backbone = build_backbone(mcfg["text"], texts)
        self.lm = self.backbone.seq2seq  # registered: its encoder doubles as the text encoder
        if self.backbone.encoder is not self.lm.get_encoder():
            self.text_encoder = self.backbone.encoder
        if scfg.get("freeze_text_encoder", False):
            for p in self.backbone.encoder.parameters():
                p.requires_grad_(False)
        self.text_in = nn.Linear(self.backbone.encoder_width, d)
        self.sgt: SGTEncoder = build_sgt(d, scfg["fusion"])
        self.hal_memory = "batch" if self.sgt.bidirectional else "none"
        self.lm_proj = nn.Linear(d, self.lm.config.d_model)
        emb = int(scfg["embed_dim"])
        self.sign_global, self.text_global = nn.Linear(d, emb), nn.Linear(d, emb)
        self.sign_local, self.text_local = nn.Linear(d, emb), nn.Linear(d, emb)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / float(scfg["init_temperature"]))))
        self.clusters = ClusterAggregator(d, int(scfg["clusters"]))
        self.text_unit = scfg["text_unit"]
        self.local_temperature = float(scfg["local_temperature"])
        self.match_head = nn.Sequential(nn.Linear(2 * d, d), nn.GELU(), nn.Linear(d, 1))
        self.weights = {k: float(scfg["weights"][k]) for k in LOSSES}
        if not any(self.weights.values()):
            raise ValueError("model.sigma.weights: every pre-training loss is switched off")
        self.mine_from = scfg.get("mine_from", "global")
        self.max_text_tokens = int(scfg.get("max_text_tokens", 64))
        self.lm_label_smoothing = float(scfg.get("lm_label_smoothing", 0.0))

    # -- encoders ------------------------------------------------------------------------
    def encode_sign(self, batch: Batch) -> torch.Tensor:
        """Unimodal frame features (B, T, d)."""
        return self.sign_encoder.encode(batch)

    def encode_text(self, texts: list[str], device: torch.device
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[list[int | None]]]:
        """Unimodal token features (B, L, d), the mask of real tokens, the mask of content
        tokens (no special tokens) and their word ids."""
        enc = self.backbone.tokenizer(texts, padding=True, truncation=True,
                                      max_length=self.max_text_tokens, return_tensors="pt",
                                      return_special_tokens_mask=True)
        ids, attn = enc["input_ids"].to(device), enc["attention_mask"].to(device)
        tokens = self.text_in(self.backbone.encode(ids, attn))
        content = attn.bool() & ~enc["special_tokens_mask"].to(device).bool()
        word_ids = [[w if content[i, p] else None for p, w in enumerate(enc.word_ids(i))]
                    for i in range(len(texts))]
        return tokens, attn.bool(), content, word_ids

    def empty_text(self, device: torch.device) -> torch.Tensor:
        """The text encoder's encoding of the empty text, averaged over its (special)
        tokens: (1, d), what the SGT encoder's text stream holds when there is no text."""
        enc = self.backbone.tokenizer([""], return_tensors="pt")
        ids, attn = enc["input_ids"].to(device), enc["attention_mask"].to(device)
        return self.text_in(masked_mean(self.backbone.encode(ids, attn), attn.bool()))

    @torch.no_grad()
    def empty_text_encoding(self) -> torch.Tensor:
        """``empty_text`` as the text encoder gives it in eval mode, detached (the
        fine-tuning encoder's initial ``empty_text``)."""
        encoder = self.backbone.encoder
        was = encoder.training
        encoder.eval()
        try:
            return self.empty_text(self.text_in.weight.device).detach().clone()
        finally:
            encoder.train(was)

    def textless(self, v: torch.Tensor, v_mask: torch.Tensor) -> torch.Tensor:
        """Text-free sign features (B, T, d): the SGT encoder layers with the empty text."""
        empty = self.empty_text(v.device) if self.sgt.bidirectional else None
        return self.sgt.textless(v, v_mask, empty)

    # -- losses --------------------------------------------------------------------------
    def similarities(self, v: torch.Tensor, v_mask: torch.Tensor, t: torch.Tensor,
                     t_mask: torch.Tensor, word_ids: list[list[int | None]]
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """Global cosine similarities and cluster-wise local similarities, both (B, B)."""
        zs = F.normalize(self.sign_global(masked_mean(v, v_mask)), dim=-1)
        zt = F.normalize(self.text_global(masked_mean(t, t_mask)), dim=-1)
        clusters = self.sign_local(self.clusters(v, v_mask))
        units, unit_mask = word_units(self.text_local(t), word_ids, self.text_unit)
        return zs @ zt.T, local_similarity(clusters, units, unit_mask)

    def alignment_features(self, v: torch.Tensor, v_mask: torch.Tensor, t: torch.Tensor,
                           t_attn: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The features HAL aligns: each clip fused with all of the batch's texts and each
        text with all of its clips (unimodal in the ``text_only`` ablation)."""
        v, t = self.sgt(v, v_mask, t, t_attn, self.hal_memory)
        return v, t

    def loss(self, batch: Batch) -> dict[str, torch.Tensor]:
        """All pre-training losses of a batch of sign-text pairs; ``loss`` is their sum."""
        device = batch.keypoints.device
        w = self.weights
        v0, v_mask = self.encode_sign(batch), batch.frame_mask
        t0, t_attn, t_mask, word_ids = self.encode_text(batch.text, device)
        positives = same_text(batch.text, device)
        v, t = self.alignment_features(v0, v_mask, t0, t_attn)
        sim_global, sim_local = self.similarities(v, v_mask, t, t_mask, word_ids)
        scale = self.logit_scale.clamp(max=math.log(100.0)).exp()
        out: dict[str, torch.Tensor] = {
            "hal_global": soft_contrastive(scale * sim_global, positives),
            "hal_local": soft_contrastive(sim_local / self.local_temperature, positives),
        }
        if w["sgt_match"]:  # an ablated objective is not computed at all
            mining = sim_global if self.mine_from == "global" else sim_local
            out["sgt_match"], acc = self.matching(v0, v_mask, t0, t_attn, t_mask, mining,
                                                  positives)
            out["match_acc"] = acc.detach()
        if w["sgt_lm"]:
            out["sgt_lm"] = self.lm_loss(self.textless(v0, v_mask), v_mask, batch.text)
        out["loss"] = sum(w[k] * out[k] for k in LOSSES if w[k])
        out["temperature"] = (1.0 / scale).detach()
        return out

    def fuse(self, v: torch.Tensor, v_mask: torch.Tensor, t: torch.Tensor, t_attn: torch.Tensor,
             t_mask: torch.Tensor) -> torch.Tensor:
        """Pooled features (B, 2d) of aligned rows of unimodal v and t, each row fused with
        its own pair only (the matching head's input)."""
        v, t = self.sgt(v, v_mask, t, t_attn, "pair")
        return torch.cat([masked_mean(v, v_mask), masked_mean(t, t_mask)], dim=-1)

    def matching(self, v: torch.Tensor, v_mask: torch.Tensor, t: torch.Tensor,
                 t_attn: torch.Tensor, t_mask: torch.Tensor, similarity: torch.Tensor,
                 positives: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Binary sign-text matching on positives and on the hardest negatives."""
        neg_t, has_t, neg_v, has_v = hardest_negatives(similarity, positives)
        rows = torch.arange(len(v), device=v.device)
        sign_idx = torch.cat([rows, rows[has_t], neg_v[has_v]])
        text_idx = torch.cat([rows, neg_t[has_t], rows[has_v]])
        labels = torch.cat([torch.ones(len(rows)), torch.zeros(int(has_t.sum() + has_v.sum()))])
        labels = labels.to(v.device)
        fused = self.fuse(v[sign_idx], v_mask[sign_idx], t[text_idx], t_attn[text_idx],
                          t_mask[text_idx])
        logits = self.match_head(fused).squeeze(-1).float()
        loss = F.binary_cross_entropy_with_logits(logits, labels)
        return loss, ((logits > 0).float() == labels).float().mean()

    def lm_loss(self, v: torch.Tensor, v_mask: torch.Tensor, texts: list[str]) -> torch.Tensor:
        """Cross-entropy of generating each text from its clip's text-free features."""
        labels = lm_targets(self.backbone, texts, self.max_text_tokens).to(v.device)
        out = self.lm(inputs_embeds=self.lm_proj(v), attention_mask=v_mask.long(), labels=labels)
        return F.cross_entropy(out.logits.float().flatten(0, 1), labels.flatten(),
                               ignore_index=-100, label_smoothing=self.lm_label_smoothing)


class SigmaSignEncoder(PartwiseSTGCN):
    """Sigma's fine-tuning encoder (ISLR, CSLR and SLT): the shared part-wise ST-GCN, then
    the SGT encoder layers in their text-free form (``SGTEncoder.textless``).

    No text enters: the SGT text stream holds ``empty_text``, a parameter that starts from
    the pre-trained text encoder's encoding of the empty string (``continue_from``); it reads
    the clip, and the clip's frames read it. ``encode`` ignores ``batch.text``. Under the
    ``text_only`` ablation the sign stream reads no text, and the text stream and
    ``empty_text`` are left out. The ST-GCN's tensors keep the shared encoder's names (a
    release checkpoint or another method's encoder loads as into ``PartwiseSTGCN``).
    """

    def __init__(self, *, sgt: dict[str, Any], **encoder: Any) -> None:
        super().__init__(**encoder)
        bidirectional = sgt.get("mode", "bidirectional") == "bidirectional"
        self.sgt = build_sgt(self.d_model, sgt, with_text=bidirectional)
        self.empty_text = (nn.Parameter(0.02 * torch.randn(1, self.d_model)) if bidirectional
                           else None)

    def encode(self, batch: Batch) -> torch.Tensor:
        """Frame features (B, T, d_model) of a batch's poses; its text is never read."""
        return self.sgt.textless(super().encode(batch), batch.frame_mask, self.empty_text)

    def continue_from(self, pre: SigmaPretrainer) -> None:
        """Take the pre-trained sign encoder, SGT encoder layers and empty-text encoding."""
        own = self.state_dict()
        state = dict(pre.sign_encoder.state_dict())
        state.update({f"sgt.{k}": v for k, v in pre.sgt.state_dict().items()
                      if f"sgt.{k}" in own})
        if self.empty_text is not None:
            state["empty_text"] = pre.empty_text_encoding()
        self.load_state_dict(state)
