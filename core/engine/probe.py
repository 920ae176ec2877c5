"""Instant answers at initialization: one forward and one backward pass, no training.

    flow = probe_at_init(cfg)        # DataFrame: layer, name, grad_mean_abs, grad_norm, act_std, ...
    gradient_ratio(flow["grad_mean_abs"])   # core.engine.result's first over last hidden layer

This is what the app shows the moment a setting changes (gradient flow at initialization) and
what the Theory page's signal-propagation view plots. It uses the same model builder and the
same statistics code as training, on one batch of the real data (train mode, so batch norm
normalizes with batch statistics as it would in the first training step).
"""
from __future__ import annotations

import pandas as pd
import torch
import torch.nn.functional as F

from ..config import RunConfig
from .data import prepare_data
from .models import build_model
from .stats import ACT_STATS, GRAD_STATS, LayerStatsRecorder

PROBE_BATCH = 256


def probe_at_init(cfg: RunConfig, batch_size: int = PROBE_BATCH, device: str = "cpu",
                  allow_download: bool = False) -> pd.DataFrame:
    """Per-layer gradient and activation statistics of `cfg`'s network before any update.

    Raises core.engine.data.DatasetUnavailable when the dataset is not on this machine (by default
    a probe never downloads)."""
    data = prepare_data(cfg, device, allow_download=allow_download)
    net = build_model(cfg, data.info).to(device)
    g = torch.Generator().manual_seed(cfg.seed)
    idx = torch.randperm(len(data.y_train), generator=g)[:batch_size].to(device)
    x, y = data.x_train[idx], data.y_train[idx]
    recorder = LayerStatsRecorder(net, cfg.activation, log_every=1, noise_on=False)
    with recorder.capture_activations(True):
        loss = F.cross_entropy(net(x), y)
    loss.backward()
    recorder.record_gradients("true")
    recorder.before_update()  # no optimizer step: the update ratio is 0 and is not reported
    recorder.after_update(step=0, epoch=0)
    table = recorder.table()
    wide = table.pivot_table(index="layer", columns="stat", values="value", aggfunc="first")
    wide = wide.reindex(columns=[c for c in (*GRAD_STATS, "weight_norm", *ACT_STATS) if c in wide.columns])
    wide = wide.reset_index()
    wide.insert(1, "name", [net.layer_names[i - 1] for i in wide["layer"]])
    wide["loss"] = float(loss.detach())
    wide.columns.name = None
    return wide

