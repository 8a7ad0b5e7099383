"""PNG plots for the leaderboards: one benchmark table's methods with their seed spread.

The plot of a table shows each method's main configuration and its declared ablations, as
their seeds (dots) and their mean with a ±1 sample-std bar, in table order. Rendering uses
matplotlib's Agg backend with no timestamp or version in the PNG metadata, so the same rows
give the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any, Protocol


class Row(Protocol):
    """What a plot reads of a leaderboard row (``harness.analysis.leaderboard.Row``)."""

    bench: str
    version: str
    method: str
    label: str  # empty for a method's main configuration
    ablation: str  # the declared ablation it is, if one
    values: Mapping[str, Sequence[float]]  # per metric, one value per seed
    stats: Mapping[str, Any]  # per metric, its ``mean`` and ``std`` over the seeds


def _label(row: Row) -> str:
    return f"{row.method}\n{row.ablation}" if row.ablation else row.method


def plotted(rows: list[Row]) -> list[Row]:
    """The rows a table's plot shows: each method's main configuration and its declared
    ablations (the other configurations are in the table)."""
    return [r for r in rows if not r.label or r.ablation]


def table_plot(rows: list[Row], metric: str) -> bytes:
    """The PNG bytes of one benchmark table: ``metric`` per row, seeds and mean ± std."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(max(4.0, 1.1 * len(rows) + 1.5), 3.6), dpi=100)
    fig.subplots_adjust(left=0.1, right=0.98, top=0.9, bottom=0.2)
    ax = fig.add_subplot()
    xs, ys = [], []
    for x, row in enumerate(rows):
        values = row.values[metric]
        xs += [x + (i - (len(values) - 1) / 2) * 0.08 for i in range(len(values))]
        ys += values
    ax.scatter(xs, ys, s=14, color="0.45", zorder=3)
    for main, color in ((True, "C1"), (False, "C0")):  # main configurations, then ablations
        picked = [(x, r.stats[metric]) for x, r in enumerate(rows) if (not r.label) == main]
        if picked:
            ax.errorbar([x for x, _ in picked], [s.mean for _, s in picked],
                        yerr=[s.std or 0.0 for _, s in picked], fmt="D", color=color,
                        capsize=4, markersize=6, zorder=4)
    ax.set_xticks(range(len(rows)), [_label(r) for r in rows], fontsize=7)
    ax.set_xlim(-0.6, len(rows) - 0.4)
    ax.set_ylabel(metric)
    first = rows[0]
    ax.set_title(f"{first.bench} ({first.version}): {metric}, seeds and mean ± std "
                 "(orange: main configurations, blue: ablations)", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()
