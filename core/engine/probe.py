"""Instant answers at initialization: one forward and one backward pass, no training.

    flow = probe_at_init(cfg)        # DataFrame: layer, name, grad_mean_abs, grad_norm, act_std, params, ...
    gradient_ratio(flow["grad_mean_abs"])   # core.engine.result's first over last hidden layer

This is what the app shows the moment a setting changes (gradient flow at initialization) and
what the Theory page's signal-propagation view plots. It uses the same model builder and the
same statistics code as training, on one batch of the real data (train mode, so batch norm
normalizes with batch statistics as it would in the first training step).
"""
from __future__ import annotations

import pandas as pd
import torch

from ..base.config import RunConfig, active_limits
from ..base.cost import batch_that_fits, estimate
from ..base.instruments import INSTRUMENTS
from .data import DatasetUnavailable, prepare_data
from .loop import PlainEngine, Trainer
from .models import build_model
from .stats import ACT_STATS, GRAD_STATS

PROBE_BATCH = 256
# The preview runs without a click (opening a link): its one step is held to a memory budget
# (by the training step's estimate, and never above the active limit) and to a number of
# forward multiply-accumulates (about a second or two on a 2-core CPU, backward included).
PROBE_MEMORY_BYTES = 256 * 2**20
PROBE_MACS = 5e9


class ProbeRefused(DatasetUnavailable):
    """No preview for this network: even the smallest batch exceeds the preview's budget. A
    subclass of DatasetUnavailable, so every page that shows "no preview" for a missing dataset
    shows this message the same way."""


def probe_batch(cfg: RunConfig, wanted: int = PROBE_BATCH) -> int:
    """The batch the preview of `cfg` uses: `wanted`, scaled down to fit the preview's memory and
    time budgets; ProbeRefused when not even the smallest useful batch fits."""
    est = estimate(cfg)
    budget = min(PROBE_MEMORY_BYTES, active_limits().max_memory_bytes)
    by_time = int(PROBE_MACS // max(est.macs_per_sample, 1))
    batch = min(batch_that_fits(cfg, budget, wanted), by_time, est.train_samples)
    smallest = 2 if cfg.bn != "none" or cfg.arch == "vgg" else 1  # batch norm needs two
    if batch < smallest:
        raise ProbeRefused(f"one step of this network needs more than the preview's budget "
                           f"({budget / 2**20:.0f} MiB, {PROBE_MACS:.0e} multiply-accumulates) "
                           f"even with {smallest} example{'s' if smallest > 1 else ''}; train it "
                           "to see its gradients")
    return batch


def probe_at_init(cfg: RunConfig, batch_size: int = PROBE_BATCH, device: str = "cpu",
                  allow_download: bool = False) -> pd.DataFrame:
    """Per-layer gradient and activation statistics of `cfg`'s network before any update, on
    `batch_size` examples or fewer (probe_batch: the preview's memory and time budgets).

    Raises core.engine.data.DatasetUnavailable when the dataset is not on this machine (by default
    a probe never downloads), ProbeRefused when the network is too big for a preview."""
    batch_size = probe_batch(cfg, batch_size)
    data = prepare_data(cfg, device, allow_download=allow_download)
    torch_device = torch.device(device)
    cfg = cfg.replace(batch_size=min(batch_size, len(data.y_train)))
    net = build_model(cfg, data.info).to(torch_device)
    # the training loop's step 0 without its update: the first mini-batch of the first epoch
    record = Trainer(PlainEngine(net, data, cfg, torch_device), [cfg], data, torch_device).measure()[0]
    wide = record.wide(net.layer_names)
    shown = [c for c in (*GRAD_STATS, "weight_norm", *ACT_STATS)  # a stat that never applies is left out
             if c in wide.columns and not (INSTRUMENTS[c].applies and wide[c].isna().all())]
    wide = wide[["layer", "name", *shown]].copy()
    info = net.layer_info()
    wide["params"] = [info[i - 1].params for i in wide["layer"]]  # weights of the layer
    wide["loss"] = record.loss
    wide.attrs["batch"] = int(cfg.batch_size)  # the examples the preview used
    return wide
