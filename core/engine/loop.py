"""The training loop: one loop for a single run and for a stack of runs trained together.

    result = train(RunConfig(activation="tanh"), on_event=print)
    results = core.engine.stacked.train_many(configs)   # the same loop over a stacked network

The loop drives an *engine*, the network seen as `n_runs` runs that share every mini-batch
position (a single run is an engine of one):

    engine.parameters(c)       run c's trainable tensors (their .grad is set by backward)
    engine.stats_view(c)       what LayerStatsRecorder reads for run c (layers, activations)
    engine.batch(order)        (x, y, ys) for each run's indices order (n_runs, b): the inputs,
                               the labels as the engine holds them, and each run's labels
    engine.forward(x, recs)    (logits as the engine holds them, each run's logits); recs (one
                               recorder per run, on logged steps) receive hidden activations
    engine.backward(losses)    gradients of each run's loss
    engine.hits(logits, y)     (n_runs,) correct predictions of this batch
    engine.evaluate(x, y, sel) each selected run's mean loss and accuracy on a split
    engine.finish(c)           run c's nn.Module with its trained weights
    engine.layer_names         the weight layers' names, input to output

Everything that is per run (optimizer, schedule, gradient noise, statistics, shuffling, epoch
rows, status) lives in a `RunState`, so a stacked run goes through exactly the code a single
run goes through. Statistics are collected by `LayerStatsRecorder` at logged steps; `on_event`
receives progress events, each with the run's "run_id":

    {"kind": "start", "total_steps", "epochs", "device", "layers"}
    {"kind": "log", "step", "total_steps", "epoch", "elapsed", "loss", "grad_flow", "grad_hist"}
    {"kind": "epoch", "epoch", "epochs", "train_loss", ..., "elapsed", "eta"}
    {"kind": "end", "status", "elapsed"}

A non-finite loss (or a non-finite gradient at a logged step) ends that run with status
"diverged"; what was logged up to that step is kept. `should_stop()` returning True ends the
runs still training with status "cancelled".
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..base.config import RunConfig
from .data import DataBundle, augment_batch, prepare_data
from .models import build_model
from .noise import GradientNoise
from .result import RunResult, assemble_result, finite_or_none
from .stats import LayerStatsRecorder

EVAL_BATCH = 2048
# Automatic logging: about 100 logged steps per run, but never more than one step in
# MIN_LOG_INTERVAL. A logged step costs about two thirds of a training step on the deep sigmoid
# blog post's 5 x 1000 network and about two steps on the app's tiny default
# (docs/PERFORMANCE.md), so one in 16 keeps the statistics to about 4% of the training time on
# the big network.
TARGET_LOG_POINTS = 100
MIN_LOG_INTERVAL = 16
RUNNING, COMPLETED, DIVERGED, CANCELLED = "running", "completed", "diverged", "cancelled"


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
        # Keras's defaults (rho 0.9, eps 1e-7), which the lecture notes' experiments used.
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


# ---------------------------------------------------------------------- the engine of one run
class PlainEngine:
    """One run of any architecture: the network itself, mini-batches as index lookups."""

    n_runs = 1

    def __init__(self, net, data: DataBundle, cfg: RunConfig, device: torch.device):
        self.net, self.data, self.augment = net, data, cfg.augment
        self.layer_names = list(net.layer_names)
        self.aug_gen = torch.Generator(device=device).manual_seed(cfg.seed + 3)
        self._params = [p for p in net.parameters() if p.requires_grad]

    def parameters(self, c: int) -> list[torch.Tensor]:
        return self._params

    def stats_view(self, c: int):
        return self.net

    def batch(self, order: torch.Tensor):
        idx = order[0]
        x, y = self.data.x_train[idx], self.data.y_train[idx]
        if self.augment:
            x = augment_batch(x, self.aug_gen)
        return x, y, [y]

    def forward(self, x: torch.Tensor, recorders):
        if recorders is None:
            logits = self.net(x)
        else:
            with recorders[0].capture_activations(True):
                logits = self.net(x)
        return logits, [logits]

    def backward(self, losses: list[torch.Tensor]) -> None:
        for p in self._params:
            p.grad = None
        torch.autograd.backward(losses)

    def hits(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (logits.detach().argmax(1) == y).sum().unsqueeze(0)

    def evaluate(self, x: torch.Tensor, y: torch.Tensor, sel: slice):
        loss, acc = evaluate(self.net, x, y)
        return [loss], [acc]

    def finish(self, c: int):
        return self.net


# ---------------------------------------------------------------------- per-run state
@dataclass
class RunState:
    """Everything one run keeps for itself, whether it trains alone or in a stack."""

    index: int
    cfg: RunConfig
    params: list
    opt: torch.optim.Optimizer
    sched: object
    noise: GradientNoise | None
    recorder: LayerStatsRecorder
    shuffle: torch.Generator
    emit: Callable[[dict], None]
    status: str = RUNNING  # then completed, diverged or cancelled
    closed: bool = False  # its last epoch row is written
    diverged_at: int | None = None
    steps: int = 0  # steps run, once closed
    epoch_rows: list = field(default_factory=list)
    seconds: float = 0.0

    @classmethod
    def create(cls, index: int, cfg: RunConfig, engine, log_every: int, device: torch.device,
               on_event: Callable[[dict], None] | None) -> "RunState":
        params = engine.parameters(index)
        opt = make_optimizer(cfg, params)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs, eta_min=cfg.lr / 50) \
            if cfg.schedule == "cosine" else None
        noise = GradientNoise(cfg.grad_noise, cfg.noise_gamma, cfg.noise_unit, cfg.seed, device) \
            if cfg.grad_noise > 0 else None
        recorder = LayerStatsRecorder(engine.stats_view(index), cfg.activation, log_every,
                                      noise_on=noise is not None)
        run_id = cfg.run_id
        emit = (lambda event: on_event({**event, "run_id": run_id})) if on_event else (lambda event: None)
        return cls(index=index, cfg=cfg, params=params, opt=opt, sched=sched, noise=noise,
                   recorder=recorder, shuffle=torch.Generator().manual_seed(cfg.seed), emit=emit)

    def update(self, step: int, epoch: int, logged: bool) -> None:
        """After backward: statistics of the true gradient, noise, the noisy one, the step."""
        if logged:
            self.recorder.record_gradients("true")
        if self.noise:
            self.noise.add_(self.params, epoch - 1, step)
            if logged:
                self.recorder.record_gradients("noisy")
        if logged:
            self.recorder.before_update()
        self.opt.step()

    def log(self, step: int, epoch: int, total_steps: int, elapsed: float, loss: float) -> None:
        """Finish a logged step (its event carries the step's loss, the gradient flow and the
        gradient histogram rows, for live views); a non-finite gradient statistic is a divergence."""
        grad_stats = self.recorder.after_update(step, epoch)
        self.emit({"kind": "log", "step": step, "total_steps": total_steps, "epoch": epoch,
                   "elapsed": elapsed, "loss": finite_or_none(loss), "grad_flow": grad_stats[:, 1].tolist(),
                   "grad_hist": self.recorder.last_logged["true_hist"].tolist()})
        if self.diverged_at is None and not np.isfinite(grad_stats).all():
            self.diverged_at = step


class DivergenceGuard:
    """Notices each run's first non-finite training loss, in the (runs x steps) loss log. On a
    GPU it looks every `every` steps so the loop does not wait for the device each step; the
    exact step is recovered from the log."""

    def __init__(self, device: torch.device, losses: torch.Tensor):
        self.every = 1 if device.type == "cpu" else 25
        self.losses = losses
        self.checked = 0  # losses before this step are known to be finite (or already reported)

    def check(self, step: int, runs: list[RunState], force: bool = False) -> None:
        if step % self.every and not force:
            return
        # Only the steps since the last look: rescanning from 0 made the guard O(steps^2).
        bad = ~torch.isfinite(self.losses[:, self.checked: step + 1])
        if bool(bad.any()):
            for r in runs:
                row = bad[r.index]
                if r.diverged_at is None and bool(row.any()):
                    r.diverged_at = self.checked + int(row.nonzero()[0, 0])
        self.checked = max(self.checked, step + 1)


@dataclass
class _Epoch:
    """One epoch's running sums over the runs (every run sees the same batch sizes)."""

    number: int
    started: float
    noise_std: list
    loss_sum: torch.Tensor  # (n_runs,)
    correct: torch.Tensor  # (n_runs,)
    seen: int = 0


# ---------------------------------------------------------------------- the loop
def train(cfg: RunConfig, on_event: Callable[[dict], None] | None = None,
          should_stop: Callable[[], bool] | None = None, data: DataBundle | None = None) -> RunResult:
    """Train `cfg` and return its RunResult (status completed, diverged or cancelled)."""
    t0 = time.perf_counter()
    device = resolve_device(cfg.device)
    data = data or prepare_data(cfg, device)
    net = build_model(cfg, data.info).to(device)
    return run_loop(PlainEngine(net, data, cfg, device), [cfg], data, device, on_event,
                    should_stop, t0)[0]


def run_loop(engine, configs: list[RunConfig], data: DataBundle, device: torch.device,
             on_event: Callable[[dict], None] | None = None,
             should_stop: Callable[[], bool] | None = None, t0: float | None = None) -> list[RunResult]:
    """Train the engine's runs (configs[c] is run c; they agree on data, batch size, epochs and
    logging) and return each run's RunResult, in order."""
    t0 = time.perf_counter() if t0 is None else t0
    first = configs[0]
    bounds = batch_bounds(len(data.y_train), first.batch_size)
    total_steps = len(bounds) * first.epochs
    log_every = first.log_every or auto_log_every(total_steps)
    runs = [RunState.create(c, cfg, engine, log_every, device, on_event) for c, cfg in enumerate(configs)]
    n_runs = len(runs)
    losses = torch.full((n_runs, total_steps), float("nan"), device=device)
    guard = DivergenceGuard(device, losses)
    for r in runs:
        r.emit({"kind": "start", "total_steps": total_steps, "epochs": first.epochs,
                "device": str(device), "layers": engine.layer_names})

    step = 0
    for number in range(1, first.epochs + 1):
        order = torch.stack([torch.randperm(len(data.y_train), generator=r.shuffle) for r in runs]).to(device)
        epoch = _Epoch(number, time.perf_counter(),
                       [r.noise.std_at(number - 1, step) if r.noise else 0.0 for r in runs],
                       torch.zeros(n_runs, device=device), torch.zeros(n_runs, device=device))
        for lo, hi in bounds:
            logged = step % log_every == 0
            active = [r for r in runs if r.status == RUNNING]
            step_loss, logits, y = train_step(engine, runs, order[:, lo:hi], step, number, logged)
            losses[:, step] = step_loss
            epoch.loss_sum += step_loss * (hi - lo)
            epoch.correct += engine.hits(logits, y)
            epoch.seen += hi - lo
            if logged:
                for r in active:
                    r.log(step, number, total_steps, time.perf_counter() - t0, float(step_loss[r.index]))
            guard.check(step, active)
            step += 1
            for r in active:
                if r.diverged_at is not None:
                    r.status = DIVERGED
            still = [r for r in active if r.status == RUNNING]
            if still and should_stop is not None and should_stop():
                for r in still:
                    r.status = CANCELLED
            stopped = [r for r in active if r.status != RUNNING]
            if stopped:  # a run that stops ends its epoch now, with its weights now
                _close(engine, stopped, data, epoch, step, t0)
            if not any(r.status == RUNNING for r in runs):
                break
        going = [r for r in runs if r.status == RUNNING]
        if going and device.type != "cpu":  # the guard's last look of the epoch
            guard.check(step - 1, going, force=True)
            for r in going:
                if r.diverged_at is not None:
                    r.status = DIVERGED
        if going:
            _close(engine, going, data, epoch, step, t0)
        if not any(r.status == RUNNING for r in runs):
            break
        for r in runs:
            if r.status == RUNNING and r.sched is not None:
                r.sched.step()

    results = []
    for r in runs:
        if r.status == RUNNING:
            r.status, r.steps, r.seconds = COMPLETED, step, time.perf_counter() - t0
        net = engine.finish(r.index)
        r.emit({"kind": "end", "status": r.status, "elapsed": r.seconds})
        results.append(assemble_result(
            r.cfg, r.status, r.epoch_rows, losses[r.index], r.steps, len(bounds), r.recorder,
            net, data, device, log_every, r.diverged_at, r.seconds,
            **({"trained_with": n_runs} if n_runs > 1 else {})))
    return results


def train_step(engine, runs: list[RunState], order: torch.Tensor, step: int, epoch: int,
               logged: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One optimization step on the mini-batch `order` (n_runs, b) of example indices: forward
    (recording activations on a logged step), each run's loss, backward, and each running run's
    statistics, gradient noise and update. Returns the runs' losses (n_runs,), the logits and
    the labels (as the engine holds them). The benchmarks time this very function."""
    x, y, ys = engine.batch(order)
    logits, parts = engine.forward(x, [r.recorder for r in runs] if logged else None)
    step_losses = [F.cross_entropy(z, yc) for z, yc in zip(parts, ys)]
    engine.backward(step_losses)
    for r in runs:
        if r.status == RUNNING:
            r.update(step, epoch, logged)
    return torch.stack([v.detach() for v in step_losses]), logits, y


def _close(engine, group: list[RunState], data: DataBundle, epoch: _Epoch, step: int, t0: float) -> None:
    """The epoch rows of `group` (evaluated together; one run of a stack alone); a run that has
    stopped is closed for good."""
    alone = len(group) == 1 and engine.n_runs > 1
    sel = slice(group[0].index, group[0].index + 1) if alone else slice(None)
    val_loss, val_acc = engine.evaluate(data.x_val, data.y_val, sel)
    test_loss, test_acc = engine.evaluate(data.x_test, data.y_test, sel)
    elapsed = time.perf_counter() - t0
    for r in group:
        k = 0 if alone else r.index
        c = r.index
        row = dict(epoch=epoch.number, train_loss=float(epoch.loss_sum[c]) / max(epoch.seen, 1),
                   train_acc=float(epoch.correct[c]) / max(epoch.seen, 1), val_loss=val_loss[k],
                   val_acc=val_acc[k], test_loss=test_loss[k], test_acc=test_acc[k],
                   lr=r.opt.param_groups[0]["lr"], noise_std=epoch.noise_std[c],
                   seconds=time.perf_counter() - epoch.started)
        r.epoch_rows.append(row)
        r.emit({"kind": "epoch", **row, "epochs": r.cfg.epochs, "elapsed": elapsed,
                "eta": elapsed / epoch.number * (r.cfg.epochs - epoch.number)})
        if r.status != RUNNING:
            r.closed, r.steps, r.seconds = True, step, elapsed
