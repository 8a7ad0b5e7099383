"""The training loop of one stage: optimisation, dev selection, checkpoints and resume.

A stage writes ``<stage>.last.pt`` every ``checkpoint_every`` steps and at the end of every
epoch (model, optimiser, scheduler, RNG state, position in the data, selection state and
history), and ``<stage>.best.pt`` whenever an epoch is selected. A stage started again
continues from ``last``; because every batch is drawn from a generator seeded by its
position, the resumed stage ends with the same weights as an uninterrupted one.

Selection on dev cannot favour an untrained model: an epoch is a candidate only when its
dev score beats the score of a trivial prediction (``trivial``: e.g. empty output or the
most frequent class), a candidate at least as good as the best so far replaces it (ties go
to the later epoch), and when no epoch is a candidate the last epoch is used and the state
says so (``selection_fallback``).

On several ranks (``world``, see harness/distributed.py) each rank trains on its share of
every batch through DDP, and rank 0 alone writes the checkpoints.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from harness import checkpoint, faults
from harness.data import ClipLoader
from harness.distributed import SINGLE, World, share, wrap
from harness.precision import autocast, grad_scaler


@dataclass(frozen=True)
class StageConfig:
    """Optimisation settings of one stage (the ``finetune`` or ``pretrain`` config section)."""

    epochs: int
    lr: float
    weight_decay: float = 0.01
    warmup_ratio: float = 0.05
    grad_clip: float = 1.0
    eval_every: int = 1
    checkpoint_every: int = 50

    @classmethod
    def from_config(cls, section: dict[str, Any]) -> StageConfig:
        """Build from a config section (extra keys such as batch_size are ignored here)."""
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in section.items() if k in fields})


Evaluate = Callable[[Any], tuple[float, dict[str, float]]]


class Trainer:
    """Trains ``model`` for one stage; ``evaluate`` (on dev) returns (selection value, metrics)."""

    def __init__(self, model: torch.nn.Module, stage: str, cfg: StageConfig, loader: ClipLoader,
                 ckpt_dir: Path, *, evaluate: Evaluate | None, higher_is_better: bool = True,
                 device: torch.device, log: Callable[[str], None],
                 on_epoch: Callable[[dict[str, float], int], None] | None = None,
                 world: World = SINGLE, precision: str = "fp32",
                 trivial: float | None = None) -> None:
        self.model, self.stage, self.cfg, self.loader = model, stage, cfg, loader
        self.world = world
        self.precision = precision
        self.scaler = grad_scaler(precision, device.type)
        # The model's own loss on one rank; through DDP (gradients averaged) on several.
        self.loss_of = wrap(model, world, device) if world.enabled else model.loss
        self.last_path = ckpt_dir / f"{stage}.last.pt"
        self.best_path = ckpt_dir / f"{stage}.best.pt"
        self.evaluate, self.higher, self.trivial = evaluate, higher_is_better, trivial
        self.device, self.log, self.on_epoch = device, log, on_epoch
        decay = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
        no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
        self.optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": cfg.weight_decay},
             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr)
        self.total_steps = max(1, cfg.epochs * len(loader))
        warmup = int(cfg.warmup_ratio * self.total_steps)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: _warmup_cosine(step, warmup, self.total_steps))
        self.state: dict[str, Any] = {
            "epoch": 0, "step": 0, "global_step": 0, "finished": False,
            "best_value": None, "best_epoch": None, "history": [],
            "sums": {}, "count": 0, "selection_fallback": False,
        }

    # -- checkpoints ---------------------------------------------------------------------
    def _save(self) -> None:
        if not self.world.main:
            return
        checkpoint.save({
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(), "rng": torch.get_rng_state(),
            "state": self.state, **({"scaler": self.scaler.state_dict()} if self.scaler else {}),
        }, self.last_path)

    def _resume(self) -> bool:
        if not self.last_path.exists():
            return False
        ckpt = checkpoint.load(self.last_path)
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        torch.set_rng_state(ckpt["rng"])
        if self.scaler is not None and "scaler" in ckpt:
            self.scaler.load_state_dict(ckpt["scaler"])
        self.state = ckpt["state"]
        return True

    def _save_best(self, epoch: int) -> None:
        if self.world.main:
            checkpoint.save({"model": self.model.state_dict(), "epoch": epoch}, self.best_path)

    def _load_best(self) -> None:
        self.world.barrier()  # rank 0 has written the selected weights
        if self.best_path.exists():
            self.model.load_state_dict(checkpoint.load(self.best_path)["model"])

    def _selects(self, value: float) -> bool:
        """Whether an epoch with dev score ``value`` becomes the selected one: it beats the
        trivial score, and is at least as good as the best so far (ties: the later)."""
        if self.trivial is not None and (value == self.trivial or
                                         not _better_or_equal(value, self.trivial, self.higher)):
            return False
        best = self.state["best_value"]
        return best is None or _better_or_equal(value, best, self.higher)

    # -- loop ----------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        """Train (or resume) to the end of the stage and leave the selected weights loaded."""
        if self._resume():
            s = self.state
            if s["finished"]:
                self.log(f"{self.stage}: already trained, loading its selected weights")
                self._load_best()
                return s
            self.log(f"{self.stage}: resuming at epoch {s['epoch'] + 1}, batch {s['step']}")
        n_batches = len(self.loader)
        while self.state["epoch"] < self.cfg.epochs:
            self._train_epoch(n_batches)
        if self.state["best_epoch"] is None:  # no epoch beat the trivial score: the last
            self.state["best_epoch"] = self.state["epoch"]
            self.state["selection_fallback"] = True
            self._save_best(self.state["epoch"])
            self.log(f"{self.stage}: no epoch beat the trivial dev score {self.trivial}; the "
                     f"last epoch is used")
        self.state["finished"] = True
        self._save()
        self._load_best()
        return self.state

    def _train_epoch(self, n_batches: int) -> None:
        s, cfg = self.state, self.cfg
        epoch = s["epoch"]
        started = time.perf_counter()
        self.model.train()
        progress = _Progress(f"{self.stage} epoch {epoch + 1}/{cfg.epochs}", n_batches, s["step"])
        for batch in self.loader.batches(epoch, start=s["step"]):
            if self.world.enabled:
                batch = batch.part(share(len(batch), self.world))
            with autocast(self.precision, self.device.type):
                losses = self.loss_of(batch.to(self.device))
            loss = losses["loss"].float()
            if not torch.isfinite(loss):
                raise FloatingPointError(f"{self.stage}: loss became {loss.item()} at step "
                                         f"{s['global_step']}")
            self.optimizer.zero_grad(set_to_none=True)
            if self.scaler is not None:  # fp16: scaled backward, unscaled clipping
                self.scaler.scale(loss).backward()
                self.scaler.unscale_(self.optimizer)
            else:
                loss.backward()
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            if self.scaler is not None:
                self.scaler.step(self.optimizer)
                self.scaler.update()
            else:
                self.optimizer.step()
            self.scheduler.step()
            faults.point(f"{self.stage}.step")
            s["step"] += 1
            s["global_step"] += 1
            s["count"] += 1
            for k, v in losses.items():
                s["sums"][k] = s["sums"].get(k, 0.0) + float(v.detach())
            progress.update(s["step"], float(loss.detach()))
            if cfg.checkpoint_every and s["global_step"] % cfg.checkpoint_every == 0:
                self._save()
        progress.close()
        means = {k: v / max(1, s["count"]) for k, v in s["sums"].items()}
        record = {f"train_{k}": v for k, v in self.world.mean(means).items()}
        record["lr"] = self.scheduler.get_last_lr()[0]
        summary = f"{self.stage} epoch {epoch + 1}/{cfg.epochs}: loss {record['train_loss']:.4f}"
        last = epoch + 1 == cfg.epochs
        if self.evaluate is not None and ((epoch + 1) % cfg.eval_every == 0 or last):
            value, metrics = self.evaluate(self.model)
            self.model.train()
            record.update({f"dev_{k}": v for k, v in metrics.items()})
            improved = self._selects(value)
            if improved:
                s["best_value"], s["best_epoch"] = value, epoch + 1
                self._save_best(epoch + 1)
            summary += f", dev {value:.2f}" + (" (selected)" if improved else "")
        elif self.evaluate is None:
            self._save_best(epoch + 1)
            s["best_epoch"] = epoch + 1
        record["epoch_seconds"] = time.perf_counter() - started
        s["history"].append({"epoch": epoch + 1, **record})
        s["epoch"], s["step"], s["sums"], s["count"] = epoch + 1, 0, {}, 0
        self._save()
        if self.on_epoch is not None:
            self.on_epoch({k: v for k, v in record.items() if k != "epoch_seconds"},
                          s["global_step"])
        self.log(summary + f" [{record['epoch_seconds']:.1f}s]")


def _better_or_equal(value: float, other: float, higher: bool) -> bool:
    return value >= other if higher else value <= other


def _warmup_cosine(step: int, warmup: int, total: int) -> float:
    if step < warmup:
        return (step + 1) / (warmup + 1)
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


class _Progress:
    """A one-line progress display on an interactive terminal; silent otherwise."""

    def __init__(self, label: str, total: int, start: int) -> None:
        self.label, self.total = label, total
        self.enabled = sys.stderr.isatty()
        self.started = time.perf_counter()
        self.first = start

    def update(self, done: int, loss: float) -> None:
        if not self.enabled:
            return
        rate = (done - self.first) / max(1e-9, time.perf_counter() - self.started)
        sys.stderr.write(f"\r{self.label} {done}/{self.total} loss {loss:.4f} "
                         f"({rate:.1f} batches/s)\033[K")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
