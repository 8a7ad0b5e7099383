"""``uni_sign``: Uni-Sign (Li, Zhou, Zhao, Wu, Hu, Li; ICLR 2025; arXiv 2501.15187), the
pose-only variant: every task is text generation by one mT5 conditioned on the pose.

What it is (see ``model.UniSignModel``):

1. Sign encoder: the shared part-wise ST-GCN (Uni-Sign's own pose encoder), no temporal
   transformer: mT5's relative attention orders the pose tokens.
2. A Linear maps the frame features to the LM width; these pose tokens follow the embedded
   prompt "Translate sign language video to {language}: ", and the mT5 encoder reads
   [prompt embeddings ; pose tokens] with an attention mask covering both (padded frames
   masked out).
3. Loss: token cross-entropy of the target text with label smoothing 0.2.
4. Pre-training (stage 1 of the paper, pose-only): generate the text of the benchmark's
   pose+text pre-training corpus (CSL-News in the paper, SynthSign's corpus here).
5. Fine-tuning continues from the pre-trained model (same tokenizer, LM weights, pose
   projection and sign encoder) and treats every task as generation: ISLR generates the
   gloss (scored by exact match), CSLR the gloss sequence (WER), SLT the sentence (BLEU).
   Test-time decoding: beam 4, up to 100 new tokens; greedy while selecting on dev.

What the paper leaves open, and what the harness chose (each a config switch under
``model.uni_sign`` unless named otherwise):

- The prompt (``prompt``): {language} is the benchmark's ``TaskSpec.language`` with a
  capital first letter, as in the release ("English", "Chinese"). The release tokenizes it
  with the tokenizer's special tokens, so an end-of-sequence token sits between the prompt
  and the pose tokens (``prompt_eos``, default True).
- The pre-training prompt's language (``pretrain_language``): None takes the pre-training
  spec's language, which the runner leaves at its default (english) because the stage does
  not depend on a benchmark; set it for a corpus in another language (chinese for CSL-News).
- Pose tokens: the shared encoder already ends in a Linear to ``d_model``; the pose Linear
  follows it. The paper preset sets ``d_model`` to the LM width (768) so the two together
  span what the release's single Linear(4 x 256, 768) spans. No positional encoding.
- Targets: at most ``max_target_tokens`` tokens including end-of-sequence (50, the
  release's truncation); the smoke preset allows 128 because its glosses encode as bytes.
- ISLR's ranked list (the release scores top-1 only): the distinct decoded candidates of a
  beam search with ``islr_beam`` beams (at least 5) and as many returned sequences, ordered
  by the (length-normalised) beam score; generations are not constrained to the class list,
  and a prediction counts only when it equals the reference gloss exactly.
- Beam ranking (``length_penalty``): 1.0, the Hugging Face and mT5 default the release
  decodes with (the beam score is the log-probability divided by the length); 0.0 ranks by
  the summed log-probability, which byte-spelled glosses may prefer (repeated letters are
  cheap per token under length normalisation).
- Checkpoint selection: greedy decoding on dev (``select_max_new_tokens``) where the release
  decodes dev with the test beam; the reported dev and test predictions use the beam.
- Tokenizer: mT5's SentencePiece in the paper preset. Offline presets train a byte-level BPE
  on the pre-training corpus text only, not on any benchmark's glosses: the pre-training
  stage is shared across benchmarks and sees only the corpus text, and mT5's vocabulary is
  not adapted to glosses either. Byte-level BPE encodes anything, so upper-case glosses
  become short byte pieces (longer targets, no unknown tokens). Without pre-training
  (``pretrain.epochs=0``) the tokenizer is trained on the fine-tuning targets (the class
  names, the gloss vocabulary or the training sentences).
- Schedule: 20 epochs at lr 3e-4 in both stages (the release's scripts); no gradient
  accumulation (``batch_size`` is the per-step batch), AdamW with the harness's warm-up and
  cosine schedule. The RGB stage (stage 2, pose-guided fusion) is not part of this variant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.registry import METHODS
from harness.tasks import TaskSpec
from methods.common.method import EncoderMethod


@METHODS.register("uni_sign")
class UniSign(EncoderMethod):
    """Uni-Sign, pose-only: prompt + pose tokens into mT5, every task as generation."""

    tasks = ("islr", "cslr", "slt")
    summary = "part-wise ST-GCN pose tokens + prompt into mT5; every task as generation"
    presets_dir = Path(__file__).parent / "presets"
    has_pretraining = True

    def build_pretrainer(self, cfg: dict[str, Any], spec: TaskSpec) -> Any:
        """The pre-training model: generates the corpus text; tokenizer trained on it."""
        from methods.uni_sign.model import build_model

        language = cfg["model"]["uni_sign"]["pretrain_language"] or spec.language
        return build_model(cfg, spec, spec.train_texts, language)

    def build(self, cfg: dict[str, Any], spec: TaskSpec, pretrained: Any = None) -> Any:
        """The generation model for ``spec.task``, continuing from ``pretrained`` if given."""
        from methods.uni_sign.model import build_model

        texts = spec.train_texts or spec.classes
        return build_model(cfg, spec, texts, spec.language, pretrained=pretrained)

    def release_extras(self, model: Any, state: dict[str, Any], source: str) -> list[str]:
        """The release's mT5 (``mt5_model.*``) into this model's LM."""
        from methods.uni_sign.model import load_release_lm

        return load_release_lm(model, state, source)
