"""The training loop of one stage: optimisation, dev selection, checkpoints and resume.

Gradient accumulation: an optimiser step adds up the gradients of ``k`` consecutive batches
of the loader (``k = effective_batch_size / batch_size``, see
``harness.training.distributed.accumulation_steps``), each batch's loss divided by ``k``, so the
step follows the mean of the ``k`` batches' losses: the mean loss over the ``k x batch_size``
clips where a method's loss is a mean over clips (training batches all have ``batch_size``
clips: the loader drops a last partial batch), and each batch's mean weighing equally where
it is a mean over tokens, as DeepSpeed's accumulation weighs them. Gradient clipping,
fp16's unscaling and the optimiser step act on the accumulated gradient; on several ranks
DDP averages it once, on the last batch of the step (``no_sync`` on the others). An epoch
makes ``len(loader) // k`` optimiser steps, and the scheduler counts those; the last
``len(loader) % k`` batches of an epoch are not trained on (which clips they hold changes
with the epoch's shuffle).

A stage writes ``<stage>.last.pt`` every ``checkpoint_every`` optimiser steps and at the end
of every epoch (model, optimiser, scheduler, RNG states, position in the data, selection
state and history), and ``<stage>.best.pt`` whenever an epoch is selected; every checkpoint
falls between two optimiser steps, never inside an accumulation. A stage started again
continues from ``last``: a stage killed inside an accumulation repeats it from its first
batch, with the RNG state (dropout) of that moment, and because every batch is drawn from a
generator seeded by its position, the resumed stage ends with the same weights as an
uninterrupted one.

Selection on dev cannot favour an untrained model: an epoch is a candidate only when its
dev score beats the score of a trivial prediction (``trivial``: e.g. empty output or the
most frequent class), a candidate at least as good as the best so far replaces it (ties go
to the later epoch), and when no epoch is a candidate the last epoch is used and the state
says so (``selection_fallback``).

On several ranks (``world``, see harness/training/distributed.py) each rank trains on its share of
every batch through DDP, and rank 0 alone writes the checkpoints.

What a stage reports as it goes, none of which changes a number: every ``log_every``
optimiser steps, ``on_step`` receives the mean training loss of the batches since the last
report (over the ranks), the learning rate and the clips trained per second; at the end of
every epoch, ``on_epoch`` the epoch's mean losses and dev metrics. On a terminal, a bar for
the stage (its ETA) and one for the epoch (batches, loss, batches/s, ETA) are drawn
(harness.io.progress).
"""

from __future__ import annotations

import contextlib
import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch

from harness.core.config import POSITIVE, Rule, count, number
from harness.data.loader import ClipLoader
from harness.errors import ConfigError
from harness.io import checkpoint, faults, progress
from harness.training.distributed import SINGLE, World, accumulation_steps, share, wrap
from harness.training.precision import autocast, grad_scaler


@dataclass(frozen=True)
class StageConfig:
    """Optimisation settings of one stage (the ``finetune`` or ``pretrain`` config section)."""

    epochs: int
    lr: float
    weight_decay: float = 0.01
    warmup_ratio: float = 0.05
    grad_clip: float = 1.0
    eval_every: int = 1
    checkpoint_every: int = 50  # optimiser steps
    #: the clips one optimiser step trains on; None: one batch (no accumulation)
    effective_batch_size: int | None = None
    eps: float = 1e-8  # AdamW's; these two defaults are torch's
    betas: tuple[float, float] = (0.9, 0.999)
    #: optimiser steps between two points of the training-loss curve (``on_step``); 0: none.
    #: Absent from the presets (set with ``--set +finetune.log_every=N``): older configs,
    #: and their hashes, stay as they were.
    log_every: int = 10
    #: multipliers of ``lr`` for the parameters under named submodules, e.g.
    #: ``{"text_model": 0.25}``; the schedule scales every group alike
    lr_scale: dict[str, float] | None = None
    #: What each value of the section must be (with the batch sizes the runner reads from
    #: it), checked before a cell runs (``harness.core.config.check``). A stage trains at least
    #: one epoch; the runner lets ``pretrain.epochs`` be 0, "no pre-training".
    RULES: ClassVar[dict[str, Rule]] = {
        "epochs": count(1), "lr": POSITIVE, "weight_decay": number(0),
        "warmup_ratio": number(0, 1), "grad_clip": number(0), "eval_every": count(1),
        "checkpoint_every": count(0), "effective_batch_size": count(1), "eps": POSITIVE,
        "log_every": count(0),
        "betas": Rule("two numbers in [0, 1)", lambda v: isinstance(v, (list, tuple))
                      and len(v) == 2 and all(number(0, 1, high_open=True).ok(b) for b in v)),
        "batch_size": count(1), "eval_batch_size": count(1),
        "lr_scale": Rule("a mapping of submodule names to positive numbers", lambda v: v is None
                         or (isinstance(v, dict) and all(POSITIVE.ok(x) for x in v.values())))}

    @classmethod
    def from_config(cls, section: dict[str, Any]) -> StageConfig:
        """Build from a config section (extra keys such as batch_size are ignored here)."""
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in section.items() if k in fields})


def param_groups(model: torch.nn.Module, cfg: StageConfig) -> list[dict[str, Any]]:
    """AdamW's parameter groups: weight decay on parameters of two or more dimensions only,
    and ``lr`` times ``cfg.lr_scale[name]`` for the parameters under submodule ``name``
    (each scale names an existing submodule: a misspelt one is one ConfigError)."""
    scales = dict(cfg.lr_scale or {})
    modules = dict(model.named_modules())
    missing = sorted(set(scales) - set(modules))
    if missing:
        top = sorted(n for n in modules if n and "." not in n)
        raise ConfigError(f"lr_scale names {missing}, which are not submodules of the model "
                          f"(its top-level ones: {top})")
    groups: dict[tuple[float, bool], list[torch.nn.Parameter]] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        scale = next((s for prefix, s in scales.items() if name.startswith(prefix + ".")), 1.0)
        groups.setdefault((scale, p.ndim > 1), []).append(p)
    return [{"params": ps, "weight_decay": cfg.weight_decay if decay else 0.0,
             "lr": cfg.lr * scale} for (scale, decay), ps in groups.items()]


Evaluate = Callable[[Any], tuple[float, dict[str, float]]]
#: Receives a stage's metrics and the optimiser step they belong to.
Report = Callable[[dict[str, float], int], None]


class Trainer:
    """Trains ``model`` for one stage; ``evaluate`` (on dev) returns (selection value, metrics)."""

    def __init__(self, model: torch.nn.Module, stage: str, cfg: StageConfig, loader: ClipLoader,
                 ckpt_dir: Path, *, evaluate: Evaluate | None, higher_is_better: bool = True,
                 device: torch.device, log: Callable[[str], None],
                 on_epoch: Report | None = None, on_step: Report | None = None,
                 world: World = SINGLE, precision: str = "fp32",
                 trivial: float | None = None, quiet: bool = False) -> None:
        self.model, self.stage, self.cfg, self.loader = model, stage, cfg, loader
        self.world = world
        self.precision = precision
        self.scaler = grad_scaler(precision, device.type)
        # The model's own loss on one rank; through DDP (gradients averaged) on several.
        self.loss_of = wrap(model, world, device) if world.enabled else model.loss
        self.last_path = ckpt_dir / f"{stage}.last.pt"
        self.best_path = ckpt_dir / f"{stage}.best.pt"
        self.evaluate, self.higher, self.trivial = evaluate, higher_is_better, trivial
        self.device, self.log, self.on_epoch, self.on_step = device, log, on_epoch, on_step
        self.quiet = quiet or not world.main  # no progress bars (rank 0 alone draws them)
        # what the next ``on_step`` report averages: loss sum, batches, clips, since when
        self._window: list[float] = [0.0, 0, 0, time.perf_counter()]
        self.accumulation = accumulation_steps(stage, loader.batch_size,
                                               cfg.effective_batch_size)
        self.steps_per_epoch = len(loader) // self.accumulation
        if not self.steps_per_epoch:
            raise ConfigError(
                f"{stage}.effective_batch_size={cfg.effective_batch_size} adds up "
                f"{self.accumulation} batches of {loader.batch_size} in a step, but an epoch "
                f"has {len(loader)}: lower it to at most "
                f"{len(loader) * loader.batch_size} (--set {stage}.effective_batch_size=N)")
        self.optimizer = torch.optim.AdamW(param_groups(model, cfg), lr=cfg.lr, eps=cfg.eps,
                                           betas=tuple(cfg.betas))
        self.total_steps = max(1, cfg.epochs * self.steps_per_epoch)
        warmup = int(cfg.warmup_ratio * self.total_steps)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: _warmup_cosine(step, warmup, self.total_steps))
        self.state: dict[str, Any] = {
            "epoch": 0, "step": 0, "global_step": 0, "finished": False,
            "best_value": None, "best_epoch": None, "history": [],
            "sums": {}, "count": 0, "selection_fallback": False,
        }

    @property
    def batching(self) -> dict[str, Any]:
        """What one optimiser step trains on, for the result: the batch of one forward and
        backward over all ranks, each rank's share of it (a mean where the shares differ
        by one), the ranks, the batches added up per step and the clips per step."""
        size, ranks = self.loader.batch_size, self.world.size
        return {"batch_size": size, "world_size": ranks,
                "per_device_batch": size // ranks if size % ranks == 0 else size / ranks,
                "accumulation_steps": self.accumulation,
                "effective_batch_size": size * self.accumulation,
                "optimizer_steps_per_epoch": self.steps_per_epoch}

    # -- checkpoints ---------------------------------------------------------------------
    def _save(self) -> None:
        if not self.world.main:
            return
        cuda = self.device.type == "cuda"
        checkpoint.save({
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(), "rng": torch.get_rng_state(),
            **({"cuda_rng": torch.cuda.get_rng_state(self.device)} if cuda else {}),
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
        if self.device.type == "cuda" and "cuda_rng" in ckpt:  # dropout on the GPU
            torch.cuda.set_rng_state(ckpt["cuda_rng"], self.device)
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
        used = self.steps_per_epoch * self.accumulation  # batches trained on per epoch
        with progress.bar(f"{self.stage} ({self.cfg.epochs} epochs)",
                          total=self.cfg.epochs * used, unit="batch", average=True,
                          initial=self.state["epoch"] * used + self.state["step"],
                          quiet=self.quiet) as stage_bar:
            while self.state["epoch"] < self.cfg.epochs:
                self._train_epoch(stage_bar)
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

    def _train_epoch(self, stage_bar: Any) -> None:
        """Train one epoch (from ``state['step']``), evaluate, checkpoint and report it."""
        s, cfg, k = self.state, self.cfg, self.accumulation
        epoch = s["epoch"]
        started = time.perf_counter()
        self.model.train()
        used = self.steps_per_epoch * k  # the batches of whole steps; the rest is not used
        self._window = [0.0, 0, 0, time.perf_counter()]  # a resumed window starts afresh
        epoch_bar = progress.bar(f"epoch {epoch + 1}/{cfg.epochs}", total=used, unit="batch",
                                 initial=s["step"], quiet=self.quiet)
        batches = self.loader.batches(epoch, start=s["step"])
        with contextlib.closing(batches), epoch_bar:
            for batch in itertools.islice(batches, used - s["step"]):
                self._window[2] += len(batch)  # clips of the whole batch, over all ranks
                if self.world.enabled:
                    batch = batch.part(share(len(batch), self.world))
                if s["step"] % k == 0:
                    self.optimizer.zero_grad(set_to_none=True)
                last = (s["step"] + 1) % k == 0  # of an optimiser step's batches
                # on several ranks, DDP averages the accumulated gradient once, on the last
                sync = last or not self.world.enabled
                with contextlib.nullcontext() if sync else self.loss_of.no_sync():
                    losses, loss = self._backward(batch)
                s["step"] += 1
                s["count"] += 1
                for name, v in losses.items():
                    s["sums"][name] = s["sums"].get(name, 0.0) + float(v.detach())
                value = float(loss.detach())
                self._window[0] += value
                self._window[1] += 1
                epoch_bar.set_postfix_str(f"loss {value:.4f}", refresh=False)
                epoch_bar.update()
                stage_bar.update()
                if last:
                    self._optimizer_step()
        means = {name: v / max(1, s["count"]) for name, v in s["sums"].items()}
        record = {f"train_{name}": v for name, v in self.world.mean(means).items()}
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
        if self.on_epoch is not None:  # the learning rate is on_step's curve
            self.on_epoch({k: v for k, v in record.items() if k not in ("epoch_seconds", "lr")},
                          s["global_step"])
        self.log(summary + f" [{record['epoch_seconds']:.1f}s]")

    def _backward(self, batch: Any) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """One batch's forward and backward, its loss divided by the accumulation steps;
        returns its losses and the loss (in fp32 at least)."""
        with autocast(self.precision, self.device.type):
            losses = self.loss_of(batch.to(self.device))
        loss = losses["loss"]
        loss = loss.to(torch.promote_types(loss.dtype, torch.float32))
        if not torch.isfinite(loss):
            raise FloatingPointError(f"{self.stage}: loss became {loss.item()} at step "
                                     f"{self.state['global_step']}")
        part = loss / self.accumulation
        (self.scaler.scale(part) if self.scaler is not None else part).backward()
        return losses, loss

    def _optimizer_step(self) -> None:
        """Clip the accumulated gradient (unscaled first in fp16), step, and checkpoint when
        ``checkpoint_every`` optimiser steps are due."""
        s, cfg = self.state, self.cfg
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.scheduler.step()
        faults.point(f"{self.stage}.step")
        s["global_step"] += 1
        if cfg.log_every and s["global_step"] % cfg.log_every == 0:
            self._report_step()
        if cfg.checkpoint_every and s["global_step"] % cfg.checkpoint_every == 0:
            self._save()

    def _report_step(self) -> None:
        """Hand ``on_step`` the mean loss, learning rate and clips/s since the last report."""
        loss, batches, clips, since = self._window
        now = time.perf_counter()
        self._window = [0.0, 0, 0, now]
        if self.on_step is None or not batches:
            return
        mean = self.world.mean({"loss": loss / batches})["loss"]
        self.on_step({"loss": mean, "lr": self.scheduler.get_last_lr()[0],
                      "samples_per_s": clips / max(1e-9, now - since)}, self.state["global_step"])


def _better_or_equal(value: float, other: float, higher: bool) -> bool:
    return value >= other if higher else value <= other


def _warmup_cosine(step: int, warmup: int, total: int) -> float:
    if step < warmup:
        return (step + 1) / (warmup + 1)
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
