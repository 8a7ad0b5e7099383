"""`python -m harness leaderboard`: tables from a real MLflow store and result files with
known runs, checked number by number."""

from __future__ import annotations

import hashlib
import json
import math
import os
import statistics
from pathlib import Path

import pytest

from harness.analysis.leaderboard import Stat, read_reported, write_leaderboards
from harness.analysis.records import from_mlflow, from_mlflow_client, parse_filters
from harness.cell.results import SCHEMA_VERSION
from harness.core.registry import BENCHMARKS
from harness.errors import DataError, UserError

TOPK = "protocol:islr-topk|version:1"
REPORTED_HEAD = "method,paper_method,bench,split,metric,protocol,value,input,source,confidence\n"


def T95(df: int) -> float:
    """The two-sided 95% quantile of Student's t with ``df`` degrees of freedom."""
    from scipy.stats import t

    return float(t.ppf(0.975, df))
CLIPS = 200  # test clips per cell; top1 = 100 * (correct clips) / CLIPS


def cell(out: Path, method: str, seed: int, top1: float, *, signature: str = TOPK,
         extra: dict | None = None, bench: str = "wlasl", subset: int | None = 2000,
         status: str = "finished", tracker=None, run_status: str = "FINISHED",
         preset: str = "paper", counts: dict | None = None, dirty: bool = False,
         info: dict | None = None, selection: dict | None = None) -> Path:
    """A cell as the runner leaves it: result.json, config.json, predictions/test.jsonl
    (the first top1% of the clips right), and, with ``tracker``, its MLflow run. By default
    a cell that may stand beside a paper's number: the paper preset, committed code, pose
    input and a store with the clip counts the benchmark expects (``counts``: others)."""
    config = {"method": {"name": method}, "bench": {"name": bench},
              "finetune": {"lr": 1e-3}, "pretrain": {"epochs": 2},
              "data": {"train_fraction": 1.0}}
    if subset is not None:
        config["bench"]["subset"] = subset
    for key, value in (extra or {}).items():
        section, name = key.split(".")
        config[section][name] = value
    chash = hashlib.sha256(json.dumps([method, extra, signature[-1], subset],
                                      sort_keys=True).encode()).hexdigest()[:16]
    key = f"{chash}-{seed}"
    folder = out / "cells" / bench / method / key
    (folder / "predictions").mkdir(parents=True)
    right = round(top1 * CLIPS / 100)
    rows = [{"id": f"c{i:03d}", "reference": f"g{i % 7}",
             "prediction": [f"g{i % 7}" if i < right else "wrong", "x", "y", "z", "w"]}
            for i in range(CLIPS)]
    (folder / "predictions" / "test.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows))
    (folder / "config.json").write_text(json.dumps({"config": config}))
    if counts is None:  # the store as prepared (the predictions are a sample of its test)
        counts = dict(BENCHMARKS.get("wlasl").expected[subset]) if bench == "wlasl" else \
            {"train": 3 * CLIPS, "dev": CLIPS, "test": CLIPS}
    result = {
        "schema": SCHEMA_VERSION, "status": status, "method": method, "preset": preset,
        "bench": bench, "task": "islr", "seed": seed, "cell_key": key, "config_hash": chash,
        "benchmark": {"name": bench, "version": "wlasl-1", "fingerprint": "f" * 16,
                      "counts": counts},
        "metrics": {"test": {"top1": top1, "top5": top1 + 10}},
        "signatures": {"topk": signature},
        "selection": selection or {"split": "dev", "epoch": 3, "epochs": 4,
                                   "fallback_to_last": False},
        "code": {"git_sha": "abcdef0123456789", "dirty": dirty}, "environment": {},
        "timings": {}, "files": {"predictions_test": "predictions/test.jsonl"},
        "mlflow": {"tracking_uri": "sqlite:///x/mlflow.db", "run_id": f"run{method}{seed}0000"},
        "method_info": info or {"input": "pose", "variant": None},
    }
    if tracker is not None:
        client, experiment = tracker
        run = client.create_run(experiment, tags={"harness.cell_key": key})
        result["mlflow"] = {"tracking_uri": client.tracking_uri, "run_id": run.info.run_id}
        if status == "finished":
            client.set_tag(run.info.run_id, "harness.status", "finished")
        (folder / "result.json").write_text(json.dumps(result))
        client.log_artifact(run.info.run_id, str(folder / "result.json"))
        client.log_artifact(run.info.run_id, str(folder / "config.json"))
        client.log_artifacts(run.info.run_id, str(folder / "predictions"), "predictions")
        client.set_terminated(run.info.run_id, run_status)
    else:
        (folder / "result.json").write_text(json.dumps(result))
    return folder


@pytest.fixture()
def tracked(tmp_path: Path) -> tuple[Path, str]:
    """A real sqlite MLflow store and cells folder with known runs."""
    from mlflow.tracking import MlflowClient

    out = tmp_path / "outputs"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    exp = client.create_experiment("harness",
                                   artifact_location=(tmp_path / "art").resolve().as_uri())
    t = (client, exp)
    for seed, v in enumerate([60.0, 62.0, 64.0]):
        cell(out, "sigma", seed, v, tracker=t)
    for seed, v in enumerate([50.0, 54.0]):  # seed 2 missing
        cell(out, "scratch", seed, v, tracker=t)
    cell(out, "scratch", 2, 99.0, status="failed", tracker=t, run_status="FAILED")
    cell(out, "sigma", 0, 70.0, extra={"pretrain.epochs": 0}, tracker=t)  # an ablation
    for seed, v in enumerate([40.0, 41.0, 42.0]):  # another protocol: never the same table
        cell(out, "sigma", seed, v, signature="protocol:islr-topk|version:2", tracker=t)
    for seed, v in enumerate([30.0, 34.0]):  # label efficiency: half the labelled clips
        cell(out, "sigma", seed, v, extra={"data.train_fraction": 0.5}, tracker=t)
    cell(out, "scratch", 0, 20.0, extra={"data.train_fraction": 0.5}, tracker=t)
    cell(out, "sigma", 5, 10.0, bench="wlasl", subset=100, tracker=t)  # WLASL100: own table
    return out, uri


def test_stats_are_mean_sample_std_and_student_t_interval():
    s = Stat.of([60.0, 62.0, 64.0])
    assert s.mean == 62.0 and s.std == 2.0
    assert s.ci95 == pytest.approx(T95(2) * 2.0 / math.sqrt(3), rel=1e-12)
    assert T95(2) == pytest.approx(4.302653, abs=1e-6)  # the exact quantile, not 4.303
    many = [float(v % 7) for v in range(40)]  # df 39: Student's t, not the normal's 1.96
    assert Stat.of(many).ci95 == pytest.approx(
        T95(39) * statistics.stdev(many) / math.sqrt(40), rel=1e-12)
    assert T95(39) == pytest.approx(2.022691, abs=1e-6)
    assert Stat.of([5.0]) == Stat(5.0, None, None)


def test_an_ablation_is_beyond_noise_only_where_the_seeds_and_the_clips_both_say_so():
    from types import SimpleNamespace

    from harness.analysis.leaderboard import Row, ablation_verdict, seed_paired_interval

    def row(seeds, top1):
        return Row("islr", "b", "1", "s", "sigma", "h", headline=("top1",), seeds=seeds,
                   values={"top1": top1})

    full = row([0, 1, 2], [50.0, 60.0, 55.0])
    # a constant -5 at every seed: the seed spread of either row (std 5) does not matter
    steady = seed_paired_interval(row([0, 1, 2], [45.0, 55.0, 50.0]), full, "top1")
    assert steady == (-5.0, -5.0)
    # the same mean difference, scattered over the seeds, is within their noise
    scattered = seed_paired_interval(row([0, 1, 2], [40.0, 62.0, 48.0]), full, "top1")
    d = [-10.0, 2.0, -7.0]
    half = T95(2) * statistics.stdev(d) / math.sqrt(3)
    assert scattered == pytest.approx((statistics.fmean(d) - half, statistics.fmean(d) + half))
    assert scattered[0] < 0 < scattered[1]
    # seeds are paired by number; a seed the full config lacks is left out
    assert seed_paired_interval(row([1, 2, 7], [55.0, 50.0, 0.0]), full, "top1") == (-5.0, -5.0)
    assert seed_paired_interval(row([2, 7], [50.0, 0.0]), full, "top1") is None
    sig, insig = SimpleNamespace(significant=lambda a: True), \
        SimpleNamespace(significant=lambda a: False)
    assert ablation_verdict(sig, steady) == "beyond noise"
    assert ablation_verdict(insig, steady) == "within noise"  # the test set's noise can explain it
    assert ablation_verdict(sig, scattered) == "within noise"  # the seeds' noise can
    assert ablation_verdict(None, steady) == "beyond noise"  # no predictions: the seeds decide
    assert ablation_verdict(sig, None) == "too few seeds"


def test_mlflow_source_reads_finished_runs_only(tracked):
    _, uri = tracked
    records = from_mlflow(uri)
    assert len(records) == 13  # 14 runs, one failed
    assert all(r.result["status"] == "finished" for r in records)
    assert all(r.predictions() is not None for r in records)  # artifacts read in place
    # the sqlite fast path reads what MlflowClient reads
    assert [r.result for r in from_mlflow_client(uri, "harness")] == [r.result for r in records]


def _rows(section: str) -> list[list[str]]:
    return [line.split(" | ") for line in section.splitlines()
            if line.startswith(("| sigma", "| scratch"))]


def test_tables_show_exact_numbers_marks_and_order(tracked, tmp_path):
    out, uri = tracked
    reported = tmp_path / "reported.csv"
    reported.write_text(
        REPORTED_HEAD +
        "sigma,Sigma,wlasl2000,test,top1,islr-topk,64.40,pose,Sigma paper,secondary\n"
        "sigma,Sigma,wlasl2000,dev,top1,islr-topk,99.0,pose,dev only,secondary\n"
        ",NLA-SLR,wlasl2000,test,top1,islr-topk,61.26,rgb+pose,SLRT README,verified\n")
    lb = tmp_path / "lb"
    write_leaderboards(out, lb, reported, uri=uri, resamples=500)
    page = (lb / "islr.md").read_text()
    assert page.index("## wlasl100 (version wlasl-1)") < page.index("## wlasl2000")
    v1, v2 = page.split("## wlasl2000 (version wlasl-1)")[1:]
    assert "`protocol:islr-topk|version:1`" in v1 and "version:2" not in v1
    assert "`protocol:islr-topk|version:2`" in v2 and "version:1`" not in v2
    main = v1.split("### ")[0]
    rows = _rows(main)
    assert [r[:3] for r in rows] == [
        ["| scratch", "-", "2 †"], ["| scratch", "data.train_fraction=0.5", "1 †"],
        ["| sigma", "-", "3"], ["| sigma", "data.train_fraction=0.5", "2 †"],
        ["| sigma", "no pre-training (pretrain.epochs=0)", "1 †"]]
    scratch, _, sigma, half, ablation = rows
    assert scratch[3] == f"52.00 ± {statistics.stdev([50.0, 54.0]):.2f}"
    assert scratch[6:9] == ["-", "-", "-"]  # the baseline itself; nothing reported for it
    ci = T95(2) * 2.0 / math.sqrt(3)
    assert sigma[3:6] == ["62.00 ± 2.00", "72.00 ± 2.00", f"[{62 - ci:.2f}, {62 + ci:.2f}]"]
    # sigma is right on a superset of scratch's clips on every seed: +10 points, and no
    # resample of 500 crossed 0, so p is below their resolution
    assert sigma[6] == "+10.00 (p < 0.002)*"
    assert sigma[7:9] == ["64.40", "-2.40"]
    assert half[3] == "32.00 ± 2.83" and half[6] == "-20.00 (p < 0.002)*"
    assert ablation[3] == "70.00" and ablation[5] == "-"
    assert sigma[-1].startswith("s0 `") and sigma[-1].count("`") == 6
    assert "Reported numbers: sigma: Sigma paper" in main
    assert "| NLA-SLR | rgb+pose | islr-topk | 61.26 | SLRT README | verified |" in main
    assert "99.00" not in page  # neither the failed run nor the dev number
    abl = v1.split("### Ablations of sigma on wlasl2000")[1].split("###")[0]
    assert "| full | - | 3 | 62.00 ± 2.00 | - | - | - | - |" in abl
    # one seed: the clips' bootstrap alone cannot say the seeds would agree
    assert ("| no pre-training | pretrain.epochs=0 | 1 † | 70.00 | +8.00 | < 0.002 | - | "
            "too few seeds |") in abl
    eff = v1.split("### Label efficiency on wlasl2000")[1]
    assert "| 0.5 | 1 |" in eff
    assert "| scratch | - | 20.00 (1) | 52.00 ± 2.83 (2) |" in eff
    assert "| sigma | - | 32.00 ± 2.83 (2) | 62.00 ± 2.00 (3) |" in eff
    assert "![wlasl2000: top1 per method and seed](plots/wlasl2000-" in v1
    index = (lb / "README.md").read_text()
    assert "Built from 13 finished cells (13 from MLflow" in index
    assert "| Isolated sign recognition (ISLR) | wlasl100, wlasl2000 | 7 | [islr.md](islr.md) |" \
        in index
    assert "No finished cells of this task yet." in (lb / "slt.md").read_text()
    pngs = sorted((lb / "plots").glob("*.png"))
    assert len(pngs) == 3 and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


def test_result_files_fill_in_what_the_store_lacks(tracked, tmp_path):
    out, uri = tracked
    cell(out, "scratch", 3, 52.0)  # finished, but never reached MLflow
    lb = tmp_path / "lb"
    write_leaderboards(out, lb, uri=uri, resamples=0, plots=False)
    page = (lb / "islr.md").read_text()
    scratch = _rows(page.split("## wlasl2000 (version wlasl-1)")[1])[0]
    assert scratch[2:4] == ["3", "52.00 ± 2.00"]
    assert "(13 from MLflow" in (lb / "README.md").read_text()
    assert "1 from the result files" in (lb / "README.md").read_text()


def test_filters_select_cells(tracked, tmp_path):
    out, uri = tracked
    lb = tmp_path / "lb"
    write_leaderboards(out, lb, uri=uri, resamples=0, plots=False,
                       filters=parse_filters(["method=sigma", "data.train_fraction!=0.5"]))
    page = (lb / "islr.md").read_text()
    assert "| scratch" not in page and "train_fraction=0.5" not in page
    with pytest.raises(UserError, match="no finished cell has this key"):
        write_leaderboards(out, lb, uri=uri, filters=parse_filters(["nope=1"]))
    with pytest.raises(UserError, match="expected KEY=VALUE"):
        parse_filters(["method"])


def test_regenerating_changes_no_byte(tracked, tmp_path):
    out, uri = tracked
    first, second = tmp_path / "a", tmp_path / "b"
    write_leaderboards(out, first, uri=uri, resamples=200)
    write_leaderboards(out, second, uri=uri, resamples=200)
    names = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert len(names) == 7  # three pages, the index, three plots
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


SIGMA_REPORTED = "sigma,Sigma,wlasl2000,test,top1,islr-topk,64.40,pose,Sigma paper,secondary\n"


def lone_row(tmp_path: Path, name: str, reported: str = SIGMA_REPORTED, **kwargs
             ) -> tuple[list[str], str]:
    """The table row of one sigma cell on wlasl2000 (``kwargs`` as ``cell`` takes them)
    beside ``reported``, and its page: method, config, n, top1, top5, CI, vs scratch,
    reported, Δ, test clips, epoch, marks, data, code, runs."""
    out, lb = tmp_path / name / "cells", tmp_path / name / "lb"
    cell(out, "sigma", 0, 62.0, **kwargs)
    csv_file = tmp_path / name / "reported.csv"
    csv_file.write_text(REPORTED_HEAD + reported)
    write_leaderboards(out, lb, csv_file, resamples=0, plots=False)
    page = (lb / "islr.md").read_text()
    (row,) = _rows(page)
    return row, page


def test_a_row_shows_its_clips_and_selected_epoch_and_is_compared_only_when_sound(tmp_path):
    """Issue 20: every row shows the test clips it was scored on against the expected count
    and the epoch each seed was selected at; a row from incomplete data, from a preset not
    meant for real data or from uncommitted code is marked and gets no difference from the
    paper's number; a variant, another input or another (or unknown) protocol gets no
    paper's number at all (issue 18: the selected epoch)."""
    sound, _ = lone_row(tmp_path, "sound")
    assert sound[7:12] == ["64.40", "-2.40", "2878/2878", "3/4", "-"]
    # 7 test clips of 642 expected, as in the issue: marked, shown, never a difference
    short, _ = lone_row(tmp_path, "short", counts={"train": 5, "dev": 519, "test": 1})
    assert short[7:10] == ["64.40", "-", "1/2878"]
    assert short[11] == "incomplete data (train 5 of 14289, dev 519 of 3916, test 1 of 2878)"
    smoke, _ = lone_row(tmp_path, "smoke", preset="smoke")
    assert smoke[7:9] == ["64.40", "-"] and smoke[11] == "preset smoke: not for real data"
    dirty, _ = lone_row(tmp_path, "dirty", dirty=True)
    assert dirty[7:9] == ["64.40", "-"] and dirty[11] == "uncommitted code"
    assert dirty[13] == "`abcdef0123+dirty`"
    variant, page = lone_row(tmp_path, "variant",
                             info={"input": "pose", "variant": "pose-only adaptation"})
    assert variant[7:9] == ["-", "-"] and variant[11] == "variant: pose-only adaptation"
    assert "| Sigma | pose | islr-topk | 64.40 | Sigma paper | secondary |" in page  # context
    rgb, _ = lone_row(tmp_path, "rgb", info={"input": "pose+rgb", "variant": None})
    assert rgb[7:9] == ["-", "-"]
    both, _ = lone_row(tmp_path, "both", info={"input": "pose+rgb", "variant": None},
                       reported=SIGMA_REPORTED.replace(",pose,", ",rgb+pose,"))
    assert both[7:9] == ["64.40", "-2.40"]  # the same modalities, in either order
    for protocol in ("unknown", "islr-nmfs-split"):
        other, _ = lone_row(tmp_path, protocol,
                            reported=SIGMA_REPORTED.replace("islr-topk", protocol))
        assert other[7:9] == ["-", "-"], protocol
    fell_back, _ = lone_row(tmp_path, "fallback", selection={
        "split": "dev", "epoch": 4, "epochs": 4, "fallback_to_last": True})
    assert fell_back[10] == "4/4‡"
    no_dev, _ = lone_row(tmp_path, "no-dev", selection={
        "split": None, "epoch": 4, "epochs": 4, "fallback_to_last": True})
    assert no_dev[10] == "last (no dev split)"


def test_a_protocol_matches_its_name_and_the_options_its_number_depends_on():
    from harness.analysis.leaderboard import protocol_matches

    unisign = "protocol:bleu-13a|version:1|rouge:unisign|nrefs:1|case:mixed|tok:13a"
    plain = "protocol:bleu-13a|version:1|nrefs:1|case:mixed|tok:13a"
    assert protocol_matches("bleu-13a|rouge:unisign", unisign)
    assert not protocol_matches("bleu-13a|rouge:unisign", plain)
    assert protocol_matches("bleu-13a", unisign) and protocol_matches("bleu-13a", plain)
    assert not protocol_matches("bleu-char", plain) and not protocol_matches("bleu-1", plain)
    assert not protocol_matches("unknown", plain) and not protocol_matches("", plain)


def test_synthetic_rows_count_as_complete_whatever_their_preset(tmp_path):
    out, lb = tmp_path / "cells", tmp_path / "lb"
    cell(out, "scratch", 0, 50.0, bench="synth-islr", subset=None, preset="smoke")
    write_leaderboards(out, lb, resamples=0, plots=False)
    (row,) = _rows((lb / "islr.md").read_text())
    assert row[9:12] == [f"{CLIPS} (generated)", "3/4", "-"]
    assert "synth-islr are SynthSign" in (lb / "README.md").read_text()


def test_pages_hold_no_machine_path_and_mark_every_dirty_row(tracked, tmp_path, monkeypatch):
    """The committed leaderboards showed ``+dirty`` code versions unmarked and the absolute
    path of the machine's MLflow store: every path in the pages is relative now (to the
    pages' folder; in the regenerate command, to the folder it ran in), and a row from
    uncommitted code says so."""
    from harness.cli.main import main

    out, uri = tracked
    cell(out, "sigma", 3, 62.0, dirty=True)  # one seed of sigma's main row, uncommitted
    mine = tmp_path / "mine.csv"
    mine.write_text(REPORTED_HEAD + SIGMA_REPORTED)
    lb = tmp_path / "lb"
    monkeypatch.chdir(tmp_path)  # the folder it runs in; every path given absolute
    assert main(["leaderboard", "--results", str(out.resolve()), "--tracking-uri", uri,
                 "--out", str(lb.resolve()), "--reported", str(mine.resolve()),
                 "--resamples", "0", "--no-plots"]) == 0
    pages = {p.name: p.read_text() for p in lb.glob("*.md")}
    assert len(pages) == 4
    for name, text in pages.items():
        assert str(tmp_path) not in text and "sqlite:////" not in text, name
        assert not [w for w in text.split() if w.strip("`(").startswith("/")], name
        for line in text.splitlines():
            if "+dirty" in line:
                assert "uncommitted code" in line, line
    assert "`../mlflow.db`" in pages["islr.md"]  # the store, relative to the pages
    assert "--results outputs --tracking-uri sqlite:///mlflow.db --out lb --reported mine.csv" \
        in pages["README.md"]  # the command, relative to where it ran
    sigma = _rows(pages["islr.md"].split("## wlasl2000 (version wlasl-1)")[1])[2]
    assert sigma[:3] == ["| sigma", "-", "4"] and sigma[7:9] == ["64.40", "-"]
    assert sigma[11] == "uncommitted code" and "`abcdef0123+dirty`" in sigma[13]


def test_bad_reported_file_is_one_line(tmp_path):
    bad = tmp_path / "reported.csv"
    bad.write_text("method,value\nsigma,1\n")
    with pytest.raises(DataError, match="expected the columns"):
        read_reported(bad)
    bad.write_text(REPORTED_HEAD + "sigma,Sigma,wlasl2000,test,top1,islr-topk,high,pose,x,y\n")
    with pytest.raises(DataError, match=r"reported.csv:2: value 'high' is not a number"):
        read_reported(bad)


def test_the_packaged_reported_numbers_are_found_wherever_the_pages_go(tracked, tmp_path,
                                                                        monkeypatch, capsys):
    """Without --reported the pages take the curated leaderboards/reported.csv of the harness,
    whatever --out is; where that file is missing they say so (one line on stderr, and the
    index) instead of claiming it holds numbers; --reported names another file."""
    from harness.analysis import leaderboard
    from harness.cli.main import main

    out, uri = tracked
    lb = tmp_path / "elsewhere" / "lb"
    argv = ["leaderboard", "--results", str(out), "--tracking-uri", uri, "--out", str(lb),
            "--resamples", "0", "--no-plots"]
    assert main(argv) == 0
    assert capsys.readouterr().err == ""
    sigma = _rows((lb / "islr.md").read_text().split("## wlasl2000 (version wlasl-1)")[1])[2]
    assert sigma[:2] == ["| sigma", "-"] and sigma[7:9] == ["64.40", "-2.40"]
    index = (lb / "README.md").read_text()
    packaged = os.path.relpath(leaderboard.REPORTED, lb)  # no absolute path in the pages
    assert f"`{packaged}` holds the numbers papers report" in index

    mine = tmp_path / "mine.csv"
    mine.write_text(REPORTED_HEAD +
                    "sigma,Sigma,wlasl2000,test,top1,islr-topk,61.00,pose,my notes,secondary\n")
    assert main([*argv, "--reported", str(mine)]) == 0
    sigma = _rows((lb / "islr.md").read_text().split("## wlasl2000 (version wlasl-1)")[1])[2]
    assert sigma[7:9] == ["61.00", "+1.00"]
    # the command to regenerate, its paths relative to where it ran
    assert f"--reported {os.path.relpath(mine)}" in (lb / "README.md").read_text()

    monkeypatch.setattr(leaderboard, "REPORTED", tmp_path / "gone" / "reported.csv")
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{tmp_path / 'gone' / 'reported.csv'} is missing" in err
    sigma = _rows((lb / "islr.md").read_text().split("## wlasl2000 (version wlasl-1)")[1])[2]
    assert sigma[7:9] == ["-", "-"]
    index = (lb / "README.md").read_text()
    assert "holds the numbers papers report" not in index
    assert "No reported numbers: ../../gone/reported.csv is missing" in index


def test_shipped_reported_file_parses_and_names_harness_metrics():
    from harness.core.registry import PROTOCOLS

    shipped = read_reported(Path(__file__).parent.parent / "leaderboards" / "reported.csv")
    assert len(shipped) >= 35 and all(r.source for r in shipped)
    names = {m for cls in PROTOCOLS.entries().values() for m in cls().metrics} | {"t2v_r1"}
    assert {r.metric for r in shipped} <= names


def test_cli_writes_the_pages_and_refuses_a_missing_folder(harness, tracked, tmp_path):
    out, uri = tracked
    done = harness("leaderboard", "--results", str(out), "--tracking-uri", uri,
                   "--out", str(tmp_path / "lb"), "--resamples", "100")
    assert done.code == 0, done.err
    assert done.out.count("wrote ") == 7
    missing = harness("leaderboard", "--results", str(tmp_path / "nope"))
    assert missing.code == 2 and missing.err.startswith("error: ")
    assert missing.err.count("\n") == 1 and "nope is not a folder" in missing.err
    bad = harness("leaderboard", "--results", str(out), "--filter", "seed")
    assert bad.code == 2 and "expected KEY=VALUE" in bad.err


def test_a_tie_between_configs_goes_to_the_method_preset():
    from harness.analysis.summary import config_changes, preset_values

    configs = [{"method": {"name": "sigma"}, "pretrain": {"epochs": 2}},
               {"method": {"name": "sigma"}, "pretrain": {"epochs": 0}}]
    assert config_changes(configs, [3, 3]) == ["pretrain.epochs=2", ""]  # no preference: sorted
    prefer = preset_values("sigma", "smoke")
    assert prefer["pretrain.epochs"] == 2
    assert config_changes(configs, [3, 3], prefer) == ["", "pretrain.epochs=0"]


def test_forked_work_returns_its_value_and_raises_its_errors_here():
    """The plots are drawn in a forked process: its value comes back, and where it fails
    or dies the work is done again in this process, so that its error is raised here."""
    import os

    from harness.analysis.leaderboard import Forked

    parent = os.getpid()
    if len(os.sched_getaffinity(0)) >= 2:  # with one core the work is done in place
        assert Forked(os.getpid).result() != parent
    assert Forked(lambda: {"a.png": b"\x89PNG" * 1000}).result() == {"a.png": b"\x89PNG" * 1000}
    with pytest.raises(ZeroDivisionError):
        Forked(lambda: 1 // 0).result()
    assert Forked(lambda: os._exit(3) if os.getpid() != parent else "here").result() == "here"
