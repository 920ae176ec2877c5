"""Chart data of a training job while it trains, from the records of its logged steps
(core.runs.jobs.Job.records: core.engine.record.StepRecord, thinned to at most a few hundred;
read here by attribute, so core.views needs nothing from core.runs).

    stats, layers = flow_frames(job.records, job.layers)              # -> charts.grad_flow / stat_over_steps
    stats, layers = flow_frames(job.records, job.layers, "act_std")   # any declared statistic
    frame = loss_frame(job.records, smoothing=0.6)                    # -> curves.step_loss(frame, "step")
    steps, counts = hist_counts(job.records, layer=0)                 # -> histograms.histogram_heatmap

The records are the ones the stored run's tables are made of, so every statistic declared in
core.base.instruments can be drawn live. A logged step without the statistic is left out; a
non-finite loss is left out of the loss frame (and of its moving average), as in the stored
run's views.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..engine.stats import GRAD_COLUMNS
from .curves import ema

LOSS_COLUMNS = ["x", "loss", "smoothed", "step"]


def flow_frames(records, layer_names, stat: str = "grad_mean_abs") -> tuple[pd.DataFrame, pd.DataFrame]:
    """`stat` per layer at every logged step: (layer_stats-like rows: step, layer, stat, value;
    the layers: layer, name). Layer names default to "layer i" when they do not match."""
    rows = [(r.step, r.values(stat)) for r in list(records) if r.has(stat)]
    n = len(rows[-1][1]) if rows else 0
    names = list(layer_names)[:n] if len(layer_names) >= n else [f"layer {i + 1}" for i in range(n)]
    layers = pd.DataFrame({"layer": range(1, n + 1), "name": names})
    stats = pd.DataFrame([{"step": step, "layer": i + 1, "stat": stat, "value": float(v)}
                          for step, values in rows for i, v in enumerate(values)],
                         columns=["step", "layer", "stat", "value"])
    return stats, layers


def loss_frame(records, smoothing: float = 0.0) -> pd.DataFrame:
    """x (= step), loss, smoothed (TensorBoard's debiased moving average), step: the training
    loss at every logged step so far with a finite value."""
    rows = [(int(r.step), float(r.loss)) for r in list(records) if r.loss is not None]
    if not rows:
        return pd.DataFrame(columns=LOSS_COLUMNS)
    steps, loss = (np.asarray(c) for c in zip(*rows))
    keep = np.isfinite(loss)
    steps, loss = steps[keep], loss[keep]
    return pd.DataFrame({"x": steps.astype(float), "loss": loss, "smoothed": ema(loss, smoothing),
                         "step": steps})


def hist_counts(records, layer: int) -> tuple[np.ndarray, np.ndarray]:
    """(steps, counts): one layer's gradient histogram (the columns of GRAD_COLUMNS) at every
    logged step so far; empty arrays when nothing has been logged."""
    rows = [(int(r.step), h[layer]) for r in list(records)
            if (h := r.hist("true_hist")) is not None and len(h) > layer]
    if not rows:
        return np.zeros(0, np.int64), np.zeros((0, len(GRAD_COLUMNS)))
    steps, counts = zip(*rows)
    counts = np.asarray(counts, dtype=np.float64)
    if counts.shape[1] != len(GRAD_COLUMNS):
        raise ValueError(f"records: {counts.shape[1]} histogram columns; expected {len(GRAD_COLUMNS)}")
    return np.asarray(steps, dtype=np.int64), counts
