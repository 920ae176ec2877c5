"""Several configurations trained at once as one stacked model, with one-by-one results.

    results = train_many([cfg.replace(seed=s) for s in range(8)])   # list[RunResult], in order

Why: a small network spends most of a training step in Python and in per-operation overhead,
layer by layer. Eight runs of it stacked (each layer's weights of all runs in one (C, out, in)
tensor, one batched matrix product for all of them) cost little more than one run.

How: the stack is an engine of core.engine.loop (`StackedEngine`), trained by the same loop as
a single run. Only the matrix products are shared (core.engine.exact); activations, loss,
optimizer (torch.optim over views of the stacked tensors), gradient noise and statistics run
per run through the code a single run uses, so every run gets the RunResult
core.engine.loop.train gives it, bit for bit at a fixed CPU thread count (apart from timings;
tests/test_sweep.py).

Which configs stack (`stack_key`): MLPs without batch norm, dropout, residual connections,
PReLU, augmentation or input noise, that agree on everything that shapes the computation
(data, widths, activation, batch size, epochs, logging, device). They may differ in seed,
initialization, learning rate, optimizer and its settings, schedule, weight decay and gradient
noise (VARYING). Everything else is trained one run at a time.
"""
from __future__ import annotations

import json
import time
from types import SimpleNamespace
from typing import Callable

import torch
import torch.nn.functional as F

from ..base.config import RunConfig, active_limits
from ..base.cost import estimate
from .activations import build_activation
from .data import DataBundle, prepare_data
from .exact import Stack, StackedLinear, Unstack, activation_stacks, realign, stacked_empty
from .loop import resolve_device, run_loop, train
from .step import eval_batches
from .models import Net, build_model
from .result import RunResult

# Settings in which stacked configs may differ; all other settings of the run key must agree.
VARYING = ("seed", "init", "lr", "momentum", "optimizer", "schedule", "weight_decay",
           "grad_noise", "noise_gamma", "noise_unit")
MAX_STACK = 32  # beyond this a batched product gains nothing more


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


def train_many(configs: list[RunConfig], on_event: Callable[[dict], None] | None = None,
               should_stop: Callable[[], bool] | None = None) -> list[RunResult]:
    """Train every config (each distinct run once); returns exactly what core.engine.loop.train
    returns for each, in order. Events are tagged with their run's "run_id"."""
    unique: dict[str, RunConfig] = {}
    for cfg in configs:
        unique.setdefault(cfg.run_id, cfg)
    done: dict[str, RunResult] = {}
    for group in plan_stacks(list(unique.values())):
        if len(group) == 1:
            results = [train(group[0], on_event=on_event, should_stop=should_stop)]
        else:
            results = _train_stacked(group, on_event, should_stop)
        for result in results:
            done[result.run_id] = result
    return [done[cfg.run_id] for cfg in configs]


def _train_stacked(configs: list[RunConfig], on_event, should_stop) -> list[RunResult]:
    t0 = time.perf_counter()
    first = configs[0]
    device = resolve_device(first.device)
    data = prepare_data(first, device)  # no input noise in a stack: one bundle serves all runs
    nets = [build_model(cfg, data.info).to(device) for cfg in configs]
    engine = StackedEngine(nets, data, first, device)
    return run_loop(engine, configs, data, device, on_event, should_stop, t0)


# ---------------------------------------------------------------------- the stacked network
class StackedMLP:
    """The weights of C runs of one MLP architecture, stacked: layer l is (C, out, in), with
    every run's slice aligned like a tensor of its own."""

    def __init__(self, nets: list[Net], activation: str, leaky_slope: float, device: torch.device):
        self.n_runs = n = len(nets)
        self.n_layers = len(nets[0].layers)
        with torch.no_grad():
            self.weights = [Stack.apply(*(net.layers[l].weight for net in nets))
                            for l in range(self.n_layers)]
            self.biases = [Stack.apply(*(net.layers[l].bias for net in nets))
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
        h = realign(x)
        for l in range(self.n_layers):
            z = StackedLinear.apply(h, self.weights[l][runs], self.biases[l][runs],
                                     self.grad_w[l][runs], self.grad_b[l][runs], self.token)
            if l == self.n_layers - 1:
                return z, Unstack.apply(z)
            if activation_stacks(self.acts[l], z):
                # One elementwise op for all runs (and both cores), where it was checked to give
                # every element the bits a single run's call gives it, forward and backward.
                h = self.acts[l](z)
                outs = h.unbind(0)
            else:
                # Per run, so every element goes through the same vectorized or scalar code path
                # as in a single run (transcendental functions differ in the last bit between them).
                outs = [self.acts[l](zc) for zc in Unstack.apply(z)]
                h = Stack.apply(*outs)
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
        for xb, yb in eval_batches(flat, y):
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


class StackedEngine:
    """C runs of one MLP architecture as an engine of core.engine.loop: the stacked network,
    mini-batches gathered for every run at once from its own shuffle order."""

    def __init__(self, nets: list[Net], data: DataBundle, cfg: RunConfig, device: torch.device):
        self.nets, self.n_runs = nets, len(nets)
        self.stack = StackedMLP(nets, cfg.activation, cfg.leaky_slope, device)
        self.layer_names = list(nets[0].layer_names)
        self.x_train, self.y_train = data.x_train.flatten(1), data.y_train
        self._params = [self.stack.run_parameters(c, net) for c, net in enumerate(nets)]

    def parameters(self, c: int) -> list[torch.Tensor]:
        return self._params[c]

    def stats_view(self, c: int):
        """The recorder reads weights and gradients from run c's views of the stack (it calls
        record_activation itself, through forward)."""
        params, n = self._params[c], self.stack.n_layers
        return SimpleNamespace(layers=[SimpleNamespace(weight=params[2 * l]) for l in range(n)],
                               activations=[None] * (n - 1))

    def batch(self, order: torch.Tensor):
        x, y = self.x_train[order], self.y_train[order]  # (C, b, features), (C, b)
        return x, y, [y[c] for c in range(self.n_runs)]

    def forward(self, x: torch.Tensor, recorders):
        record = None
        if recorders is not None:
            record = lambda l, c, out: recorders[c].record_activation(l, out)  # noqa: E731
        return self.stack.forward(x, record)

    def backward(self, losses: list[torch.Tensor]) -> None:
        # The stacked linear layers overwrite the gradient buffers: nothing to zero.
        torch.autograd.backward(losses)

    def hits(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (logits.detach().argmax(2) == y).sum(1)

    def evaluate(self, x: torch.Tensor, y: torch.Tensor, sel: slice):
        return self.stack.evaluate(x, y, sel)

    def finish(self, c: int) -> Net:
        self.stack.copy_into(c, self.nets[c])
        return self.nets[c]
