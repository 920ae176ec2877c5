"""Signal propagation at initialization for every network the app builds, layer by layer.

    pred = predict(cfg)                  # Prediction: one row per weight layer, input to output
    pred.frame                           # layer, name, second_moment, typical, factor, backward_gain, grad_rms
    pred.log10_collapse                  # log10 of the last conv's second moment over the first's
    unit_second_moment("leaky_relu", 0.2)  # (1 + a^2) / 2: of a symmetric input's second moment

Each element of a hidden site (a unit of an MLP, a pixel of a feature map) is modelled as
x = m_c + e: m_c the mean of its channel (shared by the channel's pixels and examples; across
channels m_c ~ N(M, K)) and e ~ N(0, V) the rest. The walk follows the built network's modules
(core.engine.models) and applies the closed form of each part:

    weight layer  zero-mean weights of variance v (every init as implemented, times gain^2; PyTorch's
                  default 1/(3 fan_in)): K' = f (M^2 + K) + bias variance, V' = f V, M' = 0, with
                  f = v fan_in; a 3x3 conv's fan_in is 9 C, and zero padding on an n-pixel side
                  scales it by (1 + 2 cos(pi/(n+1))) / 3 (the box filter's top eigenvalue: the
                  profile deep in a stack of same-size convs)
    activation    E over m ~ N(M, K) and e of phi(m + e), phi^2, phi', phi'^2: closed forms for the
                  ReLU family (a symmetric input's second moment times (1 + a^2) / 2; prelu at its
                  initial slope 0.25), Gauss-Hermite quadrature of the app's own function otherwise
    batch norm    train mode at init (gamma = 1): M' = K' = 0, V' = gamma^2 V / (V + eps)
    residual add  the branch and the skip are independent: M, K and V add
    avg pool 2x2  of independent inputs: V' = V / 4 (the channel mean passes); global pool V / (H W)
    dropout       x mask / (1 - p): second moment / (1 - p); alpha dropout: its affine moments

The backward pass carries E[(dL/dx)^2] (a part shared across a channel's pixels and the rest)
from an error of second moment 1 at every logit: a weight layer multiplies it by v fan_out (the
same border factor), an activation by E[phi'^2] (gradients independent of the forward pass),
batch norm by gamma^2 / (V + eps), pooling by 1/16 or 1/(H W)^2 per element. The weight
gradient of a layer with N output positions has E[g^2] = N (D q_in) + N^2 D_shared m_in^2 (its
positions' terms add, the shared parts coherently); `grad_rms` is its root relative to the head's.

Finite width: one layer of n channels (units) multiplies the second moment by a random factor
whose log has variance about kappa / n, kappa the squared coefficient of variation of one
channel's output second moment (from its random channel mean, and about 2 from the chi^2 of its
weights on the fluctuating part; E[phi^4] / E[phi^2]^2 - 1 = 5 for ReLU when every pixel shares
the channel mean), so the log of one network's second moment lies below the log of the
expectation by kappa / (2 n) per layer (Hanin & Nica 2019 for dense ReLU layers; for a conv layer
n is its channels, an approximation); batch norm resets it. `typical` is the second moment so corrected:
what one network shows, where `second_moment` is the average over networks, and `log10_sd` the
spread of one network's log10 second moment about it (sqrt(sum kappa / n) / ln 10).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import torch
from numpy.polynomial.hermite_e import hermegauss
from scipy.special import ndtr
from torch import nn

from ..base.datasets import DATASET_INFO
from .inits import expected_variance, receptive_field_of
from .meanfield import phi_and_derivative
from .models import Net, Reduction, ResidualBlock, Sequence, Unit, build_model

# The closed form's negative slope a of each activation (phi = a z + (1 - a) relu(z)); None: by
# quadrature of the app's own function. leaky_relu's is the config's; prelu's its initial 0.25.
CLOSED_FORM_SLOPE = {"logistic": None, "tanh": None, "relu": 0.0, "leaky_relu": "leaky_slope", "prelu": 0.25,
                     "elu": None, "selu": None, "swish": None, "softplus": None, "gelu": None, "linear": 1.0}
_Z, _ZW = hermegauss(48)
_ZW = _ZW / _ZW.sum()  # E[f(z)], z ~ N(0, 1) = f(_Z) @ _ZW
_TINY = 1e-300


@dataclass(frozen=True)
class Site:
    """Moments of the elements of one site, per element: x = m_c + e (see the module's doc)."""

    mean: float = 0.0  # M: the mean over channels of the channel means
    spread: float = 0.0  # K: the variance of the channel means across channels
    var: float = 1.0  # V: the variance within a channel (its pixels and examples)
    size: tuple = ()  # (H, W) of a feature map, () once flat
    drift: float = 0.0  # expected log of one network's second moment minus the log of the average
    logvar: float = 0.0  # variance of that log across networks (finite width)

    @property
    def second(self) -> float:
        return self.mean ** 2 + self.spread + self.var

    @property
    def shared(self) -> float:
        return self.mean ** 2 + self.spread


def unit_second_moment(activation: str, slope: float = 0.01) -> float:
    """E[phi(z)^2] / E[z^2] for a symmetric z: (1 + a^2) / 2 for the ReLU family."""
    return _act(Site(var=1.0), activation, slope)[0].second


def _slope(activation: str, leaky_slope: float) -> float | None:
    slope = CLOSED_FORM_SLOPE[activation]
    return leaky_slope if slope == "leaky_slope" else slope


def _inner(activation: str, slope: float | None, m: np.ndarray, s: float):
    """E over e ~ N(0, s^2) of phi(m + e), phi^2, phi', phi'^2 and phi^4, for each channel mean m."""
    if slope is not None:  # the ReLU family: phi = a z + (1 - a) relu(z)
        t = m / s if s > 0 else np.where(m > 0, np.inf, -np.inf)
        p = ndtr(t) if s > 0 else (m > 0).astype(float)
        dens = np.exp(-0.5 * np.minimum(t * t, 1e4)) / math.sqrt(2 * math.pi) if s > 0 else 0.0 * m
        relu1 = m * p + s * dens
        relu2 = (m * m + s * s) * p + m * s * dens
        relu4 = (m ** 4 + 6 * m * m * s * s + 3 * s ** 4) * p + (m ** 3 + 5 * m * s * s) * s * dens
        z2, z4 = m * m + s * s, m ** 4 + 6 * m * m * s * s + 3 * s ** 4
        a = slope
        return (a * m + (1 - a) * relu1, a * a * z2 + (1 - a * a) * relu2, a + (1 - a) * p,
                a * a + (1 - a * a) * p, a ** 4 * z4 + (1 - a ** 4) * relu4)
    x = m[:, None] + s * _Z[None, :]
    phi, dphi = phi_and_derivative(activation, x)
    return tuple((f @ _ZW) for f in (phi, phi * phi, dphi, dphi * dphi, phi ** 4))


def _act(site: Site, activation: str, slope_or_leaky: float):
    """The site after phi, and (E_m[(E_e phi')^2], E[phi'^2], kappa) for the backward pass."""
    slope = _slope(activation, slope_or_leaky)
    m = site.mean + math.sqrt(max(site.spread, 0.0)) * (_Z if site.spread > 0 else np.zeros(1))
    w = _ZW if site.spread > 0 else np.ones(1)
    g1, g2, d1, d2, g4 = _inner(activation, slope, m, math.sqrt(max(site.var, 0.0)))
    mean, shared2, second = float(g1 @ w), float((g1 * g1) @ w), float(g2 @ w)
    # A channel's output second moment g2(m) varies with its mean m (random across channels) and,
    # through its weights, with the scale of its fluctuations (a chi^2 of about 2 / n): per channel,
    # Var(g2) / E[g2]^2 over the n channels of the layer is its log's variance (see `typical`).
    share = site.var / max(site.second, _TINY)
    kappa = float(((g2 - second) ** 2) @ w) / max(second * second, _TINY) + 2.0 * share * share
    out = replace(site, mean=mean, spread=max(shared2 - mean * mean, 0.0), var=max(second - shared2, 0.0))
    return out, (float((d1 * d1) @ w), float(d2 @ w), kappa)


def _border(size: tuple, k: int) -> float:
    """Zero padding's share of a k x k conv's fan-in deep in a stack of same-size maps."""
    if k == 1 or not size:
        return 1.0
    return math.prod((1 + 2 * math.cos(math.pi / (n + 1))) / 3 if n > 1 else 1 / 3 for n in size)


class _Walk:
    """One forward pass over the modules; records what the backward pass needs, in order."""

    def __init__(self, cfg, names: dict):
        self.cfg, self.names = cfg, names
        self.tape: list = []  # (kind, site before, params)
        self.rows: dict[str, dict] = {}  # layer name -> its row

    # ---- parts
    def weight(self, m: nn.Module, x: Site, has_act: bool) -> Site:
        cfg = self.cfg
        fi, fo = nn.init._calculate_fan_in_and_fan_out(m.weight)
        v = expected_variance(cfg.init, fi, fo, receptive_field_of(m.weight)) * cfg.init_gain ** 2
        k = m.weight.shape[-1] if m.weight.dim() == 4 else 1
        border = _border(x.size, k)
        bias = 0.0
        if getattr(m, "bias", None) is not None:
            bias = cfg.bias_std ** 2 if cfg.bias_std > 0 else (1 / (3 * fi) if cfg.init == "torch_default" else 0.0)
        f = v * fi * border
        out = Site(0.0, f * x.shared + bias, f * x.var, x.size, x.drift, x.logvar)
        n = m.weight.shape[0]
        name = self.names.get(id(m))
        self.tape.append(("weight", x, dict(back=v * fo * border, name=name, positions=math.prod(x.size) if x.size else 1)))
        if name is not None:
            self.rows[name] = dict(name=name, channels=n, pre=out, act=None)
        self._last = (name, n)
        return out

    def activation(self, x: Site) -> Site:
        out, (d1, d2, kappa) = _act(x, self.cfg.activation, self.cfg.leaky_slope)
        name, n = self._last
        out = replace(out, drift=x.drift - kappa / (2 * n), logvar=x.logvar + kappa / n)
        self.tape.append(("act", x, dict(shared=d1, total=d2)))
        if name in self.rows:
            self.rows[name]["act"] = out
            self.rows[name]["tape"] = len(self.tape)  # the backward pass's E[dL/dh^2] is read here
        return out

    def bn(self, m: nn.Module, x: Site) -> Site:
        g2 = float(m.weight.detach().double().pow(2).mean()) if m.weight is not None else 1.0
        out = Site(0.0, 0.0, g2 * x.var / (x.var + m.eps), x.size, 0.0, 0.0)
        self.tape.append(("scale", x, dict(shared=g2 / (x.var + m.eps), total=g2 / (x.var + m.eps))))
        return out

    def dropout(self, m: nn.Module, x: Site) -> Site:
        p = float(m.p)
        if isinstance(m, nn.AlphaDropout):
            q, alpha = 1 - p, -1.7580993408473766  # torch's alpha dropout: -scale * alpha of SELU
            a = (q + alpha * alpha * q * p) ** -0.5
            b = -a * alpha * p
            mean = a * (q * x.mean + p * alpha) + b
            second = a * a * (q * x.second + p * alpha * alpha) + 2 * a * b * (q * x.mean + p * alpha) + b * b
            spread = a * a * q * q * x.spread
            self.tape.append(("scale", x, dict(shared=a * a * q * q, total=a * a * q)))
            return replace(x, mean=mean, spread=spread, var=max(second - mean * mean - spread, 0.0))
        self.tape.append(("scale", x, dict(shared=1.0, total=1 / (1 - p))))
        return replace(x, var=x.var + x.second * p / (1 - p))

    def pool(self, x: Site, k: int = 2) -> Site:
        self.tape.append(("scale", x, dict(shared=1 / k ** 4, total=1 / k ** 4)))
        return replace(x, var=x.var / (k * k), size=tuple(n // k for n in x.size))

    def global_pool(self, x: Site) -> Site:
        n = math.prod(x.size) if x.size else 1
        self.tape.append(("gap", x, dict(n=n)))
        return replace(x, var=x.var / n, size=())

    # ---- structure
    def unit(self, u: Unit, x: Site, skip: Site | None = None) -> Site:
        z = self.weight(u.weight, x, True)
        if u.norm_before is not None:
            z = self.bn(u.norm_before, z)
        if skip is not None:
            z = self.add(z, skip)
        h = self.activation(z)
        if u.norm_after is not None:
            h = self.bn(u.norm_after, h)
        if u.drop is not None:
            h = self.dropout(u.drop, h)
        return h

    def add(self, branch: Site, skip: Site) -> Site:
        self.tape.append(("add", skip, {}))
        total = branch.second + skip.second
        wb, ws = branch.second / max(total, _TINY), skip.second / max(total, _TINY)
        return Site(branch.mean + skip.mean, branch.spread + skip.spread, branch.var + skip.var, skip.size,
                    wb * branch.drift + ws * skip.drift, wb * branch.logvar + ws * skip.logvar)

    def module(self, m: nn.Module, x: Site) -> Site:
        if isinstance(m, Sequence):
            for part in m.parts:
                x = self.module(part, x)
            return x
        if isinstance(m, Unit):
            return self.unit(m, x)
        if isinstance(m, ResidualBlock):
            fork = dict(back=1.0)
            self.tape.append(("fork", x, fork))
            skip = x
            if m.projection is not None:  # its backward gain travels with the fork, not the branch
                skip = self.weight(m.projection, x, False)
                fork["back"] = self.tape.pop()[2]["back"]
            h = x
            for u in m.units[:-1]:
                h = self.unit(u, h)
            return self.unit(m.units[-1], h, skip=skip)
        if isinstance(m, Reduction):
            return self.unit(m.second, self.pool(self.unit(m.first, x)))
        if isinstance(m, nn.AdaptiveAvgPool2d):
            return self.global_pool(x)
        if isinstance(m, nn.Flatten):
            return x
        raise TypeError(f"signal propagation: no form for {type(m).__name__}")


def _backward(tape: list) -> tuple[list, list]:
    """E[(dL/d.)^2] (shared, rest) before each record, from 1 at every logit; and per weight
    record the E[g^2] of its weights."""
    d_shared, d_rest = 0.0, 1.0
    at, grads, skips = [None] * len(tape), [None] * len(tape), []
    for i in range(len(tape) - 1, -1, -1):
        kind, x, p = tape[i]
        at[i] = (d_shared, d_rest)
        total = d_shared + d_rest
        if kind == "weight":
            n = p["positions"]
            grads[i] = n * total * x.second + n * (n - 1) * d_shared * x.shared
            d_shared, d_rest = d_shared * p["back"], d_rest * p["back"]
        elif kind in ("act", "scale"):
            new = d_shared * p["shared"]
            d_shared, d_rest = new, max(total * p["total"] - new, 0.0)
        elif kind == "gap":
            d_shared, d_rest = total / p["n"] ** 2, 0.0
        elif kind == "add":
            skips.append((d_shared, d_rest))
        elif kind == "fork":
            s_shared, s_rest = skips.pop()
            d_shared, d_rest = d_shared + s_shared * p["back"], d_rest + s_rest * p["back"]
    return at, grads


@dataclass(frozen=True)
class Prediction:
    """Per weight layer (input to output; the head last) at initialization."""

    frame: pd.DataFrame  # layer, name, channels, pre_var, second_moment, typical, log10_sd, factor, backward_gain, grad_rms
    input_site: Site
    head_grad: float  # E[g^2] of the head's weights, for an error of second moment 1 per logit

    def _hidden(self) -> pd.DataFrame:
        return self.frame[self.frame["second_moment"].notna()]

    @property
    def log10_collapse(self) -> float:
        """log10 of the last hidden layer's second moment over the first's (averaged over networks)."""
        h = self._hidden()["second_moment"].to_numpy()
        return float(np.log10(max(h[-1], _TINY) / max(h[0], _TINY))) if len(h) else math.nan

    @property
    def log10_typical_collapse(self) -> float:
        """The same for one network of finite width (the log's expectation, see `typical`)."""
        h = self._hidden()["typical"].to_numpy()
        return float(np.log10(max(h[-1], _TINY) / max(h[0], _TINY))) if len(h) else math.nan

    @property
    def log10_sd(self) -> float:
        """The spread (sd, decades) of one network's log10 second moment at the last hidden layer."""
        h = self._hidden()["log10_sd"].to_numpy()
        return float(h[-1]) if len(h) else math.nan

    @property
    def mean_factor(self) -> float:
        """The geometric mean of the per-layer factor of the second moment."""
        f = self._hidden()["factor"].dropna().to_numpy()
        return float(np.exp(np.log(np.maximum(f, _TINY)).mean())) if len(f) else math.nan


def input_site(x: torch.Tensor | None, q0: float = 1.0) -> Site:
    """The data's moments per channel (features of a flat input): M, K, V; Gaussian of second
    moment q0 when x is None."""
    if x is None:
        return Site(var=q0)
    x = x.detach().double()
    size = tuple(x.shape[2:]) if x.dim() == 4 else ()
    flat = x.transpose(0, 1).reshape(x.shape[1], -1) if x.dim() == 4 else x.reshape(x.shape[0], -1).T
    means = flat.mean(1)
    return Site(float(means.mean()), float(means.var(unbiased=False)), float(flat.var(1, unbiased=False).mean()), size)


def predict(cfg, info=None, x: torch.Tensor | None = None, q0: float = 1.0, net: Net | None = None) -> Prediction:
    """The prediction for cfg's network (built here unless given) fed x (a batch of its inputs)
    or, without x, Gaussian inputs of second moment q0 per feature."""
    info = info or DATASET_INFO[cfg.dataset]
    net = net or build_model(cfg, info)
    site = input_site(x, q0)
    if net.flatten_input and site.size:
        site = input_site(x.flatten(1))
    walk = _Walk(cfg, {id(m): n for n, m in zip(net.layer_names, net.layers)})
    h = walk.module(net.body, site)
    walk.weight(net.head, h, False)
    at, grads = _backward(walk.tape)
    by_name = {p["name"]: i for i, (k, _, p) in enumerate(walk.tape) if k == "weight" and p.get("name")}
    head = grads[by_name[net.layer_names[-1]]]
    rows, prev, prev_back = [], None, None
    for layer, name in enumerate(net.layer_names, start=1):
        r = walk.rows[name]
        act = r["act"]
        back = sum(at[r["tape"] - 1]) if act is not None else math.nan
        rows.append(dict(layer=layer, name=name, channels=r["channels"], pre_var=r["pre"].second,
                         second_moment=act.second if act else math.nan,
                         typical=act.second * math.exp(act.drift) if act else math.nan,
                         log10_sd=math.sqrt(act.logvar) / math.log(10) if act else math.nan,
                         factor=act.second / prev if act and prev else math.nan,
                         backward=back, grad_rms=math.sqrt(grads[by_name[name]] / head) if head > 0 else math.nan))
        prev = act.second if act else prev
    frame = pd.DataFrame(rows)
    d = frame["backward"].to_numpy()
    frame["backward_gain"] = np.append(d[:-1] / np.append(d[1:-1], 1.0), math.nan)
    return Prediction(frame.drop(columns="backward"), site, head)
