"""Seq2seq text models: built from a config (offline) or loaded from a local path or cache."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.errors import UserError
from methods.text.tokenizer import train_bytelevel_bpe


def load_pretrained(name_or_path: str, kind: str = "seq2seq") -> tuple[Any, Any]:
    """(model, tokenizer) from a local folder or the local Hugging Face cache, never the hub."""
    from transformers import AutoModel, AutoModelForSeq2SeqLM, AutoTokenizer

    auto = AutoModelForSeq2SeqLM if kind == "seq2seq" else AutoModel
    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path, local_files_only=True)
        model = auto.from_pretrained(name_or_path, local_files_only=True)
    except OSError:
        raise UserError(
            f"text model {name_or_path!r} is not on this machine and nothing is downloaded at "
            f"run time; fetch it where there is internet (e.g. `hf download {name_or_path} "
            f"--local-dir DIR`), copy DIR here and pass it with "
            f"--set model.text.name_or_path=DIR") from None
    return model, tokenizer


def build_seq2seq(text_cfg: dict[str, Any], train_texts: Sequence[str]) -> tuple[Any, Any]:
    """(model, tokenizer) for a text config.

    ``type='tiny_t5'`` builds a randomly initialised T5 of the configured size with a
    byte-level BPE tokenizer trained on ``train_texts``; ``type='pretrained'`` loads
    ``name_or_path`` from local files.
    """
    kind = text_cfg.get("type", "tiny_t5")
    if kind == "pretrained":
        return load_pretrained(str(text_cfg["name_or_path"]))
    if kind != "tiny_t5":
        raise ValueError(f"unknown text model type {kind!r}")
    from transformers import T5Config, T5ForConditionalGeneration

    tokenizer = train_bytelevel_bpe(train_texts, int(text_cfg.get("vocab_size", 2000)))
    config = T5Config(
        vocab_size=len(tokenizer), d_model=int(text_cfg["d_model"]),
        d_ff=int(text_cfg["d_ff"]), d_kv=int(text_cfg["d_model"]) // int(text_cfg["heads"]),
        num_heads=int(text_cfg["heads"]), num_layers=int(text_cfg["encoder_layers"]),
        num_decoder_layers=int(text_cfg["decoder_layers"]),
        dropout_rate=float(text_cfg.get("dropout", 0.1)), pad_token_id=0, eos_token_id=1,
        decoder_start_token_id=0, feed_forward_proj="relu", tie_word_embeddings=True)
    return T5ForConditionalGeneration(config), tokenizer
