"""Time `python -m harness leaderboard` on 2,000 finished cells (issue: < 10 s here).

Writes 2,000 cells in the runner's layout under --workdir (result.json, config.json and
predictions/test.jsonl of 100 test clips; 5 methods x 4 benchmarks x 20 configs x 5 seeds,
ISLR/CSLR/SLT mixed, two metric signatures on one benchmark; each config a preset or one
change from it, so that the tables have main rows, comparisons with scratch, ablations,
label-efficiency tables and plots), logs each as a finished
MLflow run with those artifacts into a sqlite store beside them (plus 20 failed runs), then
times the real CLI in a subprocess three times per source (the MLflow store; the result
files alone), paired bootstrap comparisons and plots included, and checks that the three
runs of a source wrote the same bytes.

    .venv/bin/python docs/benchmarks/leaderboard_2000.py --workdir /tmp/lb2000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import subprocess
import sys
import time
from pathlib import Path

BENCHES = {"synth-islr": "islr", "synth-cslr": "cslr", "synth-slt": "slt", "wlasl": "islr"}
METHODS = ["scratch", "sigma", "mslp", "ccl_slr", "uni_sign"]
WORDS = ["the", "signer", "gives", "a", "book", "to", "her", "friend", "at", "school", "today"]


def _rows(task: str, rng: random.Random, skill: float) -> list[dict]:
    rows = []
    refs = random.Random(task)  # the same test references in every cell of a benchmark
    for i in range(100):
        ok = rng.random() < skill
        if task == "islr":
            ref = f"g{i % 40}"
            rows.append({"id": f"c{i:03d}", "reference": ref,
                         "prediction": [ref if ok else "g99", "g1", "g2", "g3", "g4"]})
        else:
            ref = " ".join(refs.sample(WORDS, 6))
            hyp = ref if ok else " ".join(rng.sample(WORDS, 5))
            rows.append({"id": f"c{i:03d}", "reference": ref, "prediction": hyp})
    return rows


def _metrics(task: str, rows: list[dict]) -> tuple[dict[str, float], dict[str, str]]:
    from benchmarks.metrics import protocols

    name = {"islr": "islr-topk", "cslr": "wer-plain", "slt": "bleu-13a"}[task]
    scores = protocols.get(name).score({r["id"]: r["prediction"] for r in rows},
                                       {r["id"]: r["reference"] for r in rows})
    return scores.metrics, scores.signatures


def _config(method: str, bench: str, c: int) -> dict:
    """Config c of 20: 0 is the preset; the others each change one thing from it (lr,
    epochs, the labelled fraction, or, for sigma, no pre-training: an ablation)."""
    cfg = {"method": {"name": method}, "bench": {"name": bench},
           "finetune": {"lr": 1e-3, "epochs": 20}, "pretrain": {"epochs": 2},
           "data": {"train_fraction": 1.0}}
    if c == 19 and method == "sigma":
        cfg["pretrain"]["epochs"] = 0
    elif c >= 17:
        cfg["data"]["train_fraction"] = 0.25 * (c - 16)
    elif c % 2:
        cfg["finetune"]["lr"] = 1e-2 if c % 4 == 1 else 1e-4
    elif c:
        cfg["finetune"]["epochs"] = 30 + c
    return cfg


def write(root: Path, uri: str) -> int:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    exp = client.create_experiment("harness",
                                   artifact_location=(root / "mlartifacts").resolve().as_uri())
    rng = random.Random(0)
    n = 0
    for bench, task in BENCHES.items():
        for m, method in enumerate(METHODS):
            for c in range(20):
                chash = hashlib.sha256(f"{bench}{method}{c}".encode()).hexdigest()[:16]
                for seed in range(5):
                    key = f"{chash[:8]}{seed:08d}"
                    folder = root / "cells" / bench / method / key
                    (folder / "predictions").mkdir(parents=True, exist_ok=True)
                    cfg = _config(method, bench, c)
                    rows = _rows(task, rng, 0.3 + 0.1 * m + 0.01 * c)
                    (folder / "predictions" / "test.jsonl").write_text(
                        "".join(json.dumps(r) + "\n" for r in rows))
                    (folder / "config.json").write_text(json.dumps({"config": cfg}))
                    metrics, signatures = _metrics(task, rows)
                    if bench == "wlasl" and c % 2:  # a second protocol variant: own table
                        signatures = {k: v + "|variant:2" for k, v in signatures.items()}
                    run = client.create_run(exp, tags={"harness.cell_key": key})
                    result = {
                        "schema": 1, "status": "finished", "method": method,
                        "preset": "smoke", "bench": bench, "task": task, "seed": seed,
                        "cell_key": key, "config_hash": chash,
                        "benchmark": {"name": bench, "version": "1", "fingerprint": "f" * 16},
                        "metrics": {"dev": metrics, "test": metrics},
                        "signatures": signatures, "selection": {},
                        "code": {"git_sha": "a" * 40, "dirty": False}, "environment": {},
                        "timings": {}, "files": {"predictions_test": "predictions/test.jsonl"},
                        "mlflow": {"tracking_uri": uri, "run_id": run.info.run_id}}
                    (folder / "result.json").write_text(json.dumps(result))
                    client.set_tag(run.info.run_id, "harness.status", "finished")
                    for name in ("result.json", "config.json"):
                        client.log_artifact(run.info.run_id, str(folder / name))
                    client.log_artifacts(run.info.run_id, str(folder / "predictions"),
                                         "predictions")
                    client.set_terminated(run.info.run_id, "FINISHED")
                    n += 1
    for i in range(20):  # failed runs: never in a table
        run = client.create_run(exp, tags={"harness.cell_key": f"failed{i}"})
        client.set_terminated(run.info.run_id, "FAILED")
    return n


def time_source(workdir: Path, name: str, flags: list[str]) -> None:
    times, digests = [], set()
    for i in range(3):
        out = workdir / f"lb-{name}{i}"
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "harness", "leaderboard", *flags, "--out",
                        str(out)], check=True, capture_output=True)
        times.append(time.perf_counter() - started)
        digests.add(hashlib.sha256(b"".join(
            p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()
            and p.name != "README.md")).hexdigest())  # the index names the source folder
    print(f"leaderboard from 2,000 cells ({name}): {', '.join(f'{t:.2f}' for t in times)} s "
          f"(whole command); identical output: {len(digests) == 1}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", type=Path, required=True)
    args = parser.parse_args()
    results = args.workdir / "outputs"
    uri = f"sqlite:///{(results / 'mlflow.db').resolve()}"
    if not (results / "cells").exists():
        results.mkdir(parents=True)
        started = time.perf_counter()
        print(f"wrote {write(results, uri)} cells and MLflow runs in "
              f"{time.perf_counter() - started:.0f} s")
    time_source(args.workdir, "MLflow", ["--results", str(results), "--tracking-uri", uri])
    time_source(args.workdir, "result files", ["--results", str(results), "--files-only"])


if __name__ == "__main__":
    main()
