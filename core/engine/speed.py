"""How fast this machine trains: the rates of core.base.cost.training_seconds, measured on
`device`.

    rates = measure_rates("cpu")     # core.base.cost.Rates; about 2.5 s on an idle 2-core CPU

Timed directly: a matrix product and a 3x3 convolution's forward and backward, for seconds per
multiply-accumulate; the fixed cost of a tiny convolution's forward and backward; an
activation's forward and backward per value of a feature map; gradient noise's draw per
parameter. The other rates (per activation value, weight layer, step, logged
step, run and batch-norm layer) are solved from six tiny training runs through the real loop on
random 8x8 images shaped like `digits`, so what they time is what a run pays beyond its products.

On a CPU every timing is the processor time of one thread (torch held to one thread while
measuring), which other programs on the cores do not stretch, and the best of several short ones
(each product call on its own, each tiny run REPEATS times, interleaved). Measured three times
under a load of 9 on 2 cores, a 120-run preset's estimate varied by 5% (223 to 234 s); timed on
the wall clock as before, the rates varied up to 30x and the estimate from 794 to 2332 s. This
module measures;
core.runs.calibration keeps one measurement per machine in the run store (every server on the
machine gives the same estimate) and rescales it by the runs already stored.
"""
from __future__ import annotations

import dataclasses
import functools
import threading
import time

import numpy as np
import torch
import torch.nn.functional as F

from ..base.config import RunConfig
from ..base.cost import REFERENCE_RATES, Rates, training_seconds
from ..base.datasets import DATASET_INFO, DatasetInfo
from .data import DataBundle
from .loop import train
from .noise import GradientNoise

PRODUCT_SECONDS = 0.05  # per set of operands of each kind of product, in calls timed one by one
OPERANDS = 3  # sets of operands per product: where the allocator puts them can change a kernel's
# speed (a 16-channel convolution timed 1.7e-11 or 2.8e-11 s per MAC from one allocation to the next)
CONV_CHANNELS = (8, 64)  # the two convolutions the per-MAC and per-value rates are solved from
# (8 and 32 were too alike: beside two spinning processes the per-MAC rate came out 4x to 80x low)
REPEATS = 7  # timings of each tiny run, interleaved; the fastest counts
FLOOR = 1e-12  # a rate the noise of a busy machine made nonpositive
# Six timings solve six rates exactly, so one timing disturbed by other work can move a rate by
# orders of magnitude (a 17-hour estimate for a 15-minute preset was seen): each solved rate
# stays within this factor of core.base.cost.REFERENCE_RATES, and the stored runs rescale the rest.
SOLVED_RANGE = 30.0
SOLVED = ("element", "layer_step", "step", "logged_layer", "run", "norm_layer")
# (hidden widths, batch, steps, statistics at every step, batch norm): one step; 16 steps;
# deeper; logging every step; wider (more activation values); with batch norm.
TINY = (((16,), 16, 1, False, "none"), ((16,), 16, 16, False, "none"), ((16,) * 5, 16, 16, False, "none"),
        ((16,) * 5, 16, 16, True, "none"), ((128,) * 5, 64, 16, False, "none"), ((16,) * 5, 16, 16, False, "before"))


_MEASURING = threading.Lock()  # sessions opening pages at once wait for one measurement


def machine_rates(device: str = "cpu") -> Rates:
    """The rates of this process's machine on `device` ("cpu", "cuda", "mps"), measured once
    per process: ten sessions asking at once on a fresh server measure once, not ten times side
    by side. (core.runs.calibration.machine_rates keeps them for every process of the machine.)"""
    with _MEASURING:
        return _measured_rates(device)


@functools.lru_cache(maxsize=None)
def _measured_rates(device: str) -> Rates:
    return measure_rates(device)


def measure_rates(device: str = "cpu") -> Rates:
    """A fresh measurement of the rates on `device` (about 2.5 s on an idle 2-core CPU).

    On a CPU every timing is the processor time of one thread (torch held to one thread
    meanwhile): other programs sharing the cores slow the wall clock, not that, so a busy
    machine measures what a quiet one does. What more threads gain on a VGG's large tensors is
    measured apart, on the wall clock, when the machine is quiet (`conv_thread_gain`, applied by
    core.runs.calibration.machine_rates); a matrix product of this app's small MLPs gains
    little (what it gains is left to the stored runs)."""
    dev = torch.device(device)
    threads = torch.get_num_threads()
    if dev.type == "cpu":
        torch.set_num_threads(1)
    try:
        convs = [_conv_rates(dev) for _ in range(OPERANDS)]
        products = {"mac": min(_seconds_per_mac(dev) for _ in range(OPERANDS)),
                "conv_mac": min(c[0] for c in convs), "conv_value": min(c[1] for c in convs),
                "conv_call": min(_seconds_per_conv_call(dev) for _ in range(OPERANDS)),
                "map_element": min(_seconds_per_map_value(dev) for _ in range(OPERANDS)),
                "noise": min(_seconds_per_noise_value(dev) for _ in range(OPERANDS))}
        configs = [_tiny_config(device, *spec) for spec in TINY]
        _tiny_run(configs[0], dev)  # warm-up: first-call costs
        times = [[_tiny_run(cfg, dev) for cfg in configs] for _ in range(REPEATS)]
    finally:
        torch.set_num_threads(threads)
    measured = np.array([min(t) for t in zip(*times)])
    # training_seconds is linear in the rates: one column per solved rate.
    zero = Rates(**products, **dict.fromkeys(SOLVED, 0.0))
    known = np.array([training_seconds(cfg, zero, cfg.log_every) for cfg in configs])
    only = dataclasses.replace(zero, **dict.fromkeys(products, 0.0))
    columns = [[training_seconds(cfg, dataclasses.replace(only, **{k: 1.0}), cfg.log_every) for k in SOLVED]
               for cfg in configs]
    solved = np.linalg.lstsq(np.array(columns), measured - known, rcond=None)[0]
    bound = _bounded if dev.type == "cpu" else (lambda name, value: max(value, FLOOR))  # the reference is a CPU
    return dataclasses.replace(zero, **{k: bound(k, float(v)) for k, v in zip(SOLVED, solved)})


machine_rates.cache_clear = _measured_rates.cache_clear  # tests measure afresh


def _bounded(name: str, value: float) -> float:
    """A solved rate, held within SOLVED_RANGE of the reference machine's (and above FLOOR)."""
    ref = getattr(REFERENCE_RATES, name)
    return float(min(max(value, ref / SOLVED_RANGE, FLOOR), ref * SOLVED_RANGE))


def _timed(device: torch.device, work, clock=None) -> float:
    """Seconds of the fastest call of `work` (its first call not counted), each call timed on
    its own for PRODUCT_SECONDS in all: the thread's processor time on a CPU (unless `clock`
    says otherwise), else the wall clock after a sync (a call that other work interrupted does
    not count)."""
    clock = clock or (time.thread_time if device.type == "cpu" else time.perf_counter)
    work()
    _sync(device)
    best, start = float("inf"), time.perf_counter()
    while True:
        t0 = clock()
        work()
        _sync(device)
        best = min(best, clock() - t0)
        if time.perf_counter() - start >= PRODUCT_SECONDS:
            return max(best, 1e-9)


def _seconds_per_mac(device: torch.device, n: int = 256, k: int = 512) -> float:
    a, b = torch.randn(n, k, device=device), torch.randn(k, k, device=device)
    return _timed(device, lambda: a @ b) / (n * k * k)


def _conv_seconds(device: torch.device, c: int, n: int = 32, hw: int = 16) -> float:
    """A 3x3 convolution's forward and backward, c channels in and out, n examples of hw x hw."""
    x = torch.randn(n, c, hw, hw, device=device, requires_grad=True)
    w = torch.randn(c, c, 3, 3, device=device, requires_grad=True)
    return _timed(device, lambda: F.conv2d(x, w, padding=1).sum().backward())


def _conv_rates(device: torch.device, n: int = 32, hw: int = 16) -> tuple[float, float]:
    """(conv_mac, conv_value): a convolution's forward and backward costs per forward MAC / 3
    and per output value / 3 (comparable with `mac`), solved from CONV_CHANNELS. Per MAC alone
    cannot say both: on one thread here 8 channels cost 6.6e-11 s per MAC, 32 channels 1.6e-11
    (a 4-channel layer at 28 x 28 took 11x what 32 channels' rate would give)."""
    small, large = (_conv_seconds(device, c, n, hw) for c in CONV_CHANNELS)
    values = [3 * n * c * hw * hw for c in CONV_CHANNELS]
    macs = [9 * c * v for c, v in zip(CONV_CHANNELS, values)]
    per_mac = (large * values[0] - small * values[1]) / (macs[1] * values[0] - macs[0] * values[1])
    per_mac = max(per_mac, FLOOR)
    return per_mac, max((small - per_mac * macs[0]) / values[0], FLOOR)


def _seconds_per_map_value(device: torch.device, n: int = 32, c: int = 16, hw: int = 16) -> float:
    """An activation's forward and backward on a VGG-sized feature map, per value."""
    x = torch.randn(n, c, hw, hw, device=device, requires_grad=True)
    return _timed(device, lambda: F.leaky_relu(x).sum().backward()) / x.numel()


def conv_thread_gain(threads: int, rounds: int = 3) -> float:
    """How many times faster `threads` threads run a 3x3 convolution's forward and backward
    than one, on the wall clock (the fastest of interleaved timings: the least disturbed), held
    between 1 and `threads`. Other work on the cores only makes it smaller (two threads that
    wait for each other on busy cores are slower than one): a busy machine's estimate errs long."""
    if threads <= 1:
        return 1.0
    cpu = torch.device("cpu")
    x = torch.randn(32, 16, 16, 16, requires_grad=True)
    w = torch.randn(16, 16, 3, 3, requires_grad=True)
    best = {1: float("inf"), threads: float("inf")}
    for _ in range(rounds):
        for n in best:
            torch.set_num_threads(n)
            best[n] = min(best[n], _timed(cpu, lambda: F.conv2d(x, w, padding=1).sum().backward(), time.perf_counter))
    return min(max(best[1] / best[threads], 1.0), float(threads))


def _seconds_per_conv_call(device: torch.device) -> float:
    """A small 3x3 convolution's forward and backward (16 examples, 4 channels, 8x8), whose few
    multiply-accumulates are not what it costs: a convolution layer's fixed cost per training
    step (0.3 ms on one thread here, 18x what its MACs would say; 0.06 ms on 1 x 4 x 4x4)."""
    x = torch.randn(16, 4, 8, 8, device=device, requires_grad=True)
    w = torch.randn(4, 4, 3, 3, device=device, requires_grad=True)
    return _timed(device, lambda: F.conv2d(x, w, padding=1).sum().backward())


def _seconds_per_noise_value(device: torch.device) -> float:
    """Gradient noise's draw and add (core.engine.noise.GradientNoise.add_) per parameter, on
    the gradients of a 512 x 128 layer."""
    w = torch.zeros(512, 128, device=device, requires_grad=True)
    w.grad = torch.zeros_like(w)
    noise = GradientNoise(1.0, 0.55, "step", 0, device)
    return _timed(device, lambda: noise.add_([w], 0, 1)) / w.numel()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _tiny_config(device: str, widths: tuple, batch: int, steps: int, every_step: bool, bn: str) -> RunConfig:
    return RunConfig(dataset="digits", train_subset=batch * steps, widths=widths, epochs=1, bn=bn,
                     batch_size=batch, log_every=1 if every_step else steps, device=device)


def _tiny_run(cfg: RunConfig, device: torch.device) -> float:
    """Seconds of training `cfg` on random images of digits' shape and split sizes (no dataset
    is read, and the data cache is left alone): the thread's processor time on a CPU, else the
    run's own clock."""
    info = DATASET_INFO[cfg.dataset]
    g = torch.Generator().manual_seed(0)
    sizes = (cfg.train_subset, info.n_val, info.n_test)
    x = [torch.rand(n, info.channels, info.height, info.width, generator=g).to(device) for n in sizes]
    y = [torch.randint(0, info.classes, (n,), generator=g).to(device) for n in sizes]
    shape = DatasetInfo(info.channels, info.height, info.width, info.classes, *sizes)
    data = DataBundle(x[0], y[0], x[1], y[1], x[2], y[2], shape, "synthetic")
    t0 = time.thread_time()
    seconds = float(train(cfg, data=data).meta["seconds"])
    return time.thread_time() - t0 if device.type == "cpu" else seconds
