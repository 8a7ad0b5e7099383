"""Time `python -m harness leaderboard` on 2,000 finished cells (issue #8: < 3 s).

Writes 2,000 cells in the runner's layout under --workdir with ``tools.perf.write_cells``
(result.json, config.json, predictions/test.jsonl of 100 test clips and the per-clip
statistics the runner stores beside them; 5 methods x 4
benchmarks x 20 configs x 5 seeds, ISLR/CSLR/SLT mixed, two metric signatures on one
benchmark, main rows, ablations and label-efficiency rows), logs each as a finished MLflow
run with those artifacts into a sqlite store beside them (plus 20 failed runs), then times
the real CLI in a subprocess three times per source (the MLflow store; the result files
alone), paired bootstrap comparisons and plots included, and checks that the three runs of
a source wrote the same bytes.

    .venv/bin/python scripts/leaderboard_2000.py --workdir /tmp/lb2000
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import time
from pathlib import Path


def time_source(workdir: Path, name: str, flags: list[str]) -> None:
    times, digests = [], set()
    for i in range(3):
        out = workdir / f"lb-{name.replace(' ', '-')}{i}"
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "harness", "leaderboard", *flags, "--out",
                        str(out)], check=True, capture_output=True)
        times.append(time.perf_counter() - started)
        digests.add(hashlib.sha256(b"".join(
            p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()
            and p.name != "README.md")).hexdigest())  # the index names the source
    print(f"leaderboard from 2,000 cells ({name}): {', '.join(f'{t:.2f}' for t in times)} s "
          f"(whole command); identical output: {len(digests) == 1}")


def main() -> None:
    from mlflow.tracking import MlflowClient

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository's tools/
    from tools.perf import write_cells

    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", type=Path, required=True)
    args = parser.parse_args()
    results = args.workdir / "outputs"
    uri = f"sqlite:///{(results / 'mlflow.db').resolve()}"
    if not (results / "cells").exists():
        results.mkdir(parents=True)
        started = time.perf_counter()
        client = MlflowClient(uri)
        n = write_cells(results, client=client)
        exp = client.get_experiment_by_name("harness").experiment_id
        for i in range(20):  # failed runs: never in a table
            run = client.create_run(exp, tags={"harness.cell_key": f"failed{i}"})
            client.set_terminated(run.info.run_id, "FAILED")
        print(f"wrote {n} cells and MLflow runs in {time.perf_counter() - started:.0f} s")
    time_source(args.workdir, "MLflow", ["--results", str(results), "--tracking-uri", uri])
    time_source(args.workdir, "result files", ["--results", str(results), "--files-only"])


if __name__ == "__main__":
    main()
