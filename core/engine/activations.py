"""Activation functions by name: the catalogue's facts (core.base.catalogue.ACTIVATION_TABLE)
joined with the torch constructors, keyed by the same names.

Each entry builds an `nn.Module` and says:
- how to tell a saturated unit (logistic, tanh: derivative below 10% of its maximum),
- whether units can die (ReLU outputs exactly 0 for every input of a batch),
- the range used for the activation histogram.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn
import torch.nn.functional as F

from ..base.catalogue import ACTIVATION_TABLE


@dataclass(frozen=True)
class ActivationSpec:
    """An activation's facts (core.base.catalogue.ACTIVATION_TABLE) with its torch constructors."""
    name: str
    build: Callable[[float], nn.Module]  # leaky_slope -> module
    fn: Callable[[torch.Tensor, float], torch.Tensor]  # functional form, for the Theory page
    saturation_threshold: float | None  # |output - centre| above this = saturated
    saturation_centre: float
    can_die: bool
    hist_range: tuple[float, float]
    suited_init: str  # the init family that keeps its variance (Glorot, He, LeCun)


# The constructors, keyed by the catalogue's names: (module builder, functional form).
_TORCH = {
    "logistic": (lambda s: nn.Sigmoid(), lambda x, s: torch.sigmoid(x)),
    "tanh": (lambda s: nn.Tanh(), lambda x, s: torch.tanh(x)),
    "relu": (lambda s: nn.ReLU(), lambda x, s: F.relu(x)),
    "leaky_relu": (lambda s: nn.LeakyReLU(s), lambda x, s: F.leaky_relu(x, s)),
    "prelu": (lambda s: nn.PReLU(), lambda x, s: F.prelu(x, torch.tensor([0.25]))),
    "elu": (lambda s: nn.ELU(), lambda x, s: F.elu(x)),
    "selu": (lambda s: nn.SELU(), lambda x, s: F.selu(x)),
    "swish": (lambda s: nn.SiLU(), lambda x, s: F.silu(x)),
    "softplus": (lambda s: nn.Softplus(), lambda x, s: F.softplus(x)),
    "gelu": (lambda s: nn.GELU(), lambda x, s: F.gelu(x)),
    "linear": (lambda s: nn.Identity(), lambda x, s: x),
}

ACTIVATION_SPECS: dict[str, ActivationSpec] = {
    name: ActivationSpec(name, *_TORCH[name], a.saturation_threshold, a.saturation_centre, a.can_die,
                         a.hist_range, a.suited_init)
    for name, a in ACTIVATION_TABLE.items()
}


def build_activation(name: str, leaky_slope: float = 0.01) -> nn.Module:
    return ACTIVATION_SPECS[name].build(leaky_slope)


def activation_and_derivative(name: str, x: torch.Tensor, leaky_slope: float = 0.01):
    """f(x) and f'(x) by autograd, e.g. for plotting: the logistic derivative peaks at 0.25."""
    x = x.detach().clone().requires_grad_(True)
    y = ACTIVATION_SPECS[name].fn(x, leaky_slope)
    (dy,) = torch.autograd.grad(y.sum(), x)
    return y.detach(), dy.detach()
