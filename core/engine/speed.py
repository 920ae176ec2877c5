"""How fast this machine trains: the rates of core.cost.training_seconds, measured once per
process and device.

    rates = machine_rates("cpu")     # core.cost.Rates; about 0.1 s the first time, then cached

Two measurements: matrix products (a few tens of milliseconds; seconds per multiply-accumulate)
and tiny training runs through the real loop on synthetic data, so that what they time is what
a run pays per step, per weight layer and per logged step (the statistics) beyond its products:
a shallow network over one step and over 16, a deep one over 16 logging only step 0 and
logging every step. core.runs.calibration rescales the result by the runs already
stored on this machine.
"""
from __future__ import annotations

import functools
import time

import torch

from ..config import RunConfig
from ..cost import Rates
from .data import DataBundle, DatasetInfo
from .loop import train

MATMUL_SECONDS = 0.02  # time spent on matrix products
TINY_WIDTH, TINY_BATCH, TINY_STEPS = 16, 16, 16
SHALLOW, DEEP = 1, 5  # hidden layers of the tiny networks
REPEATS = 3
FLOOR = 1e-9  # a rate the noise of a busy machine made nonpositive


@functools.lru_cache(maxsize=None)
def machine_rates(device: str = "cpu") -> Rates:
    """The rates of this process's machine on `device` ("cpu", "cuda", "mps")."""
    dev = torch.device(device)
    mac = _seconds_per_mac(dev)
    _tiny_run(dev, SHALLOW, logged=True, steps=2)  # warm-up: first-call costs
    variants = [(SHALLOW, False, 1), (SHALLOW, False, TINY_STEPS),
                (DEEP, False, TINY_STEPS), (DEEP, True, TINY_STEPS)]
    # Interleaved repeats, the fastest of each: the other load of a busy machine only adds time.
    times = [[_tiny_run(dev, *v) for v in variants] for _ in range(REPEATS)]
    one, shallow, deep, logged = (min(t) for t in zip(*times))
    # Solve core.cost.training_seconds for the four runs (each logs step 0; the last every step):
    s, few, many = TINY_STEPS, SHALLOW + 1, DEEP + 1  # steps, weight layers
    logged_layer = max((logged - deep) / (many * (s - 1)), FLOOR)
    layer_step = max((deep - shallow - logged_layer * (many - few)) / ((many - few) * (s + 2)), FLOOR)
    step = max((shallow - one) / (s - 1) - layer_step * few, FLOOR)
    run = max(one - step - layer_step * few * 3 - logged_layer * few, FLOOR)
    return Rates(mac=mac, layer_step=layer_step, step=step, logged_layer=logged_layer, run=run)


def _seconds_per_mac(device: torch.device, n: int = 256, k: int = 512) -> float:
    a, b = torch.randn(n, k, device=device), torch.randn(k, k, device=device)
    _sync(device, a @ b)
    calls, t0 = 0, time.perf_counter()
    while True:
        out = a @ b
        calls += 1
        _sync(device, out)
        elapsed = time.perf_counter() - t0
        if elapsed >= MATMUL_SECONDS:
            return elapsed / (calls * n * k * k)


def _sync(device: torch.device, tensor: torch.Tensor) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
    else:
        tensor.sum().item()


def _tiny_run(device: torch.device, depth: int, logged: bool, steps: int) -> float:
    """meta["seconds"] of one epoch of `steps` steps of a `depth` x 16 MLP on random 4x4 images."""
    n_train, n_eval = steps * TINY_BATCH, 2 * TINY_BATCH
    g = torch.Generator().manual_seed(0)
    x = [torch.rand(n, 1, 4, 4, generator=g).to(device) for n in (n_train, n_eval, n_eval)]
    y = [torch.randint(0, 10, (n,), generator=g).to(device) for n in (n_train, n_eval, n_eval)]
    data = DataBundle(x[0], y[0], x[1], y[1], x[2], y[2],
                      DatasetInfo(1, 4, 4, 10, n_train, n_eval, n_eval), "synthetic")
    cfg = RunConfig(dataset="digits", widths=(TINY_WIDTH,) * depth, epochs=1, batch_size=TINY_BATCH,
                    log_every=1 if logged else steps, device=device.type)
    return float(train(cfg, data=data).meta["seconds"])
