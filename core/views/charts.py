"""Altair charts as pure functions of DataFrames (and histogram arrays).

Every chart drops non-finite values before plotting (a diverged run still renders), uses log
scales where magnitudes span orders, and colours layers and runs consistently: layers on the
viridis scale from input (dark) to output (light), runs on tableau10 in the order given. A
per-layer statistic is drawn with the title, scale and format of its declaration in
core.instruments.
"""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from ..engine.stats import GRAD_COLUMNS
from ..instruments import Instrument, instrument

GRAD_FLOW = instrument("grad_mean_abs")

LAYER_SCHEME = "viridis"
RUN_SCHEME = "tableau10"
HEIGHT = 280


def _finite(df: pd.DataFrame, col: str, positive: bool = False) -> pd.DataFrame:
    values = pd.to_numeric(df[col], errors="coerce")
    keep = np.isfinite(values)
    if positive:
        keep &= values > 0
    return df[keep]


def _layer_color(names: list[str], title: str = "layer") -> alt.Color:
    # viridis without its darkest and lightest ends, so every layer shows on dark and light themes
    scheme = alt.SchemeParams(name=LAYER_SCHEME, extent=[0.15, 0.92])
    return alt.Color("name:N", title=title, sort=names, scale=alt.Scale(scheme=scheme, domain=names),
                     legend=alt.Legend(columns=2 if len(names) > 12 else 1, symbolLimit=60))


def _long_labels(labels: list[str]) -> bool:
    return max((len(str(x)) for x in labels), default=0) > 24


def _series_legend(labels: list[str]) -> alt.Legend:
    # Short labels (steps, settings) sit at the right; long ones (run descriptions) below the
    # plot, one per row, and the chart grows to keep its plotting area (see _series_height).
    if _long_labels(labels):
        return alt.Legend(orient="bottom", direction="vertical", columns=1, labelLimit=700)
    return alt.Legend(orient="right", labelLimit=300)


def _series_height(labels: list[str]) -> int:
    return HEIGHT + (20 * len(labels) + 30 if _long_labels(labels) else 0)


def _value_axis(ins: Instrument) -> tuple[alt.Scale, alt.Axis, str]:
    """Scale, axis and tooltip format of a per-layer statistic: log, share (0 to 100%) or linear."""
    if ins.log:
        return alt.Scale(type="log"), alt.Axis(), ".3e"
    if ins.percent:
        return alt.Scale(domain=[0, 1]), alt.Axis(format="%"), ".1%"
    return alt.Scale(zero=True), alt.Axis(), ".3g"


def _run_color(labels: list[str], field: str = "run") -> alt.Color:
    return alt.Color(f"{field}:N", title=field, sort=labels,
                     scale=alt.Scale(scheme=RUN_SCHEME, domain=labels), legend=_series_legend(labels))


def grad_flow(df: pd.DataFrame, series: str = "series", value_title: str = GRAD_FLOW.title,
              series_title: str | None = None) -> alt.Chart:
    """Mean |g| per layer (x: layers input to output, y: log), one line per `series`.

    df columns: layer (int), name (str), value (float), and the `series` column.
    """
    order = df.sort_values("layer").drop_duplicates("layer")["name"].tolist()
    data = _finite(df, "value", positive=True)
    labels = list(dict.fromkeys(df[series].astype(str)))
    data = data.assign(**{series: data[series].astype(str)})
    color = alt.Color(f"{series}:N", title=series_title or series, sort=labels,
                      scale=alt.Scale(scheme=RUN_SCHEME if len(labels) <= 10 else "plasma", domain=labels),
                      legend=_series_legend(labels))
    base = alt.Chart(data).encode(
        x=alt.X("name:N", sort=order, title="layer (input → output)", axis=alt.Axis(labelAngle=-45)),
        y=alt.Y("value:Q", scale=alt.Scale(type="log"), title=value_title),
        color=color,
        tooltip=[alt.Tooltip("name:N", title="layer"), alt.Tooltip(f"{series}:N", title=series_title or series),
                 alt.Tooltip("value:Q", title=value_title, format=".3e")],
    )
    return base.mark_line(point=True).properties(height=_series_height(labels))


def stat_over_steps(layer_stats: pd.DataFrame, layers: pd.DataFrame, stat: str) -> alt.Chart:
    """One statistic over training steps, one line per layer (title and scale: core.instruments)."""
    ins = instrument(stat)
    df = layer_stats[layer_stats["stat"] == stat].merge(layers[["layer", "name"]], on="layer")
    df = _finite(df, "value", positive=ins.log)
    names = layers.sort_values("layer")["name"].tolist()
    names = [n for n in names if n in set(df["name"])] or names
    scale, axis, fmt = _value_axis(ins)
    return alt.Chart(df).mark_line().encode(
        x=alt.X("step:Q", title="training step"), y=alt.Y("value:Q", title=ins.title, scale=scale, axis=axis),
        color=_layer_color(names),
        tooltip=[alt.Tooltip("name:N", title="layer"), "step:Q",
                 alt.Tooltip("value:Q", title=ins.title, format=fmt)],
    ).properties(height=HEIGHT)


def training_curves(epochs: pd.DataFrame, metric: str) -> alt.Chart:
    """Loss or accuracy per epoch for train, validation and test."""
    cols = {f"train_{metric}": "train", f"val_{metric}": "validation", f"test_{metric}": "test"}
    present = [c for c in cols if c in epochs]
    long = epochs.melt(id_vars=["epoch"], value_vars=present, var_name="split", value_name="value")
    long["split"] = long["split"].map(cols)
    long = _finite(long, "value")
    title = "accuracy" if metric == "acc" else "cross-entropy loss"
    y = alt.Y("value:Q", title=title, axis=alt.Axis(format="%") if metric == "acc" else alt.Axis(),
              scale=alt.Scale(zero=False))
    return alt.Chart(long).mark_line(point=True).encode(
        x=alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1)), y=y,
        color=alt.Color("split:N", sort=["train", "validation", "test"],
                        scale=alt.Scale(scheme=RUN_SCHEME), legend=alt.Legend(orient="bottom")),
        strokeDash=alt.StrokeDash("split:N", sort=["train", "validation", "test"], legend=None),
        tooltip=["epoch:Q", "split:N", alt.Tooltip("value:Q", format=".4f")],
    ).properties(height=HEIGHT)


def compare_curves(epochs_by_run: dict[str, pd.DataFrame], column: str, title: str) -> alt.Chart:
    """One metric per epoch, one line per run (runs keyed by their label)."""
    frames = [df[["epoch", column]].assign(run=label) for label, df in epochs_by_run.items()]
    data = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["epoch", column, "run"])
    data = _finite(data.rename(columns={column: "value"}), "value")
    percent = column.endswith("_acc")
    return alt.Chart(data).mark_line(point=True).encode(
        x=alt.X("epoch:Q", axis=alt.Axis(tickMinStep=1)),
        y=alt.Y("value:Q", title=title, scale=alt.Scale(zero=False),
                axis=alt.Axis(format="%") if percent else alt.Axis()),
        color=_run_color(list(epochs_by_run)),
        tooltip=["run:N", "epoch:Q", alt.Tooltip("value:Q", title=title, format=".4f")],
    ).properties(height=_series_height(list(epochs_by_run)))


def histogram_heatmap(counts: np.ndarray, steps: np.ndarray, edges: np.ndarray, title: str,
                      log_bins: bool = True) -> alt.Chart:
    """Distribution over time: x step, y bin, colour = fraction of entries (log colour scale).

    counts: (n_steps, n_columns). For gradients the columns are GRAD_COLUMNS (zeros, below,
    bins, above, non-finite); zeros are drawn as a band under the smallest bin. For activations
    the columns are (below, bins..., above).
    """
    counts = np.asarray(counts, dtype=np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    frac = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    n_bins = len(edges) - 1
    width = edges[1] - edges[0]
    if log_bins:
        # GRAD_COLUMNS: zero, below, n_bins, above, nonfinite -> put zero+below under the bins
        lows = np.concatenate([[edges[0] - 2 * width, edges[0] - width], edges[:-1], [edges[-1]], [np.nan]])
        labels = ["exactly 0", f"< 1e{edges[0]:.0f}"] + [f"1e{lo:.2f} to 1e{lo + width:.2f}" for lo in edges[:-1]] \
            + [f"> 1e{edges[-1]:.0f}", "NaN/inf"]
    else:
        lows = np.concatenate([[edges[0] - width], edges[:-1], [edges[-1]]])
        labels = [f"< {edges[0]:g}"] + [f"{lo:.2f} to {lo + width:.2f}" for lo in edges[:-1]] + [f"> {edges[-1]:g}"]
    n_cols = len(lows)
    assert counts.shape[1] == n_cols, (counts.shape, n_cols)
    step_idx, col_idx = np.nonzero(frac[:, :n_cols] > 0)
    steps = np.asarray(steps)
    # Each logged step is drawn as wide as the gap to the next one.
    gaps = np.diff(steps, append=steps[-1] + (steps[-1] - steps[-2] if len(steps) > 1 else 1)) if len(steps) else steps
    data = pd.DataFrame({
        "step": steps[step_idx], "step_end": steps[step_idx] + gaps[step_idx],
        "low": lows[col_idx], "high": lows[col_idx] + width, "fraction": frac[step_idx, col_idx],
        "bin": np.asarray(labels, dtype=object)[col_idx],
    })
    data = _finite(data, "low")
    y_title = "log10 |gradient|" if log_bins else "activation value"
    return alt.Chart(data).mark_rect().encode(
        # nice=False: the axis ends where the last logged interval does, not at a round number.
        x=alt.X("step:Q", title="training step", scale=alt.Scale(nice=False)), x2="step_end:Q",
        y=alt.Y("low:Q", title=y_title, scale=alt.Scale(zero=False, nice=False)), y2="high:Q",
        color=alt.Color("fraction:Q", title="share of entries",
                        scale=alt.Scale(type="log", scheme="viridis", domain=[1e-5, 1], clamp=True),
                        legend=alt.Legend(format=".0e")),
        tooltip=["step:Q", alt.Tooltip("bin:N", title="bin"), alt.Tooltip("fraction:Q", format=".2%")],
    ).properties(title=title, height=220)


def layer_bars(df: pd.DataFrame, stat: str) -> alt.Chart:
    """One bar per layer (df: layer, name, value) of `stat` (title and scale: core.instruments)."""
    ins = instrument(stat)
    order = df.sort_values("layer")["name"].tolist()
    data = _finite(df, "value", positive=ins.log)
    scale, axis, fmt = _value_axis(ins)
    return alt.Chart(data).mark_bar().encode(
        x=alt.X("name:N", sort=order, title="layer (input → output)", axis=alt.Axis(labelAngle=-45)),
        y=alt.Y("value:Q", title=ins.title, axis=axis, scale=scale),
        color=_layer_color(order),
        tooltip=[alt.Tooltip("name:N", title="layer"), alt.Tooltip("value:Q", title=ins.title, format=fmt)],
    ).properties(height=HEIGHT)


def activation_functions(df: pd.DataFrame) -> alt.Chart:
    """f(x) and f'(x) side by side (df: x, value, function, curve in {'f(x)', "f'(x)"}).

    Clicking a legend entry highlights that function in both panels.
    """
    sel = alt.selection_point(name="highlight", fields=["function"], bind="legend")
    base = alt.Chart(df).mark_line().encode(
        x=alt.X("x:Q", title="input z"), y=alt.Y("value:Q", title=None),
        color=alt.Color("function:N", scale=alt.Scale(scheme=RUN_SCHEME), legend=alt.Legend(orient="bottom")),
        opacity=alt.condition(sel, alt.value(1.0), alt.value(0.12)),
        tooltip=["function:N", alt.Tooltip("x:Q", format=".2f"), alt.Tooltip("value:Q", format=".3f")],
    )
    values = base.transform_filter(alt.datum.curve == "f(x)").add_params(sel) \
        .properties(title="activation f(z)", height=HEIGHT, width=300)
    quarter = alt.Chart(pd.DataFrame({"y": [0.25], "label": ["0.25: the logistic derivative's maximum"]}))
    rule = quarter.mark_rule(strokeDash=[4, 4], color="gray").encode(y="y:Q", tooltip=["label:N"])
    text = quarter.mark_text(align="left", dx=4, dy=-6, color="gray").encode(y="y:Q", x=alt.value(4),
                                                                             text="label:N")
    slopes = alt.layer(base.transform_filter(alt.datum.curve == "f'(x)"), rule, text) \
        .properties(title="derivative f'(z)", height=HEIGHT, width=300)
    return alt.hconcat(values, slopes).resolve_scale(y="independent")


def signal_propagation(flow: pd.DataFrame) -> alt.Chart:
    """Activation std and mean |gradient| per layer at initialization (two panels, log y)."""
    order = flow.sort_values("layer")["name"].tolist()
    panels = []
    for col in ("act_std", "grad_mean_abs"):
        if col not in flow:
            continue
        ins = instrument(col)
        scale, axis, fmt = _value_axis(ins)
        data = _finite(flow[["layer", "name", col]].rename(columns={col: "value"}), "value", positive=ins.log)
        panels.append(alt.Chart(data).mark_line(point=True).encode(
            x=alt.X("name:N", sort=order, title="layer (input → output)", axis=alt.Axis(labelAngle=-45)),
            y=alt.Y("value:Q", scale=scale, axis=axis, title=ins.title),
            tooltip=[alt.Tooltip("name:N", title="layer"), alt.Tooltip("value:Q", title=ins.title, format=fmt)],
        ).properties(title=ins.title, height=HEIGHT, width=320))
    return alt.hconcat(*panels)


__all__ = ["grad_flow", "stat_over_steps", "training_curves", "compare_curves", "histogram_heatmap",
           "layer_bars", "activation_functions", "signal_propagation", "GRAD_COLUMNS"]


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
        y=alt.Y("value:Q", title=value_title, scale=scale, axis=alt.Axis(format="%") if percent else alt.Axis()),
        color=alt.Color(f"{series}:N", title=None, sort=labels,
                        scale=alt.Scale(scheme=RUN_SCHEME, domain=labels), legend=_series_legend(labels)),
        tooltip=[alt.Tooltip("name:N", title="layer"), alt.Tooltip(f"{series}:N", title="configuration"),
                 alt.Tooltip("value:Q", title=value_title, format=".1%" if percent else ".3g")],
    ).properties(height=_series_height(labels))


def grad_value_histogram(df: pd.DataFrame) -> alt.Chart:
    """Share of weight-gradient entries per log10|g| bin, one step line per layer (log y), like
    004_*'s histogram of gradient values but on magnitudes, so tiny values get their own bins.

    df columns: low, high (log10 |g| bin edges), share, name, layer.
    """
    order = df.sort_values("layer").drop_duplicates("layer")["name"].tolist()
    data = _finite(df, "share", positive=True)
    return alt.Chart(data).mark_line(interpolate="step-after", point=False).encode(
        x=alt.X("low:Q", title="log10 |gradient|", scale=alt.Scale(zero=False, nice=False)),
        y=alt.Y("share:Q", title="share of the layer's nonzero gradients", scale=alt.Scale(type="log")),
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
        color=alt.Color("metric:N", scale=alt.Scale(scheme=RUN_SCHEME), legend=alt.Legend(orient="top")),
        tooltip=["configuration:N", "metric:N", alt.Tooltip("published:Q", format=".2f"),
                 alt.Tooltip("ours:Q", format=".2f")],
    )
    return alt.layer(diagonal, points).properties(height=HEIGHT)


__all__ += ["layer_profile", "grad_value_histogram", "ours_vs_published"]
