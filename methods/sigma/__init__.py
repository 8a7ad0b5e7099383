"""``sigma``: Semantically Informative pre-training for skeleton-based SLU (Pu, Lim, Chong,
Loy, 2025; arXiv 2509.21223). No public code exists; this is the harness's reference
implementation, built from the paper's description and its reviews.

What it is (``model.SigmaPretrainer``, ``fusion``, ``losses``):

1. Sign encoder: the part-wise ST-GCN shared with the other methods (``model.encoder``;
   Uni-Sign's release encoder, no temporal transformer by default).
2. Text backbone through transformers: mT5-base by local path in the ``paper`` preset (its
   encoder encodes text, its decoder is the LM); offline presets use a tiny T5 built from a
   config with a tokenizer trained on the pre-training text (``smoke``), or the packaged
   MiniLM encoder with a tiny T5 decoder (``smoke_minilm``).
3. The SGT encoder's cross-modal layers, where sign-aware early fusion (SignEF) acts
   (``fusion.SGTEncoder``, ``model.sigma.fusion``): ``layers`` layers over the unimodal
   encoders' outputs, each a text-stream layer (self-attention, cross-attention to the sign,
   feed-forward) and then a sign-stream layer (self-attention over frames with sinusoidal
   positions, cross-attention to the text as just updated, feed-forward).
4. Hierarchical alignment (HAL): global symmetric InfoNCE on pooled fused embeddings with a
   learnable temperature; local cluster-wise alignment between K sign clusters and the
   text's units.
5. Sign-grounded text (SGT): matching of each scored pair with hard negatives mined from
   the alignment similarities, and language modelling of the text from text-free sign
   features.
6. L = L_HAL + L_SGT = w_hal_global L_global + w_hal_local L_local + w_sgt_match L_match
   + w_sgt_lm L_lm (``model.sigma.weights``; a weight of 0 ablates that objective).

What is known of the paper: its abstract names "a sign-aware early fusion mechanism that
facilitates deep interaction between visual and textual modalities, enriching visual
features with linguistic context" and "a unified pre-training framework that combines
contrastive learning, text matching and language modelling"; its overview figure (caption as
quoted by secondary summaries) has SignEF "injecting cross-modal features into sign and text
encoders", with bidirectional cross-attention at the encoding stage, and "During
fine-tuning, both the sign and SGT encoders are reused across SLU tasks". It does not say
which features each loss reads, nor how the SGT encoder runs with no text; the reviews
asked how inference works without text, and for the text-unit and cluster ablations. The
harness's answers:

SignEF inside the encoding, and how each loss avoids a trivial solution:

- HAL (global and local) aligns fused features: every clip's frames attend to the tokens of
  all of the batch's texts, and every text's tokens to the frames of all of the batch's
  clips (``memory='batch'``: one memory shared by every row, padding left out). The memory
  is the same set for every row, so which text is paired with which clip is in no feature:
  permuting the pairing leaves each clip's and each text's features as they were and only
  permutes the columns of the similarity matrices (``tests/test_sigma.py``). A clip can
  raise its score with its own text only by attending to the text its own content matches,
  which is the alignment the loss asks for. Rejected: clip i fused with text i (the loss is
  then solved by copying the answer), clip i fused with every text but its own (the missing
  one names the answer), every clip fused with every text (B x B encoder passes, and a
  pair-wise score instead of an embedding per clip).
- SGT matching scores each pair fused with itself (``memory='pair'``), as BLIP's image-text
  matching does: its answer, matched or not, is what the head predicts from the two sides,
  on every positive and on the hardest negatives mined from the alignment similarities
  (``mine_from`` global or local; identical texts are positives, never negatives), so the
  fused pair must show whether the text fits the clip, not merely that a text is there.
- SGT language modelling conditions on the clip's text-free features (below), never on a
  fused memory that holds its target (which it could copy): the features are projected to
  the LM's width and are the seq2seq encoder's input embeddings (the text encoder applied
  to sign tokens); the decoder generates the text. These are the features SLT decodes from.

Fine-tuning and inference without text: ISLR, CSLR and SLT fine-tune
``model.SigmaSignEncoder``, the shared ST-GCN followed by the SGT encoder's layers (both
streams, pre-trained weights) in their text-free form: the text stream holds one token, the
text encoder's encoding of the empty string "" (mean over its special tokens), which attends
to the clip's frames; the frames then attend to it. That is the path the LM is pre-trained
on, so the text-free form is pre-trained too. In the fine-tuning model the empty text's
encoding is a parameter (``empty_text``) starting from the pre-trained text encoder's value
(the text encoder of a constant input is a constant; carrying mT5's encoder for one vector
would add ~280M parameters). ``encode`` never reads ``batch.text``: a batch with empty or
other texts gives the same predictions (tested). Under the shared heads: ISLR a linear
classifier on mean-pooled frames, CSLR CTC; SLT also reuses the sign-to-LM projection, the
tokenizer and the whole seq2seq LM (its encoder is the text encoder, run over the sign
tokens as in pre-training) and decodes with beam search. So the sign encoder and the SGT
encoder (text encoder + cross-modal layers) both take part in every task. The alignment
projections, cluster aggregator and matching head exist only in pre-training. Sigma's
fine-tuning model has ``fusion.layers`` transformer layers more than ``scratch``'s (the
shared encoder has none); without pre-training (``pretrain.epochs=0``) they start at
random, as does ``empty_text``.

The "no early fusion" ablation (``fusion.mode='text_only'``): the sign stream has no
cross-attention, so a clip never reads text; the alignment features are unimodal on both
sides (``memory='none'``); the text still reads its pair's clip in matching (a late fusion,
BLIP's, the only place where a text meets a clip); the LM conditions on the sign stream
alone; the fine-tuning encoder has no text stream and no ``empty_text``. The layers keep
their self-attention and feed-forward, so the ablation removes fusion, not capacity.

Other choices the paper leaves open (each a config switch):

- The SGT layers: ``fusion.layers`` (2 in ``paper``, 1 in ``smoke``), ``heads``, ``ff``,
  ``dropout``; the text stream is updated first and the sign stream reads the updated text,
  so that one layer carries both directions into the sign features (with the empty text,
  a summary of the clip itself). Each cross-attention's output passes a learned tanh gate
  that starts closed (Flamingo's gated cross-attention): fused features start equal to the
  unimodal ones and the losses open the gates where reading the other modality helps. A
  first ungated version read the whole batch's other modality at full strength from the
  first step, which added a batch-dependent blur to every clip's and text's features: its
  held-out alignment losses after the smoke pre-training were 2.76 / 2.57 (global /
  local) against 2.10 / 2.16 without fusion.
- The local level (Eq. 2 / Algorithm 1 are loosely written): K learned-query attention
  pools over fused frames give the clusters (``clusters``); text units are sub-word tokens
  or whole words (sub-word features averaged per word; ``text_unit``); the clip-text score
  is the mean of text-to-sign (each unit's best cluster) and sign-to-text (each cluster's
  best unit) cosine similarities, in a symmetric InfoNCE. The paper has no temperature
  here; the harness uses a fixed ``local_temperature`` (0.1); 1.0 is the literal reading.
- Pre-training corpus and heads are not public: the harness pre-trains on the benchmark's
  pose+text corpus (SynthSign's pre-training corpus; a real corpus by name later) and uses
  the shared heads.

Whether the switch matters is measured, not assumed: the "no-early-fusion" row of Sigma's
ablation table (``sweeps/sigma_synth_islr.yaml``, leaderboards/islr.md) compares it with the
full model over three seeds, with a paired bootstrap over the test clips and an interval of
the per-seed differences. On synth-islr at the smoke size (code 898f9e8) it is -4.63 points,
within the seeds' noise (docs/measurements/2026-12-07-sigma-ablations-898f9e8.md).
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any, ClassVar

from harness.core.registry import METHODS
from harness.core.tasks import TaskSpec
from methods.common.method import EncoderMethod


@METHODS.register("sigma")
class Sigma(EncoderMethod):
    """Sigma: SignEF + hierarchical alignment + sign-grounded text pre-training."""

    tasks = ("islr", "cslr", "slt")
    summary = "SignEF + global/local alignment + sign-grounded text pre-training"
    presets_dir = Path(__file__).parent / "presets"
    has_pretraining = True
    pretrains_with_text = True
    preset_family: ClassVar[dict[str, str]] = {"smoke_minilm": "smoke"}
    encoder_differences: ClassVar[dict[str, str]] = {
        "model.heads.slt.text": "SLT decodes with Sigma's own LM (model.text), which the SGT "
                                "path pre-trains, not with a separate text model",
    }
    ablations: ClassVar[dict[str, dict[str, Any]]] = {  # the paper's ablations
        "no early fusion": {"model.sigma.fusion.mode": "text_only"},
        "global alignment only": {"model.sigma.weights.hal_local": 0.0},
        "local alignment only": {"model.sigma.weights.hal_global": 0.0},
        "no sign-text matching": {"model.sigma.weights.sgt_match": 0.0},
        "no language modelling": {"model.sigma.weights.sgt_lm": 0.0},
    }

    def build_pretrainer(self, cfg: dict[str, Any], spec: TaskSpec) -> Any:
        """The pre-training model; its tokenizer is trained on ``spec.train_texts``."""
        from methods.sigma.model import SigmaPretrainer

        return SigmaPretrainer(cfg, spec.train_texts)

    def build_encoder(self, cfg: dict[str, Any], spec: TaskSpec) -> Any:
        """The fine-tuning encoder: the shared sign encoder ``model.encoder`` followed by the
        SGT encoder layers of ``model.sigma.fusion`` in their text-free form."""
        from methods.sigma.model import SigmaSignEncoder

        return SigmaSignEncoder(layout=spec.layout, sgt=cfg["model"]["sigma"]["fusion"],
                                **cfg["model"]["encoder"])

    def pretrained_encoder(self, cfg: dict[str, Any], spec: TaskSpec, pretrained: Any) -> Any:
        """``build_encoder``'s encoder with ``pretrained``'s sign encoder, SGT encoder layers
        and empty-text encoding (if given)."""
        encoder = self.build_encoder(cfg, spec)
        if pretrained is not None:
            encoder.continue_from(pretrained)
        return encoder

    def build(self, cfg: dict[str, Any], spec: TaskSpec, pretrained: Any = None) -> Any:
        """The fine-tuning model, continuing from ``pretrained`` (a SigmaPretrainer)."""
        from methods.heads.models import Seq2SeqModel

        if spec.task != "slt":
            return super().build(cfg, spec, pretrained)
        heads = cfg["model"]["heads"]
        encoder = self.pretrained_encoder(cfg, spec, pretrained)
        if pretrained is None:
            return Seq2SeqModel(encoder, spec, {**heads["slt"], "text": cfg["model"]["text"]})
        lm = copy.deepcopy(pretrained.lm)
        backbone = dataclasses.replace(pretrained.backbone, seq2seq=lm, encoder=lm.get_encoder(),
                                       encoder_width=lm.config.d_model)
        return Seq2SeqModel(encoder, spec, heads["slt"], backbone=backbone,
                            proj=copy.deepcopy(pretrained.lm_proj))
