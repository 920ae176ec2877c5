"""Per-example correctness of a stored run's final model, for paired intervals over test examples.

    correct(result, "test")     # np.ndarray of 0/1 per test example, or None

The store keeps each run's final weights; the model is rebuilt from its config, loaded and
evaluated on the split (in eval mode, as the trainer evaluates). Results are cached per run id
(a run id names one experiment's results, so the cache never goes stale). None when the weights
or the data are not available, or when the rebuilt model does not reproduce the run's own
final accuracy (then per-example pairing would not describe that run).
"""
from __future__ import annotations

import threading

import numpy as np
import torch

from ..engine.data import DatasetUnavailable, prepare_data
from ..engine.step import eval_batches
from ..engine.models import build_model
from ..engine.result import RunResult

_cache: dict[tuple[str, str], np.ndarray | None] = {}
_lock = threading.Lock()
SPLIT_COLUMNS = {"test": "test_acc", "val": "val_acc"}


def correct(result: RunResult, split: str = "test", weights=None) -> np.ndarray | None:
    """0/1 per example of `split` ("test" or "val") for the run's final model. `weights`: its
    state dict, or a function that loads it (called only when the cache lacks the run)."""
    key = (result.run_id, split)
    with _lock:
        if key in _cache:
            return _cache[key]
    if callable(weights):
        weights = weights()
    out = _evaluate(result, split, weights if weights is not None else result.state_dict)
    with _lock:
        _cache[key] = out
    return out


@torch.no_grad()
def _evaluate(result: RunResult, split: str, state: dict | None) -> np.ndarray | None:
    if not state or result.status != "completed" or result.epochs.empty:
        return None
    cfg = result.config
    try:
        data = prepare_data(cfg, "cpu", allow_download=False)
    except DatasetUnavailable:
        return None
    x, y = (data.x_test, data.y_test) if split == "test" else (data.x_val, data.y_val)
    net = build_model(cfg, data.info)
    try:
        net.load_state_dict(state)
    except (RuntimeError, KeyError):
        return None
    net.eval()
    hits = torch.cat([net(xb).argmax(1) == yb for xb, yb in eval_batches(x, y)]).numpy().astype(np.int8)
    recorded = float(result.epochs[SPLIT_COLUMNS[split]].iloc[-1])
    if not len(hits) or abs(hits.mean() - recorded) > 0.5 / len(hits):
        return None
    return hits
