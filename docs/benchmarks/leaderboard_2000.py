"""Time `python -m harness leaderboard` on 2,000 finished cells (issue: < 10 s here).

Writes 2,000 result.json + config.json pairs in the runner's layout under --workdir
(5 methods x 4 benchmarks x 20 configs x 5 seeds, ISLR/CSLR/SLT mixed, two metric
signatures on one benchmark), then times the real CLI in a subprocess, three times, and
checks that the three runs wrote the same bytes.

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

BENCHES = {"synth-islr": ("islr", "topk", {"top1": 60, "top5": 90}),
           "synth-cslr": ("cslr", "wer", {"wer": 40}),
           "synth-slt": ("slt", "bleu", {"bleu4": 8, "rouge_l": 35}),
           "wlasl": ("islr", "topk", {"top1": 50, "top5": 80})}
METHODS = ["scratch", "sigma", "mslp", "ccl_slr", "uni_sign"]


def write(root: Path) -> int:
    rng = random.Random(0)
    n = 0
    for bench, (task, family, base) in BENCHES.items():
        for method in METHODS:
            for c in range(20):
                signature = f"protocol:{family}|version:{1 + (bench == 'wlasl' and c % 2)}"
                chash = hashlib.sha256(f"{bench}{method}{c}".encode()).hexdigest()[:16]
                for seed in range(5):
                    key = f"{chash[:8]}{seed:08d}"
                    folder = root / "cells" / bench / method / key
                    folder.mkdir(parents=True, exist_ok=True)
                    cfg = {"method": {"name": method}, "bench": {"name": bench},
                           "finetune": {"lr": 10 ** -(2 + c % 4), "epochs": 10 + c}}
                    (folder / "config.json").write_text(json.dumps({"config": cfg}))
                    metrics = {k: v + rng.gauss(0, 2) for k, v in base.items()}
                    (folder / "result.json").write_text(json.dumps({
                        "schema": 1, "status": "finished", "method": method,
                        "preset": "smoke", "bench": bench, "task": task, "seed": seed,
                        "cell_key": key, "config_hash": chash,
                        "benchmark": {"name": bench, "version": "1", "fingerprint": "f" * 16},
                        "metrics": {"dev": metrics, "test": metrics},
                        "signatures": {family: signature}, "selection": {},
                        "code": {"git_sha": "a" * 40, "dirty": False}, "environment": {},
                        "timings": {}, "files": {},
                        "mlflow": {"tracking_uri": "sqlite:///x.db", "run_id": key * 2}}))
                    n += 1
    return n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", type=Path, required=True)
    args = parser.parse_args()
    results = args.workdir / "outputs"
    if not (results / "cells").exists():
        print(f"wrote {write(results)} cells")
    times, digests = [], set()
    for i in range(3):
        out = args.workdir / f"lb{i}"
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "harness", "leaderboard", "--results",
                        str(results), "--out", str(out)], check=True, capture_output=True)
        times.append(time.perf_counter() - started)
        digests.add(hashlib.sha256(b"".join(p.read_bytes() for p in sorted(out.glob("*.md"))))
                    .hexdigest())
    print(f"leaderboard from 2,000 cells: {', '.join(f'{t:.2f}' for t in times)} s "
          f"(whole command); identical output: {len(digests) == 1}")


if __name__ == "__main__":
    main()
