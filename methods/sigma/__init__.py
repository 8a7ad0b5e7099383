"""``sigma``: Semantically Informative pre-training for skeleton-based SLU (Pu, Lim, Chong,
Loy, 2025; arXiv 2509.21223). No public code exists; this is the harness's reference
implementation, built from the paper's description and its reviews.

What it is (see ``model.SigmaPretrainer`` and ``losses``):

1. Sign encoder: the part-wise ST-GCN shared with the other methods, followed by temporal
   transformer layers (``model.encoder.context``).
2. Text backbone through transformers: mT5-base by local path in the ``paper`` preset (its
   encoder encodes text for alignment and fusion, its decoder is the LM); offline presets
   use a tiny T5 built from a config with a tokenizer trained on the pre-training text
   (``smoke``), or the packaged MiniLM encoder with a tiny T5 decoder (``smoke_minilm``).
3. Sign-aware early fusion (SignEF): cross-attention in both directions between visual and
   text tokens (``model.sigma.fusion``).
4. Hierarchical alignment (HAL): global symmetric InfoNCE on pooled embeddings with a
   learnable temperature; local cluster-wise alignment between K sign clusters and the
   text's units.
5. Sign-grounded text (SGT): matching on fused features with hard negatives mined from the
   contrastive similarities, and language modelling of the text from the sign features.
6. L = L_HAL + L_SGT = w_hal_global L_global + w_hal_local L_local + w_sgt_match L_match
   + w_sgt_lm L_lm (``model.sigma.weights``; a weight of 0 ablates that objective).

What the paper leaves open, and what the harness chose (each a config switch):

- Where SignEF sits "inside the encoders": the harness applies ``fusion.layers`` blocks on
  top of both unimodal encoders. Contrastive losses use the unimodal features (fused
  features would let a clip see its own caption); matching uses the fused ones, as in BLIP.
  ``fusion.mode='text_only'`` (text attends to signs, signs never to text) is the
  "no early fusion" ablation.
- The local level (Eq. 2 / Algorithm 1 are loosely written): K learned-query attention
  pools over frames give the clusters (``clusters``); text units are sub-word tokens or
  whole words (sub-word features averaged per word; ``text_unit``); the clip-text score is
  the mean of text-to-sign (each unit's best cluster) and sign-to-text (each cluster's best
  unit) cosine similarities, in a symmetric InfoNCE. The paper has no temperature here;
  the harness uses a fixed ``local_temperature`` (0.1); 1.0 is the literal reading.
- Hard negatives: the hardest non-matching pair per row and column of the similarity
  matrix (``mine_from`` global or local); clips whose texts are identical are positives,
  never negatives (synthetic and real corpora repeat sentences).
- The LM conditions on the unimodal sign features (projected to the LM width and fed as
  the seq2seq encoder's input embeddings), never on fused ones, which have seen the text.
- Pre-training corpus and heads are not public: the harness pre-trains on the benchmark's
  pose+text corpus (SynthSign's pre-training corpus; a real corpus by name later) and uses
  the shared heads.

How fine-tuning and inference work without text (the reviewers' question): no text enters
a fine-tuned model. ISLR and CSLR reuse the pre-trained sign encoder (ST-GCN + temporal
transformer) under the shared classifier / CTC heads; SLT reuses the sign encoder, the
sign-to-LM projection, the tokenizer and the whole seq2seq LM of the SGT path, and decodes
with beam search from the sign features alone. The fusion blocks, the alignment heads and
the matching head exist only during pre-training.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any, ClassVar

from harness.registry import METHODS
from harness.tasks import TaskSpec
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
