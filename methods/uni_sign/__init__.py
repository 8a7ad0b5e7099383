"""``uni_sign``: Uni-Sign (Li, Zhou, Zhao, Wu, Hu, Li; ICLR 2025; arXiv 2501.15187), the
pose-only variant: every task is text generation by one mT5 conditioned on the pose.

What it is (see ``model.UniSignModel``), as the release (github ZechengLi19/Uni-Sign) has it:

1. Sign encoder: the shared part-wise ST-GCN, which is Uni-Sign's own pose encoder
   (``tests/test_encoder_golden.py`` shows it computes the release's function); its last
   Linear is the release's ``pose_proj``, so ``model.encoder.d_model`` is the LM's width
   and the frame features go to the LM as they are (pose tokens, no positional encoding:
   mT5's relative attention orders them).
2. The pose tokens follow the embedded prompt "Translate sign language video to
   {language}: "; the mT5 encoder reads [prompt embeddings ; pose tokens] with an attention
   mask covering both (padded frames masked out).
3. Loss: token cross-entropy of the target text with label smoothing 0.2.
4. Pre-training (stage 1 of the paper, pose-only): generate the text of the pose+text
   pre-training corpus (CSL-News in the paper, SynthSign's corpus here).
5. Fine-tuning continues from the pre-trained model (same tokenizer, LM weights and sign
   encoder) and treats every task as generation of the label file's fields as the release
   does: ISLR generates the clip's ``text`` (for the release's WLASL labels the lower-case
   word; SynthSign gives each gloss a word), CSLR the gloss sequence, SLT the sentence.
   Decoding: beam 4, up to 100 new tokens, the same for dev selection and for the reported
   dev and test predictions.
6. A release checkpoint (``--set pretrain.checkpoint=PATH``, its ``model`` state dict)
   loads the pose encoder and the mT5 (``mt5_model.*``) of the release.

What the paper leaves open, and what the harness chose (each a config switch under
``model.uni_sign`` unless named otherwise):

- The prompt (``prompt``): {language} is the benchmark's ``TaskSpec.language`` with a
  capital first letter, as in the release ("English", "Chinese"). The release tokenizes it
  with the tokenizer's special tokens, so an end-of-sequence token sits between the prompt
  and the pose tokens (``prompt_eos``, default True).
- The pre-training prompt's language (``pretrain_language``): None takes the pre-training
  spec's language, which the runner leaves at its default (english) because the stage does
  not depend on a benchmark; set it for a corpus in another language (chinese for CSL-News).
- Targets: at most ``max_target_tokens`` tokens including end-of-sequence (50, the
  release's truncation).
- ISLR classes: a class's target is the text its training clips carry (the gloss where
  they carry none); a generated text counts as the class whose target it equals exactly
  (the release compares the generated text with the reference text, which is the same
  test). The ranked list (the release scores top-1 only) holds the distinct decoded
  candidates of a beam search with ``islr_beam`` beams (at least 5) and as many returned
  sequences, ordered by the (length-normalised) beam score; generations are not
  constrained to the class list.
- Beam ranking (``length_penalty``): 1.0, the Hugging Face and mT5 default the release
  decodes with; 0.0 ranks by the summed log-probability.
- Tokenizer: mT5's SentencePiece in the paper preset. Offline presets train a byte-level BPE
  (with a leading space before the first word, as SentencePiece adds one) on the
  pre-training corpus's text and the prompt; ``model.text.word_cases`` adds each word in
  capitals and title case, as a general vocabulary covers a gloss written in capitals. The
  pre-training stage is shared across benchmarks and sees only the corpus text. Without
  pre-training (``pretrain.epochs=0``) the tokenizer is trained on the fine-tuning targets
  (the class texts, the gloss vocabulary or the training sentences).
- Schedule: the paper preset follows the release's scripts (``presets/paper.py`` names the
  source of every value); the smoke preset is the harness's, small enough for 2 CPU cores:
  the LM learns at a quarter of the sign encoder's rate (``lr_scale``), and pre-training runs
  long enough for the LM's loss to depend on the pose (six epochs; see the preset's comment).
  The RGB stage (stage 2, pose-guided fusion) is not part of this variant.
- Grounding: after pre-training, the harness checks on held-out pairs that the LM's loss
  is lower with a clip's own text than with another clip's (``harness.cell.grounding``): an LM
  that learned the corpus's language but ignores the pose shows a gap of zero.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.core.registry import METHODS
from harness.core.tasks import TaskSpec
from methods.common.method import EncoderMethod


@METHODS.register("uni_sign")
class UniSign(EncoderMethod):
    """Uni-Sign, pose-only: prompt + pose tokens into mT5, every task as generation."""

    tasks = ("islr", "cslr", "slt")
    summary = "part-wise ST-GCN pose tokens + prompt into mT5; every task as generation"
    presets_dir = Path(__file__).parent / "presets"
    has_pretraining = True
    pretrains_with_text = True

    def build_pretrainer(self, cfg: dict[str, Any], spec: TaskSpec) -> Any:
        """The pre-training model: generates the corpus text; tokenizer trained on it."""
        from methods.uni_sign.model import build_model

        language = cfg["model"]["uni_sign"]["pretrain_language"] or spec.language
        return build_model(cfg, spec, spec.train_texts, language)

    def build(self, cfg: dict[str, Any], spec: TaskSpec, pretrained: Any = None) -> Any:
        """The generation model for ``spec.task``, continuing from ``pretrained`` if given
        (else with a tokenizer trained on the task's targets)."""
        from methods.uni_sign.model import build_model

        targets = spec.train_texts or [t or g for g, t in zip(
            spec.classes, spec.class_texts or [""] * len(spec.classes), strict=True)]
        return build_model(cfg, spec, targets, spec.language, pretrained=pretrained)

    def release_extras(self, model: Any, state: dict[str, Any], source: str) -> list[str]:
        """The release's mT5 (``mt5_model.*``) into this model's LM."""
        from methods.uni_sign.model import load_release_lm

        return load_release_lm(model, state, source)
