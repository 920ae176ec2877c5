"""The metrics of a reproduction's tables, in the published units.

    metric_value("test_acc", result)                     # 97.3 (accuracy in %)
    metric_value("best_epoch_change", result, baseline)  # -50.0: relative to the baseline row
    column_name("5-layer", "test_acc", "ours")           # '5-layer · test acc % · ours'

Each metric reads a RunResult (and, for relative ones, the result of the baseline row of the
same column group); a run that did not log what a metric needs gives None.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..engine.result import RunResult, hidden_flow

TINY_GRADIENT = 1e-4  # deep-sigmoid's 'layer 1 gradients below 1e-4': such a weight barely moves


@dataclass(frozen=True)
class Metric:
    label: str
    unit: str  # "%" values are fractions shown x100
    fn: Callable[[RunResult, "RunResult | None"], float | None]  # (result, baseline result)
    censored: bool = False  # an epoch count that a run may never reach (None): counted as epochs + 1


def _final(key: str):
    return lambda r, base: _last_epoch(r, key)


def _last_epoch(r: RunResult, key: str) -> float | None:
    if r.epochs.empty:
        return None
    v = float(r.epochs[key].iloc[-1])
    return v if math.isfinite(v) else None


def _mean_over_epochs(r: RunResult, key: str) -> float | None:
    """The mean of `key` over the epochs: the area under the learning curve (slower learning: lower)."""
    if r.epochs.empty or not np.isfinite(r.epochs[key]).all():
        return None
    return float(r.epochs[key].mean())


def _best_val(r: RunResult) -> tuple[float, int] | None:
    """Best validation accuracy and the (first) epoch it was reached."""
    if r.epochs.empty or not np.isfinite(r.epochs["val_acc"]).any():
        return None
    i = int(np.nanargmax(r.epochs["val_acc"].to_numpy()))
    return float(r.epochs["val_acc"].iloc[i]), int(r.epochs["epoch"].iloc[i])


def _best_epoch_change(r: RunResult, base: RunResult | None) -> float | None:
    if base is None or base is r or base.run_id == r.run_id:
        return None
    mine, theirs = _best_val(r), _best_val(base)
    if mine is None or theirs is None:
        return None
    return mine[1] / theirs[1] - 1.0


def _epochs_to_base_best(r: RunResult, base: RunResult | None) -> float | None:
    """First epoch at which `r` reaches the baseline row's best validation accuracy."""
    target = _best_val(base if base is not None else r)
    if target is None or r.epochs.empty:
        return None
    reached = r.epochs[r.epochs["val_acc"] >= target[0]]
    return float(reached["epoch"].iloc[0]) if len(reached) else None


def _ratio(which: str):
    def fn(r: RunResult, base) -> float | None:
        v = r.grad_ratio(which)
        return v if math.isfinite(v) else None
    return fn


def _first_grad(which: str):
    """Mean |g| of layer 1's weights (as core.lab.tables.flow_summary's 'layer 1 |g|'): the
    absolute size the coursework report's gradient-flow figures show, which a ratio of two
    layers cannot see when every layer collapses alike."""
    def fn(r: RunResult, base) -> float | None:
        hidden = hidden_flow(r.grad_flow(which))
        v = float(hidden[0]) if len(hidden) else math.nan
        return v if math.isfinite(v) and v > 0 else None
    return fn


def _tiny_share(r: RunResult, base) -> float | None:
    """Share of layer 1's nonzero weight gradients below TINY_GRADIENT at the last logged step.

    Exact zeros are left out: in layer 1 they belong to input pixels that are blank in the
    whole batch (MNIST's borders), not to a vanishing gradient."""
    grad, edges = r.histograms.get("grad"), r.histograms.get("grad_edges")
    if grad is None or grad.shape[0] == 0:
        return None
    row = grad[-1, 0].astype(np.float64)  # GRAD_COLUMNS: zero, below, bins..., above, nonfinite
    total = row[1:].sum()
    if total == 0:
        return None
    cut = math.log10(TINY_GRADIENT)
    below_bins = row[2:2 + len(edges) - 1][edges[1:] <= cut + 1e-9].sum()
    return float((row[1] + below_bins) / total)


def _saturation(which: str, layer: str):
    def fn(r: RunResult, base) -> float | None:
        row = r.stat_at("act_saturation", which)
        if row.empty:
            return None
        v = float(row.iloc[0] if layer == "first" else row.iloc[-1])
        return v if math.isfinite(v) else None
    return fn


METRICS: dict[str, Metric] = {
    "test_acc": Metric("test acc", "%", _final("test_acc")),
    "train_acc": Metric("train acc", "%", _final("train_acc")),
    "val_acc": Metric("val acc", "%", _final("val_acc")),
    "mean_test_acc": Metric("mean test acc over epochs", "%", lambda r, base: _mean_over_epochs(r, "test_acc")),
    "mean_train_acc": Metric("mean train acc over epochs", "%", lambda r, base: _mean_over_epochs(r, "train_acc")),
    "train_loss": Metric("train loss", "", _final("train_loss")),
    "val_loss": Metric("val loss", "", _final("val_loss")),
    "test_loss": Metric("test loss", "", _final("test_loss")),
    "params_k": Metric("# params", "K",
                       lambda r, base: r.meta["params"] / 1000 if r.meta.get("params") else None),
    "best_val_acc": Metric("best val acc", "%", lambda r, base: (_best_val(r) or (None,))[0]),
    "best_epoch": Metric("epochs to best val", "",
                         lambda r, base: (_best_val(r) or (None, None))[1]),
    "best_epoch_change": Metric("epochs to best vs regular", "%", _best_epoch_change),
    "epochs_to_base_best": Metric("epochs to regular's best val", "", _epochs_to_base_best, censored=True),
    "ratio_init": Metric("grad ratio at init", "ratio", _ratio("init")),
    "ratio_end": Metric("grad ratio at end", "ratio", _ratio("final")),
    "grad_first_init": Metric("layer 1 mean |g| at init", "|g|", _first_grad("init")),
    "grad_first_end": Metric("layer 1 mean |g| at end", "|g|", _first_grad("final")),
    "tiny_grad_share": Metric("layer 1 nonzero gradients below 1e-4", "%", _tiny_share),
    "sat_first_init": Metric("layer 1 saturated at init", "%", _saturation("init", "first")),
    "sat_top_init": Metric("top layer saturated at init", "%", _saturation("init", "top")),
    "sat_top_end": Metric("top layer saturated at end", "%", _saturation("final", "top")),
}


def metric_value(name: str, result: RunResult, base: RunResult | None = None) -> float | None:
    """`name` of `result` in display units (accuracy in %, parameters in thousands)."""
    metric = METRICS[name]
    try:
        v = metric.fn(result, base)
    except (KeyError, IndexError, ValueError):
        return None  # a run that ended before logging what this metric needs
    if v is None or not math.isfinite(v):
        return None
    return 100.0 * v if metric.unit == "%" else float(v)


def column_name(group: str, metric: str, which: str) -> str:
    """Flat column names, e.g. '5-layer · test acc % · ours'."""
    m = METRICS[metric]
    unit = f" {m.unit}" if m.unit in ("%", "K") else ""
    return " · ".join(p for p in (group, m.label + unit, which) if p)
