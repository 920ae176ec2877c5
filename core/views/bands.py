"""Charts of several seeds per configuration: the seed mean as a line, the min-max range of the
seeds as a band around it.

    frame = band_frame(frames.grad_flow_frame(runs))              # series, layer, name, mean, lo, hi, n
    flow_band_chart(frame)                                          # per layer, log scale
    curve_band_chart({label: [epochs per seed]}, "test_acc", "test accuracy")   # per epoch

`runs` may hold several results with the same label (one per seed): they form one band.
"""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from .curves import curve_chart, epoch_x
from .style import HEIGHT, RUN_SCHEME, finite, log_axis, series_legend

BAND = "min–max over seeds"  # what the band shows, for captions


def band_frame(df: pd.DataFrame, x: str = "layer", keys: tuple[str, ...] = ("name",),
               log: bool = True) -> pd.DataFrame:
    """Per series and x: mean (geometric when `log`), min (lo), max (hi) and count of `value`."""
    cols = ["series", x, *keys, "mean", "lo", "hi", "n"]
    if df.empty:
        return pd.DataFrame(columns=cols)
    d = finite(df, "value", positive=log).copy()
    d["v"] = np.log10(d["value"].astype(float)) if log else d["value"].astype(float)
    g = d.groupby(["series", x, *keys], sort=False)["v"]
    out = g.agg(mean="mean", lo="min", hi="max", n="count").reset_index()
    if log:
        for c in ("mean", "lo", "hi"):
            out[c] = 10.0 ** out[c]
    return out[cols]


def _color(labels: list[str]) -> alt.Color:
    return alt.Color("series:N", title="configuration", sort=labels,
                     scale=alt.Scale(scheme=RUN_SCHEME, domain=labels), legend=series_legend(labels))


def flow_band_chart(frame: pd.DataFrame, value_title: str = "mean |gradient|",
                    domain: list[str] | None = None) -> alt.Chart:
    """Mean |gradient| per weight layer (log scale): seed mean line, min-max band. `domain`: every
    series' colour as in a chart of all of them (a series left out keeps the others' colours)."""
    labels = list(domain) if domain is not None else list(dict.fromkeys(frame["series"]))
    values = pd.concat([frame["lo"], frame["hi"]]) if len(frame) else None
    x = alt.X("layer:Q", title="weight layer (input → output)", axis=alt.Axis(tickMinStep=1))
    y_scale = alt.Scale(type="log")
    base = alt.Chart(frame)
    band = base.mark_area(opacity=0.2).encode(
        x=x, y=alt.Y("lo:Q", scale=y_scale, title=value_title, axis=log_axis(values)), y2="hi:Q",
        color=_color(labels))
    line = base.mark_line(point=True).encode(
        x=x, y=alt.Y("mean:Q", scale=y_scale), color=_color(labels),
        tooltip=["series:N", "name:N", alt.Tooltip("mean:Q", format=".2e"),
                 alt.Tooltip("lo:Q", format=".2e"), alt.Tooltip("hi:Q", format=".2e"), "n:Q"])
    return (band + line).properties(height=HEIGHT)


def curve_frame(epochs_by_label: dict[str, list[pd.DataFrame]], column: str) -> pd.DataFrame:
    """Per label and epoch: mean, min (lo), max (hi) and count of `column` over the seeds."""
    rows = [pd.DataFrame({"series": label, "epoch": e["epoch"].to_numpy(), "value": e[column].to_numpy()})
            for label, frames in epochs_by_label.items() for e in frames if not e.empty]
    if not rows:
        return pd.DataFrame(columns=["series", "epoch", "mean", "lo", "hi", "n"])
    return band_frame(pd.concat(rows, ignore_index=True), x="epoch", keys=(), log=False)


def curve_band_chart(epochs_by_label: dict[str, list[pd.DataFrame]], column: str, title: str) -> alt.Chart:
    """`column` after each epoch: the seed mean as a line, the min-max band of the seeds."""
    frame = curve_frame(epochs_by_label, column)
    labels = list(epochs_by_label)
    fmt = ".1%" if column.endswith("_acc") else ".4g"
    return curve_chart(frame.assign(x=frame["epoch"], value=frame["mean"]), epoch_x(frame["epoch"]), title, labels,
                       legend=series_legend(labels), percent=column.endswith("_acc"), points=True,
                       tooltip=[alt.Tooltip("series:N", title="configuration"), "epoch:Q",
                                alt.Tooltip("mean:Q", format=fmt), alt.Tooltip("lo:Q", format=fmt),
                                alt.Tooltip("hi:Q", format=fmt), alt.Tooltip("n:Q", title="seeds")])
