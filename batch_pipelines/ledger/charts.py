"""Bar charts as inline SVG, drawn with matplotlib (no pyplot, no network, no script).

Used by the HTML cost report and the ROI page. Values arrive as floats: a chart is display only,
the exact amounts stay Decimal micro-dollars in the report's frames. Text stays text in the SVG
(``svg.fonttype = none``), so a page can be searched and read by a screen reader, and ids are
salted with a constant so the same data draws the same file.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib
from matplotlib.figure import Figure

__all__ = ["Series", "bar_chart_svg"]

# Process-wide and set once: savefig reads them at save time, and rc_context is not thread-safe
# (the ROI app draws in a thread pool).
matplotlib.rcParams["svg.fonttype"] = "none"
matplotlib.rcParams["svg.hashsalt"] = "batch-pipelines"
matplotlib.rcParams["font.family"] = ["DejaVu Sans", "sans-serif"]

_INK = "#1f2933"
_GRID = "#e4e7eb"


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[float]
    colour: str
    """One colour for the series, or see `colours`."""
    colours: Sequence[str] | None = None
    """A colour per bar (e.g. a loss in red), overriding `colour`."""


def bar_chart_svg(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    value_label: str,
    stacked: bool = False,
    notes: Sequence[str] | None = None,
    reference_lines: Sequence[tuple[str, float]] = (),
) -> str:
    """Horizontal bars, one row per category (top to bottom), as an ``<svg>`` element.

    Grouped side by side, or `stacked` (positive values stack right of zero, negative ones left).
    `notes` are written right of each row's bars; `reference_lines` are labelled vertical lines
    (e.g. tier prices)."""
    rows = len(categories)
    fig = Figure(figsize=(9.0, 0.9 + 0.42 * max(rows, 1) * (1 if stacked else len(series) * 0.7)))
    ax = fig.add_subplot()
    positions = list(range(rows))
    height = 0.7 if stacked else 0.8 / max(len(series), 1)
    right = [0.0] * rows
    left = [0.0] * rows
    for index, one in enumerate(series):
        colours = list(one.colours) if one.colours else one.colour
        if stacked:
            starts = [
                r if v >= 0 else lo + v for v, r, lo in zip(one.values, right, left, strict=True)
            ]
            widths = [abs(v) for v in one.values]
            ax.barh(positions, widths, height, left=starts, color=colours, label=one.label)
            right = [r + max(v, 0) for v, r in zip(one.values, right, strict=True)]
            left = [lo + min(v, 0) for v, lo in zip(one.values, left, strict=True)]
        else:
            offset = (index - (len(series) - 1) / 2) * height
            ax.barh(
                [p + offset for p in positions],
                list(one.values),
                height,
                color=colours,
                label=one.label,
            )
    for label, value in reference_lines:
        ax.axvline(value, color="#9aa5b1", linestyle="--", linewidth=1)
        ax.annotate(
            label,
            (value, 1.0),
            xycoords=("data", "axes fraction"),
            rotation=90,
            va="top",
            ha="right",
            fontsize=8,
            color=_INK,
        )
    ax.set_yticks(positions, list(categories), fontsize=9, color=_INK)
    ax.invert_yaxis()  # first category on top
    ax.set_xlabel(value_label, fontsize=9, color=_INK)
    # Room above the axes for the legend, which then never covers a bar.
    ax.set_title(title, fontsize=11, loc="left", color=_INK, pad=22 if len(series) > 1 else 6)
    ax.grid(axis="x", color=_GRID)
    ax.set_axisbelow(True)
    ax.axvline(0, color="#9aa5b1", linewidth=0.8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if notes:
        for position, note in zip(positions, notes, strict=True):
            ax.annotate(
                note,
                (1.01, position),
                xycoords=("axes fraction", "data"),
                va="center",
                fontsize=8,
                color=_INK,
                annotation_clip=False,
            )
    if len(series) > 1:
        ax.legend(
            fontsize=8,
            loc="lower left",
            bbox_to_anchor=(0, 1.0),
            ncols=len(series),
            frameon=False,
            borderaxespad=0.2,
        )
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]
