"""Weight initializations by name, each with the variance it is meant to give.

    init_weight_(layer.weight, "he_normal", gain=1.5)   # std x 1.5: variance 2.25 x 2 / fan_in
    init_bias_(layer.bias, 0.1)                           # N(0, 0.1^2); 0 = zero biases
    expected_variance("he_normal", fan_in=784, fan_out=512)   # 2 / 784

Fans follow PyTorch and Keras: for a conv kernel (out, in, k, k), fan_in = in*k*k and
fan_out = out*k*k. `glorot_normal` uses a plain (untruncated) normal, as PyTorch does.

`orthogonal` is the one variance that is not a function of the fans alone: the kernel is
flattened to a (rows, cols) = (out, in*k*k) matrix with orthonormal rows or columns, so each
entry has variance 1/max(rows, cols) = 1/max(fan_out/receptive_field, fan_in), where
receptive_field = k*k (1 for a linear layer):

    expected_variance("orthogonal", fan_in=288, fan_out=576, receptive_field=9)   # 1 / 288
"""
from __future__ import annotations

import math

import torch
from torch import nn

# The variance of each init and how it draws are declared in core.base.catalogue.INIT_TABLE;
# this module keeps the draws, keyed by the catalogue's draw kinds.
from ..base.catalogue import INIT_TABLE as CATALOGUE, LAYER_DEFAULT, NORMAL, ORTHOGONAL, UNIFORM, ZEROS


def fans(weight: torch.Tensor) -> tuple[int, int]:
    return nn.init._calculate_fan_in_and_fan_out(weight)


def expected_variance(name: str, fan_in: int, fan_out: int, receptive_field: int = 1) -> float:
    """Variance of each weight entry after `init_weight_(weight, name)`; receptive_field is the
    kernel's spatial size (k*k for a conv, 1 for a linear layer): `receptive_field_of(weight)`."""
    if CATALOGUE[name].draw == ORTHOGONAL:
        rows, cols = fan_out // receptive_field, fan_in  # the (out, in*k*k) matrix
        return 1.0 / max(rows, cols)
    return CATALOGUE[name].variance(fan_in, fan_out)


def receptive_field_of(weight: torch.Tensor) -> int:
    return math.prod(weight.shape[2:])


@torch.no_grad()
def init_weight_(weight: torch.Tensor, name: str, generator: torch.Generator | None = None,
                 gain: float = 1.0) -> None:
    """Initialize a weight tensor in place; the variance matches `expected_variance` times gain^2
    (gain multiplies every entry, after the scheme drew it)."""
    _init_weight(weight, name, generator)
    if gain != 1.0:
        weight.mul_(gain)


@torch.no_grad()
def init_bias_(bias: torch.Tensor, std: float, keep: bool = False,
               generator: torch.Generator | None = None) -> None:
    """Biases ~ N(0, std^2); std 0 zeroes them unless keep (torch_default's own biases)."""
    if std > 0:
        bias.normal_(0.0, std, generator=generator)
    elif not keep:
        bias.zero_()


@torch.no_grad()
def _init_weight(weight: torch.Tensor, name: str, generator: torch.Generator | None) -> None:
    draw = CATALOGUE[name].draw
    if draw == LAYER_DEFAULT:
        return  # the layer's own reset_parameters already ran
    fi, fo = fans(weight)
    var = expected_variance(name, fi, fo, receptive_field_of(weight))
    _DRAW[draw](weight, var, generator)


def _orthogonal(weight: torch.Tensor, var: float, generator: torch.Generator | None) -> None:
    flat = weight.reshape(weight.shape[0], -1)
    rows, cols = flat.shape
    a = torch.randn(max(rows, cols), min(rows, cols), generator=generator,
                    dtype=weight.dtype, device=weight.device)
    q, r = torch.linalg.qr(a)
    q = q * torch.sign(torch.diagonal(r))  # makes the distribution uniform (Mezzadri 2007)
    q = q if rows >= cols else q.T
    # Orthonormal rows or columns: each entry has variance 1/max(rows, cols).
    weight.copy_(q.reshape(weight.shape))


# The draws, keyed by the catalogue's draw kinds: (weight, variance, generator) -> in place.
_DRAW = {
    NORMAL: lambda w, var, g: w.normal_(0.0, math.sqrt(var), generator=g),
    UNIFORM: lambda w, var, g: w.uniform_(-math.sqrt(3.0 * var), math.sqrt(3.0 * var), generator=g),
    ORTHOGONAL: _orthogonal,
    ZEROS: lambda w, var, g: w.zero_(),
}
