"""The theory next to the measurement, layer by layer, at initialization.

    q0 = input_second_moment(cfg)              # the data's mean x^2 per feature: the theory's q0
    pred = predicted_flow(cfg, info, q0)       # per weight layer: act_var, grad_rms (relative)
    cmp = compare(cfg, probe_at_init(cfg))     # predicted and measured side by side, + both ratios

(The Jacobian of a config, at initialization or with stored weights: core.engine.jacobian.config_spectrum.)

What is predicted (core.engine.meanfield, wide layers, i.i.d. weights):

    activation variance  Var(phi(h_l)) = E[phi^2] - E[phi]^2 with h_l ~ N(0, q_l)
    gradient RMS         the root mean square of the entries of dL/dW_l = (dL/dh_l) x_{l-1}^T (one
                         example): sqrt(E[(dL/dh_l)^2] E[x_{l-1}^2]), with E[(dL/dh_l)^2] =
                         E[phi'(h_l)^2] sigma_w2_{l+1} (N_{l+1} / N_l) E[(dL/dh_{l+1})^2] (chi_1 for
                         equal widths) and E[x_{l-1}^2] = q0 for the input layer, E[phi(h_{l-1})^2]
                         after it. Measured: the probe's grad_norm / sqrt(weights of the layer).

The gradient's overall scale depends on the loss (the head's error signal), which the theory does
not model, so the predicted RMS are relative: anchored at the measured RMS of the last hidden
layer, the one the gradient ratio divides by. The probe's weight gradient is a batch mean,
so correlations between examples move it away from the per-example prediction by a factor that
grows with depth in the chaotic phase (measured ~0.7 over 20 layers of tanh at sigma_w2 = 4).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..base.datasets import DATASET_INFO
from .data import prepare_data
from .jacobian import config_jacobian, mean_sq
from .meanfield import Propagation, activation_moments, applies, config_sigmas, theory_for_config
from .result import gradient_ratio


def input_second_moment(cfg, rows: int = 4096) -> float:
    """Mean x^2 per input feature over (at most `rows` of) cfg's training inputs, as the model
    sees them (scaled, noised, standardized): the theory's q0. Reads local files only."""
    x = prepare_data(cfg, "cpu", allow_download=False).x_train[:rows]
    return float(x.double().pow(2).mean())


def _finite(v: float) -> float:
    return float(v) if math.isfinite(v) else math.nan


def predicted_flow(cfg, info=None, q0: float = 1.0, p: Propagation | None = None) -> pd.DataFrame:
    """Per weight layer (1..L hidden, L + 1 the head): the predicted variance of its activation
    output (hidden layers; NaN for the head) and its weight-gradient RMS relative to the last
    hidden layer's (1 there). NaN where the prediction overflows. cfg must be a plain MLP."""
    info = info or DATASET_INFO[cfg.dataset]
    p = p or theory_for_config(cfg, info, q0)
    sw, _ = config_sigmas(cfg, info)
    n = [info.features, *cfg.widths, info.classes]
    depth = len(cfg.widths)
    mom = [activation_moments(cfg.activation, q, cfg.leaky_slope) if math.isfinite(q) and q < 1e300
           else (math.nan,) * 3 for q in p.per_layer_q]
    inputs = [q0] + [m[1] for m in mom]  # E[x_{l-1}^2] of weight layer l's input
    delta = [math.nan] * (depth + 1)  # E[(dL/dh_l)^2] relative to the head's error signal
    delta[depth] = 1.0
    for l in range(depth - 1, -1, -1):
        delta[l] = mom[l][2] * sw[l + 1] * n[l + 2] / n[l + 1] * delta[l + 1]
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):  # zero weights: 0/0, x/0
        sq = np.array([delta[l] * inputs[l] for l in range(depth + 1)], dtype=np.float64)
        rms = np.sqrt(sq / sq[depth - 1])
    return pd.DataFrame({
        "layer": np.arange(1, depth + 2),
        "act_var": [_finite(m[1] - m[0] ** 2) for m in mom] + [math.nan],
        "grad_rms": [_finite(v) for v in rms],
    })


@dataclass(frozen=True)
class Comparison:
    """Predicted and measured statistics of one network at initialization."""

    propagation: Propagation
    frame: pd.DataFrame  # long: layer, name, quantity (ACT_VAR, GRAD_RMS), source, value
    predicted_ratio: float  # weight-gradient RMS, layer 1 over the last hidden layer
    measured_ratio: float
    predicted_act_var: float  # at the last hidden layer
    measured_act_var: float
    q0: float
    measured_growth: float  # mean s^2 of dh_L/dh_1 on training examples (p.grad_growth predicts it)
    growth_note: str  # why measured_growth is NaN ('' when it was measured)

    @property
    def depth(self) -> int:
        return len(self.propagation.per_layer_q)


ACT_VAR, GRAD_RMS = "activation variance", "gradient RMS"


def compare(cfg, flow: pd.DataFrame, q0: float | None = None, info=None) -> Comparison:
    """The theory's prediction beside `flow` (core.engine.probe.probe_at_init's table of cfg).
    ValueError (the reason) when the simple theory does not describe cfg's network."""
    ok, why = applies(cfg)
    if not ok:
        raise ValueError(why)
    info = info or DATASET_INFO[cfg.dataset]
    q0 = input_second_moment(cfg) if q0 is None else q0
    p = theory_for_config(cfg, info, q0)
    pred = predicted_flow(cfg, info, q0, p)
    measured = flow.set_index("layer")
    missing = [c for c in ("name", "grad_norm", "act_std") if c not in measured.columns]
    if missing:  # e.g. a network whose first pass is already non-finite
        raise ValueError(f"the pass at initialization has no finite {', '.join(missing)}: nothing to compare")
    names = measured["name"].reindex(pred["layer"]).to_numpy()
    n = np.array([info.features, *cfg.widths, info.classes], dtype=np.float64)
    grad = measured["grad_norm"].reindex(pred["layer"]).to_numpy(dtype=np.float64) / np.sqrt(n[:-1] * n[1:])
    act_var = measured["act_std"].reindex(pred["layer"]).to_numpy(dtype=np.float64) ** 2
    depth = len(cfg.widths)
    anchored = pred["grad_rms"].to_numpy() * grad[depth - 1]
    rows = []
    for quantity, predicted, seen in ((ACT_VAR, pred["act_var"].to_numpy(), act_var), (GRAD_RMS, anchored, grad)):
        for source, values in (("predicted", predicted), ("measured", seen)):
            rows.append(pd.DataFrame({"layer": pred["layer"], "name": names, "quantity": quantity,
                                      "source": source, "value": values}))
    frame = pd.concat(rows, ignore_index=True)
    frame = frame[np.isfinite(frame["value"].astype(float))].reset_index(drop=True)
    growth, note = measured_growth(cfg, info)
    return Comparison(p, frame, float(pred["grad_rms"].iloc[0]) if depth > 1 else math.nan,
                      gradient_ratio(list(grad)) if depth > 1 else math.nan,
                      float(pred["act_var"].iloc[depth - 1]), float(act_var[depth - 1]), q0, growth, note)


GROWTH_BATCH = 16


@functools.lru_cache(maxsize=64)  # configs are frozen: the app asks again on every rerun
def measured_growth(cfg, info=None, batch: int = GROWTH_BATCH) -> tuple[float, str]:
    """The mean squared singular value of d h_L / d h_1 of cfg's fresh network on `batch` training
    examples: the measured ||dL/dh_1||^2 / ||dL/dh_L||^2 for a random error signal at layer L.
    (NaN, why) when it cannot be measured (one hidden layer, beyond the Jacobian's cost limits)."""
    info = info or DATASET_INFO[cfg.dataset]
    if len(cfg.widths) < 2:
        return math.nan, "one hidden layer: nothing to propagate through"
    x = prepare_data(cfg, "cpu", allow_download=False).x_train[:batch]
    try:  # the Frobenius norm: the same mean s^2 as the spectrum's, without an SVD per example
        return mean_sq(config_jacobian(cfg, info, x, "hidden")), ""
    except ValueError as exc:
        return math.nan, str(exc)
