"""Cheap estimates of a configuration's size and cost, computed without building the model.

The config validates against these (parameter count, memory of one training step, total
work). `training_seconds` is the one time model: every page and the CLI say how long runs take
through it, with rates measured on this machine (core.engine.speed) and rescaled by the runs
already stored (core.runs.calibration).
"""
from __future__ import annotations

import math
from dataclasses import astuple, dataclass

from .datasets import DATASET_INFO, DatasetInfo
from .instruments import ACTIVATION, GRADIENT, WEIGHT, block_stats

# Rules the training loop shares with this model, written here once (core.engine imports them:
# the engine sits above this layer): automatic logging (about TARGET_LOG_POINTS logged steps, at
# most one step in MIN_LOG_INTERVAL), the evaluation batch, and the histogram columns kept per
# logged step and layer (log10|g|, and log10|w| of the weights: zero, below, 56 bins, above,
# non-finite; activations: under, ACT_BINS bins, over, NaN).
TARGET_LOG_POINTS, MIN_LOG_INTERVAL = 100, 16
EVAL_BATCH = 2048
GRAD_BINS, ACT_BINS = 56, 40  # 0.25-decade log10|g| bins from 1e-12 to 1e2; activation bins
GRAD_HIST_COLUMNS, ACT_HIST_COLUMNS = GRAD_BINS + 4, ACT_BINS + 3
# Bytes one logged number costs while training: float64/int64 on the host per logged step, then
# the long stats table and the int32 histograms of the result (measured: about 16).
LOG_BYTES_PER_VALUE = 16


@dataclass(frozen=True)
class Estimate:
    params: int  # trainable parameters
    macs_per_sample: int  # multiply-accumulates of one forward pass for one example
    memory_bytes: int  # rough peak memory of one training step
    train_samples: int
    steps_per_epoch: int
    work: float  # macs_per_sample * train_samples * epochs
    activations_per_sample: int = 0  # hidden units (feature-map values) of one example
    total_steps: int = 0  # optimizer steps of the whole run
    logged_steps: int = 0  # steps whose statistics are kept (log_every, or the automatic rule)
    logged_values: int = 0  # numbers the statistics keep: logged steps x layers x (stats + bins)
    eval_memory_bytes: int = 0  # rough peak memory of one evaluation batch (no gradients)
    per_sample_bytes: int = 0  # what one more example adds to memory_bytes


@dataclass(frozen=True)
class Rates:
    """Seconds per unit of work on one machine and device: the constants of training_seconds."""

    mac: float  # per multiply-accumulate of a forward pass (a training step does about 3)
    conv_mac: float  # the same for 3x3 convolutions (their backward pass is slower per MAC)
    element: float  # per hidden activation value of a training example (elementwise work)
    layer_step: float  # per weight layer, training step and run: kernels, optimizer, Python
    step: float  # per training step of a run or a stack: mini-batch lookup, loss, loop
    logged_layer: float  # extra per weight layer on a logged step: the statistics
    run: float  # per run: building the model, the recorder, the result tables
    conv_call: float = 0.0  # per convolution layer and training step: a 3x3 convolution's fixed
    # cost of one forward and backward (oneDNN's per-call work, most of a small VGG's step)
    norm_layer: float = 0.0  # per batch-norm layer and training step: its statistics, forward
    # and backward (without it a 128x5 MLP with batch norm was estimated at 0.56 of its time)
    conv_value: float = 0.0  # a 3x3 convolution's cost per output value (of each of its three
    # passes, as `mac`) beside its MACs: with few channels it is most of it
    map_element: float = 0.0  # `element` for a VGG's feature maps: large tensors, whose
    # elementwise work torch spreads over the threads (an MLP's small layers stay on one); with
    # `element` a fresh clone estimated a 16-filter VGG at 2x its time
    noise: float = 0.0  # per parameter and training step with gradient noise: a normal draw and
    # an add (without it a 128x5 MLP with noise was estimated at 0.51 of its time)

    def scaled(self, factor: float) -> Rates:
        return Rates(*(factor * v for v in astuple(self)))


# Rates of a plain 2-core CPU (rounded from core.engine.speed.machine_rates on the development
# machine): the fixed yardstick of Limits.max_seconds, so a limit means the same everywhere.
REFERENCE_RATES = Rates(mac=1e-10, conv_mac=1e-10, element=1e-9, layer_step=5e-5, step=1e-4,
                        logged_layer=1e-4, run=2e-3, conv_value=4e-9, norm_layer=1e-4, map_element=1e-9,
                        noise=5e-9)


def auto_log_every(total_steps: int) -> int:
    """The loop's automatic logging interval (log_every = 0)."""
    return max(MIN_LOG_INTERVAL, round(total_steps / TARGET_LOG_POINTS))


def log_interval(cfg) -> int:
    """Every how many steps `cfg` logs its statistics: the one rule (the loop, the estimates and
    the calibration read it here)."""
    return cfg.log_every or auto_log_every(estimate(cfg).total_steps)


def reference_seconds(cfg) -> float:
    """training_seconds of `cfg` at REFERENCE_RATES: what Limits.max_seconds is checked against."""
    return training_seconds(cfg, REFERENCE_RATES, log_interval(cfg))


def training_seconds(cfg, rates: Rates, log_every: int, runs: int = 1) -> float:
    """Wall time of training `cfg`, or of `runs` configs like it trained as one stack.

    seconds = mac (conv_mac for vgg) * (3 * training + evaluation) forward MACs
            + conv_value * conv output values * (3 * training + evaluation)       (vgg)
            + element (map_element: vgg) * activations per example * (training + evaluation / 3)
            + layer_step * weight layers * (steps + 2 evaluations per epoch)
            + conv_call * convolution layers * steps                     (vgg)
            + norm_layer * batch-norm layers * steps
            + noise * parameters * steps                                  (gradient noise)
            + (logged_layer * weight layers + element * parameters) * logged steps
            + run                                                         (each run of a stack)
            + step * steps                                                (once per stack)

    A logged step reads every weight and gradient a few times (norms, histograms, the update
    ratio's snapshot): about what an activation value costs per parameter (measured: a 512-wide
    MLP logging every step was estimated at 0.3 of its time without this term, 0.84 with it).
    """
    est = estimate(cfg)
    info = DATASET_INFO[cfg.dataset]
    steps = est.steps_per_epoch * cfg.epochs
    layers = cfg.depth + 1
    forward_macs = est.macs_per_sample * (3 * est.train_samples + info.n_val + info.n_test) * cfg.epochs
    values = est.activations_per_sample * (est.train_samples + (info.n_val + info.n_test) / 3) * cfg.epochs
    mac, element = (rates.conv_mac, rates.map_element) if cfg.arch == "vgg" else (rates.mac, rates.element)
    logged = -(-steps // max(log_every, 1))
    convs = cfg.depth if cfg.arch == "vgg" else 0
    conv_values = est.activations_per_sample * (3 * est.train_samples + info.n_val + info.n_test) * cfg.epochs
    per_run = (mac * forward_macs + element * values + (rates.conv_value * conv_values if cfg.arch == "vgg" else 0.0)
               + rates.layer_step * layers * (steps + 2 * cfg.epochs)
               + rates.conv_call * convs * steps + rates.norm_layer * norm_layers(cfg) * steps
               + (rates.noise * est.params * steps if cfg.grad_noise > 0 else 0.0)
               + (rates.logged_layer * layers + rates.element * est.params) * logged + rates.run)
    return runs * per_run + rates.step * steps


def norm_layers(cfg) -> int:
    """Batch-norm layers of `cfg`'s network (a VGG's entry convolution always has one)."""
    if cfg.arch == "mlp":
        return {"before": cfg.depth, "after": cfg.depth, "last": 1}.get(cfg.bn, 0)
    return 1 + (cfg.vgg_stages * (2 * cfg.vgg_blocks + 2) if cfg.bn != "none" else 0)


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
    per_sample = 4 * (4 * act_floats + 2 * info.features)
    memory = 4 * 5 * params + batch * per_sample
    steps = -(-n_train // batch)
    total = steps * cfg.epochs
    every = cfg.log_every or auto_log_every(total)  # log_interval, without estimating twice
    logged = -(-total // every)
    layers, hidden = cfg.depth + 1, cfg.depth
    gradients = (1 + (cfg.grad_noise > 0)) * (len(block_stats(GRADIENT)) + GRAD_HIST_COLUMNS)
    weights = len(block_stats(WEIGHT)) + GRAD_HIST_COLUMNS  # norms, ratios and the log10 |w| histogram
    per_logged = layers * (gradients + weights) + hidden * (len(block_stats(ACTIVATION))
                                                                             + ACT_HIST_COLUMNS)
    # evaluation: no gradients, but a batch of EVAL_BATCH keeps about three of its widest layer
    evaluated = min(EVAL_BATCH, max(info.n_val, info.n_test))
    eval_memory = 4 * (params + evaluated * (3 * _widest(cfg, info) + info.features))
    return Estimate(params=params, macs_per_sample=macs, memory_bytes=memory,
                    train_samples=n_train, steps_per_epoch=steps,
                    work=float(macs) * n_train * cfg.epochs, activations_per_sample=act_floats,
                    total_steps=total, logged_steps=logged, logged_values=logged * per_logged,
                    eval_memory_bytes=eval_memory, per_sample_bytes=per_sample)


def _widest(cfg, info: DatasetInfo) -> int:
    """Values of one example's widest hidden layer (the first VGG stage's feature maps)."""
    if cfg.arch == "mlp":
        return max(cfg.widths)
    return cfg.vgg_filters * info.height * info.width


def batch_that_fits(cfg, memory_bytes: int, at_most: int) -> int:
    """The largest batch (up to `at_most`) whose training step fits in `memory_bytes` by the
    same estimate as Estimate.memory_bytes; 0 when not even one example fits."""
    est = estimate(cfg)
    room = memory_bytes - 4 * 5 * est.params
    return max(0, min(at_most, room // max(est.per_sample_bytes, 1)))


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


def duration(seconds: float) -> str:
    """A wait or an elapsed time in words, the one formatter of the app and the CLI: '40 s',
    '12 min', '1.5 h' (never '790.0 min')."""
    if seconds < 90:
        return f"{max(math.ceil(seconds - 1e-9), 1):.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
