"""Training throughput of a method's stages on this machine (samples per second).

``python -m harness throughput --method M --bench B`` builds the models a cell would build
(the pre-training model when the method has one, then the fine-tuning model), takes real
batches from the prepared stores with the cell's data settings, and times full optimiser
steps (forward, backward, AdamW) after warm-up steps. Absolute numbers depend on the
machine; the output says which machine and thread count measured them.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from harness.cell.runner import resolve_config, seed_everything
from harness.core.registry import BENCHMARKS, METHODS
from harness.core.tasks import TaskSpec


def time_steps(model: Any, loader: Any, steps: int, warmup: int) -> dict[str, float]:
    """Samples/s and seconds/step of ``steps`` optimiser steps after ``warmup`` steps."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)
    model.train()
    done, samples, started = 0, 0, 0.0
    epoch = 0
    while done < warmup + steps:
        for batch in loader.batches(epoch):
            if done == warmup:
                started, samples = time.perf_counter(), 0
            loss = model.loss(batch)["loss"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            done += 1
            samples += len(batch)
            if done == warmup + steps:
                break
        epoch += 1
    seconds = time.perf_counter() - started
    return {"samples_per_s": samples / seconds, "s_per_step": seconds / steps,
            "batch_size": samples / steps}


def measure(method: str, bench: str, preset: str, overrides: list[str], steps: int,
            warmup: int, data_root: Any = None, config_file: Path | None = None
            ) -> list[dict[str, Any]]:
    """One row per stage: stage name, frames per clip cap, batch size and timings."""
    import torch

    from harness.data.loader import ClipLoader, DataOptions

    cfg = resolve_config(method, bench, preset, overrides, config_file)
    m = METHODS.get(method)()
    b = BENCHMARKS.get(bench)(cfg, root=data_root)
    store = b.open()
    rows = []
    pretrained = None
    if m.has_pretraining and cfg.get("pretrain"):
        pre = cfg["pretrain"]
        pstore = b.pretrain_store()
        seed_everything(0)
        texts = [pstore.clips[i].text for i in pstore.split("train")]
        pretrained = m.build_pretrainer(cfg, TaskSpec("pretrain", train_texts=texts))
        opts = DataOptions.from_config({**cfg["data"], **pre.get("data", {})},
                                       pretrained.input_joints)
        loader = ClipLoader(pstore, pstore.split("train"), int(pre["batch_size"]), opts,
                            train=True, stage="pretrain")
        rows.append({"stage": "pretrain", "max_frames": opts.max_frames,
                     **time_steps(pretrained, loader, steps, warmup)})
    seed_everything(0)
    model = m.build(cfg, b.task_spec(store), pretrained=pretrained)
    opts = DataOptions.from_config(cfg["data"], model.input_joints)
    loader = ClipLoader(store, store.split("train"), int(cfg["finetune"]["batch_size"]), opts,
                        train=True, stage="finetune")
    rows.append({"stage": f"finetune ({b.task})", "max_frames": opts.max_frames,
                 **time_steps(model, loader, steps, warmup)})
    for row in rows:
        row["threads"] = torch.get_num_threads()
    return rows
