"""Benchmark `python -m harness prepare` on a 20,000-clip Uni-Sign-layout dataset, and batch
loading from the prepared store against loading the same clips from the per-clip pickles.

Usage (from the repository root)::

    .venv/bin/python scripts/prepare_20k.py --workdir /tmp/bench20k \
        [--clips 20000] [--frames 64] [--batch 64] [--batches 50]

Steps:

1. Generate DIR/source in Uni-Sign's published layout (skipped when DIR/source/COMPLETE
   records the same parameters): ``poses/<split>/<clip_id>.pkl`` holding
   ``{"keypoints": [T x float64 (1, 133, 2)], "scores": [T x float32 (1, 133)]}``
   (pickle protocol 4) and gzip-pickled label dicts ``labels/labels.{train,dev,test}``.
   2000 words, WLASL2000's split proportions, numpy ``default_rng(0)``.
2. Read every source file once (so the source is in the page cache for every run), then
   time ``python -m harness prepare wlasl ... --force`` in a subprocess.
3. Load the same seeded random batches from the store (``PoseStore.arrays`` + copy) and from
   the pickles (``safe_pickle.load_pickle`` + stacking person 0 of the per-frame lists into
   float32 arrays). Each is run twice over the same batches; the second run is reported.
4. Print a markdown table and write DIR/prepare_20k.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import pickle
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.data.store import PoseStore  # noqa: E402
from harness.io.safe_pickle import load_pickle  # noqa: E402

N_WORDS = 2000
WLASL_SPLITS = {"train": 14289, "dev": 3916, "test": 2878}  # WLASL2000 clip counts


def uptime() -> str:
    """`uptime`'s output (falls back to os.getloadavg)."""
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "load average: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def split_counts(n: int) -> dict[str, int]:
    """WLASL2000's split proportions scaled to ``n`` clips (train takes the rounding)."""
    total = sum(WLASL_SPLITS.values())
    dev = round(n * WLASL_SPLITS["dev"] / total)
    test = round(n * WLASL_SPLITS["test"] / total)
    return {"train": n - dev - test, "dev": dev, "test": test}


def disk_usage(path: Path) -> dict[str, int]:
    """Files, apparent bytes and allocated bytes (st_blocks) under ``path``."""
    files = apparent = allocated = 0
    for root, _, names in os.walk(path):
        for name in names:
            st = os.stat(os.path.join(root, name))
            files += 1
            apparent += st.st_size
            allocated += st.st_blocks * 512
    return {"files": files, "apparent_bytes": apparent, "disk_bytes": allocated}


def generate(source: Path, n_clips: int, frames: int) -> dict[str, object]:
    """Write the Uni-Sign-layout dataset; returns {clip_id: pickle path} and timing."""
    params = {"clips": n_clips, "frames": frames, "words": N_WORDS, "seed": 0, "version": 1}
    marker = source / "COMPLETE"
    counts = split_counts(n_clips)
    paths: dict[str, Path] = {}
    k = 0
    for split, count in counts.items():
        for _ in range(count):
            clip_id = f"{k:05d}"
            paths[clip_id] = source / "poses" / split / f"{clip_id}.pkl"
            k += 1
    if marker.exists() and json.loads(marker.read_text()) == params:
        return {"paths": paths, "generated": False, "seconds": 0.0, "splits": counts}

    t0 = time.perf_counter()
    marker.unlink(missing_ok=True)
    rng = np.random.default_rng(0)
    labels: dict[str, dict[str, dict[str, str]]] = {s: {} for s in counts}
    k = 0
    for split, count in counts.items():
        folder = source / "poses" / split
        folder.mkdir(parents=True, exist_ok=True)
        for j in range(count):
            clip_id = f"{k:05d}"
            word = f"w{j % N_WORDS:04d}"  # every split cycles through the 2000 words
            kp = rng.random((frames, 1, 133, 2))  # float64 in [0, 1)
            scores = (0.3 + 0.7 * rng.random((frames, 1, 133), dtype=np.float32))
            data = {"keypoints": list(kp), "scores": list(scores)}
            paths[clip_id].write_bytes(pickle.dumps(data, protocol=4))
            labels[split][clip_id] = {"name": clip_id, "gloss": "", "text": word,
                                      "video_path": f"{split}/{clip_id}.mp4"}
            k += 1
    label_dir = source / "labels"
    label_dir.mkdir(parents=True, exist_ok=True)
    for split, entries in labels.items():
        (label_dir / f"labels.{split}").write_bytes(gzip.compress(pickle.dumps(entries)))
    marker.write_text(json.dumps(params))
    return {"paths": paths, "generated": True, "seconds": time.perf_counter() - t0,
            "splits": counts}


def warm_files(paths: list[Path]) -> float:
    """Read every file once (fills the page cache); returns seconds."""
    t0 = time.perf_counter()
    for p in paths:
        with open(p, "rb") as fh:
            while fh.read(1 << 22):
                pass
    return time.perf_counter() - t0


def run_prepare(workdir: Path, clips: int) -> dict[str, object]:
    """Time the real CLI in a subprocess; returns timings, the store path and sizes."""
    cmd = [sys.executable, "-m", "harness", "prepare", "wlasl",
           "--source", str(workdir / "source" / "poses"),
           "--labels", str(workdir / "source" / "labels"),
           "--data-root", str(workdir / "data"), "--force"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_before = uptime()
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    (workdir / "prepare.log").write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        sys.exit(f"prepare failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("wlasl:")]
    if len(lines) != 1:
        sys.exit(f"no 'wlasl: N clips (...) in PATH' line in the output:\n{done.stdout}")
    store_path = Path(lines[0].rsplit(" in ", 1)[-1])
    fingerprint = [ln.split(":", 1)[1].strip() for ln in done.stdout.splitlines()
                   if ln.startswith("fingerprint:")]
    return {
        "command": shlex.join(["python", *cmd[1:]]),
        "printed": lines[0],
        "store_path": str(store_path),
        "fingerprint": fingerprint[0] if fingerprint else None,
        "wall_s": wall,
        "cpu_user_s": after.ru_utime - before.ru_utime,
        "cpu_sys_s": after.ru_stime - before.ru_stime,
        "clips_per_s": clips / wall,
        "uptime_before": load_before,
        "uptime_after": uptime(),
    }


def load_store_batch(store: PoseStore, batch: np.ndarray) -> list[tuple[np.ndarray, ...]]:
    out = []
    for i in batch:
        kp, conf, valid = store.arrays(int(i))
        out.append((np.array(kp), np.array(conf), np.array(valid)))
    return out


def load_pickle_batch(files: list[Path], batch: np.ndarray) -> list[tuple[np.ndarray, ...]]:
    out = []
    for i in batch:
        data = load_pickle(files[int(i)])
        kp = np.stack(data["keypoints"])[:, 0].astype(np.float32)  # person 0, (T, 133, 2)
        conf = np.stack(data["scores"])[:, 0].astype(np.float32)   # (T, 133)
        out.append((kp, conf))
    return out


def time_batches(load, batches: list[np.ndarray]) -> dict[str, float]:
    times = []
    for batch in batches:
        t0 = time.perf_counter()
        load(batch)
        times.append(time.perf_counter() - t0)
    clips = sum(len(b) for b in batches)
    return {"median_ms": 1000 * statistics.median(times),
            "mean_ms": 1000 * statistics.fmean(times),
            "clips_per_s": clips / sum(times), "total_s": sum(times)}


def measure_loading(store_path: Path, paths: dict[str, Path], batch: int, n_batches: int,
                    seed: int) -> dict[str, object]:
    t0 = time.perf_counter()
    store = PoseStore(store_path)  # verify=True: hashes every file
    open_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    PoseStore(store_path, verify=False)
    open_noverify_s = time.perf_counter() - t0
    files = [paths[c.id] for c in store.clips]  # store index -> its source pickle
    rng = np.random.default_rng(seed)
    batches = [rng.choice(len(store), size=batch, replace=False) for _ in range(n_batches)]

    # Same clips both ways: check that the two readers agree on one batch.
    for (skp, sconf, _), (pkp, pconf) in zip(load_store_batch(store, batches[0]),
                                             load_pickle_batch(files, batches[0]), strict=True):
        np.testing.assert_array_equal(skp, pkp)
        np.testing.assert_array_equal(sconf, pconf)

    result: dict[str, object] = {"store_open_verify_s": open_s,
                                 "store_open_noverify_s": open_noverify_s}
    for name, load in (("store", lambda b: load_store_batch(store, b)),
                       ("pickles", lambda b: load_pickle_batch(files, b))):
        first = time_batches(load, batches)
        second = time_batches(load, batches)
        result[name] = {**second, "first_run": first}
    result["uptime"] = uptime()
    return result


def fmt_bytes(n: int) -> str:
    return f"{n / 2**30:.2f} GiB"


def table(r: dict) -> str:
    p, ld = r["prepare"], r["loading"]
    s, k = ld["store"], ld["pickles"]
    src, st = r["source_size"], r["store_size"]
    b = r["args"]["batch"]
    rows = [
        ("prepare wall time", f"{p['wall_s']:.1f} s",
         "load" + p["uptime_before"].split("load")[-1]),
        ("prepare throughput", f"{p['clips_per_s']:.0f} clips/s",
         f"CPU user {p['cpu_user_s']:.1f} s, sys {p['cpu_sys_s']:.1f} s"),
        ("source on disk", fmt_bytes(src["disk_bytes"]),
         f"{src['files']} files, {fmt_bytes(src['apparent_bytes'])} apparent"),
        ("store on disk", fmt_bytes(st["disk_bytes"]),
         f"{st['files']} files, {st['disk_bytes'] / src['disk_bytes']:.2f} x source"),
        ("store open (verify=True)", f"{ld['store_open_verify_s']:.2f} s",
         f"verify=False: {ld['store_open_noverify_s']:.2f} s"),
        (f"store: ms per batch of {b}", f"{s['median_ms']:.1f} median / {s['mean_ms']:.1f} mean",
         f"{s['clips_per_s']:.0f} clips/s (first run {s['first_run']['median_ms']:.1f} ms)"),
        (f"pickles: ms per batch of {b}",
         f"{k['median_ms']:.1f} median / {k['mean_ms']:.1f} mean",
         f"{k['clips_per_s']:.0f} clips/s (first run {k['first_run']['median_ms']:.1f} ms)"),
        ("pickles / store (median)", f"{k['median_ms'] / s['median_ms']:.1f} x", ""),
    ]
    lines = ["| measure | value | notes |", "|---|---|---|"]
    lines += [f"| {a} | {v} | {n.strip()} |" for a, v, n in rows]
    lines += [
        "",
        f"- date: {r['date']}; host: {r['host']}; python {r['python']}, numpy {r['numpy']}",
        f"- clips: {r['args']['clips']} x {r['args']['frames']} frames "
        f"(splits {r['splits']}); batches: {r['args']['batches']} x {b}, seed "
        f"{r['args']['seed']}",
        f"- command: `{p['command']}`",
        f"- store: {p['store_path']} ({p['printed']}; fingerprint {p['fingerprint']})",
        f"- uptime before prepare: `{p['uptime_before']}`",
        f"- uptime after prepare: `{p['uptime_after']}`",
        f"- uptime after loading: `{ld['uptime']}`",
        "- page cache: warm. The source was read once before prepare; loading numbers are the "
        "second of two runs over the same batches (first-run medians in the notes column).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--clips", type=int, default=20000)
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--batches", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1, help="seed of the random batches")
    args = ap.parse_args(argv)
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)

    start_uptime = uptime()
    print(f"[{start_uptime}] generating {args.clips} clips in {workdir / 'source'}", flush=True)
    gen = generate(workdir / "source", args.clips, args.frames)
    print(f"  {'generated' if gen['generated'] else 'already complete'} "
          f"({gen['seconds']:.1f} s)", flush=True)
    paths: dict[str, Path] = gen["paths"]
    warm_s = warm_files([*paths.values(), *(workdir / "source" / "labels").iterdir()])
    print(f"  source read once in {warm_s:.1f} s; preparing ...", flush=True)

    prep = run_prepare(workdir, args.clips)
    print(f"  {prep['printed']}\n  {prep['wall_s']:.1f} s", flush=True)
    print("loading batches ...", flush=True)
    loading = measure_loading(Path(prep["store_path"]), paths, args.batch, args.batches,
                              args.seed)

    result = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "host": platform.node(), "cpus": os.cpu_count(),
        "python": platform.python_version(), "numpy": np.__version__,
        "args": {**vars(args), "workdir": str(workdir)},
        "splits": gen["splits"],
        "uptime_start": start_uptime,
        "generate": {"generated": gen["generated"], "seconds": gen["seconds"],
                     "warm_read_s": warm_s},
        "source_size": disk_usage(workdir / "source"),
        "store_size": disk_usage(Path(prep["store_path"])),
        "prepare": prep,
        "loading": loading,
    }
    print()
    print(table(result))
    (workdir / "prepare_20k.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwritten: {workdir / 'prepare_20k.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
