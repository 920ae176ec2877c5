"""Chart data: the tidy frames core.views.charts draws, built from runs.

    runs = [("relu", r1), ("logistic", r2)]          # (label, RunResult) pairs
    grad_flow_frame(runs, "init")                    # -> charts.grad_flow
    layer_stat_frame(runs, "act_saturation")         # -> charts.layer_profile
    grad_value_histogram_frame(r1)                   # -> charts.grad_value_histogram

`which` is "init" (step 0) or "final" (the last logged step), as in RunResult.stat_at.
"""
from __future__ import annotations

from typing import Callable, Iterable

import numpy as np
import pandas as pd

from ..engine.result import RunResult, logged_row

LAYER_COLUMNS = ["layer", "name", "value", "series"]
HISTOGRAM_COLUMNS = ["low", "high", "share", "name", "layer"]


def per_layer_frame(runs: Iterable[tuple[str, RunResult]],
                    values: Callable[[RunResult], dict | None]) -> pd.DataFrame:
    """layer, name, value, series (the label) for every run. `values(result)` gives {layer number:
    value} for the layers it covers, or None where the run has nothing to show."""
    frames = []
    for label, r in runs:
        by_layer = values(r)
        if not by_layer:
            continue
        names = r.layers.set_index("layer")["name"]
        frames.append(pd.DataFrame({"layer": list(by_layer), "name": [names[i] for i in by_layer],
                                    "value": np.fromiter(by_layer.values(), dtype=float),
                                    "series": label}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=LAYER_COLUMNS)


def grad_flow_frame(runs: Iterable[tuple[str, RunResult]], which: str = "final") -> pd.DataFrame:
    """Mean |g| per weight layer, one series per run: the input of charts.grad_flow."""
    def values(r: RunResult):
        flow = r.grad_flow(which)
        return dict(enumerate(flow, start=1)) if flow and len(flow) == len(r.layers) else None
    return per_layer_frame(runs, values)


def layer_stat_frame(runs: Iterable[tuple[str, RunResult]], stat: str, which: str = "final") -> pd.DataFrame:
    """One per-layer statistic (e.g. act_saturation) at step 0 or the last logged step."""
    def values(r: RunResult):
        return {int(i): float(v) for i, v in r.stat_at(stat, which).items()}
    return per_layer_frame(runs, values)


def grad_value_histogram_frame(result: RunResult, which: str = "final") -> pd.DataFrame:
    """Share of nonzero weight-gradient entries per log10|g| bin at one logged step, per layer
    (values below the first bin go into the lowest bin; exact zeros, e.g. the weights of input
    pixels blank in the whole batch, are left out)."""
    grad, edges = result.histograms["grad"], result.histograms["grad_edges"]
    if grad.shape[0] == 0:
        return pd.DataFrame(columns=HISTOGRAM_COLUMNS)
    counts = grad[logged_row(which)].astype(np.float64)  # (n_layers, columns)
    n_bins = len(edges) - 1
    names = list(result.layers.sort_values("layer")["name"])
    frames = []
    for i, name in enumerate(names):
        row = counts[i]
        total = row[1:].sum()
        if total == 0:
            continue
        bins = row[2:2 + n_bins].copy()
        bins[0] += row[1]
        bins[-1] += row[2 + n_bins]
        frames.append(pd.DataFrame({"low": edges[:-1], "high": edges[1:], "share": bins / total,
                                    "name": name, "layer": i + 1}))
    return pd.concat(frames, ignore_index=True) if frames else \
        pd.DataFrame(columns=HISTOGRAM_COLUMNS)
