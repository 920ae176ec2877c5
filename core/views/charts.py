"""Altair charts as pure functions of DataFrames (and histogram arrays).

Every chart drops non-finite values before plotting (a diverged run still renders), uses log
scales where magnitudes span orders, and colours layers and runs consistently: layers on the
viridis scale from input (dark) to output (light), runs on tableau10 in the order given. A
per-layer statistic is drawn with the title, scale and format of its declaration in
core.base.instruments.
"""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from ..engine.stats import GRAD_COLUMNS
from ..base.instruments import Instrument, instrument
from .curves import epoch_curves
from .histograms import histogram_heatmap
from .style import (HEIGHT, LAYER_SCHEME, LOG_LABELS, RUN_SCHEME, finite as _finite, log_axis,
                    series_legend as _series_legend, step_x)

GRAD_FLOW = instrument("grad_mean_abs")



def _layer_color(names: list[str], title: str = "layer", legend: bool = True) -> alt.Color:
    """Layers on viridis from input (dark) to output (light). Charts whose layers are named on
    the chart itself (an axis of layer names, labels at the lines' ends) have no legend: twenty
    entries took a narrow column's plot, or ran past its right edge."""
    # viridis without its darkest and lightest ends, so every layer shows on dark and light themes
    # (from 0.15, layer 1's end label was near invisible on the dark theme's background)
    scheme = alt.SchemeParams(name=LAYER_SCHEME, extent=[0.25, 0.92])
    return alt.Color("name:N", title=title, sort=names, scale=alt.Scale(scheme=scheme, domain=names),
                     # below the plot: beside it, the legend takes half a narrow column (800 px)
                     legend=alt.Legend(orient="bottom", columns=min(len(names), 4), symbolLimit=60)
                     if legend else None)


def _value_axis(ins: Instrument, values=None) -> tuple[alt.Scale, alt.Axis, str]:
    """Scale, axis and tooltip format of a per-layer statistic: log, share (0 to 100%) or linear."""
    if ins.log:
        return alt.Scale(type="log"), log_axis(values), ".3e"
    if ins.percent:
        return alt.Scale(domain=[0, 1]), alt.Axis(format="%"), ".1%"
    return alt.Scale(zero=True), alt.Axis(), ".3g"


def _run_color(labels: list[str], field: str = "run") -> alt.Color:
    return alt.Color(f"{field}:N", title=field, sort=labels,
                     scale=alt.Scale(scheme=RUN_SCHEME, domain=labels), legend=_series_legend(labels))


def _zero_marks(zeros: pd.DataFrame, x: alt.X, color: alt.Color, series: str, value_title: str) -> alt.Chart:
    """Values exactly 0 have no place on a log axis: a '0' at the bottom edge marks them."""
    return alt.Chart(zeros).mark_text(text="0", baseline="bottom", fontWeight="bold", dy=-2).encode(
        x=x, y=alt.value(HEIGHT), color=color,
        tooltip=[alt.Tooltip("name:N", title="layer"), alt.Tooltip(f"{series}:N"),
                 alt.Tooltip("zero:N", title=value_title)])


def aligned_by_index(df: pd.DataFrame, series: str = "series") -> bool:
    """Whether the series name their layers differently (runs of different depths): then layers
    are aligned by their index from the input, and the output layer of each is marked."""
    return df.groupby("layer")["name"].nunique().gt(1).any() if len(df) else False


def grad_flow(df: pd.DataFrame, series: str = "series", value_title: str = GRAD_FLOW.title,
              series_title: str | None = None) -> alt.Chart:
    """Mean |g| per layer (x: layers input to output, y: log), one line per `series`.

    df columns: layer (int), name (str), value (float), and the `series` column. Series of
    different depths are aligned by layer index from the input (x: 1, 2, ...), each one's output
    layer drawn as a square. Values exactly 0 are marked '0' at the bottom edge.
    """
    labels = list(dict.fromkeys(df[series].astype(str)))
    df = df.assign(**{series: df[series].astype(str)})
    by_index = aligned_by_index(df, series)
    last = df.groupby(series)["layer"].transform("max") if len(df) else df["layer"]
    df = df.assign(layer_kind=np.where(df["layer"] == last, "output layer", "hidden layer"))
    if by_index:
        x = alt.X("layer:O", title="layer from the input (■ = output layer)",
                  axis=alt.Axis(labelAngle=0))
    else:
        order = df.sort_values("layer").drop_duplicates("layer")["name"].tolist()
        x = alt.X("name:N", sort=order, title="layer (input → output)", axis=alt.Axis(labelAngle=-45))
    values = pd.to_numeric(df["value"], errors="coerce")
    data = _finite(df, "value", positive=True)
    zeros = df[values == 0].assign(zero="exactly 0")
    color = alt.Color(f"{series}:N", title=series_title or series, sort=labels,
                      scale=alt.Scale(scheme=RUN_SCHEME if len(labels) <= 10 else "plasma", domain=labels),
                      legend=_series_legend(labels) if len(labels) > 1 else None)
    tooltip = [alt.Tooltip("name:N", title="layer"), alt.Tooltip(f"{series}:N", title=series_title or series),
               alt.Tooltip("value:Q", title=value_title, format=".3e")]
    base = alt.Chart(data).encode(x=x, y=alt.Y("value:Q", scale=alt.Scale(type="log"), title=value_title,
                                                axis=log_axis(data["value"])), color=color, tooltip=tooltip)
    lines = base.mark_line(point=not by_index)
    layers = [lines]
    if by_index:
        layers.append(base.mark_point(filled=True, size=60).encode(
            shape=alt.Shape("layer_kind:N", scale=alt.Scale(domain=["hidden layer", "output layer"],
                                                            range=["circle", "square"]), legend=None)))
    if len(zeros):
        layers.append(_zero_marks(zeros, x, color, series, value_title))
    chart = alt.layer(*layers) if len(layers) > 1 else lines
    return chart.properties(height=HEIGHT)


def _value_domain(ins: Instrument, values: pd.Series) -> list[float]:
    """The y range a statistic's chart is drawn on (set, not left to Vega, so that where each
    line ends on the plot is known here): whole decades on a log scale, 0 to 100% for a share."""
    v = pd.to_numeric(values, errors="coerce").dropna()
    if ins.percent or not len(v):
        return [0.0, 1.0]
    if ins.log:
        lo, hi = np.floor(np.log10(v.min())), np.ceil(np.log10(v.max()))
        return [10.0 ** lo, 10.0 ** max(hi, lo + 1)]
    lo, hi = min(0.0, float(v.min())), max(0.0, float(v.max()))
    return [lo, hi if hi > lo else lo + 1.0]


LABEL_PX = 36  # room for a layer's name ("fc12", "out") right of the plot


def spaced_labels(ends: pd.DataFrame, domain: list[float], log: bool, height: float = HEIGHT,
                  gap: float = 12) -> pd.DataFrame:
    """The rows of `ends` (one line end per layer, in layer order) whose labels stay `gap` px
    apart on a plot `height` px tall over `domain`: the input and output layers first, then
    the others from the input; a label that would overprint one already kept is left out."""
    t = np.log10 if log else (lambda x: np.asarray(x, dtype=float))
    lo, hi = t(domain[0]), t(domain[1])
    px = (t(ends["value"].to_numpy(dtype=float)) - lo) / (hi - lo) * height
    n = len(ends)
    kept: list[int] = []
    for i in dict.fromkeys([0, n - 1, *range(1, n - 1)]) if n else []:
        if all(abs(px[i] - px[k]) >= gap for k in kept):
            kept.append(i)
    return ends.iloc[sorted(kept)]


def stat_over_steps(layer_stats: pd.DataFrame, layers: pd.DataFrame, stat: str) -> alt.Chart:
    """One statistic over training steps, one line per layer (title and scale: core.base.instruments),
    each named at its right end where the names do not overprint each other."""
    ins = instrument(stat)
    df = layer_stats[layer_stats["stat"] == stat].merge(layers[["layer", "name"]], on="layer")
    df = _finite(df, "value", positive=ins.log)
    names = layers.sort_values("layer")["name"].tolist()
    names = [n for n in names if n in set(df["name"])] or names
    domain = _value_domain(ins, df["value"])
    _, axis, fmt = _value_axis(ins, domain if ins.log else df["value"])
    scale = alt.Scale(type="log" if ins.log else "linear", domain=domain, nice=False)
    y = alt.Y("value:Q", title=ins.title, scale=scale, axis=axis)
    base = alt.Chart(df).encode(
        x=step_x(df["step"]), y=y, color=_layer_color(names, legend=False),
        tooltip=[alt.Tooltip("name:N", title="layer"), "step:Q",
                 alt.Tooltip("value:Q", title=ins.title, format=fmt)],
    )
    ends = df.sort_values("step").groupby("layer", sort=True).tail(1).sort_values("layer")
    labels = alt.Chart(spaced_labels(ends, domain, ins.log)).mark_text(align="left", dx=4, fontSize=10).encode(
        x="step:Q", y=y, text="name:N", color=_layer_color(names, legend=False))
    # the labels sit right of the plot: padding keeps them inside the chart's width
    return alt.layer(base.mark_line(point=df["step"].nunique() == 1), labels).properties(
        height=HEIGHT, padding={"left": 5, "top": 5, "bottom": 5, "right": LABEL_PX})


def training_curves(epochs: pd.DataFrame, metric: str) -> alt.Chart:
    """Loss ("loss") or accuracy ("acc") per epoch for train, validation and test (curves.epoch_curves)."""
    return epoch_curves(epochs, metric)


def layer_bars(df: pd.DataFrame, stat: str) -> alt.Chart:
    """One bar per layer (df: layer, name, value) of `stat` (title and scale: core.base.instruments)."""
    ins = instrument(stat)
    order = df.sort_values("layer")["name"].tolist()
    data = _finite(df, "value", positive=ins.log)
    scale, axis, fmt = _value_axis(ins, data["value"])
    bars = alt.Chart(data).mark_bar().encode(
        x=alt.X("name:N", sort=order, title="layer (input → output)", axis=alt.Axis(labelAngle=-45)),
        y=alt.Y("value:Q", title=ins.title, axis=axis, scale=scale),
        color=_layer_color(order, legend=False),
        tooltip=[alt.Tooltip("name:N", title="layer"), alt.Tooltip("value:Q", title=ins.title, format=fmt)],
    )
    values = pd.to_numeric(data["value"], errors="coerce")
    if len(values) and (values == 0).all():
        # bars of height 0 look like a broken chart: say what they are, in the middle of the plot
        # (on two lines, so that a narrow column's plot holds it)
        note = alt.Chart(pd.DataFrame({"text": [f"0 in every layer:\nno {ins.title}"]})).mark_text(
            fontSize=13, color="gray", lineBreak="\n", align="center", baseline="middle").encode(
            text="text:N", x=alt.value({"expr": "width / 2"}), y=alt.value(HEIGHT / 2))
        return alt.layer(bars, note).properties(height=HEIGHT)
    return bars.properties(height=HEIGHT)


def activation_panels(df: pd.DataFrame) -> tuple[alt.Chart, alt.Chart]:
    """f(x) and f'(x) as two charts (df: x, value, function, curve in {'f(x)', "f'(x)"}), each as
    wide as its column. Clicking a legend entry highlights that function."""
    def panel(curve: str, title: str) -> alt.Chart:
        sel = alt.selection_point(fields=["function"], bind="legend")
        return alt.Chart(df).transform_filter(alt.datum.curve == curve).mark_line().encode(
            x=alt.X("x:Q", title="input z"), y=alt.Y("value:Q", title=None),
            color=alt.Color("function:N", scale=alt.Scale(scheme=RUN_SCHEME),
                            legend=alt.Legend(orient="bottom", columns=3, labelLimit=120)),
            opacity=alt.condition(sel, alt.value(1.0), alt.value(0.12)),
            tooltip=["function:N", alt.Tooltip("x:Q", format=".2f"), alt.Tooltip("value:Q", format=".3f")],
        ).add_params(sel).properties(title=title, height=HEIGHT)

    quarter = alt.Chart(pd.DataFrame({"y": [0.25], "x": [float(df["x"].max()) if len(df) else 0.0],
                                      "label": ["0.25 = logistic's largest slope"]}))
    rule = quarter.mark_rule(strokeDash=[4, 4], color="gray").encode(y="y:Q", tooltip=["label:N"])
    # "0.25" at the right end, just below the line: there the saturating curves are near 0 and the
    # others far above, so it stays clear of them in a narrow column too (the caption says the rest)
    text = quarter.mark_text(align="right", baseline="top", dx=-2, dy=3, color="gray", fontSize=11).encode(
        y="y:Q", x="x:Q", text=alt.value("0.25"), tooltip=["label:N"])
    return panel("f(x)", "activation f(z)"), alt.layer(panel("f'(x)", "derivative f'(z)"), rule, text)


def activation_functions(df: pd.DataFrame) -> alt.Chart:
    """Both panels of activation_panels side by side (fixed widths, for exports)."""
    values, slopes = activation_panels(df)
    return alt.hconcat(values.properties(width=300), slopes.properties(width=300)).resolve_scale(y="independent")


def signal_propagation(flow: pd.DataFrame) -> list[alt.Chart]:
    """Activation std and mean |gradient| per layer at initialization: one chart each (log y), for
    columns side by side that each take their column's width."""
    order = flow.sort_values("layer")["name"].tolist()
    panels = []
    for col in ("act_std", "grad_mean_abs"):
        if col not in flow:
            continue
        ins = instrument(col)
        data = _finite(flow[["layer", "name", col]].rename(columns={col: "value"}), "value", positive=ins.log)
        scale, axis, fmt = _value_axis(ins, data["value"])
        panels.append(alt.Chart(data).mark_line(point=True).encode(
            x=alt.X("name:N", sort=order, title="layer (input → output)", axis=alt.Axis(labelAngle=-45)),
            y=alt.Y("value:Q", scale=scale, axis=axis, title=ins.title),
            tooltip=[alt.Tooltip("name:N", title="layer"), alt.Tooltip("value:Q", title=ins.title, format=fmt)],
        ).properties(title=ins.title, height=HEIGHT))
    return panels


__all__ = ["grad_flow", "stat_over_steps", "spaced_labels", "training_curves", "histogram_heatmap", "LOG_LABELS",
           "layer_bars", "activation_functions", "activation_panels", "signal_propagation", "log_axis",
           "aligned_by_index", "GRAD_COLUMNS"]


# ---------------------------------------------------------------------- reproductions (core.lab.reproduce)
def layer_profile(df: pd.DataFrame, value_title: str, series: str = "series", percent: bool = True,
                  log: bool = False) -> alt.Chart:
    """A per-layer statistic (e.g. saturated share) on a linear or log axis, one line per `series`.

    df columns: layer (int), name (str), value (float), and the `series` column.
    """
    order = df.sort_values("layer").drop_duplicates("layer")["name"].tolist()
    data = _finite(df, "value", positive=log)
    labels = list(dict.fromkeys(df[series].astype(str)))
    data = data.assign(**{series: data[series].astype(str)})
    if log:
        scale = alt.Scale(type="log")
    else:
        scale = alt.Scale(domain=[0, 1]) if percent else alt.Scale(zero=True)
    return alt.Chart(data).mark_line(point=True).encode(
        x=alt.X("name:N", sort=order, title="layer (input → output)", axis=alt.Axis(labelAngle=-45)),
        y=alt.Y("value:Q", title=value_title, scale=scale,
                axis=log_axis(data["value"]) if log else alt.Axis(format="%") if percent else alt.Axis()),
        color=alt.Color(f"{series}:N", title=None, sort=labels,
                        scale=alt.Scale(scheme=RUN_SCHEME, domain=labels), legend=_series_legend(labels)),
        tooltip=[alt.Tooltip("name:N", title="layer"), alt.Tooltip(f"{series}:N", title="configuration"),
                 alt.Tooltip("value:Q", title=value_title, format=".1%" if percent else ".3g")],
    ).properties(height=HEIGHT)


def grad_value_histogram(df: pd.DataFrame) -> alt.Chart:
    """Share of weight-gradient entries per log10|g| bin, one step line per layer (log y), like
    Kakujo (2022)'s histogram of gradient values but on magnitudes, so tiny values get their own bins.

    df columns: low, high (log10 |g| bin edges), share, name, layer.
    """
    order = df.sort_values("layer").drop_duplicates("layer")["name"].tolist()
    data = _finite(df, "share", positive=True)
    return alt.Chart(data).mark_line(interpolate="step-after", point=False).encode(
        x=alt.X("low:Q", title="log10 |gradient|", scale=alt.Scale(zero=False, nice=False)),
        y=alt.Y("share:Q", title="share of the layer's nonzero gradients", scale=alt.Scale(type="log"),
                axis=log_axis(df["share"])),
        color=_layer_color(order),
        tooltip=[alt.Tooltip("name:N", title="layer"), alt.Tooltip("low:Q", title="from log10|g|", format=".2f"),
                 alt.Tooltip("high:Q", title="to log10|g|", format=".2f"),
                 alt.Tooltip("share:Q", format=".2%")],
    ).properties(height=HEIGHT)


def ours_vs_published(df: pd.DataFrame, unit: str = "%") -> alt.Chart:
    """Our value against the published one, one point per configuration; the diagonal is
    perfect agreement. df columns: configuration, metric, published, ours (same unit)."""
    data = _finite(_finite(df, "ours"), "published")
    values = pd.concat([data["ours"], data["published"]]) if len(data) else pd.Series([0.0, 100.0])
    lo, hi = float(values.min()), float(values.max())
    pad = max((hi - lo) * 0.05, 1.0)
    domain = [lo - pad, hi + pad]
    diagonal = alt.Chart(pd.DataFrame({"x": domain, "y": domain})).mark_line(
        strokeDash=[4, 4], color="gray").encode(x="x:Q", y="y:Q")
    points = alt.Chart(data).mark_point(filled=True, size=70).encode(
        x=alt.X("published:Q", title=f"published ({unit})", scale=alt.Scale(domain=domain)),
        y=alt.Y("ours:Q", title=f"ours ({unit})", scale=alt.Scale(domain=domain)),
        color=alt.Color("metric:N", scale=alt.Scale(scheme=RUN_SCHEME), legend=alt.Legend(orient="right")),
        tooltip=["configuration:N", "metric:N", alt.Tooltip("published:Q", format=".2f"),
                 alt.Tooltip("ours:Q", format=".2f")],
    )
    return alt.layer(diagonal, points).properties(height=HEIGHT)


__all__ += ["layer_profile", "grad_value_histogram", "ours_vs_published"]
