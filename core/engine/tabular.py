"""Tensors of the tabular datasets: the generated 2-D sets and uploaded files.

    bundle = prepare_tabular(cfg, device)      # DataBundle, inputs shaped (N, 1, 1, features)

core.engine.data.prepare_data hands these names here. The split is fixed (seed 0), as for the
image sets: a generated set keeps DatasetInfo's sizes, an upload the sizes stored with it.
train_subset, input_noise and standardize work as they do for images; data_noise is the
jitter of the generated sets (core.engine.toydata).
"""
from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np
import torch

from ..base.datasets import DATASET_INFO, TOY, DatasetInfo
from .splits import DataBundle, split_indices

_cache: "OrderedDict[tuple, object]" = OrderedDict()
_lock = threading.Lock()
_CACHE_SIZE = 8


def tabular_arrays(cfg) -> tuple[np.ndarray, np.ndarray, str]:
    """All points (N, F) float32, labels (N,) int64 and where they came from."""
    if cfg.dataset in TOY:
        from .toydata import generate

        x, y = generate(cfg.dataset, cfg.data_noise)
        return x, y, f"generated {cfg.dataset} (noise {cfg.data_noise:g})"
    from .userdata import load_upload

    x, y = load_upload(cfg.dataset)
    return x, y, f"uploaded data {cfg.dataset}"


def prepare_tabular(cfg, device="cpu"):
    key = (cfg.dataset, cfg.data_noise if cfg.dataset in TOY else None, cfg.train_subset,
           cfg.standardize, cfg.input_noise, cfg.seed if cfg.input_noise > 0 else None, str(device))
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    info = DATASET_INFO[cfg.dataset]
    x, y, source = tabular_arrays(cfg)
    tr, va, te = split_indices(len(y), info.n_val, info.n_test)
    if cfg.train_subset:
        tr = tr[:cfg.train_subset]
    xs = [torch.from_numpy(x[i]).reshape(len(i), 1, 1, x.shape[1]) for i in (tr, va, te)]
    if cfg.input_noise > 0:
        g = torch.Generator().manual_seed(cfg.seed + 1)
        xs = [v + cfg.input_noise * torch.randn(v.shape, generator=g) for v in xs]
    if cfg.standardize:
        mean, std = xs[0].mean(dim=0, keepdim=True), xs[0].std(dim=0, keepdim=True)
        std = torch.where(std > 1e-6, std, torch.ones_like(std))
        xs = [(v - mean) / std for v in xs]
    ys = [torch.from_numpy(y[i]) for i in (tr, va, te)]
    info = DatasetInfo(1, 1, x.shape[1], info.classes, len(tr), len(va), len(te))
    bundle = DataBundle(xs[0].to(device), ys[0].to(device), xs[1].to(device), ys[1].to(device),
                        xs[2].to(device), ys[2].to(device), info, source)
    with _lock:
        _cache[key] = bundle
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return bundle
