"""Every plugin keeps its interface's promises, checked over the registries (a new
benchmark, metric protocol, pose format or label format is checked the moment it
registers, with no list to extend): benchmarks declare their splits, protocol and expected
clip counts; metric protocols own their statistics, corpus score, direction, headline,
selection and signature; pose and label formats are told apart from a source and read it."""

from __future__ import annotations

import ast
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.cell.runner import resolve_bench_config
from harness.core.metric import MetricProtocol, Signature, default_protocol, get_protocol
from harness.core.registry import BENCHMARKS, LABEL_FORMATS, POSE_FORMATS, PROTOCOLS
from harness.core.tasks import TASKS

ROOT = Path(__file__).parent.parent
#: Values for ``eval`` options a protocol ``needs`` (a protocol needing another fails here).
NEEDED = {"confusing_classes": ["G1", "G2", "G3"]}
LABELS = [f"G{i}" for i in range(12)]
WORDS = ["the", "cat", "sat", "on", "a", "mat", "Rain", "tomorrow", ".", ",", "loc-W1",
         "__EMOTION__", "我们", "天气", "好"]


def random_run(task: str, seed: int, n: int = 60) -> tuple[dict[str, Any], dict[str, str]]:
    """Random predictions and references of ``task`` (empty hypotheses among them)."""
    rng = random.Random(seed)
    ids = [f"c{i:03d}" for i in range(n)]
    if task == "islr":
        refs = {c: LABELS[i % len(LABELS)] for i, c in enumerate(ids)}  # every class occurs
        return {c: rng.sample(LABELS, 5) for c in ids}, refs
    refs = {c: " ".join(rng.choices(WORDS, k=rng.randint(1, 9))) for c in ids}
    return {c: " ".join(rng.choices(WORDS, k=rng.randint(0, 9))) for c in ids}, refs


def option_sets(proto: MetricProtocol) -> list[dict[str, Any]]:
    """The options a protocol is scored under here: what it needs, then each value of each
    of its choices, and lower-cased."""
    base = {key: NEEDED[key] for key in proto.needs}
    out = [base, {**base, "lowercase": True}]
    out += [{**base, key: value} for key, values in proto.choices.items() for value in values]
    return out


@pytest.fixture(params=PROTOCOLS.names())
def protocol(request: pytest.FixtureRequest) -> MetricProtocol:
    return get_protocol(request.param)


def test_a_protocol_declares_its_task_metrics_direction_headline_and_selection(protocol):
    assert protocol.task in TASKS and protocol.version and protocol.summary
    metrics = protocol.metrics
    assert len(set(metrics)) == len(metrics)
    assert protocol.headline and set(protocol.headline) <= set(metrics)
    assert protocol.selection in metrics
    assert set(protocol.tested) <= set(metrics) and protocol.lower_is_better <= set(metrics)
    assert all(isinstance(protocol.higher_is_better(m), bool) for m in metrics)
    assert set(protocol.choices) == set(protocol.choice_names)


@pytest.mark.parametrize("task", sorted(TASKS))
def test_each_task_has_one_default_protocol(task):
    defaults = [n for n, cls in PROTOCOLS.entries().items() if cls.task == task and
                cls.task_default]
    assert defaults == [default_protocol(task).name]


@pytest.mark.parametrize("seed", [0, 1])
def test_a_protocol_gives_every_metric_with_its_signature(protocol, seed):
    preds, refs = random_run(protocol.task, seed)
    for options in option_sets(protocol):
        scores = protocol.score(preds, refs, options)
        assert set(scores.metrics) == set(protocol.metrics)
        assert set(scores.signatures) == set(protocol.families)
        for family, text in scores.signatures.items():
            sig = protocol.signature(options, text.removeprefix(
                str(protocol.signature(options))).removeprefix("|"))
            assert str(sig) == text and sig.protocol == protocol.name
            assert text.startswith(str(Signature(protocol.name, protocol.version)))
            assert family in protocol.families


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_summed_statistics_give_the_protocols_corpus_score(protocol, seed):
    """Per-clip statistics, summed, give exactly the corpus metric the protocol scores,
    on the full test set and on any subset of its clips."""
    preds, refs = random_run(protocol.task, seed)
    rng = np.random.default_rng(seed)
    for options in option_sets(protocol):
        stats = protocol.statistics(preds, refs, options)
        assert list(stats) == list(protocol.tested)
        scores = protocol.score(preds, refs, options).metrics
        some = sorted(rng.choice(len(refs), size=len(refs) // 2, replace=False))
        ids = [list(refs)[i] for i in some]
        part = protocol.score({c: preds[c] for c in ids}, {c: refs[c] for c in ids}, options)
        for metric, per_clip in stats.items():
            assert per_clip.shape == (len(refs), protocol.width(metric))
            assert protocol.corpus(metric, per_clip.sum(0, keepdims=True))[0] == \
                scores[metric]
            assert protocol.corpus(metric, per_clip[some].sum(0, keepdims=True))[0] == \
                part.metrics[metric]


@pytest.fixture(params=BENCHMARKS.names())
def bench(request: pytest.FixtureRequest) -> Any:
    name = request.param
    return BENCHMARKS.get(name)(resolve_bench_config(name, []))


def test_a_benchmark_declares_splits_protocol_and_expected_counts(bench):
    assert bench.task in TASKS
    assert "train" in bench.splits and "test" in bench.splits
    assert bench.select_split is None or bench.select_split in bench.splits
    assert "dev" in bench.splits or bench.select_split is None
    protocol = bench.metric_protocol()
    assert isinstance(protocol, MetricProtocol) and protocol.task == bench.task
    assert protocol.name in PROTOCOLS.names()
    assert protocol.selection in protocol.metrics
    expected = bench.expected_counts()
    if bench.synthetic:  # generated: complete by construction
        assert bench.completeness({}).get("complete") is True
    else:
        assert set(expected) == set(bench.splits), expected
        assert all(isinstance(n, int) and n > 0 for n in expected.values())


def test_every_reported_protocol_is_a_registered_one():
    from harness.analysis.leaderboard import REPORTED, UNKNOWN, read_reported

    named = {r.protocol.split("|")[0] for r in read_reported(REPORTED)} - {UNKNOWN}
    assert named <= set(PROTOCOLS.names())


def test_the_engine_imports_no_metric_module():
    """Metric knowledge reaches the engine through the protocol registry only."""
    for path in sorted((ROOT / "harness").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {node.module or "" for node in ast.walk(tree)
                    if isinstance(node, ast.ImportFrom)}
        imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                     for alias in node.names}
        assert not {m for m in imported if m.startswith("benchmarks.metrics")}, path.name


# -- pose and label formats ---------------------------------------------------------------------

def pose_source(fmt: str, folder: Path) -> Path:
    """A small source in pose format ``fmt``, laid out as its release lays it out (a format
    without a sample here fails the tests: add one)."""
    from tests.test_formats import dump, write_pose

    rng = np.random.default_rng(0)
    f32 = np.float32
    if fmt == "unisign":
        dump(folder / "clip1.pkl", {"keypoints": [rng.random((1, 133, 2)) for _ in range(3)],
                                    "scores": [rng.random((1, 133)).astype(f32)] * 3})
        return folder
    if fmt == "slrt":
        return dump(folder / "keypoints.pkl", {"clip1": rng.random((3, 133, 3)).astype(f32)})
    if fmt == "pyskl":
        return dump(folder / "annotations.pkl", {"split": {"train": ["clip1"]}, "annotations": [
            {"frame_dir": "clip1", "total_frames": 3, "img_shape": (260, 210), "label": 0,
             "keypoint": rng.random((1, 3, 133, 2)).astype(f32),
             "keypoint_score": rng.random((1, 3, 133)).astype(f32)}]})
    if fmt == "openhands":
        dump(folder / "clip1.pkl", {"keypoints": rng.random((3, 75, 3)).astype(f32),
                                    "confidences": rng.random((3, 75)).astype(f32)})
        return folder
    if fmt == "pose":
        from pose_format.utils.cocowholebody133_header import cocowholebody_components

        write_pose(folder / "clip1.pose", cocowholebody_components(),
                   rng.random((3, 1, 133, 2)).astype(f32), rng.random((3, 1, 133)).astype(f32),
                   25.0)
        return folder
    raise AssertionError(f"no sample of pose format {fmt} in {__file__}")


def label_source(fmt: str, folder: Path) -> Path:
    """A small label file (or folder) of label format ``fmt`` naming clip ``clip1``."""
    import json
    import pickle

    from tests.test_formats import dump, write_csv

    folder.mkdir(parents=True, exist_ok=True)
    if fmt == "unisign":
        return dump(folder / "labels.train", {"clip1": {"name": "clip1", "gloss": ["A"],
                                                        "text": "a", "video_path": "clip1.mp4"}},
                    compress=True)
    if fmt == "wlasl":
        path = folder / "WLASL_v0.3.json"
        path.write_text(json.dumps([{"gloss": "a", "instances": [
            {"video_id": "clip1", "split": "train", "signer_id": 1, "frame_start": 1,
             "frame_end": -1, "fps": 25}]}]))
        return path
    if fmt == "phoenix2014t":
        return write_csv(folder / "PHOENIX-2014-T.train.corpus.csv",
                         ["name", "video", "start", "end", "speaker", "orth", "translation"],
                         [["clip1", "clip1/1/*.png", "-1", "-1", "Signer01", "A", "a ."]])
    if fmt == "phoenix2014":
        return write_csv(folder / "train.corpus.csv", ["id", "folder", "signer", "annotation"],
                         [["clip1", "clip1/1/*.png", "Signer01", "A"]])
    if fmt == "pyskl":
        path = folder / "annotations.pkl"
        path.write_bytes(pickle.dumps({"split": {"train": ["clip1"]}, "annotations": [
            {"frame_dir": "clip1", "total_frames": 3, "label": 0}]}))
        return path
    raise AssertionError(f"no sample of label format {fmt} in {__file__}")


@pytest.mark.parametrize("fmt", POSE_FORMATS.names())
def test_a_pose_format_is_detected_and_read(fmt, tmp_path):
    from benchmarks.formats import FORMATS, detect_format, read_clips

    source = pose_source(fmt, tmp_path / "src")
    assert fmt in FORMATS and detect_format(source) == fmt
    clips = list(read_clips(source))
    assert [c.id for c in clips] == ["clip1"] and clips[0].pose.keypoints.shape == (3, 133, 2)


def test_formats_are_listed_in_an_explicit_order():
    from benchmarks.formats import FORMATS

    ranks = [POSE_FORMATS.get(name).rank for name in FORMATS]
    assert sorted(FORMATS) == POSE_FORMATS.names() and ranks == sorted(set(ranks))
    labels = [cls.rank for cls in LABEL_FORMATS.entries().values()]
    assert len(set(labels)) == len(labels)


@pytest.mark.parametrize("fmt", LABEL_FORMATS.names())
def test_a_label_format_is_detected_and_read(fmt, tmp_path):
    from benchmarks.formats import detect_label_format, read_labels

    source = label_source(fmt, tmp_path / "labels")
    assert detect_label_format(source) == fmt
    records = read_labels(source)
    assert list(records) == ["clip1"] and records["clip1"].split == "train"
    assert read_labels(source, fmt) == records
