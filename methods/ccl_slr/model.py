"""CCL-SLR's pre-training model: a MoCo query/key pair of sign encoders, a queue, MPM, SPM
and an optional cross-modal (pose-RGB) contrast."""

from __future__ import annotations

import copy
import dataclasses
import logging
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from harness.errors import ConfigError
from harness.tasks import Batch
from methods.ccl_slr.losses import info_nce, mine_positives
from methods.ccl_slr.masking import motion_preserving_mask
from methods.ccl_slr.views import ViewConfig, good_points, make_view
from methods.common.contrastive import masked_mean, soft_contrastive
from methods.encoders.stgcn import PartwiseSTGCN

log = logging.getLogger("methods.ccl_slr")

RGB_SKIPPED = "no RGB features in this benchmark: cross-modal branch skipped"


def projection_head(d_in: int, hidden: int, d_out: int) -> nn.Sequential:
    """The MoCo v2 projection MLP: Linear, ReLU, Linear."""
    return nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, d_out))


class CCLPretrainer(nn.Module):
    """Pose-only CCL-SLR pre-training: L = w_intra L_intra + w_cross L_cross.

    - two views of every clip (``views.make_view``); the query view is masked by MPM;
    - query = projector(pooled sign_encoder(query view)), key = the same through the
      momentum copies, which take no gradient and move as k <- m k + (1 - m) q at the start
      of every training ``loss`` call (before the keys are computed, as MoCo does);
    - L_intra: InfoNCE of each query against its key and the queue of past keys; SPM adds
      the nearest queue keys (above a threshold) as extra positives once ``spm.start_step``
      training steps have passed; the batch's keys then enter the queue (FIFO);
    - L_cross (only when the batch carries RGB clip features): symmetric in-batch InfoNCE
      between the pose queries and the projected RGB features.

    The queue, its pointer and the step counter are buffers, so checkpoints resume exactly.
    """

    def __init__(self, cfg: dict[str, Any], layout: str = "coco_wholebody_133") -> None:
        super().__init__()
        mcfg, c = cfg["model"], cfg["model"]["ccl"]
        self.sign_encoder = PartwiseSTGCN(layout=layout, **mcfg["encoder"])
        self.input_joints = self.sign_encoder.input_joints
        embed, hidden = int(c["embed_dim"]), int(c["proj_hidden"])
        self.projector = projection_head(self.sign_encoder.d_model, hidden, embed)
        self.key_encoder = copy.deepcopy(self.sign_encoder)
        self.key_projector = copy.deepcopy(self.projector)
        for p in [*self.key_encoder.parameters(), *self.key_projector.parameters()]:
            p.requires_grad_(False)
        self.momentum, self.temperature = float(c["momentum"]), float(c["temperature"])
        self.register_buffer("queue", F.normalize(torch.randn(int(c["queue_size"]), embed), dim=1))
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))
        self.views = ViewConfig.from_config(c["augment"])
        self.mpm, self.spm = dict(c["mpm"]), dict(c["spm"])
        for key, allowed in (("mine_by", ("key", "query")), ("loss", ("mean", "sum"))):
            if self.spm[key] not in allowed:
                raise ConfigError(f"model.ccl.spm.{key}={self.spm[key]!r}: use one of "
                                  f"{', '.join(allowed)}")
        anchors = torch.zeros(len(self.input_joints), dtype=torch.bool)
        if self.mpm["keep_anchors"]:
            enc = self.sign_encoder
            anchors[[enc.slices[name].start + i for name, i in enc.anchors.items()]] = True
        self.register_buffer("anchors", anchors, persistent=False)
        self.weights = {k: float(c["weights"][k]) for k in ("intra", "cross")}
        if self.weights["cross"]:
            self.rgb_projector = projection_head(int(c["rgb"]["dim"]), hidden, embed)
        self._rgb_skip_logged = False

    # -- momentum encoder and queue -----------------------------------------------------
    def _pairs(self) -> list[tuple[nn.Parameter, nn.Parameter]]:
        query = [*self.sign_encoder.parameters(), *self.projector.parameters()]
        key = [*self.key_encoder.parameters(), *self.key_projector.parameters()]
        return list(zip(query, key, strict=True))

    @torch.no_grad()
    def momentum_update(self) -> None:
        """k <- m k + (1 - m) q for every key-encoder and key-projector parameter."""
        for q, k in self._pairs():
            k.mul_(self.momentum).add_(q.detach(), alpha=1.0 - self.momentum)

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor) -> None:
        """Write keys (B, E) over the oldest queue entries and advance the pointer (wraps)."""
        size = len(self.queue)
        keys = keys[-size:]
        idx = (self.queue_ptr + torch.arange(len(keys), device=keys.device)) % size
        self.queue[idx] = keys.to(self.queue.dtype)
        self.queue_ptr.copy_((self.queue_ptr + len(keys)) % size)

    # -- views and embeddings -----------------------------------------------------------
    def mask_view(self, view: Batch) -> Batch:
        """The view with MPM's points removed (invalid, zero confidence and coordinates)."""
        ratio = float(self.mpm["ratio"])
        if ratio <= 0:
            return view
        good = good_points(view, self.sign_encoder.conf_threshold)
        mask = motion_preserving_mask(view.keypoints, good, good & ~self.anchors, ratio,
                                      float(self.mpm["joint_protect"]),
                                      float(self.mpm["frame_protect"]))
        return dataclasses.replace(view, keypoints=view.keypoints * ~mask[..., None],
                                   confidence=view.confidence * ~mask, valid=view.valid & ~mask)

    @staticmethod
    def embed(encoder: nn.Module, projector: nn.Module, view: Batch) -> torch.Tensor:
        """Unit clip embeddings (B, E) of a view."""
        frames = encoder.encode(view)
        return F.normalize(projector(masked_mean(frames, view.frame_mask)), dim=-1)

    def mined_positives(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor | None:
        """SPM's extra positives (B, K) in the queue, or None while SPM is off."""
        topk = int(self.spm["topk"])
        if topk <= 0 or int(self.steps) < int(self.spm["start_step"]):
            return None
        anchors = k if self.spm["mine_by"] == "key" else q
        return mine_positives(anchors, self.queue, topk, float(self.spm["threshold"]))

    # -- objective ----------------------------------------------------------------------
    def loss(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Pre-training losses of a batch of pose clips; ``loss`` is their weighted sum."""
        if self.training:
            self.momentum_update()
        view_q = self.mask_view(make_view(batch, self.views, self.sign_encoder.conf_threshold))
        view_k = make_view(batch, self.views, self.sign_encoder.conf_threshold)
        q = self.embed(self.sign_encoder, self.projector, view_q)
        with torch.no_grad():
            k = self.embed(self.key_encoder, self.key_projector, view_k)
        extra = self.mined_positives(q, k)
        intra, acc = info_nce(q, k, self.queue.clone(), self.temperature, extra,
                              self.spm["loss"])
        mined = extra.sum(1).float().mean() if extra is not None else torch.zeros(())
        out = {"intra": intra, "acc": acc, "mined": mined.to(q.device)}
        total = self.weights["intra"] * intra
        if self.weights["cross"]:
            if batch.rgb is None:
                if not self._rgb_skip_logged:
                    log.warning(RGB_SKIPPED)
                    self._rgb_skip_logged = True
            else:
                r = F.normalize(self.rgb_projector(batch.rgb.to(q.dtype)), dim=-1)
                eye = torch.eye(len(q), dtype=torch.bool, device=q.device)
                out["cross"] = soft_contrastive(q @ r.T / self.temperature, eye)
                total = total + self.weights["cross"] * out["cross"]
        if self.training:
            self.enqueue(k)
            self.steps += 1
        out["loss"] = total
        return out
