"""RWTH-PHOENIX-Weather 2014 (CSLR) and 2014 T (CSLR and SLT): German weather forecasts."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from benchmarks._source import Expected, SourceBenchmark
from harness.core.registry import BENCHMARKS

PRESETS = Path(__file__).parent / "presets"


@BENCHMARKS.register("phoenix2014")
class Phoenix2014(SourceBenchmark):
    """Phoenix-2014, multi-signer: glosses from the official corpus CSVs
    (``phoenix2014-release/phoenix-2014-multisigner/annotations/manual``, pass the folder
    or one file as ``--labels``). Glosses are kept as annotated (``__ON__``, ``loc-``...):
    the ``wer-phoenix`` protocol cleans hypotheses and references the way the official
    evaluation script does before scoring. Expected counts ~5,672 / 540 / 629.
    """

    task = "cslr"
    version = "1"
    dataset = "phoenix2014"
    language = "german"
    summary = "PHOENIX-2014 continuous DGS -> glosses (WER, official clean-up + sclite)"
    preset = PRESETS / "phoenix2014.py"
    expected: ClassVar[Expected] = {None: {"train": 5672, "dev": 540, "test": 629}}


class _Phoenix2014T(SourceBenchmark):
    """Phoenix-2014T: one store (``phoenix2014t``) serves both tasks; labels from the corpus
    CSVs (``PHOENIX-2014-T.{train,dev,test}.corpus.csv``) or Uni-Sign's label files.

    Text normalisation: whitespace collapsed only. The official CSVs are lower-case and end
    with " ." and that is what BLEU sees; releases that differ change BLEU, so the store
    records the normalisation and ``bench.text_normalise`` can add ``lower`` or
    ``strip-final-period`` (prepare again after changing it). Expected counts
    ~7,096 / 519 / 642.
    """

    version = "1"
    dataset = "phoenix2014t"
    language = "german"
    expected: ClassVar[Expected] = {None: {"train": 7096, "dev": 519, "test": 642}}


@BENCHMARKS.register("phoenix2014t-cslr")
class Phoenix2014TCSLR(_Phoenix2014T):
    __doc__ = _Phoenix2014T.__doc__
    task = "cslr"
    summary = "PHOENIX-2014-T DGS -> glosses (WER, 2014-T clean-up + sclite)"
    preset = PRESETS / "phoenix2014t_cslr.py"


@BENCHMARKS.register("phoenix2014t-slt")
class Phoenix2014TSLT(_Phoenix2014T):
    __doc__ = _Phoenix2014T.__doc__
    task = "slt"
    summary = "PHOENIX-2014-T DGS -> German text (BLEU-1..4 13a, ROUGE-L)"
    preset = PRESETS / "phoenix2014t_slt.py"
