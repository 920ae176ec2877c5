"""Activation functions by name, with the facts the statistics and the Theory page need.

Each entry builds an `nn.Module` and says:
- how to tell a saturated unit (logistic, tanh: derivative below 10% of its maximum),
- whether units can die (ReLU outputs exactly 0 for every input of a batch),
- the range used for the activation histogram.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn
import torch.nn.functional as F


@dataclass(frozen=True)
class ActivationSpec:
    name: str
    build: Callable[[float], nn.Module]  # leaky_slope -> module
    fn: Callable[[torch.Tensor, float], torch.Tensor]  # functional form, for the Theory page
    saturation_threshold: float | None  # |output - centre| above this = saturated
    saturation_centre: float
    can_die: bool
    hist_range: tuple[float, float]
    suited_init: str  # the init family that keeps its variance (Glorot, He, LeCun)


# logistic: s(1-s) < 0.1 * 0.25  <=>  |s - 0.5| > sqrt(0.25 - 0.025) = 0.4743
# tanh:     1 - t^2 < 0.1        <=>  |t| > sqrt(0.9) = 0.9487
_LOGISTIC_SAT = math.sqrt(0.25 - 0.025)
_TANH_SAT = math.sqrt(0.9)

ACTIVATION_SPECS: dict[str, ActivationSpec] = {
    spec.name: spec
    for spec in [
        ActivationSpec("logistic", lambda s: nn.Sigmoid(), lambda x, s: torch.sigmoid(x),
                       _LOGISTIC_SAT, 0.5, False, (0.0, 1.0), "glorot"),
        ActivationSpec("tanh", lambda s: nn.Tanh(), lambda x, s: torch.tanh(x),
                       _TANH_SAT, 0.0, False, (-1.0, 1.0), "glorot"),
        ActivationSpec("relu", lambda s: nn.ReLU(), lambda x, s: F.relu(x),
                       None, 0.0, True, (-0.5, 4.5), "he"),
        ActivationSpec("leaky_relu", lambda s: nn.LeakyReLU(s), lambda x, s: F.leaky_relu(x, s),
                       None, 0.0, False, (-2.5, 4.5), "he"),
        ActivationSpec("prelu", lambda s: nn.PReLU(), lambda x, s: F.prelu(x, torch.tensor([0.25])),
                       None, 0.0, False, (-2.5, 4.5), "he"),
        ActivationSpec("elu", lambda s: nn.ELU(), lambda x, s: F.elu(x),
                       None, 0.0, False, (-1.5, 4.5), "he"),
        ActivationSpec("selu", lambda s: nn.SELU(), lambda x, s: F.selu(x),
                       None, 0.0, False, (-2.0, 4.0), "lecun"),
        ActivationSpec("swish", lambda s: nn.SiLU(), lambda x, s: F.silu(x),
                       None, 0.0, False, (-0.5, 4.5), "he"),
        ActivationSpec("softplus", lambda s: nn.Softplus(), lambda x, s: F.softplus(x),
                       None, 0.0, False, (0.0, 5.0), "he"),
        ActivationSpec("gelu", lambda s: nn.GELU(), lambda x, s: F.gelu(x),
                       None, 0.0, False, (-0.5, 4.5), "he"),
        ActivationSpec("linear", lambda s: nn.Identity(), lambda x, s: x,
                       None, 0.0, False, (-4.0, 4.0), "glorot"),
    ]
}


def build_activation(name: str, leaky_slope: float = 0.01) -> nn.Module:
    return ACTIVATION_SPECS[name].build(leaky_slope)


def activation_and_derivative(name: str, x: torch.Tensor, leaky_slope: float = 0.01):
    """f(x) and f'(x) by autograd, e.g. for plotting: the logistic derivative peaks at 0.25."""
    x = x.detach().clone().requires_grad_(True)
    y = ACTIVATION_SPECS[name].fn(x, leaky_slope)
    (dy,) = torch.autograd.grad(y.sum(), x)
    return y.detach(), dy.detach()
