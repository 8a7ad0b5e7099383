"""Adapters for datasets prepared from pose files someone else extracted.

``SourceBenchmark.prepare`` is what ``python -m harness prepare BENCH --source PATH
[--format F] [--labels PATH]`` runs: read the poses in their published format (detected when
not named, see ``benchmarks.formats``), read the labels (the official annotation file, or the
labels a release ships), keep the labelled clips of the benchmark's splits and subset,
normalise the gloss/text fields the way the adapter names, and write the harness store with
the validation report in its ``store.json`` (``info.validation``). A fatal problem (nothing
readable, refused pickles, wrong joint counts, zero frames, non-finite values, no clip
matching a label) aborts before anything is published: the store either exists complete or
not at all, and the report of a failed attempt is written beside it as
``<store>.prepare-report.json``. Label files are read and checked (ids unique, every split
of the benchmark present) before any pose file is opened.

Over an existing store, ``prepare`` is a no-op where the store records the inputs asked for
(source and labels as resolved paths, format, ``bench.fps``, normalisations) and one error
naming what differs otherwise; ``--force`` replaces the store.

Every adapter states its task(s), splits, the clip counts its papers give (``expected``;
compared with what is found, never enforced), the subset rule, the text and gloss
normalisation and its default metric protocol (``eval.protocol`` in its preset). Where the
data lives: ``--data-root``, else ``$HARNESS_DATA``, else ``./data`` (stores), and
``--source`` (or ``bench.source`` in the config) for the files to prepare from.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from benchmarks._common import ScoredBenchmark
from harness.data.store import PoseStore
from harness.errors import ConfigError, DataError, UserError
from harness.io import atomic
from harness.io.archives import MEMBER_SEP, Extracted, extracted, is_archive

if TYPE_CHECKING:
    from benchmarks.formats import LabelRecord, Report

#: Expected clip counts per split, keyed by subset (None where the dataset has no subsets).
Expected = Mapping[int | None, Mapping[str, int]]

#: Named text/gloss normalisations an adapter or a user (``bench.text_normalise``,
#: ``bench.gloss_normalise``: lists applied in order) may choose; recorded in the store.
NORMALISERS: dict[str, Callable[[str], str]] = {
    "collapse-space": lambda s: " ".join(s.split()),
    "lower": str.lower,
    "upper": str.upper,
    "strip-final-period": lambda s: re.sub(r"\s*[.。]\s*$", "", s),
    "nfkc": lambda s: unicodedata.normalize("NFKC", s),
    "drop-spaces": lambda s: "".join(s.split()),
}


def normaliser(names: list[str] | tuple[str, ...], what: str) -> Callable[[str], str]:
    """The composition of the named normalisations (in order); a ConfigError names the known."""
    unknown = [n for n in names if n not in NORMALISERS]
    if unknown:
        raise ConfigError(f"bench.{what}_normalise: unknown normalisation(s) {unknown}; known: "
                          f"{', '.join(NORMALISERS)}")
    funcs = [NORMALISERS[n] for n in names]

    def apply(value: str) -> str:
        for func in funcs:
            value = func(value)
        return value

    return apply


class SourceBenchmark(ScoredBenchmark):
    """A dataset prepared from published pose files and label files.

    Class attributes a dataset sets:

    - ``dataset``: the store's directory name (task variants of one dataset share it);
    - ``expected``: clip counts per split from the papers, keyed by subset (None = no subsets);
    - ``subsets``: the allowed ``bench.subset`` values (the vocabulary size), or ();
    - ``text_normalise`` / ``gloss_normalise``: the default normalisations (overridable in
      ``bench``), applied when preparing and recorded in the store;
    - ``default_fps``: the frame rate of sources whose format does not store one.
    """

    dataset: ClassVar[str]
    expected: ClassVar[Expected] = {}
    subsets: ClassVar[tuple[int, ...]] = ()
    text_normalise: ClassVar[tuple[str, ...]] = ("collapse-space",)
    gloss_normalise: ClassVar[tuple[str, ...]] = ("collapse-space",)
    default_fps: ClassVar[float] = 25.0
    #: The report of the last ``prepare`` (for the CLI to print); None when nothing ran.
    last_report: Report | None = None

    # -- configuration -------------------------------------------------------------------
    def subset(self) -> int | None:
        """The configured vocabulary subset (WLASL-N, MSASL-N), checked; None if no subsets."""
        if not self.subsets:
            return None
        value = self.cfg.get("bench", {}).get("subset", max(self.subsets))
        if value not in self.subsets:
            raise ConfigError(f"bench.subset={value!r} is not a {self.name} subset; choose one "
                              f"of {', '.join(map(str, self.subsets))}")
        return int(value)

    def normalisations(self) -> dict[str, list[str]]:
        """The text and gloss normalisations in force (config over the adapter's defaults)."""
        bench = self.cfg.get("bench", {})
        text, gloss = bench.get("text_normalise"), bench.get("gloss_normalise")
        return {"text": list(self.text_normalise if text is None else text),
                "gloss": list(self.gloss_normalise if gloss is None else gloss)}

    def expected_counts(self) -> dict[str, int]:
        """Clip counts per split the dataset's papers give for the configured subset."""
        return dict(self.expected.get(self.subset(), {}))

    def store_dir(self) -> Path:
        """``<root>/<dataset>`` (``<dataset><N>`` for subset N): one store per subset."""
        subset = self.subset()
        return self.root / (self.dataset if subset is None else f"{self.dataset}{subset}")

    def prepare_hint(self) -> str:
        """The command that prepares this benchmark."""
        subset = self.subset()
        extra = f" --set bench.subset={subset}" if subset is not None else ""
        return (f"python -m harness prepare {self.name} --source POSES [--labels LABELS]"
                f"{extra}")

    # -- opening -------------------------------------------------------------------------
    def open(self) -> PoseStore:
        """The prepared store, checked against this task's needs and the configured options."""
        store = super().open()
        info = store.meta.get("info", {})
        wanted = self.normalisations()
        if info.get("normalise") not in (None, wanted):
            raise DataError(f"{store.path} was prepared with normalisation {info['normalise']}, "
                            f"the config asks for {wanted}; prepare it again with the same "
                            f"--set options, or change bench.*_normalise")
        field = "text" if self.task == "slt" else "gloss"
        for split in self.splits:
            empty = [store.clips[i].id for i in store.split(split)
                     if not getattr(store.clips[i], field)]
            if empty:
                raise DataError(f"{store.path}: {len(empty)} {split} clips have no {field} "
                                f"(e.g. {empty[0]}); {self.name} needs one for every clip: "
                                f"prepare it with labels that carry the {field}")
        return store

    # -- preparing -----------------------------------------------------------------------
    def prepare(self, source: Path | None, force: bool = False, **options: Any) -> Path:
        """Convert the source into the store (tar and zip archives of the source or the
        labels are extracted first, see ``harness.io.archives``); see the module docstring."""
        self.last_report = None
        if options.get("format") is not None:  # before the labels are read
            from benchmarks.formats import check_format

            check_format(options["format"])
        path = self.store_dir()
        source = source or self._configured_source()
        if (path / "store.json").exists() and not force:
            differences = self._differences(path, source, options)
            if differences:
                raise UserError(f"{path} is already prepared from other inputs: "
                                f"{'; '.join(differences)}; add --force to replace it with a "
                                f"store prepared from what this command asks, or pass another "
                                f"--data-root to keep both")
            return path
        if source is None:
            raise UserError(f"preparing {self.name} needs the pose files: {self.prepare_hint()}")
        if not source.exists():
            raise UserError(f"--source {source} does not exist")
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.ExitStack() as stack:
            given, labels = source, options.get("labels")
            shown: list[Extracted] = []  # archives extracted for this preparation
            if is_archive(source):
                shown.append(stack.enter_context(extracted(source, path.parent)))
                source = shown[-1].path
            if labels is not None and is_archive(labels):
                shown.append(stack.enter_context(extracted(labels, path.parent)))
                labels = shown[-1].path

            def member(where: str) -> str:
                for ex in shown:
                    where = ex.shown(where)
                return where

            inputs = {"source": str(given.resolve()),
                      "labels": str(Path(options["labels"]).resolve())
                      if options.get("labels") is not None else None,
                      "fps": self.fps()}
            return self._prepare(path, source, given, labels, options.get("format"), member,
                                 inputs)

    def fps(self) -> float:
        """The frame rate of sources whose format stores none (``bench.fps``, else the
        adapter's default)."""
        return float(self.cfg.get("bench", {}).get("fps") or self.default_fps)

    def _differences(self, path: Path, source: Path | None, options: Mapping[str, Any]
                     ) -> list[str]:
        """How the inputs of the store at ``path`` differ from those asked now: the source,
        labels and format where the command names them, the fps and normalisations always."""
        info = PoseStore(path, verify=False).meta.get("info", {})
        # stores prepared before inputs were recorded name the source as it was given
        recorded = info.get("inputs") or {
            "source": str(info.get("source", "")).split(MEMBER_SEP)[0]}
        out = []
        for key, asked in (("source", source), ("labels", options.get("labels"))):
            if asked is not None and key in recorded \
                    and recorded[key] not in (str(asked), str(Path(asked).resolve())):
                out.append(f"{key} {recorded[key] or '-'} (asked: {Path(asked).resolve()})")
        if options.get("format") not in (None, info.get("format")):
            out.append(f"format {info.get('format')} (asked: {options['format']})")
        if recorded.get("fps") not in (None, self.fps()):
            out.append(f"bench.fps {recorded['fps']} (asked: {self.fps()})")
        for what, names in self.normalisations().items():
            done = info.get("normalise", {}).get(what)
            if done not in (None, names):
                out.append(f"bench.{what}_normalise {done} (asked: {names})")
        return out

    def _prepare(self, path: Path, source: Path, given: Path, labels_path: Path | None,
                 fmt: str | None, shown: Callable[[str], str], inputs: dict[str, Any]) -> Path:
        """``prepare`` from ``source`` (``given``: what the user named, an archive or the
        same path; ``shown`` maps extracted paths back to ``ARCHIVE!member``; ``inputs``: the
        resolved paths and fps recorded for the next ``prepare`` to compare with)."""
        from benchmarks.formats import clip_stats, detect_format, read_clips, validate
        from harness.data.store import StoreWriter
        from harness.io import progress

        if labels_path is None:  # only pyskl pose files carry labels: read from the source
            fmt = fmt or detect_format(source)
        self._excluded: set[str] = set()
        labels, label_format = self._labels(source, fmt, labels_path)
        keep, outside = self._select(labels)
        self._check_splits(keep, shown(str(labels_path or source)))
        fmt = fmt or detect_format(source)  # the labels are good: now the pose files
        outside |= self._excluded
        norm = self.normalisations()
        text_norm, gloss_norm = normaliser(norm["text"], "text"), normaliser(norm["gloss"], "gloss")
        fps = inputs["fps"]

        errors: list[Any] = []
        stats, writer, n_written = [], None, 0
        report_file = path.with_name(f"{path.name}.prepare-report.json")
        info = {"adapter": type(self).__name__, "dataset": self.dataset, "version": self.version,
                "subset": self.subset(), "format": fmt, "source": shown(str(source)),
                "label_format": label_format, "normalise": norm,
                "expected": self.expected_counts(), "inputs": inputs}
        # on a terminal: the labelled clips read so far, of those to prepare, with an ETA
        counter = progress.bar(f"prepare {self.name}: clips read", total=len(keep),
                               unit="clip")
        try:
            for clip in read_clips(source, fmt, default_fps=fps, errors=errors):
                if clip.id in outside:
                    continue  # labelled, but outside the configured subset or splits
                counter.update(clip.id in keep)
                stats.append(clip_stats(clip))
                record = keep.get(clip.id)
                if record is None or stats[-1].nonfinite or stats[-1].n_frames == 0 \
                        or stats[-1].n_joints != stats[-1].expected_joints:
                    continue  # the report lists these
                if writer is None:
                    writer = StoreWriter(path, layout=clip.pose.layout,
                                         channels=clip.pose.keypoints.shape[2], info=info)
                clip.pose.provenance.setdefault("label_source", shown(record.source))
                if record.frame_range is not None:
                    clip.pose.provenance.setdefault("label_frame_range",
                                                    list(record.frame_range))
                writer.add(clip.id, clip.pose, split=record.split, signer=record.signer,
                           gloss=gloss_norm(self.class_name(record) if self.task == "islr"
                                            else record.gloss),
                           text=text_norm(record.text), source=shown(clip.source))
                n_written += 1
            counter.close()
            report = validate(stats, keep, self.expected_counts(), clip_errors=errors)
            self.last_report = report
            report_dict = {**report.to_dict(), "outside_subset_or_splits": len(outside)}
            if report.fatal or writer is None:
                atomic.write_json(report_file, report_dict)
                if report.fatal:
                    raise DataError(f"{given} has {len(report.fatal)} fatal problem(s): "
                                    f"{'; '.join(report.fatal)}; nothing prepared (report: "
                                    f"{report_file})")
                raise DataError(f"no clip of {given} matches a {self.name} label of splits "
                                f"{', '.join(self.splits)}; nothing prepared (report: "
                                f"{report_file})")
            writer.info["validation"] = report_dict
            writer.close()
        except BaseException:
            counter.close()
            if writer is not None:
                writer.abort()  # nothing half-written is left where the store would be
            raise
        report_file.unlink(missing_ok=True)
        return path

    def _check_splits(self, keep: Mapping[str, LabelRecord], where: str) -> None:
        """A DataError naming the label file where a split of the benchmark has no clip."""
        counts = Counter(r.split for r in keep.values())
        missing = [s for s in self.splits if not counts[s]]
        if missing:
            held = ", ".join(f"{s} {counts[s]}" for s in self.splits)
            raise DataError(f"{where}: the labels have no {', '.join(missing)} clips for "
                            f"{self.name} (clips per split: {held}); nothing prepared: give "
                            f"labels with clips of every split ({', '.join(self.splits)})")

    def _configured_source(self) -> Path | None:
        source = self.cfg.get("bench", {}).get("source")
        return Path(source) if source else None

    def _labels(self, source: Path, fmt: str, labels: Path | None
                ) -> tuple[dict[str, LabelRecord], str]:
        """Label records by clip id and the label format (pyskl pickles carry their own)."""
        from benchmarks.formats import detect_label_format, read_labels

        if labels is None:
            if fmt != "pyskl":
                raise UserError(f"{self.name}: {fmt} pose files carry no labels; pass --labels "
                                f"(the dataset's annotation file or the release's label files)")
            labels = source
        label_format = detect_label_format(labels)
        records = read_labels(labels, label_format)
        subset = self.subset()
        if label_format == "wlasl" and subset is not None \
                and len({r.gloss for r in records.values()}) > subset:
            kept = read_labels(labels, "wlasl", subset=subset)  # the first N glosses
            self._excluded = set(records) - set(kept)
            records = kept
        return records, label_format

    def class_name(self, record: LabelRecord) -> str:
        """The ISLR class of a record: its gloss, or its text where the gloss field is empty
        (Uni-Sign's WLASL labels keep the sign's word in ``text``)."""
        return record.gloss or record.text

    def _select(self, labels: Mapping[str, LabelRecord]
                ) -> tuple[dict[str, LabelRecord], set[str]]:
        """(records kept, ids left out) by split and by the subset rule."""
        keep = {i: r for i, r in labels.items() if r.split in self.splits}
        subset = self.subset()
        if subset is not None and self.task == "islr":
            classes = {self.class_name(r) for r in keep.values()}
            if len(classes) > subset:
                if not all(c.isdigit() for c in classes):
                    raise DataError(
                        f"{self.name}{subset}: the labels name {len(classes)} classes by word, "
                        f"which does not say which {subset} form the subset; pass the official "
                        f"annotation file (e.g. WLASL_v0.3.json) or labels with class indices")
                keep = {i: r for i, r in keep.items() if int(self.class_name(r)) < subset}
        return keep, set(labels) - set(keep)

