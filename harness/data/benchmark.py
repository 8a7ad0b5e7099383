"""The interface every benchmark adapter implements (see benchmarks/ for the adapters)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

from harness.core.metric import MetricProtocol, Scores
from harness.core.tasks import TaskSpec
from harness.data.store import PoseStore
from harness.errors import DataError, UserError

DATA_ENV = "HARNESS_DATA"


def data_root(override: str | Path | None = None) -> Path:
    """Where prepared stores live: an explicit path, else $HARNESS_DATA, else ./data."""
    return Path(override or os.environ.get(DATA_ENV) or "data")


def shortfall(completeness: dict[str, Any]) -> str:
    """The splits of a ``Benchmark.completeness`` with fewer clips than expected:
    ``train 18 of 14289, test 6 of 2878``."""
    return ", ".join(f"{s} {v['found']} of {v['expected']}"
                     for s, v in completeness["splits"].items()
                     if v["expected"] is not None and v["found"] < v["expected"])


class Benchmark:
    """A dataset adapter: where its prepared data lives, its task spec and its metric protocol.

    Subclasses set the class attributes and implement ``metric_protocol``; adapters for
    data the harness generates override ``open`` to prepare on first use.
    """

    name: ClassVar[str]
    task: ClassVar[str]
    version: ClassVar[str]
    summary: ClassVar[str]
    language: ClassVar[str] = "english"
    splits: ClassVar[tuple[str, ...]] = ("train", "dev", "test")
    #: The split that selects checkpoints; None where the dataset has no dev split
    #: (then the last epoch is used, never the test split).
    select_split: ClassVar[str | None] = "dev"
    preset: ClassVar[Path]
    #: Data the harness generates (SynthSign): complete by construction, never compared
    #: with a paper's number, and what the ``smoke`` presets are sized for.
    synthetic: ClassVar[bool] = False

    def __init__(self, cfg: dict[str, Any], root: str | Path | None = None) -> None:
        self.cfg = cfg
        self.root = data_root(root)

    # -- data ----------------------------------------------------------------------------
    def store_dir(self) -> Path:
        """Directory of this benchmark's prepared store."""
        return self.root / self.name

    def is_prepared(self) -> bool:
        """Whether a finished store exists (cheap: no verification)."""
        return (self.store_dir() / "store.json").exists()

    def prepare_hint(self) -> str:
        """The command that prepares this benchmark."""
        return f"python -m harness prepare {self.name} --source PATH"

    def open(self) -> PoseStore:
        """Open the prepared store, or fail with where it was expected and how to make it."""
        path = self.store_dir()
        if not (path / "store.json").exists() and not path.exists():
            raise DataError(f"{self.name} is not prepared: no store at {path} "
                            f"(set ${DATA_ENV} or --data-root if it lives elsewhere); "
                            f"prepare it with: {self.prepare_hint()}")
        store = PoseStore(path, verify=bool(self.cfg.get("data", {}).get("verify", True)))
        missing = [s for s in self.splits if s not in store.splits()]
        if missing:
            raise DataError(f"prepared store {path} has no {', '.join(missing)} split; "
                            f"prepare it again with: {self.prepare_hint()}")
        return store

    def prepare(self, source: Path | None, force: bool = False, **options: Any) -> Path:
        """Convert the source files into the prepared store and return its path."""
        raise UserError(f"preparing {self.name} from source files is not implemented yet")

    def expected_counts(self) -> dict[str, int]:
        """Clip counts per split the dataset's papers give ({}: not known)."""
        return {}

    def completeness(self, counts: dict[str, int]) -> dict[str, Any]:
        """A store's clip counts per split (``counts``) against the expected ones:
        ``{"splits": {split: {"found", "expected"}}, "complete"}``, where ``complete`` is
        True when no split has fewer clips than expected (always, for generated data),
        False when one has, and None when the expected counts are not known."""
        expected = self.expected_counts()
        splits = {s: {"found": int(counts.get(s, 0)), "expected": expected.get(s)}
                  for s in self.splits}
        if self.synthetic:
            complete: bool | None = True
        elif not expected:
            complete = None
        else:
            complete = all(v["found"] >= v["expected"] for v in splits.values()
                           if v["expected"] is not None)
        return {"splits": splits, "complete": complete}

    def pretrain_store(self) -> PoseStore:
        """The paired pose+text corpus for pre-training (default: this benchmark's store)."""
        return self.open()

    # -- task ----------------------------------------------------------------------------
    def task_spec(self, store: PoseStore) -> TaskSpec:
        """Classes, vocabulary and training texts a method needs to build its model."""
        train = [store.clips[i] for i in store.split("train")]
        layout, channels = store.meta["layout"], store.meta["channels"]
        if self.task == "islr":
            classes = sorted({c.gloss for c in train})
            texts: dict[str, dict[str, int]] = {}
            for c in train:
                counts = texts.setdefault(c.gloss, {})
                counts[c.text] = counts.get(c.text, 0) + 1
            class_texts = [max(sorted(texts[g]), key=lambda t, g=g: texts[g][t])
                           for g in classes]
            return TaskSpec("islr", classes, [], self.language, layout, channels,
                            class_texts=class_texts)
        if self.task == "cslr":
            vocab = sorted({g for c in train for g in c.gloss.split()})
            return TaskSpec("cslr", vocab, [], self.language, layout, channels)
        return TaskSpec("slt", [], [c.text for c in train], self.language, layout, channels)

    def references(self, store: PoseStore, split: str) -> dict[str, str]:
        """Reference per clip id: the gloss (ISLR), gloss sequence (CSLR) or sentence (SLT)."""
        field_name = "text" if self.task == "slt" else "gloss"
        return {store.clips[i].id: getattr(store.clips[i], field_name)
                for i in store.split(split)}

    def metric_protocol(self, name: str | None = None) -> MetricProtocol:
        """The metric protocol ``name`` of this benchmark's task, or its default (its
        ``eval.protocol``), checked against its task and ``eval`` options."""
        raise NotImplementedError

    def score(self, predictions: dict[str, Any], references: dict[str, str]) -> Scores:
        """Score predictions against references with this benchmark's metric protocol."""
        return self.metric_protocol().score(predictions, references, self.cfg.get("eval", {}))
