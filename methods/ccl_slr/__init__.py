"""``ccl_slr``: Cross-modal Consistency Learning for sign language recognition (Wu, Li, Hu,
Zhou, Li, CVPR-W 2025; arXiv 2503.12485). Its code was announced but not released; this is
the harness's skeleton-first implementation, built from the paper's description.

What it is (see ``model.CCLPretrainer``):

1. Instance discrimination, MoCo style: a query encoder (the shared part-wise ST-GCN with
   temporal transformer layers, ``model.encoder``, then a projection MLP) and a momentum
   key encoder (a copy updated as k <- m k + (1 - m) q, no gradients); a queue of K past
   keys; InfoNCE with temperature tau between the query of view 1 and the key of view 2
   against the queue (``model.ccl``: ``queue_size``, ``momentum``, ``temperature``).
2. Two spatio-temporally augmented views of every clip, made inside the model in torch
   from the loader's (mildly augmented) batch: temporal crop and resampling, a random 2D
   affine transform (scale, rotation, shear, translation) and joint jitter
   (``model.ccl.augment``, ``views.ViewConfig``).
3. Motion-Preserving Masking (MPM) of the query view: a ``ratio`` of the points is masked,
   drawn with probability proportional to exp(-(joint_protect x relative joint motion +
   frame_protect x relative frame motion)), so the high-motion joints and frames are spared
   (``model.ccl.mpm``; both weights 0 is uniform random masking, ratio 0 no masking).
4. Semantic Positive Mining (SPM): the ``topk`` queue keys nearest to a query's own key,
   when at least ``threshold`` cosine-similar, are extra positives (multi-positive
   InfoNCE), after ``start_step`` steps so that the queue holds meaningful keys
   (``model.ccl.spm``; topk 0 switches it off).
5. Cross-modal contrast: when a benchmark provides RGB clip features (``Batch.rgb``), they
   are projected and contrasted with the pose queries in both directions
   (``model.ccl.weights.cross``, ``model.ccl.rgb.dim``). No current benchmark has them:
   the branch is then skipped, and said so once in the log.

The paper is ISLR-only (MSASL, WLASL, NMFs-CSL, SLR500). The harness also fine-tunes the
pre-trained query encoder with the standard CSLR (CTC) and SLT heads (the SLT text model is
built from ``model.heads.slt.text``, as in ``scratch``). Pre-training reads only the poses of
the benchmark's pre-training corpus (never its text).

What the paper leaves open (or the harness cannot follow), and what the harness chose
(each a config switch, the standard choice by default):

- Skeleton first: the paper pre-trains a pose and an RGB branch, and (by its summaries)
  applies MPM to the RGB video; here the pose branch is the model, MPM masks keypoints,
  and RGB enters only as precomputed clip features through a projection (``rgb.dim``).
  The cross-modal loss is an in-batch symmetric InfoNCE (the RGB features are fixed
  inputs, so no momentum RGB encoder or RGB queue), with the intra-modal temperature.
- Queue, momentum, temperature: the MoCo / SkeletonCLR values where the paper gives none
  (tau 0.07, m 0.999; K 4096 in ``paper``). K must stay below the corpus size: a queue as
  large as the corpus always holds a clip's own earlier key as one of its negatives, so it
  is refused.
- Key encoder batch norm: in training mode like the query encoder (single-device
  SkeletonCLR practice, no shuffled BN); only parameters follow the momentum, batch-norm
  statistics are the key encoder's own.
- The projection head: the MoCo v2 MLP (Linear-ReLU-Linear, ``proj_hidden``, ``embed_dim``).
- MPM: motion is the mean point speed (displacement between consecutive good frames) per
  joint and per frame, relative to the clip's mean; masking points is masking the input
  (invalid, zero confidence). The anchors of the encoder's relative coordinates (the wrists
  of the hand parts, the nose tip of the face) are never masked (``mpm.keep_anchors``),
  since masking one would remove its whole part from that frame.
- SPM mines by key-key similarity (the query's own momentum key against the queue,
  ``spm.mine_by='key'``: both sides come from the slowly moving encoder and see no MPM
  mask); ``'query'`` mines with the query itself. Extra positives enter as SupCon's
  averaged log-likelihood (``spm.loss='mean'``) or the log of summed likelihoods (``'sum'``).
- Loss weights intra 1, cross 1; augmentation ranges, MPM ratio 0.3 and protection 1,
  SPM top-5 above 0.8 cosine: harness choices (the paper's full text and values were not
  available when this was written; only its abstract).
- Fine-tuning uses the query encoder; projection heads and key encoder exist only during
  pre-training.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.registry import METHODS
from harness.tasks import TaskSpec
from methods.common.method import EncoderMethod


@METHODS.register("ccl_slr")
class CCLSLR(EncoderMethod):
    """CCL-SLR: MoCo-style pose contrast with MPM and SPM (+ RGB features when given)."""

    tasks = ("islr", "cslr", "slt")
    summary = "MoCo-style pose contrast + motion-preserving masking + semantic positive mining"
    presets_dir = Path(__file__).parent / "presets"
    has_pretraining = True

    def build_pretrainer(self, cfg: dict[str, Any], spec: TaskSpec) -> Any:
        """The pre-training model; its queue must be smaller than the corpus (one clip per
        entry of ``spec.train_texts``)."""
        from methods.ccl_slr.model import CCLPretrainer

        size, clips = int(cfg["model"]["ccl"]["queue_size"]), len(spec.train_texts)
        if clips and size >= clips:
            raise ConfigError(f"model.ccl.queue_size={size} is not smaller than the "
                              f"pre-training corpus ({clips} clips): the queue would always hold "
                              f"a clip's own earlier key as a negative; set a smaller "
                              f"model.ccl.queue_size")
        return CCLPretrainer(cfg, spec.layout)
