"""One cell, end to end: resolve, open data, train (resuming), evaluate, record.

Output of a cell, under ``<out>/cells/<bench>/<method>/<cell_key>/``::

    config.json           the resolved config and the identity of the cell
    checkpoints/          <stage>.last.pt and <stage>.best.pt (resume and selection)
    predictions/dev.jsonl, predictions/test.jsonl   id, prediction, reference
    predictions/test.stats.json   per-clip metric statistics of the test predictions, for
                          the leaderboard's paired comparisons (harness.analysis.significance)
    log.txt               the cell's log lines
    result.json           written last and atomically: the cell is finished when it validates

Once a finished cell is recorded in MLflow, its ``finetune.last.pt`` (what a killed cell
resumes from) is deleted; ``finetune.best.pt``, the selected weights, stays (``--keep-last``
keeps both). A cell killed before the deletion is finished all the same, and deletes it
when it is next run (see ``_record_finished``).

Pre-training does not depend on the fine-tuning benchmark, so it is shared: a cell pre-trains
into ``<out>/pretrained/<method>/<key>/`` (checkpoints/ and pretrained.json, written when the
stage is finished), where ``key`` hashes everything the stage reads (method, seed, model,
pretrain and precision config, the data options it uses, the corpus fingerprint). Cells with
the same key (the same method and seed fine-tuned on several benchmarks, or with different
fine-tuning settings) reuse it; one pre-trains while the others wait on its lock, and a killed
pre-training resumes from its checkpoint in whichever cell comes next.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.cell.results import RESULT_FILE, SCHEMA_VERSION, load_finished, problems
from harness.core.config import (
    apply_config_file,
    apply_overrides,
    config_hash,
    file_record,
    load_preset,
    merge,
    short_hash,
)
from harness.core.registry import BENCHMARKS, METHODS
from harness.core.tasks import TaskSpec
from harness.errors import ConfigError, DataError, UserError
from harness.io import atomic, faults, progress
from harness.io.locks import file_lock
from harness.training import precision
from harness.training.distributed import World, accumulation_steps, init, shutdown, world_from_env

#: Written once a finished cell's MLflow run is complete (metrics, tags, artifacts, FINISHED).
TRACKED = "tracked.json"
#: The MLflow tags of a cell's identity, each as ``harness.<key>``.
_TAGGED = ("method", "preset", "bench", "task", "seed", "cell_key", "config_hash",
           "data_fingerprint")
_METHOD_KEYS = ("model", "finetune", "pretrain", "precision", "data", "task_overrides")


@dataclass
class RunOptions:
    """Everything `python -m harness run` takes; only method, bench, preset, overrides and
    seed change the numbers (the rest says where things go and how fast they run)."""

    method: str
    bench: str
    seed: int = 0
    preset: str = "smoke"
    overrides: list[str] = field(default_factory=list)
    config_file: Path | None = None  # a user's config file, merged before the overrides
    out: Path = Path("outputs")
    tracking_uri: str | None = None
    data_root: Path | None = None
    force: bool = False
    device: str = "auto"
    threads: int | None = None
    loader_workers: int = 0  # batches built in this many processes (0: a background thread)
    quiet: bool = False
    keep_last: bool = False  # keep finetune.last.pt of a finished cell (default: deleted)


def resolve_bench_config(bench_name: str, overrides: list[str]) -> dict[str, Any]:
    """A benchmark's preset with ``--set`` overrides (what ``prepare`` needs)."""
    bench_cls = BENCHMARKS.get(bench_name)
    cfg = load_preset(bench_cls.preset)
    cfg["bench"] = {**cfg.get("bench", {}), "name": bench_name, "task": bench_cls.task,
                    "version": bench_cls.version}
    return apply_overrides(cfg, overrides)


def method_preset(method_cls: Any, preset: str) -> dict[str, Any]:
    """A method's preset: its files (the shared base, then its own) merged in order."""
    cfg: dict[str, Any] = {}
    for path in method_cls.preset_files(preset):
        cfg = merge(cfg, load_preset(path))
    return cfg


def resolve_config(method_name: str, bench_name: str, preset: str, overrides: list[str],
                   config_file: Path | None = None) -> dict[str, Any]:
    """Method preset + benchmark preset + the method's task overrides + a user's config file
    (``--config``, merged as ``--set`` would set its values) + ``--set`` overrides."""
    method_cls = METHODS.get(method_name)
    bench_cls = BENCHMARKS.get(bench_name)
    if bench_cls.task not in method_cls.tasks:
        raise UserError(f"method {method_name} does not do {bench_cls.task} "
                        f"(it does {', '.join(method_cls.tasks)})")
    mcfg = method_preset(method_cls, preset)
    bcfg = load_preset(bench_cls.preset)
    unknown = set(mcfg) - set(_METHOD_KEYS)
    if unknown:
        raise RuntimeError(f"preset {preset} of {method_name} has unknown sections {unknown}")
    task_over = mcfg.pop("task_overrides", {}).get(bench_cls.task, {})
    cfg = merge(merge(bcfg, mcfg), task_over)
    cfg["method"] = {"name": method_name, "preset": preset}
    cfg["bench"] = {**cfg.get("bench", {}), "name": bench_name, "task": bench_cls.task,
                    "version": bench_cls.version}
    if config_file is not None:
        cfg = apply_config_file(cfg, config_file)
    cfg = apply_overrides(cfg, overrides)
    for key in ("method", "bench"):
        if cfg[key]["name"] != (method_name if key == "method" else bench_name):
            raise ConfigError(f"{key}.name cannot be overridden; use --{key}")
    return cfg


def check_values(cfg: dict[str, Any]) -> None:
    """Fail before anything runs on a value out of its range or not one of its choices:
    each section against the rules declared beside the code that reads it
    (``harness.core.config.Rule``), then the batch sizes against each other."""
    from harness.core.config import check, count, flag
    from harness.data.loader import DataOptions
    from harness.training.trainer import StageConfig

    check("finetune", cfg.get("finetune"), StageConfig.RULES)
    # pretrain.epochs=0 is "no pre-training" (CellRun.pretraining)
    check("pretrain", cfg.get("pretrain"), {**StageConfig.RULES, "epochs": count(0)})
    DataOptions.check("data", cfg.get("data"))
    DataOptions.check("pretrain.data", (cfg.get("pretrain") or {}).get("data"))
    check("", cfg, {"compile": flag()})  # torch.compile of the sign encoders (compile_units)
    METHODS.get(cfg["method"]["name"]).check_config(cfg)
    for name in ("finetune", "pretrain"):  # an effective batch of whole batches
        section = cfg.get(name)
        if isinstance(section, dict) and "batch_size" in section:
            accumulation_steps(name, section["batch_size"], section.get("effective_batch_size"))


def compile_units(model: Any, device_type: str) -> int:
    """``torch.compile`` every module of ``model`` that declares itself a ``compile_unit``
    (the sign encoders), in place, so that the state dict keeps its keys; returns how many.

    Compiled kernels may round differently from eager ones, so ``compile`` is part of the
    config hash and of the pre-training key. It pays on GPUs; on the CPUs measured it does
    not (docs/performance.md).
    """
    if device_type == "cpu" and not (os.environ.get("CXX") or any(
            shutil.which(c) for c in ("c++", "g++", "clang++"))):
        raise ConfigError("compile=true on the CPU needs a C++ compiler (TorchInductor builds "
                          "C++ kernels); install g++ or set compile=false")
    import torch

    units = [m for m in model.modules() if getattr(m, "compile_unit", False)]
    for unit in units:
        unit.compile()
    # deterministic kernels in Inductor's generated code too (see deterministic_kernels)
    torch.use_deterministic_algorithms(True, warn_only=True)
    return len(units)


def cell_key_of(method: str, bench: str, seed: int, chash: str, fingerprint: str) -> str:
    """The identity of a cell: method, benchmark, seed, config hash and data fingerprint."""
    return short_hash(method, bench, seed, chash, fingerprint)


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch, and ask torch for deterministic kernels."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    torch.manual_seed(seed)
    deterministic_kernels()


def deterministic_kernels() -> None:
    """``torch.use_deterministic_algorithms(True, warn_only=True)`` without its cost.

    The public call also sets the flag in TorchInductor's config, and importing that config
    imports TorchDynamo and Inductor: about 2.4 s of every cell's start-up here, for a
    compiler no cell uses. When Inductor is not loaded, only the kernel flag is set (the
    same flag the public call sets); when it is, the public call sets both.
    """
    import sys

    import torch

    flag = getattr(torch._C, "_set_deterministic_algorithms", None)
    if flag is None or "torch._inductor.config" in sys.modules:
        torch.use_deterministic_algorithms(True, warn_only=True)
    else:
        flag(True, warn_only=True)


PRETRAINED_FILE = "pretrained.json"


@contextmanager
def shared_lock(path: Path, log: Any) -> Iterator[None]:
    """Hold an exclusive lock on a shared pre-training, waiting while another cell has it."""
    def waiting() -> None:
        log(f"pretrain: waiting for another cell that is pre-training in {path}")

    with file_lock(path / ".lock", busy=waiting):
        yield


def _load_pretrained_record(path: Path) -> dict[str, Any] | None:
    """The record of a finished shared pre-training, or None when it has not finished."""
    import json

    try:
        record = json.loads((path / PRETRAINED_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        raise DataError(f"{path / PRETRAINED_FILE} is unreadable; delete {path} to pre-train "
                        f"again") from None
    return record


@contextmanager
def cell_lock(cell_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on a cell so that one process at a time runs it."""
    def taken() -> None:
        raise UserError(f"cell {cell_dir} is being run by another process; wait for it or "
                        f"stop it first")

    with file_lock(cell_dir / ".lock", busy=taken):
        yield



def freeze(module: Any) -> None:
    """Fix ``module``'s weights and keep it in eval mode (a linear probe's encoder)."""
    import types

    for p in module.parameters():
        p.requires_grad_(False)
    module.eval()
    # train() on the parent model recurses into children: keep this one (and its batch-norm
    # statistics and dropout) in eval mode however the trainer switches the model.
    module.train = types.MethodType(lambda self, mode=True: self, module)

class CellRun:
    """The state of one cell while it runs."""

    def __init__(self, opts: RunOptions) -> None:
        self.opts = opts
        self.cfg = resolve_config(opts.method, opts.bench, opts.preset, opts.overrides,
                                  opts.config_file)
        self.config_file = file_record(opts.config_file) if opts.config_file else None
        check_values(self.cfg)
        self.chash = config_hash(self.cfg)
        self.precision = self.cfg.get("precision", "fp32")
        precision.check(self.precision, "cuda")  # the name here; the device when it is known
        self.method = METHODS.get(opts.method)()
        self.bench = BENCHMARKS.get(opts.bench)(self.cfg, root=opts.data_root)
        self.task = self.bench.task
        pre = self.cfg.get("pretrain") or {}
        # a checkpoint is loaded for any method (it starts the encoder); a method with a
        # pre-training stage pre-trains when it has epochs to run
        self.pretraining = bool(pre.get("checkpoint") or (
            self.method.has_pretraining and int(pre.get("epochs", 0)) > 0))
        self.timings: dict[str, float] = {}
        self.log_file: Any = None
        self.world: World = world_from_env()

    def log(self, msg: str, console: bool = True) -> None:
        """Print a line of progress and keep it in the cell's log (rank 0 alone speaks;
        ``--quiet`` silences progress, never a warning; ``console=False``: the log alone,
        for what the caller reports itself, such as the test metrics)."""
        line = f"[{self.opts.bench}/{self.opts.method} seed {self.opts.seed}] {msg}"
        if console and (not self.opts.quiet or msg.startswith("warning:")) and self.world.main:
            progress.write(line)
        if self.log_file is not None:
            self.log_file.write(time.strftime("%Y-%m-%d %H:%M:%S ") + msg + "\n")
            self.log_file.flush()

    def identify(self) -> Path:
        """Open the cell's data and compute its data fingerprint, cell key and folder."""
        self.store = self.bench.open()
        self.fingerprint = self.store.fingerprint
        self.pretrain_store = None
        if self.pretraining:
            self.pretrain_store = self.bench.pretrain_store()
            parts = [self.store.fingerprint, self.pretrain_store.fingerprint]
            ckpt = self.cfg["pretrain"].get("checkpoint")
            if ckpt:
                parts.append(_file_sha256(Path(ckpt)))
            self.fingerprint = short_hash(*parts)
        self.cell_key = cell_key_of(self.opts.method, self.opts.bench, self.opts.seed,
                                    self.chash, self.fingerprint)
        self.cell_dir = self.opts.out / "cells" / self.opts.bench / self.opts.method / \
            self.cell_key
        return self.cell_dir

    def run(self) -> CellOutcome:
        """Run (or skip, or resume) the cell."""
        started = time.perf_counter()
        t0 = time.perf_counter()
        cell_dir = self.identify()
        self.timings["open_data"] = time.perf_counter() - t0
        device = _device(self.opts.device, self.world)
        precision.check(self.precision, device.type)
        slow = precision.slow_warning(self.precision, device.type)
        if slow:
            self.log(f"warning: {slow}")
        self.world = init(self.world, device.type)
        try:
            return self._run(cell_dir, device, started)
        finally:
            shutdown(self.world)

    def _run(self, cell_dir: Path, device: Any, started: float) -> CellOutcome:
        world = self.world
        done = world.broadcast(load_finished(cell_dir) if world.main else None)
        if done is not None and not self.opts.force:  # the caller reports the result
            if world.main and not (cell_dir / TRACKED).exists():
                from harness.cell.tracking import Tracker

                with cell_lock(cell_dir):
                    tracker = Tracker(done["mlflow"]["tracking_uri"],
                                      artifact_root=self.opts.out / "mlartifacts")
                    tracker.start(self.cell_key, f"{self.opts.method}/{self.opts.bench}/"
                                  f"s{self.opts.seed}", {})
                    self._record_finished(tracker, done)
                self.log(f"completed its MLflow run {tracker.run_id}, which the cell had "
                         "not finished recording")
            return CellOutcome(done, cell_dir / RESULT_FILE, skipped=True, main=world.main)
        with contextlib.ExitStack() as stack:
            busy = None
            if world.main:
                try:
                    stack.enter_context(cell_lock(cell_dir))
                except UserError as exc:
                    busy = str(exc)
                if busy is None and self.opts.force:
                    for child in cell_dir.iterdir():
                        if child.name != ".lock":
                            shutil.rmtree(child) if child.is_dir() else child.unlink()
            busy = world.broadcast(busy)  # every rank stops, or none
            if busy is not None:
                raise UserError(busy)
            if world.main:
                self.log_file = stack.enter_context(
                    open(cell_dir / "log.txt", "a", encoding="utf-8"))
            try:
                return self._run_locked(started, device)
            finally:
                self.log_file = None

    def _run_locked(self, started: float, device: Any) -> CellOutcome:
        import torch

        from harness.cell.tracking import SOURCE_NAME, NoTracker, Tracker, default_uri, flatten
        from harness.io.provenance import code_version, environment, slurm_context
        from harness.training.distributed import state_checksum

        opts, cfg, main = self.opts, self.cfg, self.world.main
        (self.cell_dir / "checkpoints").mkdir(exist_ok=True)
        identity = {"method": opts.method, "preset": opts.preset, "bench": opts.bench,
                    "task": self.task, "seed": opts.seed, "cell_key": self.cell_key,
                    "config_hash": self.chash, "data_fingerprint": self.fingerprint,
                    "config_file": self.config_file}
        if main:
            atomic.write_json(self.cell_dir / "config.json", {**identity, "config": cfg})
        uri = opts.tracking_uri or default_uri(opts.out)
        tracker = Tracker(uri, artifact_root=opts.out / "mlartifacts") if main else NoTracker()
        if opts.force:
            tracker.forget(self.cell_key)
        code = code_version()  # of the code this process runs
        tags = {f"harness.{k}": str(identity[k]) for k in _TAGGED}
        tags["mlflow.source.name"], tags["mlflow.source.type"] = SOURCE_NAME, "LOCAL"
        if code["git_sha"]:
            tags["mlflow.source.git.commit"] = code["git_sha"]
        run_id = tracker.start(self.cell_key, f"{opts.method}/{opts.bench}/s{opts.seed}", tags)
        for name, store, context in ((opts.bench, self.store, "finetune"),
                                     ("pretrain corpus", self.pretrain_store, "pretrain")):
            if store is not None:
                tracker.log_dataset(name, self.bench.version, store.fingerprint, store.path,
                                    store.splits(), context)
        self.log(f"cell {self.cell_key} in {self.cell_dir}; MLflow run {run_id} at {uri}")
        if self.world.enabled:
            self.log(f"data parallel over {self.world.size} ranks ({self.world.backend})")
        checks = self.checks()
        try:
            tracker.log_params({**flatten(cfg), "seed": opts.seed,
                                "world_size": self.world.size})
            if opts.threads:
                torch.set_num_threads(opts.threads)
            result, model = self._train_and_evaluate(device, tracker)
            result.update({
                "schema": SCHEMA_VERSION, "status": "finished", **{
                    k: identity[k] for k in ("method", "preset", "bench", "task", "seed",
                                             "cell_key", "config_hash", "config_file")},
                "benchmark": {"name": opts.bench, "version": self.bench.version,
                              "fingerprint": self.fingerprint,
                              "store_fingerprint": self.store.fingerprint,
                              "store": str(self.store.path), "counts": self.store.splits()},
                "checks": checks,
                "code": code, "environment": environment(str(device)),
                "slurm": slurm_context(), "mlflow": {"tracking_uri": uri, "run_id": run_id},
                "distributed": {"world_size": self.world.size,
                                "backend": self.world.backend or None,
                                "model_checksums": self.world.gather(state_checksum(model))},
                "files": {"config": "config.json", "log": "log.txt",
                          **{f"predictions_{s}": f"predictions/{s}.jsonl"
                             for s in result["metrics"]}},
            })
            self.timings["total"] = time.perf_counter() - started
            result["timings"] = dict(self.timings)
            bad = problems(result)
            if bad:
                raise RuntimeError(f"result of {self.cell_key} does not validate: {bad}")
            if not main:
                return CellOutcome(result, self.cell_dir / RESULT_FILE, skipped=False,
                                   main=False)
            faults.point("result.before", self.cell_dir / RESULT_FILE)
            atomic.write_json(self.cell_dir / RESULT_FILE, result)
            faults.point("result.written")
            self._record_finished(tracker, result)
        except UserError:
            tracker.finish("FAILED")
            raise
        except BaseException as exc:
            status = "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
            if main:
                atomic.write_text(self.cell_dir / "error.txt", traceback.format_exc())
            tracker.finish(status)
            raise
        (self.cell_dir / "error.txt").unlink(missing_ok=True)
        self.log(f"finished in {self.timings['total']:.1f}s")
        return CellOutcome(result, self.cell_dir / RESULT_FILE, skipped=False)

    def checks(self) -> dict[str, Any]:
        """Whether the preset is meant for the benchmark and the store's splits hold the
        expected clips (``Method.preset_meant_for``, ``Benchmark.completeness``): what
        result.json records as ``checks``, with one warning line for each that fails.
        Neither stops the cell (partial data is how one tries a benchmark out), but the
        leaderboard never compares such a cell with a paper's number."""
        from harness.data.benchmark import shortfall

        bench, method = self.opts.bench, self.opts.method
        meant = type(self.method).preset_meant_for(self.opts.preset, self.bench.synthetic)
        checks = {"preset_meant_for_benchmark": meant,
                  **self.bench.completeness(self.store.splits())}
        if not meant:
            self.log(f"warning: preset {self.opts.preset} of {method} is not meant for {bench}'s "
                     f"real data (it is sized for SynthSign): its numbers are not comparable "
                     f"with papers'; use --preset "
                     f"{' or '.join(type(self.method).real_data_presets)}")
        if checks["complete"] is False:
            self.log(f"warning: the prepared {bench} store is incomplete ({shortfall(checks)} "
                     f"clips expected): its numbers are not comparable with papers'")
        return checks

    def _record_finished(self, tracker: Any, result: dict[str, Any]) -> None:
        """Log a finished result to the cell's MLflow run (the test and dev metrics at the
        last optimiser step, after the training curves), finish the run, delete
        ``finetune.last.pt`` (unless ``keep_last``) and mark the cell as recorded there
        (``tracked.json``): a cell killed between writing its result and this has its run
        completed, and the checkpoint deleted, when it is next run (see ``_run``)."""
        training = (result.get("training") or {}).get("finetune") or {}
        last_step = training.get("optimizer_steps_per_epoch", 0) * len(result["history"])
        tracker.log_metrics({f"{split}_{k}": v for split, vals in result["metrics"].items()
                             for k, v in vals.items()}, last_step)
        tags = {"harness.status": "finished"}
        if result["code"]["git_sha"]:  # the code that finished the cell (it may resume)
            tags["mlflow.source.git.commit"] = result["code"]["git_sha"]
        tracker.set_tags(tags)
        for name in (RESULT_FILE, "config.json", "log.txt"):
            if (self.cell_dir / name).is_file():
                tracker.log_artifact(self.cell_dir / name)
        tracker.log_artifacts(self.cell_dir / "predictions", "predictions")
        tracker.finish("FINISHED")
        faults.point("mlflow.finished")
        if not self.opts.keep_last:  # resuming needs it no more; the selection is in best
            (self.cell_dir / "checkpoints" / "finetune.last.pt").unlink(missing_ok=True)
        atomic.write_json(self.cell_dir / TRACKED,
                          {"tracking_uri": tracker.uri, "run_id": tracker.run_id})

    def _train_and_evaluate(self, device: Any, tracker: Any) -> dict[str, Any]:
        from harness.data.loader import ClipLoader, DataOptions, train_subset
        from harness.training.trainer import StageConfig, Trainer

        opts, cfg, store = self.opts, self.cfg, self.store
        log_stage = {stage: (lambda rec, step, stage=stage: tracker.log_metrics(
            {f"{stage}.{k}": v for k, v in rec.items()}, step)) for stage in ("pretrain",
                                                                               "finetune")}
        pretrained, pre_state = None, None
        if self.pretraining:
            pretrained, pre_state = self._pretrain(device, log_stage["pretrain"])
        seed_everything(opts.seed + 1)  # the same start whether or not pre-training resumed
        spec = self.bench.task_spec(store)
        t0 = time.perf_counter()
        model = self.method.build(cfg, spec, pretrained=pretrained).to(device)
        self._compile(model, device)
        del pretrained
        if cfg["finetune"].get("freeze_encoder"):
            freeze(model.encoder)
            self.log("sign encoder frozen (finetune.freeze_encoder): only the head trains")
        self.timings["build"] = time.perf_counter() - t0
        data_opts = DataOptions.from_config(cfg["data"], model.input_joints)
        ft = cfg["finetune"]
        batch_size = int(ft["batch_size"])
        eval_bs = int(ft.get("eval_batch_size", batch_size))
        feed = self._feed(device)
        loaders = {split: ClipLoader(store, store.split(split), eval_bs, data_opts,
                                     train=False, **feed) for split in self.bench.splits
                   if split != "train"}
        train_ids = train_subset(store, store.split("train"), cfg["data"],
                                 by_gloss=self.task == "islr")
        if len(train_ids) < len(store.split("train")):
            self.log(f"fine-tuning on {len(train_ids)} of {len(store.split('train'))} "
                     f"training clips (data.train_fraction)")
        train_loader = ClipLoader(store, train_ids, batch_size, data_opts,
                                  train=True, seed=opts.seed, stage="finetune", **feed)
        protocol = self.bench.metric_protocol()  # it names the metric that selects
        metric, higher = protocol.selection, protocol.higher_is_better(protocol.selection)
        select = self.bench.select_split

        def evaluate(m: Any) -> tuple[float, dict[str, float]]:
            scores = self._score(m, loaders[select], select, device=device)[0]
            return scores.metrics[metric], scores.metrics

        trivial = self._trivial_score(select, train_ids, metric) if select else None
        trainer = Trainer(model, "finetune", StageConfig.from_config(ft), train_loader,
                          self.cell_dir / "checkpoints",
                          evaluate=evaluate if select else None, higher_is_better=higher,
                          device=device, log=self.log,
                          on_epoch=log_stage["finetune"], on_step=log_stage["finetune"],
                          world=self.world, precision=self.precision, trivial=trivial,
                          quiet=opts.quiet)
        t0 = time.perf_counter()
        state = trainer.run()
        self.timings["finetune"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        metrics, signatures = {}, {}
        (self.cell_dir / "predictions").mkdir(exist_ok=True)
        for split, loader in loaders.items():
            scores, rows = self._score(model, loader, split, device=device)
            metrics[split] = scores.metrics
            signatures.update(scores.signatures)
            if self.world.main:
                atomic.write_jsonl(self.cell_dir / "predictions" / f"{split}.jsonl", rows)
        if self.world.main and "test" in loaders:  # what paired comparisons read
            from harness.cell.statistics import write_statistics

            write_statistics(self.cell_dir / "predictions" / "test.jsonl", self.bench.task,
                             signatures, cfg.get("eval", {}))
        self.timings["evaluate"] = time.perf_counter() - t0
        summary = ", ".join(f"{k} {v:.2f}" for k, v in metrics["test"].items())
        self.log(f"test: {summary}", console=False)
        return {
            "metrics": metrics, "signatures": signatures,
            "method_info": self.method.describe(cfg, spec),
            "selection": {
                "split": select, "metric": metric if select else None,
                "higher_is_better": higher, "value": state["best_value"],
                "epoch": state["best_epoch"], "epochs": cfg["finetune"]["epochs"],
                "criterion": (f"{select} {metric} of the reported predictions (the same "
                              f"decoder as test); ties to the later epoch; only epochs that "
                              f"beat the trivial prediction's score") if select else
                             "no dev split: the last epoch",
                "trivial_value": trivial, "fallback_to_last": state["selection_fallback"]},
            "history": state["history"],
            "pretrain": pre_state,
            "training": {"finetune": trainer.batching,
                         "pretrain": pre_state.get("batching") if pre_state else None},
        }, model

    def _pretrain(self, device: Any, on_epoch: Any) -> tuple[Any, dict[str, Any]]:
        """Run (or resume, or load) the pre-training stage; returns the model and a record."""
        from harness.data.loader import ClipLoader, DataOptions
        from harness.io import checkpoint
        from harness.training.trainer import StageConfig, Trainer

        cfg, pre = self.cfg, self.cfg["pretrain"]
        pstore = self.pretrain_store
        seed_everything(self.opts.seed)
        train_ids, heldout_ids, heldout_from = list(pstore.split("train")), [], None
        if self.method.pretrains_with_text and not pre.get("checkpoint"):
            from harness.cell.grounding import split_heldout

            train_ids, heldout_ids, heldout_from = split_heldout(pstore)
        texts = [pstore.clips[i].text for i in train_ids]
        model = self.method.build_pretrainer(cfg, TaskSpec("pretrain", train_texts=texts))
        self._compile(model, device)
        model.to(device)
        record: dict[str, Any] = {"corpus": str(pstore.path), "fingerprint": pstore.fingerprint,
                                  "clips": len(texts)}
        t0 = time.perf_counter()
        if pre.get("checkpoint"):
            path = Path(pre["checkpoint"])
            state = checkpoint.load(path)
            if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
                raise UserError(f"pretrain.checkpoint {path} has no 'model' state dict (the "
                                f"harness and Uni-Sign's release both save one)")
            loaded = self.method.load_checkpoint(model, state["model"], str(path))
            self.log(f"pretrain: loaded {path} ({loaded['format']}: {loaded['matched']} "
                     f"tensors matched, {loaded.get('unmatched', 0)} of the file unused, "
                     f"{loaded.get('missing', 0)} of the model not in it)")
            record.update(checkpoint=str(path), checkpoint_sha256=_file_sha256(path),
                          loaded=loaded)
        else:
            data_opts = DataOptions.from_config({**cfg["data"], **pre.get("data", {})},
                                                model.input_joints)
            key = short_hash(self.opts.method, self.opts.seed, cfg["model"], pre,
                             cfg.get("precision"), asdict(data_opts), pstore.fingerprint,
                             *(["compiled"] if cfg.get("compile") else []))
            shared = self.opts.out / "pretrained" / self.opts.method / key
            main = self.world.main
            with shared_lock(shared, self.log) if main else contextlib.nullcontext():
                done = self.world.broadcast(_load_pretrained_record(shared) if main else None)
                if done is None:
                    (shared / "checkpoints").mkdir(exist_ok=True)
                    loader = ClipLoader(pstore, train_ids, int(pre["batch_size"]),
                                        data_opts, train=True, seed=self.opts.seed,
                                        stage="pretrain", **self._feed(device))
                    self.log(f"pretrain: {len(texts)} pose+text pairs from {pstore.path} "
                             f"into {shared}")
                    trainer = Trainer(model, "pretrain", StageConfig.from_config(pre), loader,
                                      shared / "checkpoints", evaluate=None, device=device,
                                      log=self.log, on_epoch=on_epoch, on_step=on_epoch,
                                      world=self.world, precision=self.precision,
                                      quiet=self.opts.quiet)
                    state = trainer.run()
                    final = shared / "checkpoints" / "pretrain.last.pt"
                    grounding = self._grounding(model, pstore, heldout_ids, heldout_from,
                                                data_opts, int(pre["batch_size"]), device)
                    if main:
                        done = {"key": key, "epochs": pre["epochs"],
                                "batching": trainer.batching,
                                "history": state["history"], "checkpoint": str(final),
                                "checkpoint_sha256": _file_sha256(final),
                                "grounding": grounding}
                        atomic.write_json(shared / PRETRAINED_FILE, done)
                    done = self.world.broadcast(done)
                    record["reused"] = False
                else:
                    final = Path(done["checkpoint"])
                    if _file_sha256(final) != done["checkpoint_sha256"]:
                        raise DataError(f"pre-trained checkpoint {final} does not match its "
                                        f"record; delete {shared} to pre-train again")
                    model.load_state_dict(checkpoint.load(final)["model"])
                    for epoch, rec in enumerate(done["history"], start=1):
                        on_epoch(rec, epoch)  # the cell's MLflow run shows the curve too
                    self.log(f"pretrain: reusing the finished pre-training in {shared}")
                    record["reused"] = True
            record.update(shared=str(shared), **{k: done[k] for k in (
                "key", "epochs", "history", "checkpoint", "checkpoint_sha256")})
            record["grounding"] = done.get("grounding")
            record["batching"] = done.get("batching")  # absent from older pre-trainings
            if record["grounding"] and record["grounding"].get("pairs"):
                on_epoch(grounding_metrics(record["grounding"]), len(done["history"]))
        self.timings["pretrain"] = time.perf_counter() - t0
        return model, record

    def _grounding(self, model: Any, pstore: Any, heldout: list[int], source: str | None,
                   data_opts: Any, batch_size: int, device: Any) -> dict[str, Any] | None:
        """The grounding check of a text-conditioned pre-training (harness.cell.grounding)."""
        if not heldout:
            return None if source is None else {"pairs": 0, "heldout": source}
        from harness.cell.grounding import grounding
        from harness.data.loader import ClipLoader

        loader = ClipLoader(pstore, heldout, batch_size, data_opts, train=False)
        out = grounding(model, loader.batches(),
                        device, lambda: precision.autocast(self.precision, device.type),
                        seed=self.opts.seed)
        out["heldout"] = source
        if out.get("pairs"):
            self.log(f"pretrain: grounding on {out['pairs']} held-out pairs ({source}): loss "
                     f"{out['matched']['loss']:.4f} with their own texts, "
                     f"{out['mismatched']['loss']:.4f} with other clips' (gap {out['gap']:.4f})")
        return out

    def _compile(self, model: Any, device: Any) -> None:
        """``compile_units`` where the config says ``compile=true`` (absent: false)."""
        if self.cfg.get("compile", False):
            n = compile_units(model, device.type)
            self.log(f"torch.compile: {n} sign encoder(s); the first steps compile")

    def _feed(self, device: Any) -> dict[str, Any]:
        """How loaders hand batches over: built in ``--loader-workers`` processes (else a
        thread), and pinned for an asynchronous copy where the device is CUDA. Neither
        changes a batch, so neither is part of the config."""
        return {"workers": self.opts.loader_workers, "pin_memory": device.type == "cuda"}

    def _trivial_score(self, split: str, train_ids: list[int], metric: str) -> float:
        """The ``split`` score of predictions that a model which learned nothing makes."""
        from harness.core.tasks import trivial_predictions

        refs = self.bench.references(self.store, split)
        labels = [self.store.clips[i].gloss for i in train_ids]
        preds = trivial_predictions(self.task, sorted(refs), labels)
        return float(self.bench.score(preds, refs).metrics[metric])

    def _score(self, model: Any, loader: Any, split: str, *,
               device: Any) -> tuple[Any, list[dict[str, Any]]]:
        import torch

        faults.point("evaluate")
        model.eval()
        predictions: dict[str, Any] = {}
        world = self.world
        mine = len(range(world.rank, len(loader), world.size))  # this rank's batches
        bar = progress.bar(f"{split} predictions", loader.batches(every=(world.rank, world.size)),
                           total=mine, unit="batch", quiet=self.opts.quiet or not world.main)
        with torch.no_grad(), bar:  # each rank predicts its share of the batches
            for batch in bar:
                with precision.autocast(self.precision, device.type):
                    preds = model.predict(batch.to(device))
                for clip_id, pred in zip(batch.ids, preds, strict=True):
                    predictions[clip_id] = pred
        if world.enabled:  # scored over the whole corpus, on every rank
            predictions = {k: v for part in world.gather(predictions) for k, v in part.items()}
        refs = self.bench.references(self.store, split)
        scores = self.bench.score(predictions, refs)
        rows = [{"id": i, "prediction": predictions[i], "reference": refs[i]}
                for i in sorted(refs)]
        return scores, rows


def grounding_metrics(record: dict[str, Any]) -> dict[str, float]:
    """The grounding record as flat MLflow metrics (``grounding_{matched,mismatched}_X``)."""
    out = {f"grounding_{side}_{k}": v for side in ("matched", "mismatched")
           for k, v in record[side].items()}
    out["grounding_gap"] = record["gap"]
    return out


def _file_sha256(path: Path) -> str:
    from harness.data.store import file_sha256

    if not path.is_file():
        raise UserError(f"pretrain.checkpoint {path} is not a file")
    return file_sha256(path)[:16]


def _device(name: str, world: World) -> Any:
    import torch

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        torch.device(name)
    except RuntimeError:
        raise UserError(f"--device {name!r} is not a device; use auto, cpu, cuda or cuda:N"
                        ) from None
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {name}: CUDA is not available on this machine")
    if name == "cuda" and world.enabled:  # one GPU per rank
        name = f"cuda:{world.local_rank % torch.cuda.device_count()}"
    return torch.device(name)


@dataclass
class CellOutcome:
    """What running a cell gave: its result, where it is, and whether it was already done."""

    result: dict[str, Any]
    path: Path
    skipped: bool
    main: bool = True  # False on the ranks of a data-parallel cell other than 0


def run_cell(opts: RunOptions) -> CellOutcome:
    """Run one cell (or skip it when it is finished)."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    return CellRun(opts).run()
