"""``ccl_slr``: Cross-modal Consistency Learning for sign language recognition (Wu, Li, Hu,
Zhou, Li, CVPR-W 2025; arXiv 2503.12485). Its code was announced but not released; this is
the harness's skeleton-first implementation, built from the paper's description, and a
pose-only adaptation (joint/motion streams) unless RGB features are given.

The paper learns consistency between RGB video and pose, and its Motion-Preserving Masking
acts on RGB frames. No benchmark here has RGB (``TaskSpec.inputs`` is ("pose",) everywhere),
so the cross-modal consistency runs between two skeleton streams, joints and their motion,
as skeleton contrastive learning does (CrosSCLR, AimCLR; for sign pose, Zhao et al. 2024,
arXiv 2406.10501, from the same group, joins joint and first-order motion embeddings).
``describe`` records such a cell as input "pose", variant "pose-only adaptation", and the
leaderboard compares no paper number with it. Where a benchmark provides RGB clip features
(``Batch.rgb``), the second modality is RGB and the cell is recorded as input "pose+rgb"
with no variant.

What it is (see ``model.CCLPretrainer``):

1. Instance discrimination, MoCo style, per stream: a query encoder (the shared part-wise
   ST-GCN, ``model.encoder``, then a projection MLP) and a momentum key encoder (a copy
   updated as k <- m k + (1 - m) q, no gradients); a queue of K past keys; InfoNCE with
   temperature tau between the query of view 1 and the key of view 2 against the queue
   (``model.ccl``: ``queue_size``, ``momentum``, ``temperature``; ``weights.intra`` for the
   joint stream, ``weights.motion`` for the motion stream).
2. Two spatio-temporally augmented views of every clip, made inside the model in torch
   from the loader's (mildly augmented) batch: temporal crop and resampling, a random 2D
   affine transform (scale, rotation, shear, translation) of the encoder's normalised
   coordinates and joint jitter (``model.ccl.augment``, ``views.ViewConfig``). Both streams
   read the same two views.
3. The motion stream (``model.ccl.motion``; ``motion.py``): the forward frame differences of
   the normalised coordinates the joint stream's encoder reads (body over the clip's body
   box, hands and face about their anchors, after the view's affine), times ``scale``, with
   the smaller confidence of the two ends as the third channel; defined where a point (and
   its part's anchor) is kept in both frames, zero elsewhere and at the last frame. Its
   encoder is the shared encoder class with only the input changed (``MotionSTGCN``) and
   separate weights: joints and their differences are different inputs (a shared first
   layer and batch norm would see a mixture of both, and the batch-norm statistics that
   fine-tuning inherits would not be those of positions), and CrosSCLR / AimCLR give each
   stream its own network as the paper gives RGB and pose their own. Its encoder and
   projector start from the joint stream's initial weights (``motion.init='joint'``; the
   parameters are separate and part at the first step), so that the two embedding spaces
   start aligned; 'random' draws them. It has its own momentum key encoder and queue.
4. Cross-modal consistency (``weights.cross``): without RGB features, cross-stream InfoNCE,
   the joint query against the same clip's motion key and the motion queue, and the motion
   query against the joint key and the joint queue (their mean): instance discrimination
   across modalities with the MoCo machinery of each. With RGB features, the RGB features
   are projected and contrasted with the joint queries in both directions (in-batch
   symmetric InfoNCE, ``rgb.dim``), and the motion stream sits out.
5. Motion-Preserving Masking (MPM) of the query view: a ``ratio`` of the points is masked,
   drawn with probability proportional to exp(-(joint_protect x relative joint motion +
   frame_protect x relative frame motion)), so the high-motion joints and frames are spared
   (``model.ccl.mpm``; both weights 0 is uniform random masking, ratio 0 no masking). The
   motion stream's query reads the masked view too: a masked point has no motion into or
   out of its frame, and the points masked are the low-motion ones.
6. Semantic Positive Mining (SPM): the ``topk`` queue keys nearest to a query's own key,
   when at least ``threshold`` cosine-similar, are extra positives (multi-positive
   InfoNCE), after ``start_step`` steps so that the queue holds meaningful keys
   (``model.ccl.spm``; topk 0 switches it off). The positives mined in a queue serve every
   term contrasted against it, so a neighbour the motion stream finds is a positive for the
   joint query's cross-stream term too (a cross-modal pseudo-label).

The paper is ISLR-only (MSASL, WLASL, NMFs-CSL, SLR500). The harness also fine-tunes the
pre-trained joint query encoder with the standard CSLR (CTC) and SLT heads (the SLT text
model is built from ``model.heads.slt.text``, as in ``scratch``). Pre-training reads only the
poses of the benchmark's pre-training corpus (never its text).

What the paper leaves open (or the harness cannot follow), and what the harness chose
(each a config switch, the standard choice by default):

- Skeleton first: the paper pre-trains a pose and an RGB branch, and (by its summaries)
  applies MPM to the RGB video; here MPM masks keypoints, and RGB enters only as
  precomputed clip features through a projection (``rgb.dim``): an in-batch symmetric
  InfoNCE (the RGB features are fixed inputs, so no momentum RGB encoder or RGB queue), with
  the intra-modal temperature. Even with RGB features the cell is therefore this harness's
  reading of the paper, with frozen RGB features.
- Without RGB, the second modality is the harness's: motion, its definition, its ``scale``
  (8: on SynthSign's pre-training corpus the rms of the normalised coordinates is 4-10 times
  that of the per-frame motion, per part), separate encoder weights and their shared start
  (``motion.init``), the form of the cross-stream loss (MoCo InfoNCE against the other
  stream's key and queue, symmetric, equal weight to the single-stream terms) and
  ``motion.enabled=False`` for single-stream pose MoCo (what every ``ccl_slr`` cell before
  this stream was).
- Queue, momentum, temperature: the MoCo / SkeletonCLR values where the paper gives none
  (tau 0.07, m 0.999; K 4096 in ``paper``), the same for both streams. K must stay below the
  corpus size: a queue as large as the corpus always holds a clip's own earlier key as one
  of its negatives, so it is refused.
- Key encoder batch norm: in training mode like the query encoder (single-device
  SkeletonCLR practice, no shuffled BN); only parameters follow the momentum, batch-norm
  statistics are the key encoder's own.
- The projection head: the MoCo v2 MLP (Linear-ReLU-Linear, ``proj_hidden``, ``embed_dim``),
  one per stream.
- MPM: motion is the mean point speed (displacement between consecutive good frames) per
  joint and per frame, relative to the clip's mean; masking points is masking the input
  (invalid, zero confidence). The anchors of the encoder's relative coordinates (the wrists
  of the hand parts, the nose tip of the face) are never masked (``mpm.keep_anchors``),
  since masking one would remove its whole part from that frame.
- SPM mines by key-key similarity (the query's own momentum key against its stream's queue,
  ``spm.mine_by='key'``: both sides come from the slowly moving encoder and see no MPM
  mask); ``'query'`` mines with the query itself (in the cross-stream terms, the query of
  one stream against the other stream's queue). Extra positives enter as SupCon's averaged
  log-likelihood (``spm.loss='mean'``) or the log of summed likelihoods (``'sum'``).
- Loss weights intra 1, motion 1, cross 1; augmentation ranges, MPM ratio 0.3 and
  protection 1, SPM top-5 above 0.8 cosine: harness choices (the paper's full text and
  values were not available when this was written; only its abstract).
- Fine-tuning uses the joint stream's query encoder (the shared ``build``: the encoder every
  method fine-tunes, on the positions every benchmark feeds); the motion stream, projection
  heads and key encoders exist only during pre-training.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from harness.core.registry import METHODS
from harness.core.tasks import TaskSpec
from harness.errors import ConfigError
from methods.common.method import EncoderMethod


@METHODS.register("ccl_slr")
class CCLSLR(EncoderMethod):
    """CCL-SLR: MoCo-style contrast within and across modalities with MPM and SPM; the
    modalities are the joint and motion streams of the pose unless RGB features are given."""

    tasks = ("islr", "cslr", "slt")
    summary = ("MoCo-style contrast within/across modalities + motion-preserving masking + "
               "semantic positive mining; pose-only adaptation (joint/motion streams) unless "
               "RGB features are given")
    presets_dir = Path(__file__).parent / "presets"
    has_pretraining = True
    #: the paper ablates its cross-modal loss, MPM and SPM; the single stream is the harness's
    ablations: ClassVar[dict[str, dict[str, Any]]] = {
        "no cross-modal consistency": {"model.ccl.weights.cross": 0.0},
        "single pose stream": {"model.ccl.motion.enabled": False},
        "no motion-preserving masking": {"model.ccl.mpm.ratio": 0.0},
        "no semantic positive mining": {"model.ccl.spm.topk": 0},
    }

    def describe(self, cfg: dict[str, Any], spec: TaskSpec) -> dict[str, Any]:
        """Input "pose+rgb" (the paper's modalities) where the benchmark has RGB features;
        else input "pose" and the variant "pose-only adaptation": the cross-modal
        consistency then runs between the joint and motion streams, and no paper number is
        compared with the cell."""
        if "rgb" in spec.inputs:
            return {"input": "pose+rgb", "variant": None}
        return {"input": "pose", "variant": "pose-only adaptation"}

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
