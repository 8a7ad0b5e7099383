"""Sigma's SGT encoder layers, where SignEF acts: two streams of transformer layers, a text
stream that attends to the sign and a sign stream that attends to the text.

Each of the ``fusion.layers`` layers updates the text stream first (self-attention,
cross-attention to the sign stream, feed-forward) and then the sign stream (self-attention,
cross-attention to the text stream as just updated, feed-forward), so that with a single
layer both directions reach the sign features. What each stream reads across
(``SGTEncoder.forward``'s ``memory``):

- ``"pair"``: row i of the sign stream with row i of the text stream (sign-text matching,
  which scores its own pair as BLIP's image-text matching does; and the text-free path,
  where the text is the empty text);
- ``"batch"``: every row reads the other modality of the whole batch, one shared memory
  (hierarchical alignment): a clip reads all of the batch's texts and a text all of its
  clips, padding excluded, so which text is paired with which clip is invisible to both;
- ``"none"``: no cross-attention (unimodal features, the "no early fusion" ablation's
  alignment features).

``mode='text_only'`` builds the sign stream without cross-attention: the sign never attends
to text anywhere, the text stream still attends to the sign where asked (matching).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from methods.encoders.stgcn import PositionalEncoding

MEMORIES = ("pair", "batch", "none")
MODES = ("bidirectional", "text_only")


class Attention(nn.Module):
    """Multi-head attention of queries (B, N, d) over a memory that is either per row
    ((B, M, d) with a (B, M) mask) or one memory shared by every row ((M, d), (M,) mask)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"model.sigma.fusion.heads={heads} does not divide the width {dim}")
        self.heads = heads
        self.q, self.k = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.v, self.out = nn.Linear(dim, dim), nn.Linear(dim, dim)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        """(..., L, d) -> (..., heads, L, d / heads)."""
        return x.unflatten(-1, (self.heads, -1)).transpose(-3, -2)

    def forward(self, x: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Attended values (B, N, d); ``mask`` is True where a memory entry takes part."""
        b, n, d = x.shape
        q, k, v = self._split(self.q(x)), self._split(self.k(memory)), self._split(self.v(memory))
        if memory.dim() == 2:  # shared: every query of the batch reads the same memory
            q = q.transpose(0, 1).reshape(1, self.heads, b * n, d // self.heads)
            out = F.scaled_dot_product_attention(q[0], k, v, attn_mask=mask[None, None, :])
            out = out.reshape(self.heads, b, n, -1).transpose(0, 1)
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None, None, :])
        return self.out(out.transpose(1, 2).reshape(b, n, d))


class StreamLayer(nn.Module):
    """Pre-norm transformer layer: self-attention, cross-attention (if built), feed-forward."""

    def __init__(self, dim: int, heads: int, ff: int, dropout: float, cross: bool) -> None:
        super().__init__()
        self.norm_self, self.self_attn = nn.LayerNorm(dim), Attention(dim, heads)
        self.norm_cross = nn.LayerNorm(dim) if cross else None
        self.cross_attn = Attention(dim, heads) if cross else None
        # tanh gate on the cross-attention, closed at the start (Flamingo's gated
        # cross-attention): fusion starts as the unimodal stream and opens where it helps
        self.gate = nn.Parameter(torch.zeros(())) if cross else None
        self.ff = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, ff), nn.GELU(),
                                nn.Linear(ff, dim))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, memory: torch.Tensor | None = None,
                memory_mask: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, N, d) with mask (B, N); ``memory`` None: no cross-attention."""
        h = self.norm_self(x)
        x = x + self.drop(self.self_attn(h, h, mask))
        if memory is not None:
            if self.cross_attn is None:
                raise RuntimeError("this stream was built without cross-attention")
            attended = self.cross_attn(self.norm_cross(x), memory, memory_mask)
            x = x + self.gate.tanh() * self.drop(attended)
        return x + self.drop(self.ff(x))


class SGTEncoder(nn.Module):
    """The cross-modal layers of Sigma's SGT encoder (config ``model.sigma.fusion``).

    ``with_text=False`` leaves the text stream out (a text-free model whose sign stream does
    not read text: the fine-tuning encoder of the ``text_only`` ablation).
    """

    def __init__(self, dim: int, layers: int, heads: int, ff: int, dropout: float = 0.0,
                 mode: str = "bidirectional", with_text: bool = True) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"model.sigma.fusion.mode={mode!r}: one of {MODES}")
        self.bidirectional = mode == "bidirectional"
        self.position = PositionalEncoding(dim)
        self.sign_layers = nn.ModuleList(StreamLayer(dim, heads, ff, dropout, self.bidirectional)
                                         for _ in range(layers))
        self.text_layers = (nn.ModuleList(StreamLayer(dim, heads, ff, dropout, True)
                                          for _ in range(layers)) if with_text else None)

    def forward(self, v: torch.Tensor, v_mask: torch.Tensor, t: torch.Tensor | None,
                t_mask: torch.Tensor | None, memory: str, need_text: bool = True
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Sign frames (B, T, d) and text tokens (B', L, d) through the layers; ``memory``
        says what each stream reads across (module docstring). Padded frames come out as
        zeros. ``need_text=False``: the text stream is run only where the sign reads it."""
        if memory not in MEMORIES:
            raise ValueError(f"unknown memory {memory!r}")
        v = self.position(v)
        run_text = t is not None and (need_text or (self.bidirectional and memory != "none"))
        for i, sign_layer in enumerate(self.sign_layers):
            if run_text:
                if self.text_layers is None:
                    raise RuntimeError("this SGT encoder was built without its text stream")
                t = self.text_layers[i](t, t_mask, *_memory(v, v_mask, memory))
            read = self.bidirectional and run_text and memory != "none"
            v = sign_layer(v, v_mask, *(_memory(t, t_mask, memory) if read else (None, None)))
        return v * v_mask[..., None].to(v.dtype), t if run_text else None

    def textless(self, v: torch.Tensor, v_mask: torch.Tensor, empty_text: torch.Tensor | None
                 ) -> torch.Tensor:
        """Sign features (B, T, d) with no text input: the text stream holds the empty
        text's encoding (1, d), which reads its own clip; the sign reads it in turn."""
        if not self.bidirectional or empty_text is None:
            return self(v, v_mask, None, None, "none", need_text=False)[0]
        t = empty_text[None].expand(len(v), -1, -1)
        mask = torch.ones(t.shape[:2], dtype=torch.bool, device=v.device)
        return self(v, v_mask, t, mask, "pair", need_text=False)[0]


def _memory(x: torch.Tensor, mask: torch.Tensor, memory: str
            ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """What the other stream reads of ``x``: itself per row, its whole batch's real entries
    as one shared memory, or nothing."""
    if memory == "pair":
        return x, mask
    if memory == "batch":
        pooled = x[mask]
        return pooled, torch.ones(len(pooled), dtype=torch.bool, device=x.device)
    return None, None


def build_sgt(dim: int, cfg: dict[str, Any], with_text: bool = True) -> SGTEncoder:
    """The SGT encoder layers ``model.sigma.fusion`` describes, at the sign width ``dim``."""
    return SGTEncoder(dim, int(cfg["layers"]), int(cfg["heads"]), int(cfg.get("ff", 2 * dim)),
                      float(cfg.get("dropout", 0.0)), cfg.get("mode", "bidirectional"),
                      with_text=with_text)
