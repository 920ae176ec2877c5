"""The two network families: an MLP of any widths and the VGG-style CNN of the VGG coursework report.

`build_model(cfg, info)` returns a `Net` whose weight layers (`net.layers`, input to output,
the classifier head last) and activation modules (`net.activations`, one per hidden layer)
are listed in order, so statistics can be reported "per layer" without guessing.

MLP hidden layer:  linear -> [bn before] -> (+ skip) -> activation -> [bn after] -> [dropout]
VGG conv unit:     conv3x3 (no bias) -> [bn before] -> (+ skip) -> activation -> [bn after]
VGG layout (the VGG coursework report): entry unit (always with batch norm, as in the coursework code), then per
stage `vgg_blocks` processing blocks (two conv units, skip around them with residual) and a
reduction block (conv unit, 2x2 average pool, conv unit); global average pool; linear head.
VGG08 = 0 blocks per stage, VGG38 = 5 blocks per stage (3 stages, 32 filters).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .activations import build_activation
from ..base.datasets import DatasetInfo
from .inits import init_bias_, init_weight_


@dataclass(frozen=True)
class LayerInfo:
    index: int  # 1-based position from the input
    name: str
    kind: str  # "linear" or "conv"
    fan_in: int
    fan_out: int
    params: int  # weight elements


class Net(nn.Module):
    """A classifier with its weight layers and activation modules listed in input-to-output order."""

    def __init__(self, body: nn.Module, head: nn.Module, layers: list[tuple[str, nn.Module]],
                 activations: list[tuple[str, nn.Module]], flatten_input: bool):
        super().__init__()
        self.body, self.head = body, head
        self.flatten_input = flatten_input
        self.layer_names = [n for n, _ in layers]
        self.layers = [m for _, m in layers]  # plain lists: modules are registered via body/head
        self.activation_names = [n for n, _ in activations]
        self.activations = [m for _, m in activations]

    def forward(self, x):
        if self.flatten_input:
            x = x.flatten(1)
        return self.head(self.body(x))

    def layer_info(self) -> list[LayerInfo]:
        out = []
        for i, (name, m) in enumerate(zip(self.layer_names, self.layers), start=1):
            fi, fo = nn.init._calculate_fan_in_and_fan_out(m.weight)
            kind = "conv" if isinstance(m, nn.Conv2d) else "linear"
            out.append(LayerInfo(i, name, kind, fi, fo, m.weight.numel()))
        return out


class Unit(nn.Module):
    """One weight layer with its normalization, optional skip input, activation and dropout."""

    def __init__(self, weight: nn.Module, width: int, act: nn.Module, bn: str, conv: bool,
                 dropout: nn.Module | None):
        super().__init__()
        norm = nn.BatchNorm2d if conv else nn.BatchNorm1d
        self.weight = weight
        self.norm_before = norm(width) if bn == "before" else None
        self.act = act
        self.norm_after = norm(width) if bn == "after" else None
        self.drop = dropout

    def forward(self, x, skip=None):
        z = self.weight(x)
        if self.norm_before is not None:
            z = self.norm_before(z)
        if skip is not None:
            z = z + skip
        h = self.act(z)
        if self.norm_after is not None:
            h = self.norm_after(h)
        if self.drop is not None:
            h = self.drop(h)
        return h


class ResidualBlock(nn.Module):
    """Units in sequence; the block input is added before the last unit's activation."""

    def __init__(self, units: list[Unit], projection: nn.Module | None):
        super().__init__()
        self.units = nn.ModuleList(units)
        self.projection = projection

    def forward(self, x):
        skip = x if self.projection is None else self.projection(x)
        h = x
        for unit in self.units[:-1]:
            h = unit(h)
        return self.units[-1](h, skip=skip)


class Sequence(nn.Module):
    def __init__(self, parts: list[nn.Module]):
        super().__init__()
        self.parts = nn.ModuleList(parts)

    def forward(self, x):
        for part in self.parts:
            x = part(x)
        return x


class Reduction(nn.Module):
    def __init__(self, first: Unit, second: Unit):
        super().__init__()
        self.first, self.pool, self.second = first, nn.AvgPool2d(2), second

    def forward(self, x):
        return self.second(self.pool(self.first(x)))


def _dropout(cfg) -> nn.Module | None:
    if cfg.dropout <= 0:
        return None
    return nn.AlphaDropout(cfg.dropout) if cfg.dropout_kind == "alpha" else nn.Dropout(cfg.dropout)


def build_model(cfg, info: DatasetInfo) -> Net:
    """Build and initialize the network of `cfg` (seeded by cfg.seed) for data shaped like `info`."""
    torch.manual_seed(cfg.seed)
    net = _build_mlp(cfg, info) if cfg.arch == "mlp" else _build_vgg(cfg, info)
    _initialize(net, cfg.init, cfg.init_gain, cfg.bias_std)
    return net


def _build_mlp(cfg, info: DatasetInfo) -> Net:
    widths = list(cfg.widths)
    layers, acts, units = [], [], []
    fan_in = info.features
    for i, w in enumerate(widths):
        bn = cfg.bn if cfg.bn in ("before", "after") else ("after" if cfg.bn == "last" and i == len(widths) - 1 else "none")
        act = build_activation(cfg.activation, cfg.leaky_slope)
        unit = Unit(nn.Linear(fan_in, w), w, act, bn, conv=False, dropout=_dropout(cfg))
        units.append(unit)
        layers.append((f"fc{i + 1}", unit.weight))
        acts.append((f"fc{i + 1}", act))
        fan_in = w
    if cfg.residual:
        # The first layer changes the input size; skips group the rest into blocks of k.
        parts, k = [units[0]], cfg.residual_every
        for start in range(1, len(units), k):
            block = units[start:start + k]
            n_in, n_out = widths[start - 1], widths[start + len(block) - 1]
            proj = nn.Linear(n_in, n_out, bias=False) if n_in != n_out else None
            parts.append(ResidualBlock(block, proj))
    else:
        parts = units
    head = nn.Linear(fan_in, info.classes)
    layers.append(("out", head))
    return Net(Sequence(parts), head, layers, acts, flatten_input=True)


def _build_vgg(cfg, info: DatasetInfo) -> Net:
    f = cfg.vgg_filters
    layers, acts = [], []

    def unit(name, c_in, bn=cfg.bn):
        act = build_activation(cfg.activation, cfg.leaky_slope)
        u = Unit(nn.Conv2d(c_in, f, 3, padding=1, bias=False), f, act, bn, conv=True,
                  dropout=_dropout(cfg))
        layers.append((name, u.weight))
        acts.append((name, act))
        return u

    parts = [unit("entry", info.channels, bn="before")]
    for s in range(1, cfg.vgg_stages + 1):
        for b in range(1, cfg.vgg_blocks + 1):
            pair = [unit(f"s{s}.b{b}.c1", f), unit(f"s{s}.b{b}.c2", f)]
            parts.append(ResidualBlock(pair, None) if cfg.residual else Sequence(pair))
        red_bn = "none" if cfg.bn_blocks == "processing" else cfg.bn  # the coursework's BN-only runs
        parts.append(Reduction(unit(f"s{s}.red.c1", f, red_bn), unit(f"s{s}.red.c2", f, red_bn)))
    parts += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    head = nn.Linear(f, info.classes)
    layers.append(("out", head))
    return Net(Sequence(parts), head, layers, acts, flatten_input=False)


def _initialize(net: Net, init: str, gain: float = 1.0, bias_std: float = 0.0) -> None:
    """Every weight by `init` times gain; biases N(0, bias_std^2), or 0 (torch_default: its own)
    when bias_std is 0."""
    for m in net.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            init_weight_(m.weight, init, gain=gain)
            if m.bias is not None:
                init_bias_(m.bias, bias_std, keep=init == "torch_default")
