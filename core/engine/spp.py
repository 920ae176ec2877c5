"""Signal propagation plots (Brock, De & Smith 2021) and the measured side of core.engine.signalprop.

    frame = spp_frame(cfg)                     # at initialization, on the probe's batch
    frame = spp_frame(cfg, steps=(0, 20, 50))  # and after 20 and 50 training steps (the engine's Trainer)
    back = measured_moments(cfg)               # E[h^2], E[(dL/dh)^2] at every activation output, at init

Per block of the network (the entry unit, each processing or residual block, each reduction block;
an MLP's units or residual blocks), at its output, over one fixed batch in train mode:

    sq_channel_mean   the average over channels of the squared channel mean (over examples and pixels)
    channel_var       the average over channels of the channel variance
    branch_var        residual blocks: the same variance of the residual branch, before the addition

A healthy network keeps the channel variance near constant and the squared channel mean small;
in a plain deep VGG both collapse, with batch norm the variance is reset at every unit, and an
unnormalized residual network's variance grows block by block. Everything is read by forward
hooks; training steps are the engine's own (core.engine.loop.Trainer), and batch norm's running
statistics are put back after each measurement, so measuring changes nothing.
"""
from __future__ import annotations

import contextlib

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from .data import prepare_data
from .loop import Trainer
from .models import Net, ResidualBlock, build_model
from .probe import probe_batch
from .step import PlainEngine

SPP_STATS = ("sq_channel_mean", "channel_var", "branch_var")
MAX_SPP_STEPS = 500  # training steps a measurement may take (each is a full training step)


def probe_examples(cfg, data) -> tuple[torch.Tensor, torch.Tensor]:
    """The batch core.engine.probe.probe_at_init uses: probe_batch(cfg) examples chosen by cfg.seed."""
    g = torch.Generator().manual_seed(cfg.seed)
    idx = torch.randperm(len(data.y_train), generator=g)[:probe_batch(cfg)]
    return data.x_train[idx], data.y_train[idx]


def _name(net: Net, part: nn.Module) -> str | None:
    """A block's name from its weight layers: 'entry', 's1.b2', 's1.red', 'fc3' or 'fc2-fc3'."""
    ids = {id(m) for m in part.modules()}
    names = [n for n, m in zip(net.layer_names, net.layers) if id(m) in ids]
    if not names:
        return None
    if len(names) == 1:
        return names[0]
    first, last = names[0].rsplit(".", 1)[0], names[-1].rsplit(".", 1)[0]
    return first if first == last and "." in names[0] else f"{names[0]}-{names[-1]}"


def blocks(net: Net) -> list[tuple[str, nn.Module, nn.Module | None]]:
    """(name, block, the module whose output is its residual branch or None), input to output."""
    out = []
    for part in net.body.parts:
        name = _name(net, part)
        if name is None:
            continue
        branch = None
        if isinstance(part, ResidualBlock):
            last = part.units[-1]
            branch = last.norm_before if last.norm_before is not None else last.weight
        out.append((name, part, branch))
    return out


def _channel_stats(x: torch.Tensor) -> tuple[float, float]:
    """(mean over channels of the squared channel mean, mean over channels of the channel variance)."""
    x = x.detach().double()
    flat = x.transpose(0, 1).reshape(x.shape[1], -1)
    return float(flat.mean(1).pow(2).mean()), float(flat.var(1, unbiased=False).mean())


@contextlib.contextmanager
def _hooks(modules: list[tuple[str, nn.Module]], seen: dict):
    handles = [m.register_forward_hook(lambda mod, args, out, key=key: seen.__setitem__(key, out))
               for key, m in modules]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


@torch.no_grad()
def spp_at(net: Net, x: torch.Tensor, step: int = 0) -> pd.DataFrame:
    """The signal propagation plot's rows of `net` on the batch x now: block, name, step, stat, value."""
    parts = blocks(net)
    watched = [((name, "out"), part) for name, part, _ in parts] + \
              [((name, "branch"), branch) for name, _, branch in parts if branch is not None]
    seen: dict = {}
    buffers = {k: b.clone() for k, b in net.named_buffers()}  # running statistics, put back below
    was_training = net.training
    net.train()
    try:
        with _hooks(watched, seen):
            net(x.to(next(net.parameters()).device))
    finally:
        net.train(was_training)
        for k, b in net.named_buffers():
            b.copy_(buffers[k])
    rows = []
    for i, (name, _, branch) in enumerate(parts, start=1):
        sq_mean, var = _channel_stats(seen[(name, "out")])
        rows += [(i, name, step, "sq_channel_mean", sq_mean), (i, name, step, "channel_var", var)]
        if branch is not None:
            rows.append((i, name, step, "branch_var", _channel_stats(seen[(name, "branch")])[1]))
    return pd.DataFrame(rows, columns=["block", "name", "step", "stat", "value"])


def spp_frame(cfg, steps=(0,), device: str = "cpu", allow_download: bool = False) -> pd.DataFrame:
    """Signal propagation at each of `steps` (0 = initialization), on the probe's batch; steps past
    the run's last step are left out. ValueError for a step beyond MAX_SPP_STEPS or below 0."""
    steps = sorted({int(s) for s in steps})
    if not steps or steps[0] < 0 or steps[-1] > MAX_SPP_STEPS:
        raise ValueError(f"steps: got {steps}; expected whole numbers from 0 to {MAX_SPP_STEPS}")
    data = prepare_data(cfg, device, allow_download=allow_download)
    x, _ = probe_examples(cfg, data)
    net = build_model(cfg, data.info).to(device)
    frames = []
    if steps == [0]:
        return spp_at(net, x, 0)
    trainer = Trainer(PlainEngine(net, data, cfg, torch.device(device)), [cfg], data, torch.device(device))
    for target in steps:
        while trainer.step < target and not trainer.done:
            trainer.advance(logged=False)
        if trainer.step < target:
            break
        frames.append(spp_at(net, x, target))
    return pd.concat(frames, ignore_index=True)


def measured_moments(cfg, backward: bool = True, device: str = "cpu", allow_download: bool = False) -> pd.DataFrame:
    """Per hidden weight layer: E[h^2] and (with backward) E[(dL/dh)^2] at its activation's output,
    from one pass at initialization on the probe's batch (train mode, the mean cross-entropy);
    attrs["logit_grad_sq"]: E[(dL/dlogit)^2]."""
    data = prepare_data(cfg, device, allow_download=allow_download)
    x, y = probe_examples(cfg, data)
    net = build_model(cfg, data.info).to(device)
    outs: dict[int, torch.Tensor] = {}
    grads: dict[int, float] = {}

    def keep(i):
        def hook(mod, args, out):
            outs[i] = out
            if backward:
                out.register_hook(lambda g: grads.__setitem__(i, float(g.double().pow(2).mean())))
        return hook

    handles = [a.register_forward_hook(keep(i)) for i, a in enumerate(net.activations)]
    try:
        with torch.set_grad_enabled(backward):
            logits = net(x.to(device))
            if backward:
                logits.register_hook(lambda g: grads.__setitem__(-1, float(g.double().pow(2).mean())))
                F.cross_entropy(logits, y.to(device)).backward()
    finally:
        for h in handles:
            h.remove()
    frame = pd.DataFrame({"name": net.activation_names,
                          "second_moment": [float(outs[i].detach().double().pow(2).mean()) for i in range(len(outs))],
                          "grad_sq": [grads.get(i, float("nan")) for i in range(len(outs))]})
    frame.attrs["logit_grad_sq"] = grads.get(-1, float("nan"))
    return frame
