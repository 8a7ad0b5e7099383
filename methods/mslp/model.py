"""MSLP's pre-training model: masked pose modelling + sign-text contrast (global and
fine-grained) against a frozen text encoder."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from harness.core.tasks import Batch
from methods.common.contrastive import masked_mean, same_text, soft_contrastive
from methods.encoders.stgcn import PartwiseSTGCN, part_features
from methods.mslp.losses import DISTANCES, fine_similarity, reconstruction_loss
from methods.mslp.masking import PoseMask, draw_mask
from methods.text.backbone import load_pretrained

#: The pre-training objectives (weights in model.mslp.weights).
LOSSES = ("mpm", "contrast_global", "contrast_fine")
#: Which sign features the contrastive losses read.
CONTRAST_FEATURES = ("unmasked", "masked")


class FrozenTextEncoder:
    """A pre-trained text encoder and its tokenizer, frozen: never trained, never part of a
    checkpoint (it is read from disk unchanged), always in eval mode."""

    def __init__(self, name_or_path: str, max_tokens: int) -> None:
        model, self.tokenizer = load_pretrained(name_or_path, kind="encoder")
        if getattr(model.config, "is_encoder_decoder", False):  # e.g. mT5: its encoder
            model = model.get_encoder()
        self.model = model.eval().requires_grad_(False)
        self.width = int(model.config.hidden_size)
        self.max_tokens = max_tokens

    def parameters(self) -> list[nn.Parameter]:
        """The encoder's (frozen) weights."""
        return list(self.model.parameters())

    @torch.no_grad()
    def __call__(self, texts: Sequence[str], device: torch.device
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Token features (B, L, width), the attention mask and the mask of content tokens
        (neither padding nor special tokens)."""
        enc = self.tokenizer(list(texts), padding=True, truncation=True,
                             max_length=self.max_tokens, return_tensors="pt",
                             return_special_tokens_mask=True)
        self.model.to(device)
        attn = enc["attention_mask"].to(device)
        tokens = self.model(input_ids=enc["input_ids"].to(device),
                            attention_mask=attn).last_hidden_state
        content = attn.bool() & ~enc["special_tokens_mask"].to(device).bool()
        return tokens, attn.bool(), content


class MSLPPretrainer(nn.Module):
    """Computes L = w_mpm L_mpm + w_global L_global + w_fine L_fine on sign-text pairs.

    - masked pose modelling: ``draw_mask`` hides whole frames and single points of all four
      parts; hidden points enter the encoder as missing detections; per part, a light MLP
      decodes each frame feature of the masked clip into the (x, y) of the part's joints in
      the encoder's normalised frame (``part_features`` of the unmasked clip); L_mpm is the
      weighted mean over parts of the confidence-weighted L1/L2 error on the masked good
      points (invalid points, points at or under the confidence threshold, and the
      hand/face anchors, whose relative coordinates are always 0, never count);
    - global contrast: symmetric InfoNCE between pooled sign frames and pooled text tokens
      of the frozen text encoder, each through a trainable projection, learnable temperature;
    - fine contrast: the same on ``fine_similarity`` of projected frames and content tokens,
      with its own learnable temperature.

    Pairs with identical text are positives of each other. Masks are drawn from the global
    torch generator (through a per-call seed), so checkpoints resume exactly.
    """

    def __init__(self, cfg: dict[str, Any], layout: str = "coco_wholebody_133") -> None:
        super().__init__()
        mcfg, c = cfg["model"], cfg["model"]["mslp"]
        self.weights = {k: float(c["weights"][k]) for k in LOSSES}
        if not any(self.weights.values()):
            raise ValueError("model.mslp.weights: every pre-training loss is switched off")
        self.text = FrozenTextEncoder(str(mcfg["text"]["name_or_path"]),
                                      int(mcfg["text"]["max_tokens"]))
        self.sign_encoder = enc = PartwiseSTGCN(layout=layout, **mcfg["encoder"])
        if enc.conf_threshold < 0:
            raise ValueError("model.encoder.conf_threshold must be >= 0 (a good point's "
                             "confidence is then positive)")
        self.input_joints = enc.input_joints
        d, hidden = enc.d_model, int(c["decoder"]["hidden"])
        self.decoders = nn.ModuleDict({
            name: nn.Sequential(nn.Linear(d, hidden), nn.GELU(),
                                nn.Linear(hidden, 2 * (sl.stop - sl.start)))
            for name, sl in enc.slices.items()})
        anchors = torch.zeros(len(self.input_joints), dtype=torch.bool)
        anchors[[enc.slices[name].start + i for name, i in enc.anchors.items()]] = True
        self.register_buffer("anchors", anchors, persistent=False)
        mask = c["mask"]
        self.frame_ratio, self.joint_ratio = float(mask["frame_ratio"]), float(mask["joint_ratio"])
        self.keep_anchors = bool(mask["keep_anchors"])
        rec = c["reconstruction"]
        if rec["distance"] not in DISTANCES:
            raise ValueError(f"model.mslp.reconstruction.distance={rec['distance']!r}: one of "
                             f"{DISTANCES}")
        self.distance, self.confidence_weighted = rec["distance"], bool(rec["confidence_weighted"])
        self.part_weights = {name: float(rec["part_weights"][name]) for name in enc.slices}
        con = c["contrast"]
        if con["features"] not in CONTRAST_FEATURES:
            raise ValueError(f"model.mslp.contrast.features={con['features']!r}: one of "
                             f"{CONTRAST_FEATURES}")
        self.contrast_features = con["features"]
        emb, width = int(con["embed_dim"]), self.text.width
        self.sign_global, self.text_global = nn.Linear(d, emb), nn.Linear(width, emb)
        self.sign_fine, self.text_fine = nn.Linear(d, emb), nn.Linear(width, emb)
        init = math.log(1 / float(con["init_temperature"]))
        self.global_scale = nn.Parameter(torch.tensor(init))
        self.fine_scale = nn.Parameter(torch.tensor(init))

    # -- inputs, masks and targets -------------------------------------------------------
    def encode(self, batch: Batch) -> torch.Tensor:
        """Sign frame features (B, T, d)."""
        return self.sign_encoder.encode(batch)

    def targets(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Every point's normalised (x, y) (B, T, V, 2), as the encoder sees the unmasked
        clip, and its confidence (B, T, V), which is 0 exactly where the point is not good."""
        enc = self.sign_encoder
        parts = part_features(batch.keypoints, batch.confidence, batch.valid, batch.frame_mask,
                              enc.slices, enc.anchors, enc.conf_threshold, batch.affine,
                              enc.part_scale)
        feats = torch.cat([parts[name] for name in enc.slices], dim=2)
        return feats[..., :2], feats[..., 2]

    def draw_mask(self, batch: Batch) -> PoseMask:
        """A random frame and joint mask of the batch (``model.mslp.mask``)."""
        seed = int(torch.randint(0, 2 ** 62, ()))
        generator = torch.Generator().manual_seed(seed)
        good = self.targets(batch)[1] > 0
        protected = self.anchors if self.keep_anchors else torch.zeros_like(self.anchors)
        return draw_mask(good, batch.frame_mask, self.sign_encoder.slices, protected,
                         self.frame_ratio, self.joint_ratio, generator)

    @staticmethod
    def hide(batch: Batch, mask: PoseMask) -> Batch:
        """The batch with the masked points turned into missing detections."""
        return dataclasses.replace(batch, valid=batch.valid & ~mask.points)

    # -- losses --------------------------------------------------------------------------
    def loss(self, batch: Batch, mask: PoseMask | None = None) -> dict[str, torch.Tensor]:
        """All pre-training losses of a batch of sign-text pairs (with a freshly drawn mask
        unless one is given); ``loss`` is their weighted sum."""
        if mask is None:
            mask = self.draw_mask(batch)
        w = self.weights
        contrast = w["contrast_global"] or w["contrast_fine"]
        out: dict[str, torch.Tensor] = {}
        masked = None
        if w["mpm"] or (contrast and self.contrast_features == "masked"):
            masked = self.encode(self.hide(batch, mask))
        if w["mpm"]:
            out.update(self.mpm_losses(masked, batch, mask))
        if contrast:
            v = masked if self.contrast_features == "masked" else self.encode(batch)
            out.update(self.contrast_losses(v, batch.frame_mask, batch.text))
        out["loss"] = sum(w[k] * out[k] for k in LOSSES if w[k])
        return out

    def reconstruct(self, frames: torch.Tensor) -> torch.Tensor:
        """Decoded (x, y) of every point (B, T, V, 2) from frame features (B, T, d)."""
        b, t, _ = frames.shape
        return torch.cat([dec(frames).view(b, t, -1, 2) for dec in self.decoders.values()], 2)

    def mpm_losses(self, frames: torch.Tensor, batch: Batch, mask: PoseMask
                   ) -> dict[str, torch.Tensor]:
        """Masked pose modelling: the reconstruction loss of each part and their weighted
        mean ``mpm`` over the parts that have masked good points."""
        xy, conf = self.targets(batch)
        good = conf > 0
        scored = mask.points & good & ~self.anchors
        weight = conf if self.confidence_weighted else good.to(conf.dtype)
        pred = self.reconstruct(frames)
        out, total, norm = {}, pred.new_zeros(()), pred.new_zeros(())
        for name, sl in self.sign_encoder.slices.items():
            part = reconstruction_loss(pred[:, :, sl], xy[:, :, sl], weight[:, :, sl],
                                       scored[:, :, sl], self.distance)
            out[f"mpm_{name}"] = part
            total = total + self.part_weights[name] * part
            norm = norm + self.part_weights[name] * scored[:, :, sl].any().to(norm.dtype)
        out["mpm"] = total / norm.clamp_min(1e-6)
        out["masked_fraction"] = (scored.sum() / (good & ~self.anchors).sum().clamp_min(1)
                                  ).detach().to(pred.dtype)
        return out

    def contrast_losses(self, frames: torch.Tensor, frame_mask: torch.Tensor, texts: list[str]
                        ) -> dict[str, torch.Tensor]:
        """Global and fine-grained sign-text InfoNCE against the frozen text encoder."""
        tokens, attn, content = self.text(texts, frames.device)
        positives = same_text(texts, frames.device)
        out = {}
        if self.weights["contrast_global"]:
            zs = F.normalize(self.sign_global(masked_mean(frames, frame_mask)), dim=-1)
            zt = F.normalize(self.text_global(masked_mean(tokens, attn)), dim=-1)
            scale = self.global_scale.clamp(max=math.log(100.0)).exp()
            out["contrast_global"] = soft_contrastive(scale * zs @ zt.T, positives)
            out["temperature_global"] = (1.0 / scale).detach()
        if self.weights["contrast_fine"]:
            fs = F.normalize(self.sign_fine(frames), dim=-1)
            ft = F.normalize(self.text_fine(tokens), dim=-1)
            scale = self.fine_scale.clamp(max=math.log(100.0)).exp()
            sim = fine_similarity(fs, frame_mask, ft, content)
            out["contrast_fine"] = soft_contrastive(scale * sim, positives)
            out["temperature_fine"] = (1.0 / scale).detach()
        return out
