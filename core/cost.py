"""Cheap estimates of a configuration's size and cost, computed without building the model.

The config validates against these (parameter count, memory of one training step, total
work), and the app uses them to say how long a run will take before it starts.
"""
from __future__ import annotations

from dataclasses import dataclass

from .datasets import DATASET_INFO, DatasetInfo


@dataclass(frozen=True)
class Estimate:
    params: int  # trainable parameters
    macs_per_sample: int  # multiply-accumulates of one forward pass for one example
    memory_bytes: int  # rough peak memory of one training step
    train_samples: int
    steps_per_epoch: int
    work: float  # macs_per_sample * train_samples * epochs

    def seconds(self, macs_per_second: float = 2e9) -> float:
        """Rough wall time: forward + backward is about 3x the forward MACs."""
        return 3 * self.work / macs_per_second


def estimate(cfg) -> Estimate:
    info = DATASET_INFO[cfg.dataset]
    n_train = min(cfg.train_subset, info.n_train) if cfg.train_subset else info.n_train
    if cfg.arch == "mlp":
        params, macs, act_floats = _mlp_size(cfg, info)
    else:
        params, macs, act_floats = _vgg_size(cfg, info)
    batch = min(cfg.batch_size, n_train)
    # weights + grads + two optimizer slots + a snapshot for update ratios, plus per-example
    # activations kept for backward (pre-activation, output, norm, gradient).
    memory = 4 * (5 * params + 4 * batch * act_floats + 2 * batch * info.features)
    steps = -(-n_train // batch)
    return Estimate(params=params, macs_per_sample=macs, memory_bytes=memory,
                    train_samples=n_train, steps_per_epoch=steps,
                    work=float(macs) * n_train * cfg.epochs)


def _mlp_size(cfg, info: DatasetInfo):
    params = macs = act = 0
    fan_in = info.features
    widths = list(cfg.widths)
    for i, w in enumerate(widths):
        params += fan_in * w + w
        macs += fan_in * w
        act += w
        if cfg.bn in ("before", "after") or (cfg.bn == "last" and i == len(widths) - 1):
            params += 2 * w
        if cfg.activation == "prelu":
            params += 1
        fan_in = w
    if cfg.residual:
        # Skips start after the first layer; a projection where a block changes the width.
        k = cfg.residual_every
        for start in range(1, len(widths), k):
            block = widths[start:start + k]
            if widths[start - 1] != block[-1]:
                params += widths[start - 1] * block[-1]
                macs += widths[start - 1] * block[-1]
    params += fan_in * info.classes + info.classes
    macs += fan_in * info.classes
    return params, macs, act


def _vgg_size(cfg, info: DatasetInfo):
    f = cfg.vgg_filters
    bn = cfg.bn != "none"
    h, w = info.height, info.width
    conv = 9 * f * f
    params = 9 * info.channels * f + 2 * f  # entry conv + its batch norm
    macs = 9 * info.channels * f * h * w
    act = f * h * w
    for _ in range(cfg.vgg_stages):
        n_convs = 2 * cfg.vgg_blocks + 2
        params += n_convs * (conv + (2 * f if bn else 0))
        macs += 2 * cfg.vgg_blocks * conv * h * w + conv * h * w  # blocks + first reduction conv
        act += (2 * cfg.vgg_blocks + 1) * f * h * w
        h, w = max(h // 2, 1), max(w // 2, 1)
        macs += conv * h * w  # second reduction conv after pooling
        act += f * h * w
    if cfg.activation == "prelu":
        params += 1 + cfg.vgg_stages * (2 * cfg.vgg_blocks + 2)
    params += f * info.classes + info.classes
    macs += f * info.classes
    return params, macs, act
