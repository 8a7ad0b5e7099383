"""Mixed precision: the ``precision`` config value that every method's cells honour.

- ``fp32``: plain float32 throughout.
- ``bf16``: the forward pass and the losses run under ``torch.autocast`` in bfloat16, on the
  CPU (fast where it has AVX-512 BF16 or AMX) and on CUDA; weights, gradients and optimiser
  state stay float32 (autocast casts per operation), and bf16 has float32's exponent range,
  so no loss scaling is needed. Evaluation runs under the same autocast.
- ``fp16``: CUDA only: autocast in float16 with dynamic loss scaling (``GradScaler``), since
  float16 gradients underflow without it.

Precision is part of the pre-training key and the config hash: cells in different
precisions never share a pre-training or a table row.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from harness.errors import ConfigError

PRECISIONS = ("fp32", "bf16", "fp16")
_DTYPES = {"bf16": "bfloat16", "fp16": "float16"}


def check(precision: Any, device_type: str) -> str:
    """The precision name, or a ConfigError when it is unknown or not for this device."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision={precision!r} is not one of {', '.join(PRECISIONS)}")
    if precision == "fp16" and device_type != "cuda":
        raise ConfigError("precision=fp16 needs a CUDA device (float16 autocast on the CPU "
                          "is slow and unscaled); use precision=bf16 on the CPU")
    return precision


def autocast(precision: str, device_type: str) -> contextlib.AbstractContextManager[Any]:
    """The autocast context of ``precision`` on ``device_type`` (none for fp32)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    import torch

    return torch.autocast(device_type=device_type, dtype=getattr(torch, _DTYPES[precision]))


def grad_scaler(precision: str, device_type: str) -> Any:
    """A dynamic loss scaler for fp16 on CUDA, else None."""
    if precision != "fp16":
        return None
    import torch

    return torch.amp.GradScaler(device_type)


def native_bf16(device_type: str) -> bool:
    """Whether ``device_type`` computes bfloat16 natively (bf16 matrix units or instructions).

    On CUDA: compute capability 8.0 or later. On the CPU: the oneDNN bf16 kernels, which
    need AVX-512 BF16 or AMX; elsewhere (e.g. AVX2-only CPUs) bf16 is emulated through
    float32 and runs several times slower than float32 itself.
    """
    import torch

    if device_type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported(
            including_emulation=False))
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a build without the query: read the CPU flags
        try:
            flags = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
        return "avx512_bf16" in flags or "amx_bf16" in flags


def slow_warning(precision: str, device_type: str) -> str | None:
    """A line to show when ``precision`` will run emulated (slower than fp32) here."""
    if precision == "bf16" and not native_bf16(device_type):
        what = "CPU has no AVX-512 BF16 or AMX" if device_type == "cpu" else "GPU has no bf16"
        return (f"precision=bf16: this {what}, so bf16 is emulated and slower than fp32 "
                f"(the results are still valid bf16 results)")
    return None
