"""What every chart of core.views shares: heights, colour schemes, log-axis labels, the
training-step axis, and dropping values a chart cannot draw.

Heights are those of the plotting area: pages draw every chart with `fit_width` (as wide as its
column, autosize "fit-x"), so axes, titles and legends are added around the plot instead of being
taken out of it, and a legend of twenty layers makes the chart taller, never its plot flatter.
"""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

LAYER_SCHEME = "viridis"
RUN_SCHEME = "tableau10"
HEIGHT = 240  # the plotting area's height (see fit_width)
PRESENT_SCALE = 1.6  # presenter mode (pages.present): every plot this much taller (HEIGHT: 384 px)
# Autosize of a chart as wide as its container whose height is its plot's (Streamlit's own default,
# "fit", takes the legend and the axes out of the given height: 20 layers' legend left 0 px to plot).
FIT_WIDTH = {"type": "fit-x", "contains": "padding"}

# Log axes label every tick alike: 1e-6, 1e0, 1e2 (never 0.000001 beside 1e-7).
LOG_LABELS = "replace(replace(format(datum.value, '.0e'), 'e+', 'e'), 'e-0', 'e-')"


def log_ticks(values) -> list[float]:
    """Tick values for a log axis over `values`: powers of ten (every second or third one over
    many decades), with 2, 3, 5 and 7 (or 2 and 5) between them when the data spans one decade (or two)."""
    v = np.asarray(pd.to_numeric(pd.Series(values), errors="coerce"), dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    if not len(v):
        return []
    lo, hi = int(np.floor(np.log10(v.min()))), int(np.ceil(np.log10(v.max())))
    if hi - lo <= 2:
        steps = (1, 2, 3, 5, 7) if hi - lo <= 1 else (1, 2, 5)
        ticks = [float(f"{m}e{k}") for k in range(lo, hi + 1) for m in steps]
        return [t for t in ticks if v.min() / 1.01 <= t <= v.max() * 1.01] or [10.0 ** lo, 10.0 ** hi]
    step = max(1, int(np.ceil((hi - lo + 1) / 8)))
    return [float(f"1e{k}") for k in range(lo, hi + 1, step)]


def log_axis(values=None, **kw) -> alt.Axis:
    """A log axis whose ticks are all labelled alike (1e-6, 2e-3, 1e0); with the data's `values`,
    the ticks of log_ticks (else only the powers of ten that Vega picks are labelled)."""
    kw.setdefault("labelOverlap", "greedy")  # a narrow chart drops labels rather than overprint them
    if values is not None:
        ticks = log_ticks(values)
        if ticks:
            return alt.Axis(values=ticks, labelExpr=LOG_LABELS, **kw)
    powers = f"abs(log(datum.value) / LN10 - round(log(datum.value) / LN10)) < 0.001 ? {LOG_LABELS} : ''"
    return alt.Axis(labelExpr=powers, **kw)


def finite(df: pd.DataFrame, col: str, positive: bool = False) -> pd.DataFrame:
    """The rows whose `col` is a finite number (and > 0 with `positive`, for log scales)."""
    values = pd.to_numeric(df[col], errors="coerce")
    keep = np.isfinite(values)
    if positive:
        keep &= values > 0
    return df[keep]


def long_labels(labels: list[str]) -> bool:
    return max((len(str(x)) for x in labels), default=0) > 24


def series_legend(labels: list[str]) -> alt.Legend:
    # Short labels (steps, settings) sit at the right; long ones (run descriptions) below the
    # plot, one per row (the chart grows with them: see fit_width).
    # Symbols at full opacity: a band's 20% fill, merged into the legend, left swatches nearly
    # invisible on the dark theme.
    if long_labels(labels):
        return alt.Legend(orient="bottom", direction="vertical", columns=1, labelLimit=700, symbolOpacity=1)
    return alt.Legend(orient="right", labelLimit=300, symbolOpacity=1)


def fit_width(chart, scale: float = 1.0):
    """`chart` as wide as its container with a plot as tall as its height (a single or layered
    view; concatenations are left to the container's own autosize), `scale` times taller."""
    if isinstance(chart, (alt.Chart, alt.LayerChart)):
        if scale != 1.0 and isinstance(chart.height, (int, float)):
            chart = chart.properties(height=round(chart.height * scale))
        return chart.properties(autosize=FIT_WIDTH)
    return chart


def step_x(steps, field: str = "step", title: str = "training step", **scale) -> alt.X:
    """The x axis of training steps: whole numbers, and a unit-wide axis for a run that logged a
    single step (Vega would label its empty range 0.000000)."""
    v = pd.to_numeric(pd.Series(steps), errors="coerce").dropna()
    if len(v) and v.min() == v.max():
        scale = {**scale, "domain": [float(v.min()), float(v.min()) + 1]}
    return alt.X(f"{field}:Q", title=title, axis=alt.Axis(format="d", tickMinStep=1),
                 scale=alt.Scale(**scale) if scale else alt.Undefined)
