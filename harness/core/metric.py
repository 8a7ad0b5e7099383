"""The interface of a metric protocol, and where the engine finds protocols.

A metric protocol is a named, versioned way of scoring one task (``benchmarks/metrics/``
has them), and it owns everything about its metrics, so that the engine keeps no table
about metrics and adding one touches only ``benchmarks/metrics/``:

- scoring: ``score`` gives every metric with the ``Signature`` of its family;
- per-clip statistics and the corpus score from their sums (``statistics``, ``corpus``),
  as sacrebleu's metrics keep them, for the metrics in ``tested``: the paired bootstrap of
  ``harness.analysis.significance`` resamples clips by summing statistics, and the runner stores
  them beside the predictions;
- direction (``higher_is_better``), the ``headline`` metrics that tables show (the first
  is the main one: confidence intervals, comparisons, plots) and the ``selection`` metric
  that picks the checkpoint on the dev split;
- its signature, a structured object (``Signature``) whose text is what results store.

Protocols are classes registered in ``harness.core.registry.PROTOCOLS`` with the decorator that
registers methods and benchmarks; a protocol holds no state, so the engine asks an instance
(``get_protocol``). A result names its protocol in the head of its signatures
(``protocol:<name>|version:<version>``), which is how summaries, leaderboards and
significance tests find the protocol of a finished cell (``protocol_of``).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from harness.errors import ConfigError, UserError

if TYPE_CHECKING:
    import numpy as np

_HEAD = "protocol:"


@dataclass
class Scores:
    """Metric values of one split with the signature of each metric family."""

    metrics: dict[str, float]
    signatures: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Signature:
    """How one family of a protocol's numbers was computed.

    Its text (``str``) is what results store: ``protocol:<name>|version:<version>``, then
    each option whose value is not the protocol's default (``|rouge:unisign``; at the
    default nothing, so that earlier numbers keep their signatures), then the tool's own
    part (sacrebleu's signature, the aligner, the clean-up), so that numbers of different
    protocols, versions or options never share a signature.
    """

    protocol: str
    version: str
    #: (option, value) of the options not at their default, in the protocol's order
    options: tuple[tuple[str, str], ...] = ()
    #: what the tool says about how it computed the numbers ("" where nothing)
    tool: str = ""

    def __str__(self) -> str:
        head = f"{_HEAD}{self.protocol}|version:{self.version}" + "".join(
            f"|{key}:{value}" for key, value in self.options)
        return f"{head}|{self.tool}" if self.tool else head


def protocol_named_by(signature: str) -> str | None:
    """The protocol name a signature's text starts with (None: it names none)."""
    head = signature.split("|", 1)[0]
    return head[len(_HEAD):] if head.startswith(_HEAD) else None


class MetricProtocol:
    """A named, versioned way of scoring one task that owns everything about its metrics.

    Subclasses set the class attributes and implement ``compute``; those with ``tested``
    metrics implement ``statistics``, ``corpus`` and ``width`` too.
    """

    name: ClassVar[str]  # set by PROTOCOLS.register
    task: ClassVar[str]
    #: bumped whenever the protocol's numbers could change
    version: ClassVar[str]
    summary: ClassVar[str]
    #: signature family -> the metrics it covers (the keys of ``Scores.signatures``)
    families: ClassVar[Mapping[str, tuple[str, ...]]]
    #: the metrics tables show, the main one first
    headline: ClassVar[tuple[str, ...]]
    #: the metric that selects the checkpoint on the dev split
    selection: ClassVar[str]
    lower_is_better: ClassVar[frozenset[str]] = frozenset()
    #: the metrics with per-clip statistics (what a paired bootstrap can test)
    tested: ClassVar[tuple[str, ...]] = ()
    #: the protocol of its task where a benchmark names none (one per task)
    task_default: ClassVar[bool] = False
    #: ``eval`` options it cannot do without -> what they hold
    needs: ClassVar[Mapping[str, str]] = {}
    #: ``eval`` options with a closed set of values, the default first
    choices: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    #: what a value of each choice is, for messages ("ROUGE-L definition")
    choice_names: ClassVar[Mapping[str, str]] = {}

    @property
    def metrics(self) -> tuple[str, ...]:
        """Every metric the protocol gives, family by family."""
        return tuple(m for names in self.families.values() for m in names)

    def higher_is_better(self, metric: str) -> bool:
        """Whether a higher value of ``metric`` is better."""
        return metric not in self.lower_is_better

    def family(self, metric: str) -> str:
        """The signature family of one of the protocol's metrics."""
        return next(f for f, names in self.families.items() if metric in names)

    def check(self, options: Mapping[str, Any]) -> None:
        """Fail with what to set when an option the protocol needs is missing or a choice
        is not one of its values."""
        missing = [k for k in self.needs if options.get(k) in (None, "", [])]
        if missing:
            raise ConfigError(f"metric protocol {self.name} needs eval.{missing[0]} "
                              f"({self.needs[missing[0]]}); add it to the benchmark preset "
                              f"or pass --set +eval.{missing[0]}=...")
        for key, values in self.choices.items():
            value = options.get(key)
            if value is not None and value not in values:
                close = difflib.get_close_matches(str(value), values, n=1, cutoff=0.5)
                hint = f"; did you mean {close[0]}?" if close else ""
                raise ConfigError(f"eval.{key}={value!r} is not a {self.choice_names[key]} "
                                  f"of metric protocol {self.name} (choices: "
                                  f"{', '.join(values)}){hint}")

    def chosen(self, options: Mapping[str, Any]) -> dict[str, str]:
        """The value of each of the protocol's choices under ``options`` (default: the first)."""
        return {key: str(options.get(key) or values[0]) for key, values in self.choices.items()}

    def signature(self, options: Mapping[str, Any], tool: str = "") -> Signature:
        """The signature of numbers computed under ``options``, with the tool's part."""
        departures = tuple((key, value) for key, value in self.chosen(options).items()
                           if value != self.choices[key][0])
        return Signature(self.name, self.version, departures, tool)

    def score(self, predictions: Mapping[str, Any], references: Mapping[str, str],
              options: Mapping[str, Any] | None = None) -> Scores:
        """Score predictions against references; every family of metrics gets its signature."""
        options = options or {}
        self.check(options)
        metrics, tools = self.compute(predictions, references, options)
        return Scores(metrics, {f: str(self.signature(options, tool))
                                for f, tool in tools.items()})

    def compute(self, predictions: Mapping[str, Any], references: Mapping[str, str],
                options: Mapping[str, Any]) -> tuple[dict[str, float], dict[str, str]]:
        """The metrics, and the tool's part of the signature of each family."""
        raise NotImplementedError

    def statistics(self, predictions: Mapping[str, Any], references: Mapping[str, str],
                   options: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Per ``tested`` metric, the per-clip statistics (clips in the order of
        ``references``, ``width(metric)`` columns) whose sums ``corpus`` scores."""
        raise NotImplementedError

    def corpus(self, metric: str, sums: np.ndarray) -> np.ndarray:
        """The corpus ``metric`` of each row of summed per-clip statistics (m, width)."""
        raise NotImplementedError

    def width(self, metric: str) -> int:
        """How many statistics a clip has for ``metric``."""
        raise NotImplementedError


def get_protocol(name: str) -> MetricProtocol:
    """The registered protocol ``name``; a UserError with suggestions if there is none."""
    from harness.core.registry import PROTOCOLS

    return PROTOCOLS.get(name)()


def task_protocols(task: str) -> list[MetricProtocol]:
    """The registered protocols that score ``task``, by name."""
    from harness.core.registry import PROTOCOLS

    return [p for p in (cls() for cls in PROTOCOLS.entries().values()) if p.task == task]


def default_protocol(task: str) -> MetricProtocol:
    """The protocol that scores ``task`` where a benchmark names none."""
    return next(p for p in task_protocols(task) if p.task_default)


def protocol_of(signatures: Mapping[str, str], task: str) -> MetricProtocol:
    """The protocol a result's signatures name; the task's default where they name none
    this harness has (results of a protocol since renamed): what tables show of it."""
    name = protocol_named_by(next(iter(signatures.values()), ""))
    if name is not None:
        try:
            found = get_protocol(name)
        except UserError:
            pass
        else:
            if found.task == task:
                return found
    return default_protocol(task)
