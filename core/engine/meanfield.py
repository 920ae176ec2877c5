"""Signal-propagation (mean-field) theory of wide random MLPs: predictions before any training.

Weights W_ij ~ (0, sigma_w2 / fan_in), biases of variance sigma_b2; a wide layer's pre-activation
h_l is Gaussian with variance q_l (z, z1, z2 independent standard normals):

    length map       q_{l+1} = sigma_w2 E[phi(sqrt(q_l) z)^2] + sigma_b2,  fixed point q*
    chi_1            = sigma_w2 E[phi'(sqrt(q*) z)^2]  (slope of the correlation map at c = 1)
    correlation map  c_{l+1} = (sigma_w2 E[phi(u1) phi(u2)] + sigma_b2) / q*,  fixed point c*
                     u1 = sqrt(q*) z1, u2 = sqrt(q*) (c z1 + sqrt(1 - c^2) z2)
    depth scales     xi_q = -1/log(chi_q), chi_q = sigma_w2 E[phi'' phi + phi'^2] at q*;
                     xi_c = -1/log(chi_c), chi_c = slope of the correlation map at c*.

chi_1 < 1: ordered (gradients vanish), > 1: chaotic (they explode), = 1: critical. A backward
step through hidden layer l multiplies ||dL/dh||^2 by chi_1(q_l): `grad_growth` = prod_{l<L}
chi_1(q_l) = ||dL/dh_1||^2 / ||dL/dh_L||^2, the mean squared singular value of dh_L/dh_1.

    p = signal_propagation("tanh", sigma_w2=1.5, sigma_b2=0.05, depth=20, q0=1.0)
    p.q_star, p.chi1, p.phase, p.xi_c, p.per_layer_q, p.grad_growth   # in words: core.lab.theory
    init_sigma_w2("he_normal", 256)     # 2.0, i.e. fan_in * Var(W) of the app's inits
    theory_for_config(cfg, info)        # the same for a RunConfig, layer by layer
    applies(cfg)                        # (False, "batch norm ...") where the theory says nothing
    phase_diagram("tanh", np.linspace(0.5, 4, 60), np.linspace(0, 0.5, 60))  # chi_1 + critical line
    critical_sigma_w2("tanh", 0.05)     # 1.761: where chi_1 = 1 at this sigma_b2

Expectations are quadrature sums (no sampling) of the app's own activation functions
(core.engine.activations, in float64, derivatives by autograd); prelu at its initial slope 0.25.
The theory assumes wide layers, i.i.d. weights and no batch norm, skips or dropout (`applies`);
orthogonal weights give the same variances but another Jacobian spectrum (Pennington et al.).

References: Poole, Lahiri, Raghu, Sohl-Dickstein & Ganguli 2016, "Exponential expressivity in
deep neural networks through transient chaos"; Schoenholz, Gilmer, Ganguli & Sohl-Dickstein 2017,
"Deep information propagation"; Pennington, Schoenholz & Ganguli 2017, "Resurrecting the sigmoid
in deep learning through dynamical isometry"; Klambauer, Unterthiner, Mayr & Hochreiter 2017,
"Self-normalizing neural networks" (SELU: fixed point q* = 1 with mean 0).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from numpy.polynomial.legendre import leggauss

from ..base.datasets import DATASET_INFO
from .activations import ACTIVATION_SPECS
from .inits import expected_variance

CRITICAL_TOL = 0.01  # |chi_1 - 1| <= tol is "critical"
MAX_ITER = 500  # plain iterations before a bisection finishes a slow convergence
_CHUNK = 16384
Q_LIMIT = 1e12  # (times the scale of the start) q beyond this: the length map diverges


def _composite(edges: np.ndarray, points: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on each panel [edges[i], edges[i + 1]] (batched rows)."""
    x, w = leggauss(points)
    a, b = edges[..., :-1, None], edges[..., 1:, None]
    nodes, weights = (a + b) / 2 + (b - a) / 2 * x, (b - a) / 2 * w
    return nodes.reshape(*edges.shape[:-1], -1), weights.reshape(*edges.shape[:-1], -1)


# Gauss-Hermite misses relu/elu/selu's kink at 0 and a saturating unit's transition (width
# 1/sqrt(q) in z), so the rules are composite Gauss-Legendre, panels shrinking towards 0.
_HALF = np.concatenate([[0.0], np.geomspace(1e-7, 1.0, 24), np.arange(2.0, 14.0)])
_h, _hw = _composite(_HALF, 8)
_Z = np.concatenate([-_h[::-1], _h])
_W = np.concatenate([_hw[::-1], _hw]) * np.exp(-_Z ** 2 / 2) / math.sqrt(2 * math.pi)
# 2-D in polar form (z1, z2) = r (cos t, sin t): r has density r exp(-r^2/2), t see _angles.
_R, _RW = _composite(np.concatenate([[0.0], np.geomspace(1e-4, 1.0, 14), np.arange(2.0, 10.0)]), 5)
_RW = _RW * _R * np.exp(-_R ** 2 / 2)
_ARC = np.concatenate([[0.0], np.geomspace(2.0 ** -7, 1.0, 8)])  # half an arc, from its end
_TABLE_Q = np.geomspace(1e-12, 1e12, 2401)  # q grid of the vectorized phase diagram


def _torch_fn(name: str, leaky_slope: float) -> Callable[[torch.Tensor], torch.Tensor]:
    if name == "prelu":  # the module's initial slope, in the input's dtype
        slope = float(ACTIVATION_SPECS["prelu"].build(leaky_slope).weight.detach()[0])
        return lambda x: F.prelu(x, torch.full((1,), slope, dtype=x.dtype))
    spec = ACTIVATION_SPECS[name]
    return lambda x: spec.fn(x, leaky_slope)


def phi_and_derivative(name: str, x: np.ndarray, leaky_slope: float = 0.01):
    """The app's activation `name` and its autograd derivative at the points x, in float64; in
    chunks below torch's intra-op grain size, so no thread pool wakes (costly on a busy machine)."""
    flat = np.asarray(x, dtype=np.float64).ravel()
    fn = _torch_fn(name, leaky_slope)
    phi, dphi = np.empty_like(flat), np.empty_like(flat)
    for start in range(0, flat.size, _CHUNK):
        t = torch.tensor(flat[start:start + _CHUNK], requires_grad=True)
        y = fn(t)
        (dy,) = torch.autograd.grad(y.sum(), t)
        phi[start:start + _CHUNK], dphi[start:start + _CHUNK] = y.detach().numpy(), dy.numpy()
    return phi.reshape(np.shape(x)), dphi.reshape(np.shape(x))


def _moments(name: str, q, leaky_slope: float):
    """E[phi^2], E[phi'^2], E[z phi phi'] / sqrt(q) (= E[phi'' phi + phi'^2], Stein) and E[phi]
    of phi(sqrt(q) z), for an array of variances q."""
    q = np.asarray(q, dtype=np.float64)
    root = np.sqrt(np.maximum(q, 1e-24))[..., None]
    phi, dphi = phi_and_derivative(name, root * _Z, leaky_slope)
    second = (phi * phi) @ _W
    slope = (dphi * dphi) @ _W
    stein = (_Z * phi * dphi) @ _W / root[..., 0]
    return second, slope, stein, phi @ _W


def activation_moments(activation: str, q: float, leaky_slope: float = 0.01) -> tuple[float, float, float]:
    """E[phi(h)], E[phi(h)^2], E[phi'(h)^2] for h ~ N(0, q); SELU at q = 1: mean 0, second moment 1."""
    second, slope, _, mean = _moments(activation, q, leaky_slope)
    return float(mean), float(second), float(slope)


def _bisect(g: Callable[[float], float], lo: float, hi: float) -> float:
    """A root of g in [lo, hi] where g(lo) >= 0 > g(hi), to the last bit."""
    while True:
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        lo, hi = (mid, hi) if g(mid) >= 0 else (lo, mid)
    return 0.5 * (lo + hi)


def _fixed_point(f: Callable[[float], float], x: float, lo: float, hi: float) -> float:
    """The limit of x, f(x), f(f(x)), ... for an increasing map f >= lo; math.inf once it passes
    hi. A slow convergence ends in a bisection of f(x) - x towards lo, or 2x, 4x, ... (< hi)."""
    up = True
    for _ in range(MAX_ITER):
        fx = f(x)
        if not math.isfinite(fx) or fx > hi:
            return math.inf
        if abs(fx - x) <= 1e-14 + 1e-12 * abs(x):
            return fx
        up, x = fx > x, fx
    g = lambda v: f(v) - v  # noqa: E731
    if not up:
        return _bisect(g, lo, x)
    top = x
    while True:
        top = min(2 * top, hi)
        if g(top) < 0:
            return _bisect(g, x, top)
        if top >= hi:
            return math.inf


def _angles(c: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Angle nodes and weights (summing to 1) for correlation c: the circle is cut where
    cos t = 0 or cos(t - arccos c) = 0, with panels shrinking geometrically towards each cut."""
    alpha = math.acos(min(1.0, max(-1.0, c)))
    cuts = np.sort(np.mod([np.pi / 2, 3 * np.pi / 2, alpha + np.pi / 2, alpha + 3 * np.pi / 2], 2 * np.pi))
    ends = np.append(cuts[1:], cuts[0] + 2 * np.pi)
    half = (ends - cuts)[:, None] / 2
    edges = np.concatenate([cuts[:, None] + half * _ARC, (ends[:, None] - half * _ARC)[:, -2::-1]], axis=1)
    t, w = _composite(edges, 5)
    return t.ravel(), w.ravel() / (2 * np.pi), alpha


def _correlation_terms(name, q, c, slope):
    """E[phi(u1) phi(u2)] and E[phi'(u1) phi'(u2)] for unit variance q and correlation c, where
    u1 = sqrt(q) z1, u2 = sqrt(q) (c z1 + sqrt(1 - c^2) z2) = sqrt(q) r cos(t - arccos c)."""
    t, tw, alpha = _angles(c)
    scale = math.sqrt(q) * _R[:, None]
    p1, d1 = phi_and_derivative(name, scale * np.cos(t), slope)
    p2, d2 = phi_and_derivative(name, scale * np.cos(t - alpha), slope)
    return float(_RW @ (p1 * p2) @ tw), float(_RW @ (d1 * d2) @ tw)


def correlation_map(activation: str, sigma_w2: float, sigma_b2: float, q: float,
                    leaky_slope: float = 0.01) -> Callable[[float], tuple[float, float]]:
    """One layer of the correlation map at the fixed length q (normalized so c = 1 stays 1):
    c -> (next c, its slope d c_{l+1} / d c_l = sigma_w2 q E[phi'(u1) phi'(u2)] / norm)."""
    norm = sigma_w2 * _correlation_terms(activation, q, 1.0, leaky_slope)[0] + sigma_b2

    def step(c):
        both, slopes = _correlation_terms(activation, q, c, leaky_slope)
        return (sigma_w2 * both + sigma_b2) / norm, sigma_w2 * q * slopes / norm
    return step


def _correlation_fixed_point(step) -> float:
    """The stable c* < 1 of the chaotic phase (1.0 within 1e-7 of 1): Newton on f(c) - c from 0
    (f(0) >= 0 for sigma_b2 >= 0), bisecting wherever Newton would leave the bracket [lo, hi]."""
    c, lo, hi = 0.0, 0.0, 1.0 - 1e-7
    if step(hi)[0] - hi >= 0:
        return 1.0
    for _ in range(100):
        value, slope = step(c)
        g = value - c
        if abs(g) <= 1e-13 or hi - lo <= 1e-13:
            return c
        lo, hi = (c, hi) if g > 0 else (lo, c)
        new = c - g / (slope - 1.0) if slope != 1.0 else math.nan
        c = new if lo < new < hi else 0.5 * (lo + hi)
    return c


def _depth_scale(chi: float | None) -> float | None:
    """-1/log(chi): layers over which a perturbation decays by e; None when it does not decay."""
    if chi is None or not chi < 1.0 - 1e-9:
        return None
    return 0.0 if chi <= 0 else -1.0 / math.log(chi)


@dataclass(frozen=True)
class Propagation:
    """What the mean-field theory predicts for one (activation, sigma_w2, sigma_b2) and input."""

    activation: str
    sigma_w2: float
    sigma_b2: float
    q_star: float  # fixed point of the length map; math.inf where it diverges
    chi1: float  # at q* (its q -> infinity value where the length map diverges)
    chi_q: float | None  # slope of the length map at q*
    c_star: float | None  # fixed point of the correlation map (1 when ordered or critical)
    chi_c: float | None  # slope of the correlation map at c*
    xi_q: float | None  # depth scale of the length, None where it does not converge
    xi_c: float | None  # depth scale of the correlation, None at criticality (infinite)
    phase: str  # "ordered", "critical" or "chaotic"
    q0: float  # input second moment per feature
    per_layer_q: tuple[float, ...]  # predicted Var(h_l), hidden layers 1..L
    per_layer_chi1: tuple[float, ...]  # chi_1 of the step from hidden layer l to l + 1 (L - 1)
    grad_growth: float  # prod(per_layer_chi1) = ||dL/dh_1||^2 / ||dL/dh_L||^2


def layer_variances(activation: str, sigma_w2s: Sequence[float], sigma_b2s, q0: float,
                    leaky_slope: float = 0.01) -> np.ndarray:
    """Predicted Var(h_l) of hidden layers 1..L: q_1 = sigma_w2s[0] q0 + sigma_b2 (input features
    of second moment q0), then the length map with sigma_w2s[l] (one sigma_b2 or one per layer)."""
    sb = np.broadcast_to(np.asarray(sigma_b2s, dtype=np.float64), (len(sigma_w2s),))
    qs = [sigma_w2s[0] * q0 + sb[0]]
    for sw, b in zip(sigma_w2s[1:], sb[1:]):
        qs.append(sw * float(_moments(activation, qs[-1], leaky_slope)[0]) + b if qs[-1] < 1e300 else math.inf)
    return np.array(qs, dtype=np.float64)


def _propagation(activation, sigma_w2, sigma_b2, sw_layers, sb_layers, q0, slope, tol):
    """The fixed-point facts at (sigma_w2, sigma_b2) plus the layer-by-layer prediction (one
    sigma_w2 and sigma_b2 per hidden layer, the first from the input)."""
    qs = layer_variances(activation, sw_layers, sb_layers, q0, slope)
    per_chi = [sw_layers[i + 1] * float(_moments(activation, min(q, 1e300), slope)[1])
               for i, q in enumerate(qs[:-1])]
    growth = float(np.prod(per_chi)) if per_chi else 1.0
    limit = Q_LIMIT * max(1.0, float(qs[0]), sigma_b2)
    length_map = lambda q: float(sigma_w2 * _moments(activation, q, slope)[0] + sigma_b2)  # noqa: E731
    q_star = _fixed_point(length_map, float(qs[0]), 0.0, limit)
    at = q_star if math.isfinite(q_star) else limit
    _, slope_d, stein, _ = _moments(activation, at, slope)
    chi1 = float(sigma_w2 * slope_d)
    phase = "ordered" if chi1 < 1 - tol else "chaotic" if chi1 > 1 + tol else "critical"
    chi_q = c_star = chi_c = None
    if math.isfinite(q_star):
        chi_q = float(sigma_w2 * stein)
        c_star, chi_c = 1.0, chi1
        if chi1 > 1 + 1e-9:  # c = 1 is unstable: the correlations settle at c* < 1
            c_star = _correlation_fixed_point(correlation_map(activation, sigma_w2, sigma_b2, q_star, slope))
            if c_star < 1.0:
                chi_c = sigma_w2 * _correlation_terms(activation, q_star, c_star, slope)[1]
    return Propagation(activation, float(sigma_w2), float(sigma_b2), q_star, chi1, chi_q, c_star,
                       chi_c, _depth_scale(chi_q), _depth_scale(chi_c), phase, float(q0),
                       tuple(float(q) for q in qs), tuple(per_chi), growth)


def signal_propagation(activation: str, sigma_w2: float, sigma_b2: float = 0.0, depth: int = 10,
                       q0: float = 1.0, *, leaky_slope: float = 0.01, tol: float = CRITICAL_TOL,
                       input_sigma_w2: float | None = None) -> Propagation:
    """The theory at one point for `depth` hidden layers fed inputs of second moment q0; q_1 =
    input_sigma_w2 (default sigma_w2) * q0 + sigma_b2, and q* is where the length map goes from q_1."""
    if depth < 1 or min(sigma_w2, sigma_b2, q0) < 0:
        raise ValueError("need depth >= 1 hidden layer and variances sigma_w2, sigma_b2, q0 >= 0")
    sw = [sigma_w2 if input_sigma_w2 is None else input_sigma_w2] + [sigma_w2] * (depth - 1)
    return _propagation(activation, sigma_w2, sigma_b2, sw, sigma_b2, q0, leaky_slope, tol)


# ------------------------------------------------------------------ the app's settings
def init_sigma_w2(init: str, fan_in: int, fan_out: int | None = None) -> float:
    """sigma_w2 = fan_in * Var(W) of an init: he 2, lecun 1, glorot 2 fan_in / (fan_in + fan_out)
    (1 for equal widths), orthogonal fan_in / max(fan_in, fan_out), normal fan_in, torch_default
    1/3. Uniform and normal forms have the same variance, which is all the theory sees."""
    return float(fan_in * expected_variance(init, fan_in, fan_in if fan_out is None else fan_out))


def init_sigma_b2(init: str, fan_in: int) -> float:
    """Bias variance: 0 (the app zeroes biases) except torch_default, U(+-1/sqrt(fan_in))."""
    return 1.0 / (3.0 * fan_in) if init == "torch_default" else 0.0


_OUTSIDE = (  # (cfg -> bool, why the simple theory does not describe that network)
    (lambda c: c.arch != "mlp", "VGG networks are convolutional with batch norm; the theory is for dense layers"),
    (lambda c: c.bn != "none", "batch norm rescales each layer by batch statistics, which the maps do not model"),
    (lambda c: c.residual, "residual connections add each block's input back; the maps assume a plain chain"),
    (lambda c: c.dropout > 0, "dropout multiplies activations by random masks; the theory assumes none"),
)


def applies(cfg) -> tuple[bool, str]:
    """Whether the simple mean-field theory describes cfg's network, and why (not)."""
    for outside, why in _OUTSIDE:
        if outside(cfg):
            return False, why
    return True, "plain fully connected network at initialization: the wide-network theory applies"


def config_sigmas(cfg, info) -> tuple[list[float], list[float]]:
    """Per-layer sigma_w2 (times init_gain^2) and sigma_b2 (bias_std^2) of cfg's MLP: hidden 1..L, head."""
    fans = [info.features, *cfg.widths, info.classes]
    sw = [init_sigma_w2(cfg.init, fi, fo) * cfg.init_gain ** 2 for fi, fo in zip(fans[:-1], fans[1:])]
    return sw, [cfg.bias_std ** 2 if cfg.bias_std > 0 else init_sigma_b2(cfg.init, fi) for fi in fans[:-1]]


def theory_for_config(cfg, info=None, q0: float = 1.0, tol: float = CRITICAL_TOL) -> Propagation:
    """The theory for cfg's MLP layer by layer (info defaults to cfg.dataset's shape); the fixed
    point facts use the last hidden layer's (sigma_w2, sigma_b2). Check `applies(cfg)` first."""
    if cfg.arch != "mlp":
        raise ValueError(applies(cfg)[1])
    sw, sb = config_sigmas(cfg, info or DATASET_INFO[cfg.dataset])
    return _propagation(cfg.activation, sw[-2], sb[-2], sw[:-1], sb[:-1], q0, cfg.leaky_slope, tol)


# ------------------------------------------------------------------ the order-to-chaos map
@functools.lru_cache(maxsize=32)
def _table(activation: str, leaky_slope: float):
    """log E[phi^2], E[phi'^2] and the Stein slope on the fixed q grid (cached per activation)."""
    second, slope, stein, _ = _moments(activation, _TABLE_Q, leaky_slope)
    return np.log(np.maximum(second, 1e-300)), slope, stein


def _crossings(s: np.ndarray, targets: np.ndarray, w: np.ndarray) -> np.ndarray:
    """w where the curve s first passes each target (linear between grid points), else NaN."""
    a, b = s[:-1][None, :] - targets[:, None], s[1:][None, :] - targets[:, None]
    eps = 1e-12 * (1 + np.abs(targets))[:, None]
    hit = ((a <= eps) & (b >= -eps)) | ((a >= -eps) & (b <= eps))
    i, rows = hit.argmax(axis=1), np.arange(len(targets))
    da, db = a[rows, i], b[rows, i]
    frac = np.clip(np.where(db != da, -da / np.where(db == da, 1.0, db - da), 0.0), 0.0, 1.0)
    return np.where(hit.any(axis=1), w[:-1][i] + frac * (w[1:][i] - w[:-1][i]), np.nan)


def _critical_curve(activation: str, leaky_slope: float):
    """The critical line as a curve in q*: sigma_w2 = 1/E[phi'^2], sigma_b2 = q - E[phi^2]/E[phi'^2],
    kept where that fixed point is stable (chi_q < 1) and sigma_b2 >= 0."""
    log_second, slope, stein = _table(activation, leaky_slope)
    with np.errstate(divide="ignore", invalid="ignore"):
        sw = 1.0 / slope
        sb = _TABLE_Q - np.exp(log_second) * sw
        ok = np.isfinite(sw) & (sw * stein < 1 + 1e-9) & (sb >= -1e-12 * (1 + _TABLE_Q))
    return sb[ok], sw[ok], _TABLE_Q[ok]


def critical_sigma_w2(activation: str, sigma_b2: float, leaky_slope: float = 0.01) -> float | None:
    """The sigma_w2 where chi_1 = 1 at this sigma_b2 (None where no critical point exists), refined
    by bisection in q* with the exact quadrature."""
    sb, sw, qs = _critical_curve(activation, leaky_slope)
    q = _crossings(sb, np.array([float(sigma_b2)]), qs)[0]
    if not np.isfinite(q):
        return None
    i = int(np.clip(np.searchsorted(qs, q), 1, len(qs) - 1))

    def gap(v):  # sigma_b2 of the critical point with q* = v, minus the target
        second, slope_d, _, _ = _moments(activation, v, leaky_slope)
        return float(v - second / slope_d) - sigma_b2

    sign = 1.0 if gap(qs[i - 1]) >= 0 else -1.0
    if sign * gap(qs[i]) < 0:  # a clean bracket: refine with the exact quadrature
        q = _bisect(lambda v: sign * gap(v), qs[i - 1], qs[i])
    return float(1.0 / _moments(activation, q, leaky_slope)[1])


@dataclass(frozen=True)
class PhaseDiagram:
    """chi_1 (and q*) over a grid: rows are sigma_b2 values, columns sigma_w2 values."""

    activation: str
    sigma_w2: np.ndarray  # (nw,)
    sigma_b2: np.ndarray  # (nb,)
    chi1: np.ndarray  # (nb, nw)
    q_star: np.ndarray  # (nb, nw); inf where the length map diverges
    critical_sigma_w2: np.ndarray  # (nb,): chi_1 = 1 there; NaN where no critical point exists


def phase_diagram(activation: str, sigma_w2_values, sigma_b2_values, q0: float = 1.0,
                  leaky_slope: float = 0.01) -> PhaseDiagram:
    """chi_1 at the fixed point over a sigma_w2 x sigma_b2 grid (all points iterated together on a
    tabulated length map, interpolated in log q) and the critical line sigma_w2(sigma_b2)."""
    sw, sb = (np.asarray(v, dtype=np.float64) for v in (sigma_w2_values, sigma_b2_values))
    log_second, slope, _ = _table(activation, leaky_slope)
    log_q = np.log(_TABLE_Q)
    W, B = np.meshgrid(sw, sb)
    q = np.clip(W * q0 + B, _TABLE_Q[0], None)
    with np.errstate(invalid="ignore", divide="ignore"):
        for _ in range(MAX_ITER):
            mapped = W * np.exp(np.interp(np.log(np.clip(q, _TABLE_Q[0], _TABLE_Q[-1])), log_q, log_second)) + B
            q, old = np.where(q <= _TABLE_Q[-1], np.maximum(mapped, _TABLE_Q[0]), np.inf), q
            if np.all((q == old) | (np.abs(q - old) <= 1e-12 * old)):
                break
        up = (q > old * (1 + 1e-12)) & np.isfinite(q)  # still rising: the first table q above
        g = W[up][:, None] * np.exp(log_second) + B[up][:, None] - _TABLE_Q  # where the map falls
        below = (g < 0) & (_TABLE_Q >= q[up][:, None])  # below q is the fixed point, else it diverges
        k = np.maximum(below.argmax(axis=1), 1)
        ga, gb = g[np.arange(len(k)), k - 1], g[np.arange(len(k)), k]
        root = _TABLE_Q[k - 1] + np.clip(ga / (ga - gb), 0, 1) * (_TABLE_Q[k] - _TABLE_Q[k - 1])
        q[up] = np.where(below.any(axis=1), root, np.inf)
    chi1 = W * np.interp(np.log(np.clip(q, _TABLE_Q[0], _TABLE_Q[-1])), log_q, slope)
    curve_b, curve_w, _ = _critical_curve(activation, leaky_slope)
    return PhaseDiagram(activation, sw, sb, chi1, np.where(q <= _TABLE_Q[-1], q, np.inf),
                        _crossings(curve_b, sb, curve_w))
