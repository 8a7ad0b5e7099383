"""fp16 training's dynamic loss scaling, run through the trainer on the CPU.

The harness allows ``precision=fp16`` only on CUDA, where it is fast; the trainer's scaled
backward, unscaling before clipping, skipped steps on overflow and the scaler's state in the
checkpoint are the same code on any device, and torch's ``GradScaler`` runs on the CPU, so
they are tested here on a small ISLR model.
"""

from __future__ import annotations

import pytest
import torch

from harness.core.tasks import TaskSpec
from harness.data.loader import ClipLoader
from harness.io import checkpoint
from harness.training.trainer import StageConfig, Trainer
from methods.encoders.stgcn import PartwiseSTGCN
from methods.heads.models import ClassifierModel
from tests.test_data import OPTS, store  # noqa: F401  (the module's store fixture)

CPU = torch.device("cpu")


def fresh_model() -> ClassifierModel:
    torch.manual_seed(0)
    enc = PartwiseSTGCN(embed=8, spatial=[16], temporal=[16], d_model=16)
    return ClassifierModel(enc, TaskSpec("islr", classes=["G0", "G1", "G2", "G3"]), {})


def trained(store, folder, precision: str, scale: float | None = None,  # noqa: F811
            epochs: int = 3):
    model = fresh_model()
    folder.mkdir(parents=True)
    loader = ClipLoader(store, store.split("train"), 4, OPTS, train=True, seed=0, stage="ft")
    trainer = Trainer(model, "finetune", StageConfig(epochs=epochs, lr=3e-3, grad_clip=1.0),
                      loader, folder, evaluate=None, device=CPU, log=lambda _: None,
                      precision=precision)
    if scale is not None:
        trainer.scaler = torch.amp.GradScaler("cpu", init_scale=scale)
    trainer.run()
    return model, trainer


def weights(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()
            if v.is_floating_point()}


def test_fp16_updates_follow_fp32_with_float32_master_weights(store, tmp_path):  # noqa: F811
    start = weights(fresh_model())
    m32, _ = trained(store, tmp_path / "fp32", "fp32")
    m16, t16 = trained(store, tmp_path / "fp16", "fp16")
    assert isinstance(t16.scaler, torch.amp.GradScaler)
    w32, w16 = weights(m32), weights(m16)
    assert all(w.dtype == torch.float32 for w in w16.values())  # master weights stay fp32
    moved = max((w32[k] - start[k]).abs().max().item() for k in w32)
    gap = max((w16[k] - w32[k]).abs().max().item() for k in w32)
    assert moved > 1e-2
    assert gap < 0.2 * moved, (gap, moved)
    # the scaler's state is checkpointed with the stage, so a resumed run scales as it did
    saved = checkpoint.load(tmp_path / "fp16" / "finetune.last.pt")
    assert saved["scaler"]["scale"] == pytest.approx(t16.scaler.get_scale())


def test_an_overflowing_scale_skips_steps_and_backs_off(store, tmp_path):  # noqa: F811
    """A scale so large that the fp16 gradients overflow: those steps are skipped (the
    weights stay finite), the scale halves until the gradients fit, and training goes on."""
    start = weights(fresh_model())
    model, trainer = trained(store, tmp_path / "fp16", "fp16", scale=2.0 ** 24, epochs=6)
    after = weights(model)
    assert trainer.scaler.get_scale() <= 2.0 ** 17  # fp16 overflows above 65504
    assert all(torch.isfinite(w).all() for w in after.values())
    assert max((after[k] - start[k]).abs().max().item() for k in after) > 1e-3
