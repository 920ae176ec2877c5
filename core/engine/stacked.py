"""Train several configurations at once as one stacked model, with one-by-one results.

    results = train_many([cfg.replace(seed=s) for s in range(8)])   # list[RunResult], in order
    results = get_or_train_many(store, configs)   # stored runs load; missing ones train, stacked

Why: a small network spends most of a training step in Python and in per-operation overhead,
layer by layer. Eight runs of it stacked (each layer's weights of all runs in one (C, out, in)
tensor, one batched matrix product for all of them) cost little more than one run.

Which configs stack (`stack_key`): MLPs without batch norm, dropout, residual connections,
PReLU, augmentation or input noise, that agree on everything that shapes the computation
(data, widths, activation, batch size, epochs, logging, device). They may differ in seed,
initialization, learning rate, optimizer and its settings, schedule, weight decay and gradient
noise (VARYING). Everything else is trained one run at a time by core.engine.loop.train.

Exactness: every run gets the RunResult core.engine.loop.train gives it, bit for bit (apart from
timings; tests/test_sweep.py):
- what is not a matrix product runs per run, on that run's slice of the stack, through the
  code a single run uses: activations, loss, optimizer (torch.optim over views of the stacked
  tensors), gradient noise, statistics (core.stats);
- every run's slice of a stacked tensor starts on the boundary a tensor of its own would start
  on (64 bytes on a CPU): MKL rounds some products differently for operands that start
  elsewhere;
- batched matrix products (MKL's batched GEMM on a CPU, cuBLAS's on a GPU) reproduce per-matrix
  ones for most shapes but not all: on an AVX-512 CPU, layers narrower than 16 units differ in
  the last bit. The first use of each shape and layout compares the two on random data, and
  where they differ that product is computed run by run.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .activations import build_activation
from ..config import RunConfig, active_limits
from ..cost import estimate
from .data import DataBundle, prepare_data
from .models import Net, build_model
from .noise import GradientNoise
from .result import RunResult
from .stats import LayerStatsRecorder
from .loop import (EVAL_BATCH, assemble_result, auto_log_every, batch_bounds, make_optimizer,
                    resolve_device, train)

log = logging.getLogger(__name__)

# Settings in which stacked configs may differ; all other settings of the run key must agree.
VARYING = ("seed", "init", "lr", "momentum", "optimizer", "schedule", "weight_decay",
           "grad_noise", "noise_gamma", "noise_unit")
MAX_STACK = 32  # beyond this a batched product gains nothing more


# ---------------------------------------------------------------------- planning
def stack_key(cfg: RunConfig) -> tuple | None:
    """Configs with equal keys can be trained as one stack; None: this one trains alone."""
    if (cfg.arch != "mlp" or cfg.bn != "none" or cfg.dropout > 0 or cfg.residual
            or cfg.activation == "prelu" or cfg.augment or cfg.input_noise > 0):
        return None
    try:
        device = str(resolve_device(cfg.device))
    except RuntimeError:
        return None  # an unavailable device: train() reports it
    shared = {k: v for k, v in cfg.key_dict().items() if k not in VARYING}
    return device, json.dumps(shared, sort_keys=True)


def max_stack(cfg: RunConfig) -> int:
    """How many runs like `cfg` fit in one stack within the memory limit of one training step."""
    per_run = max(estimate(cfg).memory_bytes, 1)
    return int(max(1, min(MAX_STACK, active_limits().max_memory_bytes // per_run)))


def plan_stacks(configs: list[RunConfig]) -> list[list[RunConfig]]:
    """Groups to train together, in order of first appearance; unstackable configs alone."""
    groups, keyed = [], {}
    for cfg in configs:
        key = stack_key(cfg)
        if key is None:
            groups.append([cfg])
        elif key in keyed:
            keyed[key].append(cfg)
        else:
            keyed[key] = [cfg]
            groups.append(keyed[key])
    out = []
    for group in groups:
        cap = max_stack(group[0])
        out += [group[i:i + cap] for i in range(0, len(group), cap)]
    return out


# ---------------------------------------------------------------------- public entry points
def train_many(configs: list[RunConfig], on_event: Callable[[dict], None] | None = None,
               should_stop: Callable[[], bool] | None = None) -> list[RunResult]:
    """Train every config; returns exactly what core.engine.loop.train returns for each, in order.

    Events are those of core.engine.loop.train with the run's "run_id" added.
    """
    unique: dict[str, RunConfig] = {}
    for cfg in configs:
        unique.setdefault(cfg.run_id, cfg)
    done: dict[str, RunResult] = {}
    for group in plan_stacks(list(unique.values())):
        if len(group) == 1:
            cfg = group[0]
            done[cfg.run_id] = train(cfg, on_event=_tagged(on_event, cfg), should_stop=should_stop)
        else:
            for result in _train_stacked(group, on_event, should_stop):
                done[result.run_id] = result
    return [done[cfg.run_id] for cfg in configs]


def get_or_train_many(store, configs: list[RunConfig], on_event: Callable[[dict], None] | None = None,
                      should_stop: Callable[[], bool] | None = None) -> list[RunResult]:
    """RunStore.get_or_train for several configs: stored runs load; the missing ones are trained
    once (under their store locks, taken in run-id order so two callers never deadlock), stacked
    where they can be, and saved (completed and diverged runs, as get_or_train does)."""
    found: dict[str, RunResult] = {}
    missing: dict[str, RunConfig] = {}
    for cfg in configs:
        if cfg.run_id in found or cfg.run_id in missing:
            continue
        result = store.load_or_drop(cfg.run_id)
        if result is not None:
            found[cfg.run_id] = result
        else:
            missing[cfg.run_id] = cfg
    if missing:
        with ExitStack() as locks:
            for run_id in sorted(missing):
                locks.enter_context(store.lock(run_id))
            todo = []
            for run_id, cfg in missing.items():
                result = store.load_or_drop(run_id)  # someone may have trained it while we waited
                if result is not None:
                    found[run_id] = result
                else:
                    todo.append(cfg)
            for result in train_many(todo, on_event, should_stop) if todo else []:
                store.keep(result)
                found[result.run_id] = result
    return [found[cfg.run_id] for cfg in configs]


def _tagged(on_event, cfg: RunConfig):
    if on_event is None:
        return None
    return lambda event: on_event({**event, "run_id": cfg.run_id})


# ---------------------------------------------------------------------- aligned stacks
def _align_bytes(device: torch.device) -> int:
    """Where a fresh tensor starts: 64 bytes on the CPU, 512 on a GPU (the caching allocator).
    MKL's GEMM can round differently for operands that start elsewhere, so every run's slice of
    a stacked tensor starts on such a boundary, as the tensors of a single run do."""
    return 64 if device.type == "cpu" else 512


def stacked_empty(n_runs: int, shape, like: torch.Tensor) -> torch.Tensor:
    """An uninitialized (n_runs, *shape) tensor whose per-run slices start aligned."""
    shape = tuple(shape)
    numel = int(np.prod(shape)) if shape else 1
    step = max(1, _align_bytes(like.device) // like.element_size())
    stride = -(-numel // step) * step
    if stride == numel:
        return like.new_empty((n_runs, *shape))
    return like.new_empty((n_runs, stride))[:, :numel].view(n_runs, *shape)


def _aligned(t: torch.Tensor) -> bool:
    """Every run's slice of a stacked tensor starts aligned (a broadcast one shares one slice)."""
    align = _align_bytes(t.device)
    return t.data_ptr() % align == 0 and (t.stride(0) * t.element_size()) % align == 0


def _realign(t: torch.Tensor) -> torch.Tensor:
    if _aligned(t):
        return t
    out = stacked_empty(t.shape[0], t.shape[1:], t)
    return out.copy_(t)


class _Stack(torch.autograd.Function):
    """torch.stack of the runs' tensors into an aligned stack; backward hands back the slices."""

    @staticmethod
    def forward(ctx, *parts):
        out = stacked_empty(len(parts), parts[0].shape, parts[0])
        if out.is_contiguous():
            return torch.stack(parts, out=out)
        for c, part in enumerate(parts):
            out[c].copy_(part)
        return out

    @staticmethod
    def backward(ctx, grad):
        return tuple(grad[c] for c in range(grad.shape[0]))


class _Unstack(torch.autograd.Function):
    """The runs' slices of a stack; backward gathers their gradients into an aligned stack."""

    @staticmethod
    def forward(ctx, stacked):
        ctx.shape, ctx.like = stacked.shape, stacked.new_empty(0)
        return tuple(stacked[c] for c in range(stacked.shape[0]))

    @staticmethod
    def backward(ctx, *grads):
        out = stacked_empty(ctx.shape[0], ctx.shape[1:], ctx.like)
        if out.is_contiguous() and all(g is not None for g in grads):
            return torch.stack(grads, out=out)
        for c, g in enumerate(grads):
            if g is None:
                out[c].zero_()
            else:
                out[c].copy_(g)
        return out


# ---------------------------------------------------------------------- exact batched products
# (op, threads, shapes and strides) -> whether the batched op equals the per-run loop.
_VERDICTS: dict[tuple, bool] = {}
_VERDICTS_LOCK = threading.Lock()
_AS_INT = {torch.float32: torch.int32, torch.float64: torch.int64, torch.float16: torch.int16,
           torch.bfloat16: torch.int16}


def _addmm_batched(b, h, w, out):
    return torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2), out=out)


def _addmm_looped(b, h, w, out):
    # What nn.Linear computes for one run: addmm(bias, input, weight.t()).
    for c in range(w.shape[0]):
        torch.addmm(b[c], h[c], w[c].t(), out=out[c])
    return out


def _wgrad_batched(g, h, out):
    return torch.bmm(g.transpose(1, 2), h, out=out)


def _wgrad_looped(g, h, out):
    # Autograd's weight gradient of addmm(bias, input, weight.t()): grad.t() @ input.
    for c in range(g.shape[0]):
        torch.mm(g[c].t(), h[c], out=out[c])
    return out


def _igrad_batched(g, w, out):
    return torch.bmm(g, w, out=out)


def _igrad_looped(g, w, out):
    for c in range(g.shape[0]):
        torch.mm(g[c], w[c], out=out[c])
    return out


def _bgrad_batched(g, out):
    return torch.sum(g, dim=1, out=out)


def _bgrad_looped(g, out):
    for c in range(g.shape[0]):
        torch.sum(g[c], dim=0, out=out[c])
    return out


def _exact(name: str, batched, looped, *operands, out: torch.Tensor) -> torch.Tensor:
    """batched(*operands, out) where it reproduces a single run's result bit for bit, else
    looped(...) on aligned operands (checked once per shape and layout, see _probe)."""
    key = (name, torch.get_num_threads(), out.dtype, out.device.type,
           *((tuple(t.shape), t.stride(), _aligned(t)) for t in (*operands, out)))
    verdict = _VERDICTS.get(key)
    if verdict is None:
        verdict = _probe(batched, looped, operands, out)
        with _VERDICTS_LOCK:
            _VERDICTS[key] = verdict
    if verdict:
        return batched(*operands, out)
    if _aligned(out):
        return looped(*map(_realign, operands), out)
    return out.copy_(looped(*map(_realign, operands), stacked_empty(out.shape[0], out.shape[1:], out)))


def _probe(batched, looped, operands, out) -> bool:
    """Does `batched` on these layouts equal the per-run loop on freshly allocated (aligned)
    operands, like a single run's? Random values rather than the run's own: zeros (say, a
    zero-initialized layer) would agree whatever the kernel."""
    gen = torch.Generator(device=out.device).manual_seed(12345)
    rand = []
    for t in operands:
        if 0 in t.stride():  # a broadcast operand (the evaluation batch all runs share)
            compact = [1 if s == 0 else n for n, s in zip(t.shape, t.stride())]
            rand.append(torch.randn(compact, generator=gen, dtype=t.dtype, device=t.device).expand(t.shape))
            continue
        r = torch.empty_strided(t.shape, t.stride(), dtype=t.dtype, device=t.device)
        if r.data_ptr() % _align_bytes(t.device) != t.data_ptr() % _align_bytes(t.device):
            return False  # cannot reproduce this layout: use the loop
        rand.append(r.copy_(torch.randn(t.shape, generator=gen, dtype=t.dtype, device=t.device)))
    fresh = torch.empty_strided(out.shape, out.stride(), dtype=out.dtype, device=out.device)
    a = batched(*rand, fresh)
    b = looped(*(_realign(r) for r in rand), stacked_empty(out.shape[0], out.shape[1:], out))
    as_int = _AS_INT.get(out.dtype)
    return as_int is not None and torch.equal(a.contiguous().view(as_int), b.contiguous().view(as_int))


def _activation_stacks(act: torch.nn.Module, z: torch.Tensor) -> bool:
    """May `act` run on the whole stack z (C, B, width) at once? Yes where, on random data of
    this shape and layout, its output and its input gradient equal those of the per-run calls
    bit for bit, and every run's slice of the output starts aligned (so the statistics that
    read it see what a single run's tensor would give them). Checked once per shape."""
    key = ("activation", repr(act), torch.get_num_threads(), z.dtype, z.device.type,
           tuple(z.shape), z.stride(), _aligned(z))
    verdict = _VERDICTS.get(key)
    if verdict is None:
        verdict = _probe_activation(act, z)
        with _VERDICTS_LOCK:
            _VERDICTS[key] = verdict
    return verdict


def _probe_activation(act: torch.nn.Module, z: torch.Tensor) -> bool:
    per_run = int(np.prod(z.shape[1:])) * z.element_size()
    if not _aligned(z) or per_run % _align_bytes(z.device):
        return False
    as_int = _AS_INT.get(z.dtype)
    if as_int is None:
        return False
    gen = torch.Generator(device=z.device).manual_seed(12345)
    # Spread over the range where activations bend and saturate (|x| up to ~12).
    data = 4 * torch.randn(z.shape, generator=gen, dtype=z.dtype, device=z.device)
    grad = torch.randn(z.shape, generator=gen, dtype=z.dtype, device=z.device)
    with torch.enable_grad():
        x = stacked_empty(z.shape[0], z.shape[1:], z).copy_(data).requires_grad_(True)
        out = act(x)
        (gx,) = torch.autograd.grad(out, x, grad)
        for c in range(z.shape[0]):
            xc = data[c].clone().requires_grad_(True)  # a fresh tensor, as a single run's
            oc = act(xc)
            (gc,) = torch.autograd.grad(oc, xc, grad[c].clone())
            if not (torch.equal(out[c].detach().view(as_int), oc.detach().view(as_int))
                    and torch.equal(gx[c].view(as_int), gc.view(as_int))):
                return False
    return out.data_ptr() % _align_bytes(z.device) == 0


class _StackedLinear(torch.autograd.Function):
    """y[c] = h[c] @ w[c].T + b[c] for every run c; the backward writes the weight and bias
    gradients into the stack's gradient buffers (which the runs' parameter views read)."""

    @staticmethod
    def forward(ctx, h, w, b, grad_w, grad_b, token):
        ctx.save_for_backward(h, w)
        ctx.buffers = grad_w, grad_b
        out = stacked_empty(w.shape[0], (h.shape[1], w.shape[1]), h)
        return _exact("addmm", _addmm_batched, _addmm_looped, b, h, w, out=out)

    @staticmethod
    def backward(ctx, g):
        h, w = ctx.saved_tensors
        grad_w, grad_b = ctx.buffers
        g = _realign(g)
        _exact("wgrad", _wgrad_batched, _wgrad_looped, g, h, out=grad_w)
        _exact("bgrad", _bgrad_batched, _bgrad_looped, g, out=grad_b)
        gh = None
        if ctx.needs_input_grad[0]:
            gh = _exact("igrad", _igrad_batched, _igrad_looped, g, w,
                        out=stacked_empty(h.shape[0], h.shape[1:], h))
        return gh, None, None, None, None, None


class StackedMLP:
    """The weights of C runs of one MLP architecture, stacked: layer l is (C, out, in), with
    every run's slice aligned like a tensor of its own."""

    def __init__(self, nets: list[Net], activation: str, leaky_slope: float, device: torch.device):
        self.n_runs = n = len(nets)
        self.n_layers = len(nets[0].layers)
        with torch.no_grad():
            self.weights = [_Stack.apply(*(net.layers[l].weight for net in nets))
                            for l in range(self.n_layers)]
            self.biases = [_Stack.apply(*(net.layers[l].bias for net in nets))
                           for l in range(self.n_layers)]
        self.grad_w = [stacked_empty(n, w.shape[1:], w).zero_() for w in self.weights]
        self.grad_b = [stacked_empty(n, b.shape[1:], b).zero_() for b in self.biases]
        # Activation modules are stateless here (PReLU does not stack); one per hidden layer.
        self.acts = [build_activation(activation, leaky_slope) for _ in range(self.n_layers - 1)]
        # An input that requires grad, so the first layer's backward runs (the data does not).
        self.token = torch.zeros((), device=device, requires_grad=True)

    def run_parameters(self, c: int, net: Net) -> list[torch.Tensor]:
        """Run c's parameters as leaf views of the stack, in net.parameters() order, each with
        .grad on its slice of the gradient buffers: torch.optim updates the stack in place."""
        slot = {}
        for l, layer in enumerate(net.layers):
            slot[id(layer.weight)] = (self.weights[l][c], self.grad_w[l][c])
            slot[id(layer.bias)] = (self.biases[l][c], self.grad_b[l][c])
        params = []
        for p in net.parameters():
            view, grad = slot[id(p)]
            view.requires_grad_(True)
            view.grad = grad
            params.append(view)
        return params

    def forward(self, x: torch.Tensor, record=None, runs: slice = slice(None)):
        """x (C, B, features) -> (logits (C, B, classes), the runs' logits as a tuple).

        record(layer, run, output) sees each hidden activation output (B, width) of each run."""
        h = _realign(x)
        for l in range(self.n_layers):
            z = _StackedLinear.apply(h, self.weights[l][runs], self.biases[l][runs],
                                     self.grad_w[l][runs], self.grad_b[l][runs], self.token)
            if l == self.n_layers - 1:
                return z, _Unstack.apply(z)
            if _activation_stacks(self.acts[l], z):
                # One elementwise op for all runs (and both cores), where it was checked to give
                # every element the bits a single run's call gives it, forward and backward.
                h = self.acts[l](z)
                outs = h.unbind(0)
            else:
                # Per run, so every element goes through the same vectorized or scalar code path
                # as in a single run (transcendental functions differ in the last bit between them).
                outs = [self.acts[l](zc) for zc in _Unstack.apply(z)]
                h = _Stack.apply(*outs)
            if record is not None:
                for c, out in enumerate(outs):
                    record(l, c, out)
        raise AssertionError("unreachable: the last layer returns")

    @torch.no_grad()
    def evaluate(self, x: torch.Tensor, y: torch.Tensor, runs: slice = slice(None)):
        """Mean cross-entropy and accuracy of each selected run on a split, as core.engine.loop.evaluate."""
        k = len(range(self.n_runs)[runs])
        loss_sum = torch.zeros(k, device=x.device)
        correct = torch.zeros(k, device=x.device)
        flat = x.flatten(1)
        for s in range(0, len(flat), EVAL_BATCH):
            xb, yb = flat[s:s + EVAL_BATCH], y[s:s + EVAL_BATCH]
            logits, parts = self.forward(xb.unsqueeze(0).expand(k, -1, -1), runs=runs)
            loss_sum += torch.stack([F.cross_entropy(z, yb, reduction="sum") for z in parts])
            correct += (logits.argmax(2) == yb).sum(1)
        n = max(len(flat), 1)
        return [float(v) / n for v in loss_sum], [float(v) / n for v in correct]

    @torch.no_grad()
    def copy_into(self, c: int, net: Net) -> None:
        for l, layer in enumerate(net.layers):
            layer.weight.copy_(self.weights[l][c])
            layer.bias.copy_(self.biases[l][c])


# ---------------------------------------------------------------------- the stacked loop
@dataclass
class _Run:
    """One run's own state inside a stack: everything core.engine.loop.train keeps per run."""

    index: int
    cfg: RunConfig
    net: Net
    params: list
    opt: torch.optim.Optimizer
    sched: object
    noise: GradientNoise | None
    recorder: LayerStatsRecorder
    shuffle: torch.Generator
    emit: Callable[[dict], None]
    status: str = "running"  # then completed, diverged or cancelled
    closed: bool = False  # its last epoch row is written
    diverged_at: int | None = None
    steps: int = 0  # steps run, once closed
    epoch_rows: list = field(default_factory=list)
    seconds: float = 0.0


def _train_stacked(configs: list[RunConfig], on_event, should_stop) -> list[RunResult]:
    t0 = time.perf_counter()
    first = configs[0]
    device = resolve_device(first.device)
    data = prepare_data(first, device)  # no input noise in a stack: one bundle serves all runs
    nets = [build_model(cfg, data.info).to(device) for cfg in configs]
    stack = StackedMLP(nets, first.activation, first.leaky_slope, device)
    bounds = batch_bounds(len(data.y_train), first.batch_size)
    total_steps = len(bounds) * first.epochs
    log_every = first.log_every or auto_log_every(total_steps)
    runs = [_new_run(c, cfg, net, stack, device, log_every, on_event)
            for c, (cfg, net) in enumerate(zip(configs, nets))]
    n_runs = len(runs)
    losses = torch.full((n_runs, total_steps), float("nan"), device=device)
    checked = 0  # like core.engine.loop's guard: losses before this step are known to be finite
    guard_every = 1 if device.type == "cpu" else 25
    x_train = data.x_train.flatten(1)
    for run in runs:
        run.emit({"kind": "start", "total_steps": total_steps, "epochs": first.epochs, "device": str(device)})

    step = 0
    for epoch in range(1, first.epochs + 1):
        e0 = time.perf_counter()
        order = torch.stack([torch.randperm(len(data.y_train), generator=r.shuffle) for r in runs]).to(device)
        loss_sum = torch.zeros(n_runs, device=device)
        correct = torch.zeros(n_runs, device=device)
        seen = 0
        noise_std = [r.noise.std_at(epoch - 1, step) if r.noise else 0.0 for r in runs]
        epoch_state = _EpochState(epoch, e0, t0, noise_std, loss_sum, correct)
        for lo, hi in bounds:
            idx = order[:, lo:hi]
            x, y = x_train[idx], data.y_train[idx]  # (C, b, features), (C, b)
            logged = step % log_every == 0
            record = (lambda l, c, out: runs[c].recorder.record_activation(l, out)) if logged else None
            logits, parts = stack.forward(x, record)
            step_losses = [F.cross_entropy(z, y[c]) for c, z in enumerate(parts)]
            torch.autograd.backward(step_losses)
            active = [r for r in runs if r.status == "running"]
            for r in active:
                if logged:
                    r.recorder.record_gradients("true")
                if r.noise:
                    r.noise.add_(r.params, epoch - 1, step)
                    if logged:
                        r.recorder.record_gradients("noisy")
                if logged:
                    r.recorder.before_update()
                r.opt.step()
            step_loss = torch.stack([v.detach() for v in step_losses])
            losses[:, step] = step_loss
            loss_sum += step_loss * (hi - lo)
            correct += (logits.detach().argmax(2) == y).sum(1)
            seen += hi - lo
            for r in active:
                if logged:
                    grad_stats = r.recorder.after_update(step, epoch)
                    r.emit({"kind": "log", "step": step, "total_steps": total_steps, "epoch": epoch,
                            "elapsed": time.perf_counter() - t0, "grad_flow": grad_stats[:, 1].tolist()})
                    if not np.isfinite(grad_stats).all():
                        r.diverged_at = step
            if step % guard_every == 0:
                checked = _check_losses(losses, checked, step, active)
            step += 1
            epoch_state.steps, epoch_state.seen = step, seen
            for r in active:  # a run that diverged ends its epoch now, as a single run would
                if r.diverged_at is not None:
                    r.status = "diverged"
                    _close_alone(r, stack, data, epoch_state)
            still = [r for r in runs if r.status == "running"]
            if not still:
                break
            if should_stop is not None and should_stop():
                for r in still:
                    r.status = "cancelled"
                break
        if device.type != "cpu":  # the guard's last look of the epoch, as in core.engine.loop
            going = [r for r in runs if r.status == "running"]
            _check_losses(losses, checked, step - 1, going)
            for r in going:
                if r.diverged_at is not None:
                    r.status = "diverged"
        ending = [r for r in runs if not r.closed]
        if ending:
            _close_together(ending, stack, data, epoch_state)
        if not any(r.status == "running" for r in runs):
            break
        for r in runs:
            if r.status == "running" and r.sched is not None:
                r.sched.step()

    results = []
    for r in runs:
        if r.status == "running":
            r.status, r.steps, r.seconds = "completed", step, time.perf_counter() - t0
        stack.copy_into(r.index, r.net)
        r.emit({"kind": "end", "status": r.status, "elapsed": r.seconds})
        results.append(assemble_result(
            r.cfg, r.status, r.epoch_rows, losses[r.index], r.steps, len(bounds), r.recorder,
            r.net, data, device, log_every, r.diverged_at, r.seconds, trained_with=n_runs))
    return results


@dataclass
class _EpochState:
    """What closing an epoch needs: the epoch's running sums and clocks."""

    epoch: int
    e0: float
    t0: float
    noise_std: list
    loss_sum: torch.Tensor
    correct: torch.Tensor
    steps: int = 0
    seen: int = 0


def _new_run(c: int, cfg: RunConfig, net: Net, stack: StackedMLP, device, log_every, on_event) -> _Run:
    params = stack.run_parameters(c, net)
    opt = make_optimizer(cfg, params)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs, eta_min=cfg.lr / 50) \
        if cfg.schedule == "cosine" else None
    noise = GradientNoise(cfg.grad_noise, cfg.noise_gamma, cfg.noise_unit, cfg.seed, device) \
        if cfg.grad_noise > 0 else None
    # The recorder reads weights and gradients from the run's views of the stack.
    view = SimpleNamespace(layers=[SimpleNamespace(weight=params[2 * l]) for l in range(stack.n_layers)],
                           activations=[None] * (stack.n_layers - 1))
    recorder = LayerStatsRecorder(view, cfg.activation, log_every, noise_on=noise is not None)
    return _Run(index=c, cfg=cfg, net=net, params=params, opt=opt, sched=sched, noise=noise,
                recorder=recorder, shuffle=torch.Generator().manual_seed(cfg.seed),
                emit=_tagged(on_event, cfg) or (lambda event: None))


def _check_losses(losses: torch.Tensor, checked: int, step: int, active: list[_Run]) -> int:
    """Mark each active run whose loss turned non-finite since `checked` with its first bad step."""
    window = losses[:, checked: step + 1]
    bad = ~torch.isfinite(window)
    if bool(bad.any()):
        for r in active:
            row = bad[r.index]
            if r.diverged_at is None and bool(row.any()):
                r.diverged_at = checked + int(row.nonzero()[0, 0])
    return step + 1


def _close_alone(r: _Run, stack: StackedMLP, data: DataBundle, state: _EpochState) -> None:
    """A run that diverged mid-epoch: evaluate it alone, now, with its weights now."""
    one = slice(r.index, r.index + 1)
    (val_loss,), (val_acc,) = stack.evaluate(data.x_val, data.y_val, one)
    (test_loss,), (test_acc,) = stack.evaluate(data.x_test, data.y_test, one)
    _close(r, state, val_loss, val_acc, test_loss, test_acc)


def _close_together(runs: list[_Run], stack: StackedMLP, data: DataBundle, state: _EpochState) -> None:
    """End of an epoch for the runs not closed yet: one stacked evaluation for all of them."""
    val_loss, val_acc = stack.evaluate(data.x_val, data.y_val)
    test_loss, test_acc = stack.evaluate(data.x_test, data.y_test)
    for r in runs:
        c = r.index
        _close(r, state, val_loss[c], val_acc[c], test_loss[c], test_acc[c])


def _close(r: _Run, state: _EpochState, val_loss, val_acc, test_loss, test_acc) -> None:
    """The epoch row (as core.engine.loop.train writes it); a run that stopped is closed for good."""
    c = r.index
    row = dict(epoch=state.epoch, train_loss=float(state.loss_sum[c]) / max(state.seen, 1),
               train_acc=float(state.correct[c]) / max(state.seen, 1), val_loss=val_loss,
               val_acc=val_acc, test_loss=test_loss, test_acc=test_acc,
               lr=r.opt.param_groups[0]["lr"], noise_std=state.noise_std[c],
               seconds=time.perf_counter() - state.e0)
    r.epoch_rows.append(row)
    elapsed = time.perf_counter() - state.t0
    r.emit({"kind": "epoch", **row, "epochs": r.cfg.epochs, "elapsed": elapsed,
            "eta": elapsed / state.epoch * (r.cfg.epochs - state.epoch)})
    if r.status != "running":
        r.closed, r.steps, r.seconds = True, state.steps, elapsed
