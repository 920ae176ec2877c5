"""Curves over training: the one line chart of a value over steps or epochs (`curve_chart`), which
the per-epoch curves (charts.training_curves), the seed bands (bands.curve_band_chart) and the
per-step training loss draw through; and the per-step loss with smoothing and a choice of x-axis
(step, epoch, seconds).

    frame = step_loss_frame(result.steps, result.epochs, x="epoch", smoothing=0.6)
    step_loss(frame, x="epoch")
    epoch_curves(result.epochs, "loss")        # train, validation and test after each epoch

Smoothing is TensorBoard's: an exponential moving average with weight `smoothing` (0: none,
0.99: heavy), debiased so the first points are not pulled toward 0. Non-finite losses (a
diverged step) are left out of the average and of the chart.
"""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from .style import HEIGHT, RUN_SCHEME, finite, log_axis, step_x

X_AXES = {"step": "training step", "epoch": "epoch", "seconds": "seconds of training"}
SPLITS = {"train": "train", "val": "validation", "test": "test"}
# A legend of a few short entries goes above the plot: inside it, it covered the points of a
# curve that does not fall (a diverged or a stuck run); beside it, it took a narrow column's width.
def narrow_legend(columns: int) -> alt.Legend:
    """The legend above the plot with at most `columns` entries per row (0: one row), for charts
    drawn in half a column: at 800 px that is about 150 px, and "train validation test" in one
    row (about 170 px) lost "test" past its edge, the live step loss "every step smoothed" its
    "smoothed"."""
    return alt.Legend(orient="top", title=None, symbolSize=60, labelLimit=160, symbolOpacity=1, columns=columns)


TOP_LEGEND = narrow_legend(0)


def epoch_x(epochs) -> alt.X:
    """Whole epochs on the axis (a single finished epoch is labelled "1", not "1.000000")."""
    last = int(pd.to_numeric(pd.Series(epochs), errors="coerce").max()) if len(epochs) else 1
    ticks = dict(values=list(range(1, last + 1))) if last <= 12 else dict(tickMinStep=1)
    return alt.X("x:Q", title="epoch", axis=alt.Axis(format="d", **ticks))


def curve_chart(frame: pd.DataFrame, x: alt.X, title: str, series: list[str], *, legend=TOP_LEGEND,
                log: bool = False, percent: bool = False, points: bool = False, dashes: bool = False,
                faint: tuple[str, ...] = (), scheme: str = RUN_SCHEME, colors: list[str] | None = None,
                tooltip=None) -> alt.Chart:
    """A value over training, one line per series (in `series` order, coloured by `scheme`, or
    by `colors` given in that order; `legend=None` for none).

    frame columns: x, value, series, and lo and hi for a min-max band around each line (drawn
    when present). `faint` series are drawn light (a raw curve under its smoothed one); `dashes`
    tells the lines apart without colour too. Non-finite values (and values <= 0 on a log axis)
    are left out.
    """
    data = finite(frame, "value", positive=log)
    axis = log_axis(data["value"]) if log else alt.Axis(format="%") if percent else alt.Axis()
    scale = alt.Scale(type="log") if log else alt.Scale(zero=False)
    y = alt.Y("value:Q", title=title, axis=axis, scale=scale)
    palette = dict(range=list(colors)) if colors else dict(scheme=scheme)
    color = alt.Color("series:N", sort=series, title=None, scale=alt.Scale(domain=series, **palette), legend=legend)
    base = alt.Chart(data).encode(x=x)
    line = base.mark_line(point=points).encode(y=y, color=color, tooltip=tooltip or alt.Undefined)
    if dashes:
        line = line.encode(strokeDash=alt.StrokeDash("series:N", sort=series, legend=None))
    if faint:
        line = line.encode(opacity=alt.condition(alt.FieldOneOfPredicate("series", list(faint)),
                                                 alt.value(0.35), alt.value(1.0)))
    if not {"lo", "hi"} <= set(frame.columns):
        return line.properties(height=HEIGHT)
    band = base.mark_area(opacity=0.2).encode(y=alt.Y("lo:Q", scale=scale), y2="hi:Q", color=color)
    return alt.layer(band, line).properties(height=HEIGHT)


def epoch_curves(epochs: pd.DataFrame, metric: str) -> alt.Chart:
    """Loss ("loss") or accuracy ("acc") after each epoch for train, validation and test."""
    cols = {f"{k}_{metric}": v for k, v in SPLITS.items() if f"{k}_{metric}" in epochs}
    long = epochs.melt(id_vars=["epoch"], value_vars=list(cols), var_name="series", value_name="value")
    long = long.assign(series=long["series"].map(cols), x=long["epoch"])
    acc = metric == "acc"
    return curve_chart(long, epoch_x(long["epoch"]), "accuracy" if acc else "cross-entropy loss",
                       list(SPLITS.values()), legend=narrow_legend(2), percent=acc, points=True, dashes=True,
                       tooltip=["epoch:Q", alt.Tooltip("series:N", title="split"),
                                alt.Tooltip("value:Q", format=".1%" if acc else ".4f")])


def ema(values, smoothing: float) -> np.ndarray:
    """Debiased exponential moving average over the finite values (NaN elsewhere)."""
    values = np.asarray(values, dtype=float)
    out = np.full(len(values), np.nan)
    if not 0 <= smoothing < 1:
        raise ValueError(f"smoothing: got {smoothing}; expected at least 0 and below 1")
    last, n = 0.0, 0
    for i, v in enumerate(values):
        if not np.isfinite(v):
            continue
        n += 1
        last = smoothing * last + (1 - smoothing) * v
        out[i] = last / (1 - smoothing ** n)
    return out


def step_loss_frame(steps: pd.DataFrame, epochs: pd.DataFrame, x: str = "step",
                    smoothing: float = 0.0) -> pd.DataFrame:
    """x, loss, smoothed, step for every step with a finite loss. x = "epoch": fractional epochs
    (epoch 1 ends at 1.0); x = "seconds": each epoch's duration spread evenly over its steps."""
    if x not in X_AXES:
        raise ValueError(f"x: got {x!r}; expected one of {', '.join(X_AXES)}")
    df = steps[["step", "epoch", "loss"]].copy()
    df["smoothed"] = ema(df["loss"], smoothing)
    per_epoch = df.groupby("epoch")["step"].transform("count")
    within = df.groupby("epoch").cumcount() + 1
    if x == "step":
        df["x"] = df["step"].astype(float)
    elif x == "epoch":
        df["x"] = df["epoch"] - 1 + within / per_epoch
    else:
        secs = epochs.set_index("epoch")["seconds"] if "seconds" in epochs else pd.Series(dtype=float)
        start = secs.cumsum() - secs
        df["x"] = df["epoch"].map(start) + within / per_epoch * df["epoch"].map(secs)
    df = df[np.isfinite(pd.to_numeric(df["loss"], errors="coerce")) & np.isfinite(df["x"])]
    return df[["x", "loss", "smoothed", "step"]].reset_index(drop=True)


def step_loss(frame: pd.DataFrame, x: str = "step", log: bool = False) -> alt.Chart:
    """The raw loss of every step (faint) and its smoothed line, as in TensorBoard's scalars."""
    lines = ["every step", "smoothed"]
    long = frame.melt(id_vars=["x", "step"], value_vars=["loss", "smoothed"], var_name="series")
    long["series"] = long["series"].map(dict(zip(["loss", "smoothed"], lines)))
    axis = step_x(long["x"], "x") if x == "step" else alt.X("x:Q", title=X_AXES[x])
    return curve_chart(long, axis, "training loss (cross-entropy)", lines, legend=narrow_legend(1), log=log,
                       faint=(lines[0],),
                       tooltip=["step:Q", alt.Tooltip("x:Q", title=X_AXES[x], format=".3g"),
                                alt.Tooltip("series:N", title="line"),
                                alt.Tooltip("value:Q", title="loss", format=".4g")])
