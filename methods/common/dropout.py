"""Dropout whose CPU mask costs a fraction of ``torch.bernoulli``'s.

On the CPU, ``nn.Dropout`` draws one Mersenne-Twister number per element and turns it into
a float (about 5 ns an element on the machines of docs/performance.md). In the part-wise
ST-GCN at the paper shapes that was a third of a bf16 training step: 41M elements a step.
``Dropout`` here cuts its mask out of 64-bit random words from the same generator instead:
each word gives four 15-bit lanes (its four 16-bit quarters, top bit cleared: ``random_()``
on int64 is uniform on [0, 2**63), so the low 15 bits of every quarter are uniform), and an
element is kept when its lane is at or above ``round(p * 2**15)``. The probability of
dropping is then ``p`` rounded to a multiple of 2**-15 (0.1 becomes 0.100006, within
1.6e-5 of any ``p``); kept elements are scaled by ``1 / (1 - p_used)``, so the expectation
is the input exactly, and the gradient gets the same mask and scale. A quarter of a
generator call per element instead of one and no float conversion: forward and backward
take 35-40% of ``F.dropout``'s time (``python -m harness perf``, docs/performance.md).

The draw comes from torch's default CPU generator, so ``torch.manual_seed`` and the saved
RNG state of a checkpoint fix the masks as they fix ``nn.Dropout``'s (the masks differ from
``nn.Dropout``'s: a different reading of the same stream). On other devices (CUDA's fused
dropout is already fast) and for ``p`` within 2**-16 of 1 this is ``F.dropout``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_LANE_BITS = 15
_LANE_MASK = (1 << _LANE_BITS) - 1
_LANES_PER_WORD = 4


def keep_mask(shape: torch.Size | tuple[int, ...], p: float, dtype: torch.dtype = torch.bool
              ) -> tuple[torch.Tensor, float]:
    """A CPU mask of ``shape`` and ``dtype`` (1 keeps an element, with probability
    ``1 - p_used``; 0 drops it), and ``p_used``: ``p`` rounded to a multiple of 2**-15."""
    n = 1
    for d in shape:
        n *= int(d)
    threshold = round(p * (1 << _LANE_BITS))
    words = torch.empty(-(-n // _LANES_PER_WORD), dtype=torch.int64).random_()
    lanes = words.view(torch.int16)[:n].bitwise_and_(_LANE_MASK)
    # written straight in the caller's dtype: a product of mixed dtypes (x * bool) is
    # several times slower on the CPU than one of a single dtype
    keep = torch.ge(lanes, threshold, out=torch.empty(n, dtype=dtype))
    return keep.view(shape), threshold / (1 << _LANE_BITS)


class _MaskScale(torch.autograd.Function):
    """x * keep * scale, with the same mask and scale for the gradient."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, keep: torch.Tensor,  # type: ignore[override]
                scale: float) -> torch.Tensor:
        ctx.save_for_backward(keep)
        ctx.scale = scale
        return x.mul(keep).mul_(scale)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        (keep,) = ctx.saved_tensors
        return grad.mul(keep).mul_(ctx.scale), None, None


def dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Inverted dropout of ``x`` (``F.dropout``'s contract), the fast mask on the CPU."""
    if not training or p == 0.0:
        return x
    if (x.device.type != "cpu" or not x.is_floating_point()
            or round(p * (1 << _LANE_BITS)) >= 1 << _LANE_BITS):  # p within 2**-16 of 1
        return F.dropout(x, p, True)
    keep, used = keep_mask(x.shape, p, x.dtype)
    return _MaskScale.apply(x, keep, 1.0 / (1.0 - used))


class Dropout(nn.Module):
    """``nn.Dropout`` with the fast CPU mask of this module (same parameter, same state)."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Dropout of x in training mode, x itself in evaluation mode."""
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
