"""Chart data of a training job while it trains, from what the job keeps of every logged step
(core.runs.jobs.Job: flow_rows, loss_rows, hist_rows, each (step, value) and thinned to at most
a few hundred points; read here by attribute, so core.views needs nothing from core.runs).

    stats, layers = flow_frames(job.flow_rows, job.layers)   # -> charts.grad_flow / stat_over_steps
    frame = loss_frame(job.loss_rows, smoothing=0.6)          # -> curves.step_loss(frame, "step")
    steps, counts = hist_counts(job.hist_rows, layer=0)       # -> histograms.histogram_heatmap

A logged step whose value is missing (an event without it) is left out; a non-finite loss is
left out of the loss frame (and of its moving average), as in the stored run's views.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..engine.stats import GRAD_COLUMNS
from .curves import ema

LOSS_COLUMNS = ["x", "loss", "smoothed", "step"]


def flow_frames(flow_rows, layer_names) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mean |g| per layer at every logged step: (layer_stats-like rows: step, layer, stat,
    value; the layers: layer, name). Layer names default to "layer i" when they do not match."""
    rows = [(s, f) for s, f in list(flow_rows) if f is not None]
    n = len(rows[-1][1]) if rows else 0
    names = list(layer_names) if len(layer_names) == n else [f"layer {i + 1}" for i in range(n)]
    layers = pd.DataFrame({"layer": range(1, n + 1), "name": names})
    stats = pd.DataFrame([{"step": step, "layer": i + 1, "stat": "grad_mean_abs", "value": v}
                          for step, flow in rows for i, v in enumerate(flow)],
                         columns=["step", "layer", "stat", "value"])
    return stats, layers


def loss_frame(loss_rows, smoothing: float = 0.0) -> pd.DataFrame:
    """x (= step), loss, smoothed (TensorBoard's debiased moving average), step: the training
    loss at every logged step so far with a finite value."""
    rows = [(int(s), float(v)) for s, v in list(loss_rows) if v is not None]
    if not rows:
        return pd.DataFrame(columns=LOSS_COLUMNS)
    steps, loss = (np.asarray(c) for c in zip(*rows))
    keep = np.isfinite(loss)
    steps, loss = steps[keep], loss[keep]
    return pd.DataFrame({"x": steps.astype(float), "loss": loss, "smoothed": ema(loss, smoothing),
                         "step": steps})


def hist_counts(hist_rows, layer: int) -> tuple[np.ndarray, np.ndarray]:
    """(steps, counts): one layer's gradient histogram (the columns of GRAD_COLUMNS) at every
    logged step so far; empty arrays when nothing has been logged."""
    rows = [(int(s), h[layer]) for s, h in list(hist_rows) if h is not None and len(h) > layer]
    if not rows:
        return np.zeros(0, np.int64), np.zeros((0, len(GRAD_COLUMNS)))
    steps, counts = zip(*rows)
    counts = np.asarray(counts, dtype=np.float64)
    if counts.shape[1] != len(GRAD_COLUMNS):
        raise ValueError(f"hist_rows: {counts.shape[1]} columns; expected {len(GRAD_COLUMNS)}")
    return np.asarray(steps, dtype=np.int64), counts
