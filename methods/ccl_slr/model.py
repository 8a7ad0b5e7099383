"""CCL-SLR's pre-training model: MoCo query/key pairs of sign encoders with their queues,
MPM, SPM and the cross-modal consistency, between the joint and the motion stream of the
pose (the pose-only adaptation) or between pose and RGB clip features (where a benchmark
has them)."""

from __future__ import annotations

import copy
import dataclasses
import logging
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from harness.core.tasks import Batch
from harness.errors import ConfigError
from methods.ccl_slr.losses import info_nce, mine_positives
from methods.ccl_slr.masking import motion_preserving_mask
from methods.ccl_slr.motion import MotionSTGCN
from methods.ccl_slr.views import ViewConfig, good_points, make_view
from methods.common.contrastive import masked_mean, soft_contrastive
from methods.encoders.stgcn import PartwiseSTGCN

log = logging.getLogger("methods.ccl_slr")

#: Said once (the method's logger) when a batch has no RGB features and the cross-modal
#: consistency runs between the joint and motion streams instead.
POSE_ONLY = ("no RGB features in this benchmark: cross-modal consistency between the joint "
             "and motion streams (pose-only adaptation)")
#: Said once when a batch has no RGB features and the motion stream is switched off.
RGB_SKIPPED = "no RGB features in this benchmark: cross-modal branch skipped"


#: How the motion stream's encoder and projector start: from the joint stream's initial
#: weights (copied; the parameters are separate) or from their own random draw.
MOTION_INIT = ("joint", "random")


def projection_head(d_in: int, hidden: int, d_out: int) -> nn.Sequential:
    """The MoCo v2 projection MLP: Linear, ReLU, Linear."""
    return nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, d_out))


@dataclasses.dataclass(frozen=True)
class Stream:
    """One pose stream of the model: its query encoder and projector, their momentum
    copies, and its queue of past keys with the queue's pointer (the model's own modules and
    buffers, not copies)."""

    name: str
    encoder: nn.Module
    projector: nn.Module
    key_encoder: nn.Module
    key_projector: nn.Module
    queue: torch.Tensor
    queue_ptr: torch.Tensor

    def pairs(self) -> list[tuple[nn.Parameter, nn.Parameter]]:
        """(query, key) parameter pairs that the momentum update ties."""
        query = [*self.encoder.parameters(), *self.projector.parameters()]
        key = [*self.key_encoder.parameters(), *self.key_projector.parameters()]
        return list(zip(query, key, strict=True))


class CCLPretrainer(nn.Module):
    """CCL-SLR pre-training: L = w_intra L_intra + w_motion L_motion + w_cross L_cross.

    - two views of every clip (``views.make_view``); the query view is masked by MPM;
    - the joint stream: query = projector(pooled sign_encoder(query view)), key = the same
      through the momentum copies, which take no gradient and move as k <- m k + (1 - m) q
      at the start of every training ``loss`` call (before the keys are computed, as MoCo
      does); its own queue of past keys;
    - the motion stream (``model.ccl.motion.enabled``): the same on the frame differences
      of the normalised pose of the same two views (``motion.MotionSTGCN``, separate
      parameters, by default starting from the joint stream's initial weights; its own
      momentum key encoder, projector and queue);
    - L_intra (L_motion): InfoNCE of each joint (motion) query against its own stream's key
      and queue; SPM adds the nearest queue keys (above a threshold) as extra positives once
      ``spm.start_step`` training steps have passed;
    - L_cross, when the batch carries RGB clip features: symmetric in-batch InfoNCE between
      the joint queries and the projected RGB features (the motion stream then sits out);
      when it does not: cross-stream InfoNCE, the joint query against the same clip's
      motion key and the motion queue, and the motion query against the joint key and
      queue (the mean of both), with SPM's positives of the queue contrasted against;
    - each stream's keys then enter its queue (FIFO).

    Queues, their pointers and the step counter are buffers, so checkpoints resume exactly.
    Fine-tuning continues from the joint stream's ``sign_encoder``.
    """

    def __init__(self, cfg: dict[str, Any], layout: str = "coco_wholebody_133") -> None:
        super().__init__()
        mcfg, c = cfg["model"], cfg["model"]["ccl"]
        self.sign_encoder = PartwiseSTGCN(layout=layout, **mcfg["encoder"])
        self.input_joints = self.sign_encoder.input_joints
        embed, hidden = int(c["embed_dim"]), int(c["proj_hidden"])
        size = int(c["queue_size"])
        self.projector = projection_head(self.sign_encoder.d_model, hidden, embed)
        self.key_encoder = copy.deepcopy(self.sign_encoder)
        self.key_projector = copy.deepcopy(self.projector)
        self.momentum, self.temperature = float(c["momentum"]), float(c["temperature"])
        self.register_buffer("queue", F.normalize(torch.randn(size, embed), dim=1))
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
        self.weights = {k: float(c["weights"][k]) for k in ("intra", "motion", "cross")}
        if self.weights["cross"]:
            self.rgb_projector = projection_head(int(c["rgb"]["dim"]), hidden, embed)
        motion = c["motion"]
        self.motion_enabled = bool(motion["enabled"])
        if self.motion_enabled:  # built after the joint stream: its initial weights unchanged
            if motion["init"] not in MOTION_INIT:
                raise ConfigError(f"model.ccl.motion.init={motion['init']!r}: use one of "
                                  f"{', '.join(MOTION_INIT)}")
            try:
                self.motion_encoder = MotionSTGCN(layout=layout, scale=float(motion["scale"]),
                                                  **mcfg["encoder"])
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
            self.motion_projector = projection_head(self.motion_encoder.d_model, hidden, embed)
            if motion["init"] == "joint":  # the same starting point, separate parameters
                self.motion_encoder.load_state_dict(self.sign_encoder.state_dict())
                self.motion_projector.load_state_dict(self.projector.state_dict())
            self.motion_key_encoder = copy.deepcopy(self.motion_encoder)
            self.motion_key_projector = copy.deepcopy(self.motion_projector)
            self.register_buffer("motion_queue",
                                 F.normalize(torch.randn(size, embed), dim=1))
            self.register_buffer("motion_queue_ptr", torch.zeros((), dtype=torch.long))
        for stream in self.streams():
            for _, k in stream.pairs():
                k.requires_grad_(False)
        self._no_rgb_logged = False

    # -- streams, momentum encoders and queues ------------------------------------------
    def streams(self) -> list[Stream]:
        """The joint stream, then the motion stream where it is switched on."""
        out = [Stream("joint", self.sign_encoder, self.projector, self.key_encoder,
                      self.key_projector, self.queue, self.queue_ptr)]
        if self.motion_enabled:
            out.append(Stream("motion", self.motion_encoder, self.motion_projector,
                              self.motion_key_encoder, self.motion_key_projector,
                              self.motion_queue, self.motion_queue_ptr))
        return out

    def stream(self, name: str) -> Stream:
        """The stream called ``name`` ('joint' or 'motion')."""
        for s in self.streams():
            if s.name == name:
                return s
        raise KeyError(f"no {name!r} stream (model.ccl.motion.enabled is false)")

    @torch.no_grad()
    def momentum_update(self) -> None:
        """k <- m k + (1 - m) q for every key-encoder and key-projector parameter."""
        for stream in self.streams():
            for q, k in stream.pairs():
                k.mul_(self.momentum).add_(q.detach(), alpha=1.0 - self.momentum)

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor, stream: str = "joint") -> None:
        """Write keys (B, E) over the oldest entries of a stream's queue and advance its
        pointer (wraps)."""
        s = self.stream(stream)
        size = len(s.queue)
        keys = keys[-size:]
        idx = (s.queue_ptr + torch.arange(len(keys), device=keys.device)) % size
        s.queue[idx] = keys.to(s.queue.dtype)
        s.queue_ptr.copy_((s.queue_ptr + len(keys)) % size)

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

    def spm_active(self) -> bool:
        """Whether SPM mines extra positives at this step."""
        return int(self.spm["topk"]) > 0 and int(self.steps) >= int(self.spm["start_step"])

    def mined_positives(self, q: torch.Tensor, k: torch.Tensor,
                        queue: torch.Tensor | None = None) -> torch.Tensor | None:
        """SPM's extra positives (B, K) in ``queue`` (default: the joint queue) for the
        queries q whose keys are k, or None while SPM is off. ``spm.mine_by='key'`` mines
        with k (which must be a key of the queue's own stream), 'query' with q."""
        if not self.spm_active():
            return None
        anchors = k if self.spm["mine_by"] == "key" else q
        return mine_positives(anchors, self.queue if queue is None else queue,
                              int(self.spm["topk"]), float(self.spm["threshold"]))

    # -- objective ----------------------------------------------------------------------
    def loss(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Pre-training losses of a batch of pose clips; ``loss`` is their weighted sum."""
        if self.training:
            self.momentum_update()
        view_q = self.mask_view(make_view(batch, self.views, self.sign_encoder.conf_threshold))
        view_k = make_view(batch, self.views, self.sign_encoder.conf_threshold)
        rgb = batch.rgb is not None
        if not rgb and self.weights["cross"] and not self._no_rgb_logged:
            log.warning(POSE_ONLY if self.motion_enabled else RGB_SKIPPED)
            self._no_rgb_logged = True
        # with RGB features the paper's pair is pose and RGB: the motion stream sits out
        streams = self.streams()[:1] if rgb else self.streams()
        q, k, queue, extra = {}, {}, {}, {}
        for s in streams:
            q[s.name] = self.embed(s.encoder, s.projector, view_q)
            with torch.no_grad():
                k[s.name] = self.embed(s.key_encoder, s.key_projector, view_k)
            queue[s.name] = s.queue.clone()  # this step's negatives, before the enqueue
            extra[s.name] = self.mined_positives(q[s.name], k[s.name], queue[s.name])
        out: dict[str, torch.Tensor] = {}
        total = torch.zeros((), device=q["joint"].device)
        for s, label in zip(streams, ("intra", "motion"), strict=False):
            loss, acc = info_nce(q[s.name], k[s.name], queue[s.name], self.temperature,
                                 extra[s.name], self.spm["loss"])
            out[label] = loss
            out["acc" if label == "intra" else f"{label}_acc"] = acc
            total = total + self.weights[label] * loss
        mined = extra["joint"]
        out["mined"] = (mined.sum(1).float().mean() if mined is not None
                        else torch.zeros((), device=total.device))
        if self.weights["cross"] and rgb:
            r = F.normalize(self.rgb_projector(batch.rgb.to(q["joint"].dtype)), dim=-1)
            eye = torch.eye(len(r), dtype=torch.bool, device=r.device)
            out["cross"] = soft_contrastive(q["joint"] @ r.T / self.temperature, eye)
        elif self.weights["cross"] and len(streams) == 2:
            out["cross"], out["cross_acc"] = self.cross_stream(q, k, queue, extra)
        if "cross" in out:
            total = total + self.weights["cross"] * out["cross"]
        if self.training:
            for s in streams:
                self.enqueue(k[s.name], s.name)
            self.steps += 1
        out["loss"] = total
        return out

    def cross_stream(self, q: dict[str, torch.Tensor], k: dict[str, torch.Tensor],
                     queue: dict[str, torch.Tensor], extra: dict[str, torch.Tensor | None]
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """The joint-motion consistency and its accuracy: the mean of InfoNCE(joint query,
        motion key, motion queue) and InfoNCE(motion query, joint key, joint queue). SPM's
        extra positives of a queue are those its own stream mined (``mine_by='key'``: its
        key's nearest entries, so a neighbour one stream finds is a positive for the other
        stream's query too), or the other stream's query's nearest entries ('query')."""
        losses, accs = [], []
        for a, b in (("joint", "motion"), ("motion", "joint")):
            positives = extra[b]
            if positives is not None and self.spm["mine_by"] == "query":
                positives = self.mined_positives(q[a], k[b], queue[b])
            loss, acc = info_nce(q[a], k[b], queue[b], self.temperature, positives,
                                 self.spm["loss"])
            losses.append(loss)
            accs.append(acc)
        return (losses[0] + losses[1]) / 2, (accs[0] + accs[1]) / 2
