"""Per-step training loss with smoothing and a choice of x-axis (step, epoch, seconds).

    frame = step_loss_frame(result.steps, result.epochs, x="epoch", smoothing=0.6)
    step_loss(frame, x="epoch")

Smoothing is TensorBoard's: an exponential moving average with weight `smoothing` (0: none,
0.99: heavy), debiased so the first points are not pulled toward 0. Non-finite losses (a
diverged step) are left out of the average and of the chart.
"""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from .style import HEIGHT, RUN_SCHEME, log_axis

X_AXES = {"step": "training step", "epoch": "epoch", "seconds": "seconds of training"}


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
    long = frame.melt(id_vars=["x", "step"], value_vars=["loss", "smoothed"], var_name="line")
    long["line"] = long["line"].map({"loss": "every step", "smoothed": "smoothed"})
    long = long[np.isfinite(long["value"]) & ((long["value"] > 0) | (not log))]
    y = alt.Y("value:Q", title="training loss (cross-entropy)",
              scale=alt.Scale(type="log") if log else alt.Scale(zero=False),
              axis=log_axis(long["value"]) if log else alt.Axis())
    return alt.Chart(long).mark_line().encode(
        x=alt.X("x:Q", title=X_AXES[x]), y=y,
        color=alt.Color("line:N", title=None, sort=["every step", "smoothed"],
                        scale=alt.Scale(scheme=RUN_SCHEME),
                        # inside, where a falling loss leaves room: below, a narrow column cut it
                        legend=alt.Legend(orient="top-right")),
        opacity=alt.Opacity("line:N", sort=["every step", "smoothed"], scale=alt.Scale(range=[0.35, 1.0]),
                            legend=None),
        tooltip=["step:Q", alt.Tooltip("x:Q", title=X_AXES[x], format=".3g"), "line:N",
                 alt.Tooltip("value:Q", title="loss", format=".4g")],
    ).properties(height=HEIGHT)
