"""Tokenizers trained on a benchmark's own text (offline, seconds, deterministic)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

PAD, EOS, UNK = "<pad>", "</s>", "<unk>"


def train_bytelevel_bpe(texts: Sequence[str], vocab_size: int = 2000) -> Any:
    """A byte-level BPE tokenizer (lossless round trip) trained on ``texts``.

    Ids 0, 1, 2 are pad, end-of-sequence and unknown, the T5 convention; encoding appends
    the end-of-sequence token.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[PAD, EOS, UNK],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(list(texts), trainer)
    tok.post_processor = processors.TemplateProcessing(single=f"$A {EOS}",
                                                       special_tokens=[(EOS, 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=PAD, eos_token=EOS,
                                   unk_token=UNK)


CASES = {"lower": str.lower, "upper": str.upper, "title": str.title}


def with_word_cases(texts: Sequence[str], cases: Sequence[str]) -> list[str]:
    """``texts`` and, once each, every word of them written in each of ``cases`` (lower,
    upper, title): what a tokenizer trained on general text of the language covers, where
    a word in capitals (a gloss) is as common as the word itself. No cases: ``texts``."""
    unknown = sorted(set(cases) - set(CASES))
    if unknown:
        raise ValueError(f"unknown word cases {unknown}; known: {sorted(CASES)}")
    if not cases:
        return list(texts)
    words = sorted({w for t in texts for w in t.split()})
    return [*texts, *(" ".join(CASES[c](w) for w in words) for c in cases)]
