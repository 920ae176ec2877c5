"""Predicted beside measured signal propagation, and the sentences that read it.

    cmp = compare_flow(cfg)            # core.engine.signalprop's prediction and the probe's measurement
    cmp.frame                          # long: layer, name, quantity, source, value (for the chart)
    flow_sentences(cmp)                # the collapse predicted and measured, in words
    gap_sentences(cmp)                 # where the forms stop (finite width, batch norm's batch, training)
    table = vgg_table(cfg)             # the VGG preset's five networks at cfg's data and filters
    vgg_sentences(table)               # why VGG38 collapses and why BN and RC restore the flow

Every sentence is generated from the numbers it states; nothing here draws.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..base.datasets import DATASET_INFO
from ..engine.data import prepare_data
from ..engine.meanfield import init_sigma_w2
from ..engine.probe import probe_at_init
from ..engine.signalprop import Prediction, predict, unit_second_moment
from ..engine.spp import measured_moments, probe_examples

SECOND, BACK, GRAD = "activation second moment", "backward gain per layer", "weight-gradient RMS / head's"
AVERAGE, TYPICAL, MEASURED = "predicted (average over networks)", "predicted (one network)", "measured"
AGREES = 1.0  # decades: a predicted collapse within this of the measured one agrees


@dataclass(frozen=True)
class FlowComparison:
    cfg: object
    prediction: Prediction
    frame: pd.DataFrame  # long: layer, name, quantity, source, value
    measured_collapse: float  # log10 of the last hidden second moment over the first's
    measured_factor: float  # geometric mean of the measured per-layer factor

    @property
    def depth(self) -> int:
        return int(self.prediction.frame["second_moment"].notna().sum())


def _log10(v: float) -> float:
    return math.log10(v) if v > 0 and math.isfinite(v) else math.nan


def _collapse(values) -> float:
    v = np.asarray(values, dtype=float)
    return _log10(v[-1] / v[0]) if len(v) > 1 and v[0] > 0 else math.nan


def _geo(values) -> float:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    return float(np.exp(np.log(v).mean())) if len(v) else math.nan


def measure(cfg, flow: pd.DataFrame | None = None) -> tuple[Prediction, pd.DataFrame, pd.DataFrame]:
    """The prediction on the probe's batch, the probe's flow and the measured moments."""
    data = prepare_data(cfg, "cpu", allow_download=False)
    x, _ = probe_examples(cfg, data)
    pred = predict(cfg, data.info, x)
    flow = probe_at_init(cfg) if flow is None else flow
    return pred, flow, measured_moments(cfg)


def compare_flow(cfg, flow: pd.DataFrame | None = None) -> FlowComparison:
    """Predicted and measured per weight layer at initialization (DatasetUnavailable when the data
    is not here, core.engine.probe.ProbeRefused beyond the preview's budget)."""
    pred, flow, moments = measure(cfg, flow)
    p = pred.frame
    hidden = p[p["second_moment"].notna()]
    m_second = moments["second_moment"].to_numpy()
    d = moments["grad_sq"].to_numpy()
    m_back = d / np.append(d[1:], moments.attrs.get("logit_grad_sq", math.nan))
    rms = (flow["grad_norm"] / np.sqrt(flow["params"])).to_numpy(dtype=float)
    rows = []

    def add(names, layers, quantity, source, values):
        rows.append(pd.DataFrame({"layer": layers, "name": names, "quantity": quantity, "source": source,
                                  "value": np.asarray(values, dtype=float)}))

    add(hidden["name"], hidden["layer"], SECOND, AVERAGE, hidden["second_moment"])
    add(hidden["name"], hidden["layer"], SECOND, TYPICAL, hidden["typical"])
    add(hidden["name"], hidden["layer"], SECOND, MEASURED, m_second)
    add(hidden["name"], hidden["layer"], BACK, AVERAGE, hidden["backward_gain"])
    add(hidden["name"], hidden["layer"], BACK, MEASURED, m_back)
    add(p["name"], p["layer"], GRAD, AVERAGE, p["grad_rms"])
    add(flow["name"], flow["layer"], GRAD, MEASURED, rms / rms[-1] if rms[-1] > 0 else rms * math.nan)
    frame = pd.concat(rows, ignore_index=True)
    frame = frame[np.isfinite(frame["value"]) & (frame["value"] > 0)].reset_index(drop=True)
    return FlowComparison(cfg, pred, frame, _collapse(m_second), _geo(m_second[1:] / m_second[:-1]))


def _decades(v: float) -> str:
    if not math.isfinite(v):
        return "could not be computed"
    if abs(v) < 0.05:
        return "stays level (within a factor of 1.1)"
    return f"{'falls' if v < 0 else 'grows'} by 10^{abs(v):.1f}"


def flow_sentences(cmp: FlowComparison) -> list[str]:
    """The second moment's change over the hidden layers, predicted and measured, and the
    gradient of layer 1 against the head's."""
    p = cmp.prediction
    out = [f"Over these {cmp.depth} hidden layers the activations' second moment {_decades(p.log10_collapse)} "
           f"on average over random networks (a factor of {p.mean_factor:.3g} per layer); for one network of "
           f"this width it typically {_decades(p.log10_typical_collapse)} (give or take 10^{p.log10_sd:.1f} from "
           f"one random network to the next); measured here: it "
           f"{_decades(cmp.measured_collapse)} ({cmp.measured_factor:.3g} per layer)."]
    g = cmp.frame[cmp.frame["quantity"] == GRAD]
    first = g[g["layer"] == 1].set_index("source")["value"]
    if AVERAGE in first and MEASURED in first:
        out.append(f"Weight-gradient RMS of layer 1 over the head's: predicted {first[AVERAGE]:.3g}, "
                   f"measured {first[MEASURED]:.3g}.")
    return out


def gap_sentences(cmp: FlowComparison) -> list[str]:
    """Where the closed forms stop, in words generated from the gap between predicted and measured."""
    cfg, p = cmp.cfg, cmp.prediction
    width = int(p.frame["channels"].iloc[0])
    spread = p.log10_collapse - p.log10_typical_collapse
    gap = cmp.measured_collapse - p.log10_typical_collapse
    out = []
    change = "growth" if cmp.measured_collapse > 0 else "collapse"  # an exploding network grows
    if spread > 0.3:
        out.append(f"Finite width: with {width} {'channels' if cfg.arch == 'vgg' else 'units'} per layer one "
                   f"network's second moment typically ends 10^{spread:.1f} below the average over networks "
                   "(each layer multiplies it by a random factor whose log averages below the log of its mean).")
    if not math.isfinite(gap):
        out.append("The measured change could not be computed (a layer's output is exactly 0 or not finite).")
    elif abs(gap) <= max(AGREES, 2 * p.log10_sd):
        out.append(f"The measured {change} is within 10^{abs(gap):.1f} of the one-network prediction"
                   + (f", inside twice the spread between random networks (10^{p.log10_sd:.1f})" if abs(gap) > AGREES else "")
                   + ": the forms hold here.")
    else:
        why = []
        if cfg.bn != "none":
            why.append("batch norm normalizes by the statistics of this one batch, which the forms take as exact")
        if spread > 0.3 or width < 64:
            why.append(f"{width} {'channels' if cfg.arch == 'vgg' else 'units'} are far from the wide limit, "
                       "so one network strays from the typical one")
        if cfg.arch == "vgg":
            why.append("neighbouring pixels are correlated, while the pooling forms assume independent inputs")
        if cfg.residual:
            why.append("the activation after each residual addition sees a skip input that is not Gaussian")
        out.append(f"The measured {change} differs from the one-network prediction by 10^{abs(gap):.1f}, beyond "
                   f"the 10^{max(AGREES, 2 * p.log10_sd):.1f} the forms are held to: " + "; ".join(why or ["the cause is not modelled"]) + ".")
    g = cmp.frame[(cmp.frame["quantity"] == GRAD) & (cmp.frame["layer"] == 1)].set_index("source")["value"]
    if AVERAGE in g and MEASURED in g and abs(_log10(g[MEASURED] / g[AVERAGE])) > 1:
        out.append(f"Layer 1's weight gradient is {g[MEASURED] / g[AVERAGE]:.3g} times the predicted: the form adds "
                   "a layer's positions independently (or coherently through channel means), and the input's "
                   "own pixel correlations are not modelled.")
    out.append("The forms describe initialization only: training moves every factor (the signal propagation "
               "plot's later steps show by how much).")
    return out


def training_sentence(spp: pd.DataFrame) -> str:
    """How far training moved the channel variance from initialization, from a spp_frame with steps."""
    var = spp[spp["stat"] == "channel_var"].pivot_table(index="name", columns="step", values="value", sort=False)
    if var.shape[1] < 2:
        return ""
    first, last = var.columns[0], var.columns[-1]
    moved = np.log10(var[last] / var[first]).replace([np.inf, -np.inf], np.nan).dropna()
    if moved.empty:
        return ""
    where = moved.abs().idxmax()
    return (f"After {last} training steps the channel variance moved by up to 10^{abs(moved[where]):.1f} from its value "
            f"at initialization (block {where}); the forms above predict initialization only.")


# ---------------------------------------------------------------------- the VGG preset's five networks
VGG_VARIANTS = (  # (label, changes): the architectures of the coursework report's Table 1
    ("VGG08", dict(vgg_blocks=0, bn="none", residual=False)),
    ("VGG38", dict(vgg_blocks=5, bn="none", residual=False)),
    ("VGG38 BN", dict(vgg_blocks=5, bn="before", bn_blocks="processing", residual=False)),
    ("VGG38 RC", dict(vgg_blocks=5, bn="none", residual=True)),
    ("VGG38 BN + RC", dict(vgg_blocks=5, bn="before", bn_blocks="all", residual=True)),
)


def vgg_configs(cfg) -> dict:
    """The five networks with cfg's dataset, filters, activation, init and seed."""
    return {label: cfg.replace(arch="vgg", **changes) for label, changes in VGG_VARIANTS}


@functools.lru_cache(maxsize=16)  # configs are frozen; each row is a forward pass of a VGG38
def vgg_table(cfg) -> pd.DataFrame:
    """Per network: convolutions, predicted per-layer factor and collapse (average, one network),
    measured factor and collapse (log10 of the last conv's second moment over the first's)."""
    info = DATASET_INFO[cfg.dataset]
    rows = []
    for label, c in vgg_configs(cfg).items():
        data = prepare_data(c, "cpu", allow_download=False)
        pred = predict(c, info, probe_examples(c, data)[0])
        m = measured_moments(c, backward=False)["second_moment"].to_numpy()
        rows.append({"network": label, "convolutions": int(pred.frame["second_moment"].notna().sum()),
                     "predicted factor": pred.mean_factor, "measured factor": _geo(m[1:] / m[:-1]),
                     "predicted log10 collapse": pred.log10_collapse,
                     "predicted log10 (one network)": pred.log10_typical_collapse, "one-network sd": pred.log10_sd,
                     "measured log10 collapse": _collapse(m)})
    return pd.DataFrame(rows)


def conv_factor_sentence(cfg) -> str:
    """The closed form of one plain convolution unit's factor for cfg's VGG, term by term."""
    fan_in = 9 * cfg.vgg_filters
    sw = init_sigma_w2(cfg.init, fan_in, fan_in) * cfg.init_gain ** 2
    act = unit_second_moment(cfg.activation, cfg.leaky_slope)
    return (f"One 3x3 convolution of {cfg.vgg_filters} channels has fan-in 9 x {cfg.vgg_filters} = {fan_in}; "
            f"{cfg.init} gives each weight variance {sw:.3g} / {fan_in}, so the convolution multiplies the second "
            f"moment by {sw:.3g}, and {cfg.activation} keeps {act:.4g} of it"
            + (f" ((1 + a^2)/2 with a = {cfg.leaky_slope:g})" if cfg.activation == "leaky_relu" else "")
            + f": {sw * act:.3g} per convolution, before zero padding's border loss.")


def vgg_sentences(table: pd.DataFrame, cfg) -> list[str]:
    """Why plain VGG38 collapses and why BN and RC restore the flow, from the table's numbers."""
    t = table.set_index("network")
    out = [conv_factor_sentence(cfg)]
    if "VGG38" in t.index:
        r = t.loc["VGG38"]
        out.append(f"Plain VGG38 stacks {int(r['convolutions'])} such units: the second moment is predicted to fall by "
                   f"10^{-r['predicted log10 collapse']:.1f} on average ({r['predicted factor']:.3g} per layer), "
                   f"10^{-r['predicted log10 (one network)']:.1f} ± {r['one-network sd']:.1f} for one network of "
                   f"{cfg.vgg_filters} channels; "
                   f"measured: 10^{-r['measured log10 collapse']:.1f} ({r['measured factor']:.3g} per layer). The "
                   "backward pass multiplies the error signal by the same factor per layer toward the input, so "
                   "every weight gradient, the product of the two, is equally tiny.")
    if "VGG38 BN" in t.index:
        r = t.loc["VGG38 BN"]
        out.append(f"Batch norm resets each channel's variance to gamma^2 = 1 after every convolution it follows, so "
                   f"the factors cannot multiply: VGG38 BN is predicted to fall by only 10^{-r['predicted log10 collapse']:.1f} "
                   f"(measured 10^{-r['measured log10 collapse']:.1f}); what remains comes from the convolutions left "
                   "without batch norm (the report's BN runs kept it out of the reduction blocks).")
    if "VGG38 RC" in t.index:
        r = t.loc["VGG38 RC"]
        out.append(f"Residual connections add each block's input to its branch, so a block keeps its input instead "
                   f"of multiplying it by two units' factors: VGG38 RC is predicted to fall by "
                   f"10^{-r['predicted log10 collapse']:.1f} (measured 10^{-r['measured log10 collapse']:.1f}), the "
                   "loss coming from the reduction blocks, which have no skip.")
    if "VGG38 BN + RC" in t.index:
        r = t.loc["VGG38 BN + RC"]
        p, m = (round(r[k], 1) + 0.0 for k in ("predicted log10 collapse", "measured log10 collapse"))  # no "-0.0"
        out.append(f"With both, the second moment is predicted to change by 10^{p:+.1f} (measured 10^{m:+.1f}).")
    return out
