"""A fixed set of finished cells of every task and protocol family, and what the engine
makes of them (leaderboard pages, the summary table, paired comparisons): the golden
pages of ``tests/golden/pages/`` were generated from these cells by the engine as it was
before metric protocols owned their metrics, so that a change of where metric knowledge
lives is seen to change no byte.

Cells: ISLR (``islr-topk``), CSLR (``wer-plain``, ``wer-phoenix``, ``wer-phoenix2014t``) and
SLT (``bleu-13a``, ``bleu-13a`` lower-cased, ``bleu-13a`` with ``rouge=unisign``,
``bleu-char``), some with their per-clip statistics stored beside the predictions and some
without, with ablations, label-efficiency rows, reported numbers and rows of one seed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
from pathlib import Path
from typing import Any

from benchmarks.metrics import protocols
from harness.analysis.significance import compare_cells
from harness.cell.results import SCHEMA_VERSION
from harness.cell.statistics import write_statistics
from harness.core.registry import BENCHMARKS

LABELS = [f"G{i}" for i in range(40)]
GLOSSES = [f"W{i}" for i in range(50)] + ["loc-W1", "__EMOTION__", "S", "H", "__ON__"]
ENGLISH = ["the", "a", "of", "to", "in", "is", "was", "he", "she", "it", "on", "at", "cat",
           "dog", "house", "sat", "ran", "weather", "rain", "sun", "tomorrow", "North", "Wind",
           ".", ","]
CHINESE = list("我们你他今天明天天气很好不去学校商店吃饭喝水看书写字下雨刮风北方南方")
REPORTED = ("method,paper_method,bench,split,metric,protocol,value,input,source,confidence\n"
            "sigma,Sigma,wlasl100,test,top1,islr-topk,55.00,pose,fixture,verified\n"
            "uni_sign,Uni-Sign,how2sign,test,bleu4,bleu-13a|rouge:unisign,9.50,pose,fixture,"
            "verified\n"
            "uni_sign,Uni-Sign,how2sign,test,bleu4,bleu-13a,8.00,pose,fixture,secondary\n"
            "mslp,MSLP,phoenix2014,test,wer,unknown,30.00,pose,fixture,secondary\n")
#: The regenerate command the index prints (fixed: the pages do not depend on the tmp dir).
COMMAND = "python -m harness leaderboard --results outputs"


def _islr(n: int, skill: float, seed: int) -> tuple[dict[str, Any], dict[str, str]]:
    refs_rng, rng = random.Random("islr"), random.Random(seed)
    refs = {f"c{i:04d}": refs_rng.choice(LABELS) for i in range(n)}
    preds = {}
    for clip, ref in refs.items():
        others = rng.sample([g for g in LABELS if g != ref], 5)
        u = rng.random()
        preds[clip] = [ref, *others[:4]] if u < skill else \
            [*others[:2], ref, *others[2:4]] if u < skill + 0.2 else others
    return preds, refs


def _sentences(n: int, vocab: list[str], sep: str, key: str) -> dict[str, str]:
    rng = random.Random(key)
    return {f"s{i:04d}": sep.join(rng.choices(vocab, k=rng.randint(3, 12))) for i in range(n)}


def _noisy(refs: dict[str, str], vocab: list[str], sep: str, error: float, seed: int
           ) -> dict[str, str]:
    rng = random.Random(seed)
    out = {}
    for clip, ref in refs.items():
        units: list[str] = []
        for w in (ref.split() if sep else list(ref)):
            u = rng.random()
            if u < error / 3:
                continue
            kept = w.upper() if rng.random() < 0.1 else w
            units.append(rng.choice(vocab) if u < 2 * error / 3 else kept)
            if u > 1 - error / 3:
                units.append(rng.choice(vocab))
        out[clip] = sep.join(units)
    return out


@dataclasses.dataclass(frozen=True)
class Bench:
    """A benchmark of the fixture: its task, protocol, eval options and test references."""

    name: str
    task: str
    protocol: str
    options: dict[str, Any]
    subset: int | None = None
    preset: str = "paper"


def _run(bench: Bench, skill: float, seed: int) -> tuple[dict[str, Any], dict[str, str]]:
    """Predictions and references of one cell."""
    if bench.task == "islr":
        return _islr(150, skill, seed)
    if bench.task == "cslr":
        refs = _sentences(80, GLOSSES[:50], " ", bench.name)
        return _noisy(refs, GLOSSES, " ", 1 - skill, seed), refs
    vocab, sep = (CHINESE, "") if bench.protocol == "bleu-char" else (ENGLISH, " ")
    refs = _sentences(80, vocab, sep, bench.name)
    return _noisy(refs, vocab, sep, 1 - skill, seed), refs


def write_cell(out: Path, bench: Bench, method: str, seed: int, skill: float, *,
               extra: dict[str, Any] | None = None, stats: bool = False,
               options: dict[str, Any] | None = None) -> Path:
    """A finished cell as the runner leaves it, scored by its benchmark's protocol."""
    options = bench.options if options is None else options
    preds, refs = _run(bench, skill, seed * 7 + len(method))
    config: dict[str, Any] = {"method": {"name": method}, "bench": {"name": bench.name},
                              "finetune": {"lr": 1e-3}, "pretrain": {"epochs": 2},
                              "data": {"train_fraction": 1.0}, "eval": dict(options)}
    if bench.subset is not None:
        config["bench"]["subset"] = bench.subset
    for key, value in (extra or {}).items():
        section, name = key.split(".")
        config[section][name] = value
    chash = hashlib.sha256(json.dumps([method, config], sort_keys=True).encode()
                           ).hexdigest()[:16]
    key = f"{chash}-{seed}"
    folder = out / "cells" / bench.name / method / key
    (folder / "predictions").mkdir(parents=True)
    rows = [{"id": c, "prediction": preds[c], "reference": refs[c]} for c in sorted(refs)]
    (folder / "predictions" / "test.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    (folder / "config.json").write_text(json.dumps({"config": config}))
    scores = protocols.get(bench.protocol).score(preds, refs, options)
    adapter = BENCHMARKS.get(bench.name)
    counts = {"train": 600, "dev": 150, "test": 150} if adapter.synthetic else \
        dict(adapter.expected[bench.subset])
    result = {
        "schema": SCHEMA_VERSION, "status": "finished", "method": method,
        "preset": "smoke" if adapter.synthetic else bench.preset, "bench": bench.name,
        "task": bench.task, "seed": seed, "cell_key": key, "config_hash": chash,
        "benchmark": {"name": bench.name, "version": "1", "fingerprint": "f" * 16,
                      "counts": counts},
        "metrics": {"dev": scores.metrics, "test": scores.metrics},
        "signatures": scores.signatures,
        "selection": {"split": "dev", "epoch": 3 + seed, "epochs": 6,
                      "fallback_to_last": seed == 2},
        "code": {"git_sha": "abcdef0123456789", "dirty": False}, "environment": {},
        "timings": {}, "files": {"config": "config.json",
                                 "predictions_test": "predictions/test.jsonl"},
        "mlflow": {"tracking_uri": "sqlite:///mlflow.db",
                   "run_id": hashlib.sha256(key.encode()).hexdigest()[:32]},
        "method_info": {"input": "pose", "variant": None},
    }
    (folder / "result.json").write_text(json.dumps(result))
    if stats:
        write_statistics(folder / "predictions" / "test.jsonl", bench.task,
                         scores.signatures, options)
    return folder


BENCHES = {
    "synth-islr": Bench("synth-islr", "islr", "islr-topk", {}),
    "wlasl100": Bench("wlasl", "islr", "islr-topk", {}, subset=100),
    "synth-cslr": Bench("synth-cslr", "cslr", "wer-plain", {}),
    "phoenix2014": Bench("phoenix2014", "cslr", "wer-phoenix", {"protocol": "wer-phoenix"}),
    "phoenix2014t": Bench("phoenix2014t-cslr", "cslr", "wer-phoenix2014t",
                          {"protocol": "wer-phoenix2014t"}),
    "synth-slt": Bench("synth-slt", "slt", "bleu-13a", {}),
    "csl-daily": Bench("csl-daily-slt", "slt", "bleu-char", {"protocol": "bleu-char"}),
    "how2sign": Bench("how2sign", "slt", "bleu-13a", {"protocol": "bleu-13a",
                                                      "rouge": "unisign"}),
}


def write_fixture(out: Path) -> list[tuple[list[Path], list[Path], str]]:
    """Write the fixture's cells under ``out``; returns the pairs of cell groups (a, b,
    metric) whose paired comparisons are pinned."""
    b = BENCHES
    cells: dict[str, list[Path]] = {}

    def group(name: str, bench: Bench, method: str, seeds: range, skill: float, **kw: Any
              ) -> None:
        cells[name] = [write_cell(out, bench, method, s, skill + 0.02 * s, **kw) for s in seeds]

    group("islr-scratch", b["synth-islr"], "scratch", range(3), 0.40, stats=True)
    group("islr-sigma", b["synth-islr"], "sigma", range(3), 0.50)
    group("islr-sigma-abl", b["synth-islr"], "sigma", range(2), 0.45,
          extra={"pretrain.epochs": 0}, stats=True)
    group("islr-sigma-half", b["synth-islr"], "sigma", range(2), 0.35,
          extra={"data.train_fraction": 0.5})
    group("islr-scratch-half", b["synth-islr"], "scratch", range(1), 0.30,
          extra={"data.train_fraction": 0.5})
    group("islr-mslp", b["synth-islr"], "mslp", range(1), 0.42)
    group("wlasl-scratch", b["wlasl100"], "scratch", range(3), 0.45, stats=True)
    group("wlasl-sigma", b["wlasl100"], "sigma", range(3), 0.47, stats=True)
    group("cslr-scratch", b["synth-cslr"], "scratch", range(3), 0.60)
    group("cslr-sigma", b["synth-cslr"], "sigma", range(3), 0.62, stats=True)
    group("px-scratch", b["phoenix2014"], "scratch", range(2), 0.60, stats=True)
    group("px-mslp", b["phoenix2014"], "mslp", range(2), 0.61)
    group("pxt-scratch", b["phoenix2014t"], "scratch", range(1), 0.55)
    group("pxt-sigma", b["phoenix2014t"], "sigma", range(1), 0.65, stats=True)
    group("slt-scratch", b["synth-slt"], "scratch", range(3), 0.60, stats=True)
    group("slt-sigma", b["synth-slt"], "sigma", range(3), 0.68)
    group("slt-uni-lc", b["synth-slt"], "uni_sign", range(2), 0.66,
          options={"lowercase": True})
    group("slt-scratch-lc", b["synth-slt"], "scratch", range(2), 0.62,
          options={"lowercase": True}, stats=True)
    group("csl-scratch", b["csl-daily"], "scratch", range(2), 0.60)
    group("csl-sigma", b["csl-daily"], "sigma", range(2), 0.70, stats=True)
    group("h2s-scratch", b["how2sign"], "scratch", range(2), 0.55, stats=True)
    group("h2s-uni", b["how2sign"], "uni_sign", range(2), 0.57)
    return [(cells["islr-sigma"], cells["islr-scratch"], "top1"),
            (cells["islr-sigma-abl"], cells["islr-sigma"], "top5"),
            (cells["cslr-sigma"], cells["cslr-scratch"], "wer"),
            (cells["px-mslp"], cells["px-scratch"], "wer"),
            (cells["pxt-sigma"], cells["pxt-scratch"], "wer"),
            (cells["slt-sigma"], cells["slt-scratch"], "bleu4"),
            (cells["slt-sigma"], cells["slt-scratch"], "bleu1"),
            (cells["slt-uni-lc"], cells["slt-scratch-lc"], "bleu2"),
            (cells["csl-sigma"], cells["csl-scratch"], "bleu4"),
            (cells["h2s-uni"], cells["h2s-scratch"], "bleu3")]


def generate(root: Path) -> dict[str, bytes]:
    """Everything the engine makes of the fixture, by file name: the leaderboard pages,
    the summary table and the pinned comparisons (every float as Python writes it)."""
    from harness.analysis.leaderboard import write_leaderboards
    from harness.analysis.summary import finished_results, summary_table

    out = root / "outputs"
    pairs = write_fixture(out)
    reported = root / "reported.csv"
    reported.write_text(REPORTED)
    pages = root / "lb"
    written = write_leaderboards(out, pages, reported, plots=False, command=COMMAND)
    files = {p.name: p.read_bytes() for p in written}
    files["summary.md"] = summary_table(finished_results(out)).encode("utf-8")
    comparisons = [dataclasses.asdict(compare_cells(a, b, metric, n_resamples=500, seed=3))
                   for a, b, metric in pairs]
    files["comparisons.json"] = (json.dumps(comparisons, indent=1) + "\n").encode("utf-8")
    return files
