"""The training loop: one loop for a single run, for a stack of runs trained together and for
the Playground, stepping one mini-batch at a time.

    result = train(RunConfig(activation="tanh"), on_event=print)
    results = core.engine.stacked.train_many(configs)   # the same loop over a stacked network

    trainer = Trainer(engine, configs, data, device)    # core.engine.step's engines
    records = trainer.measure()                         # step 0 without an update (the probe)
    while not trainer.done:
        records = trainer.advance()                     # one step; its StepRecords when logged
    results = trainer.results()

`run_loop` drains a Trainer; the Playground's worker advances one (endless: no last epoch, no
evaluation at epoch ends, logged when it asks); the probe is a Trainer's `measure`. Each logged
step yields one core.engine.record.StepRecord per run, which the stored tables, the job queue's
live view, the Playground's frames and the probe all read. `on_event` receives progress events,
each with the run's "run_id":

    {"kind": "start", "total_steps", "epochs", "device", "layers"}
    {"kind": "log", "step", "total_steps", "epoch", "elapsed", "loss", "record"}
    {"kind": "epoch", "epoch", "epochs", "train_loss", ..., "elapsed", "eta"}
    {"kind": "end", "status", "elapsed"}

A non-finite loss (or a non-finite gradient at a logged step) ends that run with status
"diverged"; what was logged up to that step is kept. `should_stop()` returning True ends the
runs still training with status "cancelled".
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from ..base.config import RunConfig
from ..base.cost import auto_log_every  # the logging rule lives with the cost model
from .data import DataBundle, prepare_data
from .models import build_model
from .record import StepRecord
from .result import RunResult, assemble_result
from .step import (CANCELLED, COMPLETED, DIVERGED, RUNNING, DivergenceGuard, LossLog, PlainEngine,  # noqa: F401
                   RunState, batch_bounds, evaluate, make_optimizer, resolve_device, train_step)

ENDLESS_LOG = 512  # steps of loss an endless trainer keeps for its divergence guard


@dataclass
class _Epoch:
    """One epoch's running sums over the runs (every run sees the same batch sizes)."""

    number: int
    started: float
    noise_std: list
    loss_sum: torch.Tensor  # (n_runs,)
    correct: torch.Tensor  # (n_runs,)
    seen: int = 0


class Trainer:
    """The engine's runs (configs[c] is run c; they agree on data, batch size, epochs and
    logging), trained one step at a time. `endless`: no last epoch and no evaluation at epoch
    ends (the Playground evaluates when it draws), a constant learning rate."""

    def __init__(self, engine, configs: list[RunConfig], data: DataBundle, device: torch.device,
                 on_event: Callable[[dict], None] | None = None, t0: float | None = None,
                 endless: bool = False):
        self.t0 = time.perf_counter() if t0 is None else t0
        self.engine, self.configs, self.data, self.device, self.endless = engine, configs, data, device, endless
        first = configs[0]
        self.bounds = batch_bounds(len(data.y_train), first.batch_size)
        self.total_steps = None if endless else len(self.bounds) * first.epochs
        self.log_every = first.log_every or (1 if endless else auto_log_every(self.total_steps))
        self.runs = [RunState.create(c, cfg, engine, self.log_every, device, on_event)
                     for c, cfg in enumerate(configs)]
        self.losses = LossLog(len(self.runs), ENDLESS_LOG if endless else self.total_steps, device, endless)
        self.guard = DivergenceGuard(device, self.losses)
        self.step, self.pos = 0, 0
        for r in self.runs:
            r.emit({"kind": "start", "total_steps": self.total_steps, "epochs": first.epochs,
                    "device": str(device), "layers": engine.layer_names})
        self._begin_epoch(1)

    # ------------------------------------------------------------------ state
    @property
    def running(self) -> list[RunState]:
        return [r for r in self.runs if r.status == RUNNING]

    @property
    def done(self) -> bool:
        return not self.running

    @property
    def epoch_number(self) -> int:
        return self.epoch.number

    def _begin_epoch(self, number: int) -> None:
        n_runs, n = len(self.runs), len(self.data.y_train)
        self.order = torch.stack([torch.randperm(n, generator=r.shuffle) for r in self.runs]).to(self.device)
        self.epoch = _Epoch(number, time.perf_counter(),
                            [r.noise.std_at(number - 1, self.step) if r.noise else 0.0 for r in self.runs],
                            torch.zeros(n_runs, device=self.device), torch.zeros(n_runs, device=self.device))
        self.pos = 0

    def position(self) -> dict:
        """Where the trainer stands (with each run's optimizer and generators, the state to resume)."""
        return {"step": self.step, "epoch": self.epoch.number, "pos": self.pos, "order": self.order}

    def resume(self, position: dict) -> None:
        self._begin_epoch(position["epoch"])
        self.step, self.pos, self.order = position["step"], position["pos"], position["order"]
        self.guard.checked = self.losses.first = self.step

    # ------------------------------------------------------------------ steps
    def measure(self) -> list[StepRecord]:
        """Step 0 without an update: forward and backward on the next mini-batch, each run's
        statistics before anything changed (the update ratio is 0). What the probe reports."""
        lo, hi = self.bounds[self.pos]
        x, _, ys = self.engine.batch(self.order[:, lo:hi])
        _, parts = self.engine.forward(x, [r.recorder for r in self.runs])
        losses = [F.cross_entropy(z, yc) for z, yc in zip(parts, ys)]
        self.engine.backward(losses)
        records = []
        for r, loss in zip(self.runs, losses):
            r.recorder.record_gradients("true")
            r.recorder.before_update()
            record = r.recorder.after_update(self.step, self.epoch.number)
            record.loss = float(loss.detach())
            records.append(record)
        return records

    def advance(self, logged: bool | None = None,
                should_stop: Callable[[], bool] | None = None) -> list[StepRecord]:
        """One optimization step of the runs still training; the records of a logged step (by
        default every log_every steps). Ends the epoch after its last mini-batch."""
        step, epoch, (lo, hi) = self.step, self.epoch, self.bounds[self.pos]
        logged = step % self.log_every == 0 if logged is None else logged
        active = self.running
        step_loss, logits, y = train_step(self.engine, self.runs, self.order[:, lo:hi], step, epoch.number, logged)
        self.losses.put(step, step_loss)
        if not self.endless:
            epoch.loss_sum += step_loss * (hi - lo)
            epoch.correct += self.engine.hits(logits, y)
            epoch.seen += hi - lo
        latest = step_loss.tolist() if self.guard.every == 1 else None  # on the CPU: one copy, no sync
        records = [r.log(step, epoch.number, self.total_steps, time.perf_counter() - self.t0,
                         float(step_loss[r.index])) for r in active] if logged else []
        self.guard.check(step, active, latest=latest)
        self.step, self.pos = step + 1, self.pos + 1
        for r in active:
            if r.diverged_at is not None:
                r.status = DIVERGED
        still = [r for r in active if r.status == RUNNING]
        if still and should_stop is not None and should_stop():
            for r in still:
                r.status = CANCELLED
        stopped = [r for r in active if r.status != RUNNING]
        if stopped and not self.endless:  # a run that stops ends its epoch now, with its weights now
            _close(self.engine, stopped, self.data, epoch, self.step, self.t0)
        if self.pos == len(self.bounds) and not self.done:
            self._end_epoch()
        return records

    def _end_epoch(self) -> None:
        epoch, going = self.epoch, self.running
        if self.endless:
            return self._begin_epoch(epoch.number + 1)
        if self.device.type != "cpu":  # the guard's last look of the epoch
            self.guard.check(self.step - 1, going, force=True)
            for r in going:
                if r.diverged_at is not None:
                    r.status = DIVERGED
        _close(self.engine, going, self.data, epoch, self.step, self.t0)
        for r in self.running:
            if r.sched is not None:
                r.sched.step()
        if epoch.number == self.configs[0].epochs:
            for r in self.running:
                r.status, r.steps, r.seconds = COMPLETED, self.step, time.perf_counter() - self.t0
        else:
            self._begin_epoch(epoch.number + 1)

    def results(self) -> list[RunResult]:
        """Each run's RunResult, in order (a run still training is closed as completed)."""
        results = []
        for r in self.runs:
            if r.status == RUNNING:
                r.status, r.steps, r.seconds = COMPLETED, self.step, time.perf_counter() - self.t0
            net = self.engine.finish(r.index)
            r.emit({"kind": "end", "status": r.status, "elapsed": r.seconds})
            results.append(assemble_result(
                r.cfg, r.status, r.epoch_rows, self.losses.values[r.index], r.steps, len(self.bounds),
                r.recorder, net, self.data, self.device, self.log_every, r.diverged_at, r.seconds,
                **({"trained_with": len(self.runs)} if len(self.runs) > 1 else {})))
        return results


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
    """Train the engine's runs to their end and return each run's RunResult, in order."""
    trainer = Trainer(engine, configs, data, device, on_event, t0)
    while not trainer.done:
        trainer.advance(should_stop=should_stop)
    return trainer.results()


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
