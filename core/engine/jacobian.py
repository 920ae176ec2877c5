"""The Jacobian of a network at its current weights, and its singular-value spectrum.

    spec = jacobian_spectrum(net, x)                   # d logits / d input, per example
    spec = jacobian_spectrum(net, x, kind="hidden")    # d h_L / d h_1 (last over first pre-activation)
    spec.mean_sq, spec.condition, spec.quantile_ratio, spec.singular_values   # (batch, k)
    config_spectrum(cfg, info, batch=16, q0=1.0)       # the Jacobian of a config: its fresh network
    config_spectrum(cfg, info, x=x, state_dict=sd)     # ... or with these (stored) weights, over x
    mean_sq(config_jacobian(cfg, info, x, "hidden"))   # the mean squared singular value, no SVD

The mean squared singular value is what signal-propagation theory predicts (core.engine.meanfield):
for the hidden Jacobian dh_L/dh_1 = W_L D_{L-1} ... W_2 D_1 (D_l = diag phi'(h_l)) it is
prod_{l<L} chi_1(q_l) (`Propagation.grad_growth`), chi_1^(L-1) at the fixed point; for the
input-output Jacobian it is sigma_w2 of the first layer times prod_{l<=L} chi_1(q_l), the last
factor with the head's sigma_w2 (`predicted_input_output_mean_sq`). Its spread is not predicted
by chi_1 alone: Gaussian weights spread the spectrum with depth even at criticality, orthogonal
weights at criticality keep it concentrated near 1 ("dynamical isometry", Pennington, Schoenholz
& Ganguli 2017; Poole et al. 2016 and Schoenholz et al. 2017 for the mean-field maps).

The input-output Jacobian is exact (torch.func.jacrev under vmap), in eval mode: dropout off,
batch norm with its running statistics. The hidden Jacobian is the exact product above, checked
against the network's own forward pass, so it refuses a network that is not a plain MLP (batch
norm, skip connections). Both are bounded in cost: at most MAX_BATCH examples, MAX_INPUT input
features and MAX_WORK multiply-adds, else a ValueError names the limit. The input-output Jacobian
is bounded in memory too, by the preview's budget (jacobian_memory_bytes against
core.engine.probe.PROBE_MEMORY_BYTES, never above the active limit): check_at_init(cfg, info,
batch) says so from the config alone, before a network is built (a link to 3 x 4096 orthogonal
spent 15-20 s building a network whose spectrum was then out of reach).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..base.config import active_limits
from ..base.cost import estimate
from .meanfield import Propagation, activation_moments
from .models import Net, build_model
from .probe import PROBE_MEMORY_BYTES

MAX_BATCH = 64
MAX_INPUT = 4096
MAX_WORK = 4e10  # multiply-adds: batch x Jacobian rows x weights, or batch x layers x width^3
KINDS = ("input_output", "hidden")


@dataclass(frozen=True)
class JacobianSpectrum:
    """Singular values of the Jacobian of each example, and summaries of all of them pooled."""

    kind: str  # "input_output" or "hidden"
    singular_values: np.ndarray  # (batch, min(rows, cols)), descending per example
    mean_sq: float  # mean of s^2 over examples and singular values
    condition: float  # pooled max(s) / min(s); inf when min(s) = 0
    quantile_ratio: float  # pooled 95% / 5% quantile of s; inf when the 5% quantile is 0

    @property
    def pooled(self) -> np.ndarray:
        return np.sort(self.singular_values.ravel())


def _ratio(top: float, bottom: float) -> float:
    return top / bottom if bottom > 0 else math.inf


def _check_finite(jacobians: torch.Tensor) -> None:
    if not bool(torch.isfinite(jacobians).all()):
        raise ValueError("the Jacobian is not finite (the network's values overflow): no singular values to show")


def spectrum_of(jacobians: torch.Tensor, kind: str) -> JacobianSpectrum:
    """The spectrum of a batch of Jacobians shaped (batch, rows, cols), in float64 (LAPACK's
    divide and conquer through numpy: the same values as torch.linalg.svdvals, and faster on CPU).
    ValueError where an entry is not finite (LAPACK would fail with 'SVD did not converge')."""
    _check_finite(jacobians)
    s = np.linalg.svd(jacobians.detach().cpu().double().numpy(), compute_uv=False)
    pooled = s.ravel()
    lo, hi = np.quantile(pooled, [0.05, 0.95])
    return JacobianSpectrum(kind, s, float(np.mean(pooled ** 2)),
                            _ratio(float(pooled.max()), float(pooled.min())), _ratio(float(hi), float(lo)))


def _check_batch(x: torch.Tensor, features: int) -> None:
    if x.shape[0] > MAX_BATCH:
        raise ValueError(f"a Jacobian batch of {x.shape[0]} examples; at most MAX_BATCH = {MAX_BATCH}")
    if features > MAX_INPUT:
        raise ValueError(f"{features} input features; the Jacobian allows at most MAX_INPUT = {MAX_INPUT}")


def _check_work(work: float, what: str) -> None:
    if work > MAX_WORK:
        raise ValueError(f"the {what} would cost about {work:.1e} multiply-adds; at most MAX_WORK = "
                         f"{MAX_WORK:.0e} (use fewer examples, or a narrower or shallower network)")


def jacobian_memory_bytes(params: int, activations: int, features: int, classes: int, batch: int) -> int:
    """Rough peak bytes of the input-output Jacobian of `batch` examples, float32:

        4 (5 P + B (3 A + C A) + 3 B C F)

    P weights, with as much again while they are initialized or loaded and about three times
    more while vmap runs the backward pass (measured: 127 MB more for 3 x 2048 on 784 inputs,
    64 examples, whose weights are 40 MB and whose other terms are 26 MiB), A hidden values of one
    example (units, or feature-map values) of which the forward pass keeps about three each, the
    backward pass's cotangents, one per output row C and hidden value (jacrev under vmap), and
    the (B, C, F) Jacobian with its float64 copy for the SVD (two more)."""
    return 4 * (5 * params + batch * (3 * activations + classes * activations + 3 * classes * features))


def _check_memory(needed: int) -> None:
    budget = min(PROBE_MEMORY_BYTES, active_limits().max_memory_bytes)
    if needed > budget:
        raise ValueError(f"the input-output Jacobian would need about {needed / 2**20:,.0f} MiB; at most "
                         f"{budget / 2**20:,.0f} MiB (the preview's budget, PROBE_MEMORY_BYTES; use fewer "
                         "examples, or a narrower or shallower network)")


def check_at_init(cfg, info, batch: int) -> None:
    """ValueError, naming the limit, when the input-output Jacobian of cfg's network over `batch`
    examples is beyond MAX_BATCH, MAX_INPUT, MAX_WORK or the memory budget: from the config
    alone (core.base.cost.estimate), before anything is built."""
    est = estimate(cfg)
    _check_batch(torch.empty(batch, 0), info.features)
    _check_memory(jacobian_memory_bytes(est.params, est.activations_per_sample, info.features,
                                        info.classes, batch))
    _check_work(float(batch) * info.classes * est.macs_per_sample, "input-output Jacobian")


def _hidden_values(net: Net, x: torch.Tensor) -> int:
    """Hidden values of one example (every activation module's output), by one forward pass."""
    seen = [0]
    hooks = [act.register_forward_hook(lambda m, args, out: seen.__setitem__(0, seen[0] + out[0].numel()))
             for act in net.activations]
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            net(x[:1])
    finally:
        net.train(was_training)
        for h in hooks:
            h.remove()
    return seen[0]


def input_output_jacobian(net: Net, x: torch.Tensor) -> torch.Tensor:
    """d logits / d input of each example, shaped (batch, classes, features), in eval mode."""
    from torch.func import jacrev, vmap

    x = x.to(next(net.parameters()).device)
    x = x.flatten(1) if net.flatten_input else x
    features = int(np.prod(x.shape[1:]))
    _check_batch(x, features)
    pixels = x.shape[-1] * x.shape[-2] if x.dim() == 4 else 1  # a conv weight is used at every pixel
    weights = sum(m.weight.numel() * (pixels if m.weight.dim() == 4 else 1) for m in net.layers)
    classes = net.layers[-1].weight.shape[0]
    _check_work(float(x.shape[0]) * classes * weights, "input-output Jacobian")
    params = sum(p.numel() for p in net.parameters())
    _check_memory(jacobian_memory_bytes(params, _hidden_values(net, x), features, classes, x.shape[0]))
    was_training = net.training
    net.eval()
    try:
        jac = vmap(jacrev(lambda xi: net(xi.unsqueeze(0)).squeeze(0)))(x)
    finally:
        net.train(was_training)
    return jac.reshape(x.shape[0], -1, features).detach()


def hidden_preactivations(net: Net, x: torch.Tensor) -> list[torch.Tensor]:
    """The input of every activation module (the pre-activations h_1..h_L of a plain MLP), from
    one forward pass in eval mode."""
    seen: list[torch.Tensor] = []
    hooks = [act.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach()))
             for act in net.activations]
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            net(x.to(next(net.parameters()).device))
    finally:
        net.train(was_training)
        for h in hooks:
            h.remove()
    return seen


def _derivative(act: nn.Module, h: torch.Tensor) -> torch.Tensor:
    """phi'(h) of an element-wise activation module, by autograd."""
    h = h.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        (d,) = torch.autograd.grad(act(h).sum(), h)
    return d


def hidden_jacobian(net: Net, x: torch.Tensor) -> torch.Tensor:
    """d h_L / d h_1 of each example, shaped (batch, width_L, width_1): the product
    W_L D_{L-1} ... W_2 D_1 of a plain MLP (ValueError for any other network)."""
    if not all(isinstance(m, nn.Linear) for m in net.layers) or len(net.activations) < 2:
        raise ValueError("the hidden Jacobian needs a fully connected network with 2+ hidden layers")
    _check_batch(x, int(np.prod(x.shape[1:])))
    widths = [m.weight.shape[0] for m in net.layers[:-1]]
    _check_work(float(x.shape[0]) * sum(a * b for a, b in zip(widths[1:], widths[:-1])) * widths[0],
                "hidden Jacobian")
    if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules()):
        raise ValueError("the hidden Jacobian needs a plain MLP: not with batch norm")
    hs = hidden_preactivations(net, x)
    if not all(bool(torch.isfinite(h).all()) for h in hs):
        raise ValueError("the network's pre-activations overflow at initialization (inf or NaN): "
                         "no Jacobian to measure")
    with torch.no_grad():
        for layer, act, h, h_next in zip(net.layers[1:], net.activations, hs, hs[1:]):
            if not torch.allclose(layer(act(h)), h_next, rtol=1e-4, atol=1e-5 * (1 + h_next.abs().max())):
                raise ValueError("the hidden Jacobian needs a plain MLP (h_{l+1} = W phi(h_l) + b): "
                                 "not with batch norm or residual connections")
        jac = None
        for layer, act, h in zip(net.layers[1:-1], net.activations, hs):  # the head is not hidden
            d = _derivative(act, h)  # (batch, width_l)
            w = layer.weight  # (width_{l+1}, width_l)
            jac = w * d[:, None, :] if jac is None else w @ (d[:, :, None] * jac)
    return jac


def jacobian_spectrum(net: Net, x: torch.Tensor, kind: str = "input_output") -> JacobianSpectrum:
    """The singular values of `kind` ("input_output" or "hidden") over the batch x."""
    if kind not in KINDS:
        raise ValueError(f"unknown Jacobian {kind!r}; expected one of {', '.join(KINDS)}")
    jac = input_output_jacobian(net, x) if kind == "input_output" else hidden_jacobian(net, x)
    return spectrum_of(jac, kind)


def gaussian_inputs(features: int, batch: int, q0: float = 1.0, seed: int = 0) -> torch.Tensor:
    """A batch of inputs with i.i.d. N(0, q0) features (second moment q0, as the theory's input)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, features, generator=g) * math.sqrt(q0)


def mean_sq(jacobians: torch.Tensor) -> float:
    """The mean squared singular value of a batch of Jacobians without their SVD: the squared
    Frobenius norm (the sum of s^2) over batch x min(rows, cols) singular values."""
    _check_finite(jacobians)
    batch, rows, cols = jacobians.shape
    return float(jacobians.double().pow(2).sum() / (batch * min(rows, cols)))


def config_jacobian(cfg, info, x: torch.Tensor | None = None, kind: str = "input_output", *,
                    batch: int = 16, q0: float = 1.0, state_dict: dict | None = None) -> torch.Tensor:
    """The Jacobian of a config: `kind` of cfg's network, freshly initialized (seeded by cfg.seed)
    or with state_dict's weights (a stored run's), over x or `batch` Gaussian inputs of second
    moment q0 (seeded by cfg.seed). The input-output Jacobian's cost is checked from the config
    before the network is built; weights that are not finite are refused. ValueError says why."""
    if kind not in KINDS:
        raise ValueError(f"unknown Jacobian {kind!r}; expected one of {', '.join(KINDS)}")
    if kind == "input_output":
        check_at_init(cfg, info, batch if x is None else x.shape[0])
    if x is None:
        if batch > MAX_BATCH:
            raise ValueError(f"a Jacobian batch of {batch} examples; at most MAX_BATCH = {MAX_BATCH}")
        x = gaussian_inputs(info.features, batch, q0, cfg.seed).reshape(batch, info.channels, info.height, info.width)
    net = build_model(cfg, info)
    if state_dict is not None:
        net.load_state_dict(state_dict)
        if not all(bool(torch.isfinite(p).all()) for p in net.state_dict().values() if p.is_floating_point()):
            raise ValueError("the stored weights are not finite (the run diverged): no Jacobian to measure")
    return input_output_jacobian(net, x) if kind == "input_output" else hidden_jacobian(net, x)


def config_spectrum(cfg, info, batch: int = 16, q0: float = 1.0, kind: str = "input_output",
                    x: torch.Tensor | None = None, state_dict: dict | None = None) -> JacobianSpectrum:
    """The spectrum of config_jacobian: cfg's network at initialization or with state_dict."""
    return spectrum_of(config_jacobian(cfg, info, x, kind, batch=batch, q0=q0, state_dict=state_dict), kind)


def predicted_input_output_mean_sq(p: Propagation, first_sigma_w2: float, head_sigma_w2: float,
                                   leaky_slope: float = 0.01) -> float:
    """Theory for the input-output Jacobian's mean s^2 (classes <= features): the first layer's
    sigma_w2, times chi_1 of every hidden-to-hidden step (p.grad_growth), times the head's
    sigma_w2 E[phi'(h_L)^2]."""
    last = activation_moments(p.activation, p.per_layer_q[-1], leaky_slope)[2]
    return float(first_sigma_w2 * p.grad_growth * head_sigma_w2 * last)
