"""The parts of one training step, shared by every driver of the loop (core.engine.loop.Trainer).

    engine = PlainEngine(net, data, cfg, device)    # or core.engine.stacked's StackedEngine
    run = RunState.create(0, cfg, engine, log_every, device, on_event)
    losses, logits, y = train_step(engine, [run], order, step, epoch, logged)

An *engine* is the network seen as `n_runs` runs that share every mini-batch position (a single
run is an engine of one):

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
run goes through.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..base.catalogue import OPTIMIZER_TABLE
from ..base.config import RunConfig
from ..base.cost import EVAL_BATCH
from .data import augment_batch
from .noise import GradientNoise
from .record import StepRecord
from .result import finite_or_none
from .stats import LayerStatsRecorder

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


# The optimizers' constructors, keyed by the catalogue's names (core.base.catalogue.OPTIMIZER_TABLE,
# which holds the eps an adaptive optimizer is built with).
_OPTIMIZERS = {
    "sgd": lambda cfg, o: (torch.optim.SGD, {}),
    "sgd_momentum": lambda cfg, o: (torch.optim.SGD, {"momentum": cfg.momentum}),
    "adam": lambda cfg, o: (torch.optim.Adam, {"eps": o.eps}),
    # Keras's defaults (rho 0.9, eps 1e-7), which the lecture notes' experiments used.
    "rmsprop": lambda cfg, o: (torch.optim.RMSprop, {"alpha": 0.9, "eps": o.eps}),
    "nadam": lambda cfg, o: (torch.optim.NAdam, {"eps": o.eps}),
}


def make_optimizer(cfg: RunConfig, params) -> torch.optim.Optimizer:
    params = list(params)
    # On the CPU torch.optim defaults to a Python loop over the parameters; its foreach form
    # loops in C++ (2-3x less optimizer time on deep networks). It gives bit-identical results
    # for SGD, Adam and RMSprop; NAdam's foreach form rounds a few intermediate values
    # differently (last-bit differences from runs stored by earlier code; docs/PERFORMANCE.md).
    cpu = bool(params) and all(p.device.type == "cpu" for p in params)
    fe = {"foreach": True} if cpu else {}
    kind, options = _OPTIMIZERS[cfg.optimizer](cfg, OPTIMIZER_TABLE[cfg.optimizer])
    return kind(params, lr=cfg.lr, weight_decay=cfg.weight_decay, **options, **fe)


def eval_batches(x: torch.Tensor, y: torch.Tensor):
    """A split in chunks of EVAL_BATCH examples, (x, y) each: every evaluation's one loop."""
    for s in range(0, len(x), EVAL_BATCH):
        yield x[s:s + EVAL_BATCH], y[s:s + EVAL_BATCH]


@torch.no_grad()
def evaluate(net, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """Mean cross-entropy and accuracy over a whole split, in eval mode."""
    was_training = net.training
    net.eval()
    loss_sum = torch.zeros((), device=x.device)
    correct = torch.zeros((), device=x.device)
    for xb, yb in eval_batches(x, y):
        logits = net(xb)
        loss_sum += F.cross_entropy(logits, yb, reduction="sum")
        correct += (logits.argmax(1) == yb).sum()
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

    def log(self, step: int, epoch: int, total_steps: int | None, elapsed: float, loss: float) -> StepRecord:
        """Finish a logged step and emit its record (the "log" event every view reads); a
        non-finite gradient statistic is a divergence."""
        record = self.recorder.after_update(step, epoch)
        record.loss = finite_or_none(loss)
        self.emit({"kind": "log", "step": step, "total_steps": total_steps, "epoch": epoch,
                   "elapsed": elapsed, "loss": record.loss, "record": record.live()})
        if self.diverged_at is None and not record.finite:
            self.diverged_at = step
        return record


class LossLog:
    """Each run's training loss of every step, on the device (NaN where not run), in one
    (runs x steps) tensor. An endless log (the Playground trains until paused) keeps a window:
    the latest `steps` columns, enough for the divergence guard."""

    def __init__(self, n_runs: int, steps: int, device: torch.device, endless: bool = False):
        self.values = torch.full((n_runs, max(steps, 1)), float("nan"), device=device)
        self.first = 0  # the step of column 0
        self.endless = endless

    def put(self, step: int, losses: torch.Tensor) -> None:
        col = step - self.first
        if col >= self.values.shape[1] and self.endless:  # keep the newer half, NaN after it
            half = self.values.shape[1] // 2
            self.values = torch.cat([self.values[:, half:], torch.full_like(self.values[:, :half], float("nan"))], 1)
            self.first += half
            col -= half
        self.values[:, col] = losses

    def window(self, start: int, stop: int) -> torch.Tensor:
        """Columns of the steps start..stop-1 still held."""
        return self.values[:, max(start - self.first, 0): stop - self.first]


class DivergenceGuard:
    """Notices each run's first non-finite training loss, in the loss log. On a GPU it looks
    every `every` steps so the loop does not wait for the device each step; the exact step is
    recovered from the log."""

    def __init__(self, device: torch.device, losses: LossLog):
        self.every = 1 if device.type == "cpu" else 25
        self.losses = losses
        self.checked = 0  # losses before this step are known to be finite (or already reported)

    def check(self, step: int, runs: list[RunState], force: bool = False, latest: list | None = None) -> None:
        """Look at the losses up to `step`; `latest`: this step's losses already on the host (the
        CPU's every-step look then costs no tensor op when they are finite)."""
        if step % self.every and not force:
            return
        if latest is not None and self.checked == step and all(math.isfinite(v) for v in latest):
            self.checked = step + 1
            return
        # Only the steps since the last look: rescanning from 0 made the guard O(steps^2).
        start = max(self.checked, self.losses.first)
        bad = ~torch.isfinite(self.losses.window(start, step + 1))
        if bool(bad.any()):
            for r in runs:
                row = bad[r.index]
                if r.diverged_at is None and bool(row.any()):
                    r.diverged_at = start + int(row.nonzero()[0, 0])
        self.checked = max(self.checked, step + 1)


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
