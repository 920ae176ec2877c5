"""The instrumented training loop.

    result = train(RunConfig(activation="tanh"), on_event=print)

The data lives on the training device as tensors and mini-batches are index lookups. The loop
itself only trains; `LayerStatsRecorder` collects per-layer statistics at logged steps and
`on_event` receives progress events:

    {"kind": "start", "total_steps", "epochs", "device"}
    {"kind": "log", "step", "total_steps", "epoch", "elapsed", "grad_flow"}
    {"kind": "epoch", "epoch", "epochs", "train_loss", ..., "elapsed", "eta"}
    {"kind": "end", "status", "elapsed"}

A non-finite loss (or a non-finite gradient at a logged step) ends the run with status
"diverged"; what was logged up to that step is kept. `should_stop()` returning True ends it
with status "cancelled".
"""
from __future__ import annotations

import math
import platform
import time
from typing import Callable

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from ..config import RunConfig
from .data import DataBundle, augment_batch, prepare_data
from .models import build_model
from .noise import GradientNoise
from .result import RunResult
from .stats import LayerStatsRecorder

EVAL_BATCH = 2048
# Automatic logging: about 100 logged steps per run, but never more than one step in
# MIN_LOG_INTERVAL. A logged step costs about two thirds of a training step on 004_*'s
# 5 x 1000 network and about two steps on the app's tiny default (docs/PERFORMANCE.md), so
# one in 16 keeps the statistics to about 4% of the training time on the big network.
TARGET_LOG_POINTS = 100
MIN_LOG_INTERVAL = 16


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device: cuda was requested but no CUDA GPU is available; use auto or cpu")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise RuntimeError("device: mps was requested but Apple's MPS is not available; use auto or cpu")
    return torch.device(name)


def batch_bounds(n: int, batch_size: int) -> list[tuple[int, int]]:
    """Mini-batch slices of an epoch; a trailing batch of one example is dropped (batch norm
    cannot normalize a single example)."""
    bounds = [(s, min(s + batch_size, n)) for s in range(0, n, batch_size)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        bounds.pop()
    return bounds


def auto_log_every(total_steps: int) -> int:
    return max(MIN_LOG_INTERVAL, round(total_steps / TARGET_LOG_POINTS))


def make_optimizer(cfg: RunConfig, params) -> torch.optim.Optimizer:
    wd = cfg.weight_decay
    params = list(params)
    # On the CPU torch.optim defaults to a Python loop over the parameters; its foreach form
    # loops in C++ (2-3x less optimizer time on deep networks). It gives bit-identical results
    # for SGD, Adam and RMSprop; NAdam's foreach form rounds a few intermediate values
    # differently (last-bit differences from runs stored by earlier code; docs/PERFORMANCE.md).
    cpu = bool(params) and all(p.device.type == "cpu" for p in params)
    fe = {"foreach": True} if cpu else {}
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, weight_decay=wd, **fe)
    if cfg.optimizer == "sgd_momentum":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=wd, **fe)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=wd, **fe)
    if cfg.optimizer == "rmsprop":
        # Keras's defaults (rho 0.9, eps 1e-7), which the experiments of 002_* used.
        return torch.optim.RMSprop(params, lr=cfg.lr, alpha=0.9, eps=1e-7, weight_decay=wd, **fe)
    if cfg.optimizer == "nadam":
        return torch.optim.NAdam(params, lr=cfg.lr, weight_decay=wd, **fe)
    raise ValueError(cfg.optimizer)


@torch.no_grad()
def evaluate(net, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """Mean cross-entropy and accuracy over a whole split, in eval mode."""
    was_training = net.training
    net.eval()
    loss_sum = torch.zeros((), device=x.device)
    correct = torch.zeros((), device=x.device)
    for s in range(0, len(x), EVAL_BATCH):
        logits = net(x[s:s + EVAL_BATCH])
        loss_sum += F.cross_entropy(logits, y[s:s + EVAL_BATCH], reduction="sum")
        correct += (logits.argmax(1) == y[s:s + EVAL_BATCH]).sum()
    net.train(was_training)
    n = max(len(x), 1)
    return float(loss_sum) / n, float(correct) / n


class _DivergenceGuard:
    """Notices the first non-finite training loss. On a GPU it checks every `every` steps so the
    loop does not wait for the device each step; the exact step is recovered from the loss log."""

    def __init__(self, device: torch.device, losses: torch.Tensor):
        self.every = 1 if device.type == "cpu" else 25
        self.losses = losses
        self.checked = 0  # losses before this step are known to be finite

    def check(self, step: int, force: bool = False) -> int | None:
        if step % self.every and not force:
            return None
        # Only the steps since the last check: rescanning from 0 made the guard O(steps^2).
        window = self.losses[self.checked: step + 1]
        bad = ~torch.isfinite(window)
        if bool(bad.any()):
            return self.checked + int(bad.nonzero()[0, 0])
        self.checked = max(self.checked, step + 1)
        return None


def train(cfg: RunConfig, on_event: Callable[[dict], None] | None = None,
          should_stop: Callable[[], bool] | None = None, data: DataBundle | None = None) -> RunResult:
    """Train `cfg` and return its RunResult (status completed, diverged or cancelled)."""
    emit = on_event or (lambda event: None)
    t0 = time.perf_counter()
    device = resolve_device(cfg.device)
    data = data or prepare_data(cfg, device)
    net = build_model(cfg, data.info).to(device)
    params = [p for p in net.parameters() if p.requires_grad]
    opt = make_optimizer(cfg, params)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs, eta_min=cfg.lr / 50) \
        if cfg.schedule == "cosine" else None
    noise = GradientNoise(cfg.grad_noise, cfg.noise_gamma, cfg.noise_unit, cfg.seed, device) \
        if cfg.grad_noise > 0 else None
    bounds = batch_bounds(len(data.y_train), cfg.batch_size)
    total_steps = len(bounds) * cfg.epochs
    log_every = cfg.log_every or auto_log_every(total_steps)
    recorder = LayerStatsRecorder(net, cfg.activation, log_every, noise_on=noise is not None)
    shuffle = torch.Generator().manual_seed(cfg.seed)
    aug_gen = torch.Generator(device=device).manual_seed(cfg.seed + 3)
    losses = torch.full((total_steps,), float("nan"), device=device)
    guard = _DivergenceGuard(device, losses)
    emit({"kind": "start", "total_steps": total_steps, "epochs": cfg.epochs, "device": str(device)})

    epoch_rows, step, status, diverged_at = [], 0, "completed", None
    for epoch in range(1, cfg.epochs + 1):
        e0 = time.perf_counter()
        net.train()
        order = torch.randperm(len(data.y_train), generator=shuffle).to(device)
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device)
        seen = 0
        noise_std = noise.std_at(epoch - 1, step) if noise else 0.0
        for lo, hi in bounds:
            idx = order[lo:hi]
            x, y = data.x_train[idx], data.y_train[idx]
            if cfg.augment:
                x = augment_batch(x, aug_gen)
            logged = recorder.wants(step)
            with recorder.capture_activations(logged):
                logits = net(x)
            loss = F.cross_entropy(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if logged:
                recorder.record_gradients("true")
            if noise:
                noise.add_(params, epoch - 1, step)
                if logged:
                    recorder.record_gradients("noisy")
            if logged:
                recorder.before_update()
            opt.step()
            losses[step] = loss.detach()
            loss_sum += loss.detach() * (hi - lo)
            correct += (logits.detach().argmax(1) == y).sum()
            seen += hi - lo
            if logged:
                grad_stats = recorder.after_update(step, epoch)
                emit({"kind": "log", "step": step, "total_steps": total_steps, "epoch": epoch,
                      "elapsed": time.perf_counter() - t0, "grad_flow": grad_stats[:, 1].tolist()})
                if not np.isfinite(grad_stats).all():
                    diverged_at = step
            diverged_at = diverged_at if diverged_at is not None else guard.check(step)
            step += 1
            if diverged_at is not None:
                status = "diverged"
                break
            if should_stop is not None and should_stop():
                status = "cancelled"
                break
        if status == "completed" and device.type != "cpu":
            found = guard.check(step - 1, force=True)
            if found is not None:
                status, diverged_at = "diverged", found
        val_loss, val_acc = evaluate(net, data.x_val, data.y_val)
        test_loss, test_acc = evaluate(net, data.x_test, data.y_test)
        row = dict(epoch=epoch, train_loss=float(loss_sum) / max(seen, 1),
                   train_acc=float(correct) / max(seen, 1), val_loss=val_loss, val_acc=val_acc,
                   test_loss=test_loss, test_acc=test_acc, lr=opt.param_groups[0]["lr"],
                   noise_std=noise_std, seconds=time.perf_counter() - e0)
        epoch_rows.append(row)
        elapsed = time.perf_counter() - t0
        emit({"kind": "epoch", **row, "epochs": cfg.epochs, "elapsed": elapsed,
              "eta": elapsed / epoch * (cfg.epochs - epoch)})
        if status != "completed":
            break
        if sched is not None:
            sched.step()

    seconds = time.perf_counter() - t0
    emit({"kind": "end", "status": status, "elapsed": seconds})
    return assemble_result(cfg, status, epoch_rows, losses, step, len(bounds), recorder, net,
                           data, device, log_every, diverged_at, seconds)


def assemble_result(cfg: RunConfig, status: str, epoch_rows: list[dict], losses: torch.Tensor,
                    steps: int, steps_per_epoch: int, recorder: LayerStatsRecorder, net,
                    data: DataBundle, device: torch.device, log_every: int,
                    diverged_at: int | None, seconds: float, **extra_meta) -> RunResult:
    """The RunResult of a finished loop (shared with the stacked trainer of core.engine.stacked).

    `losses` holds the training loss of every step (NaN where not run), `steps` the steps run.
    """
    if diverged_at is not None:
        recorder.truncate_after(diverged_at)
    steps_done = min(steps, len(losses))
    steps_df = pd.DataFrame({
        "step": np.arange(steps_done, dtype=np.int64),
        "epoch": np.arange(steps_done, dtype=np.int64) // steps_per_epoch + 1,
        "loss": losses[:steps_done].cpu().numpy().astype(np.float64),
    })
    layers = pd.DataFrame([vars(li) for li in net.layer_info()]).rename(columns={"index": "layer"})
    meta = {
        "status": status,
        "diverged_step": diverged_at,
        "diverged_reason": _divergence_reason(losses, diverged_at) if diverged_at is not None else None,
        "seconds": seconds,
        "device": str(device),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "params": sum(p.numel() for p in net.parameters() if p.requires_grad),
        "train_samples": len(data.y_train),
        "steps_per_epoch": steps_per_epoch,
        "total_steps": steps_done,
        "log_every": log_every,
        "data_source": data.source,
        "finished_at": time.time(),
        **extra_meta,
    }
    return RunResult(
        config=cfg, status=status, epochs=pd.DataFrame(epoch_rows, columns=EPOCH_COLUMNS),
        steps=steps_df, layer_stats=recorder.table(), layers=layers,
        histograms=recorder.histograms(), meta=meta,
        state_dict={k: v.detach().cpu().clone() for k, v in net.state_dict().items()})


EPOCH_COLUMNS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "test_loss",
                 "test_acc", "lr", "noise_std", "seconds"]


def _divergence_reason(losses: torch.Tensor, step: int) -> str:
    value = float(losses[step]) if step < len(losses) else float("nan")
    if math.isnan(value):
        return f"loss became NaN at step {step}"
    if math.isinf(value):
        return f"loss became infinite at step {step}"
    return f"a gradient became non-finite at step {step}"
