"""What the diagnosis reads: scale-aware quantities of a network at one moment, from one table.

    s = signals_at_init(cfg, flow)       # from core.engine.probe.probe_at_init's table
    s = signals_of_run(result)           # a run's last logged step, with the updates it made
    s.hidden                             # number of hidden layers (weight layers but the output)
    s.forward_ratio                      # E[h^2] of the last hidden layer over layer 1's
    s.grad_ratio                         # layer 1's mean |g| over the last hidden layer's
    s.update_ratio                       # layer 1's step update over the last hidden layer's
    s.movement                           # per layer: how far the weights can move in the whole run

The quantities, each per weight layer, input to output:

- forward signal: the second moment E[h^2] = mean^2 + std^2 of each hidden layer's output. A
  network whose forward signal shrinks by decades feeds its top layers (and its logits) almost
  nothing, whatever its gradient ratio says (He et al. 2015, section 2.2).
- gradient: mean |g| of the weight gradient. Its ratio from layer 1 to the last hidden layer is
  the classic picture of vanishing and exploding gradients; it needs two hidden layers (with one
  there is no depth to vanish over; the output layer, with no activation behind it, is never
  the reference).
- step update: the relative change ||dW|| / ||W|| one optimizer step makes. After training it
  is measured (the median of the logged update_ratio); at initialization it is predicted from
  the gradient and the configured optimizer's rule: SGD moves lr ||g||; momentum SGD, with a
  gradient that keeps its direction, lr ||g|| / (1 - momentum) at steady state; Adam, NAdam and
  RMSprop divide each weight's gradient by its own scale, so every weight moves about
  lr * a / (a + eps), a being the RMS of its layer's gradient (eps as the trainer sets it). So
  a vanishing raw gradient under Adam still moves layer 1, unless it falls below eps.
- movement: step update x optimizer steps of the run: how far the weights could travel (as a
  share of their size) if every step pushed the same way. Below 1% nothing can be learned.

Numbers come from the table as they are; a quantity that cannot be computed is NaN (the
findings then say nothing about it).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..base.catalogue import OPTIMIZER_TABLE
from ..base.config import RunConfig
from ..base.cost import estimate
from ..engine.result import finite_or_none

# eps of the adaptive optimizers (as the engine builds them) and their names as the text says
# them: the optimizer catalogue's
ADAPTIVE_EPS = {o.name: o.eps for o in OPTIMIZER_TABLE.values() if o.adaptive}
OPTIMIZER_NAMES = {o.name: o.label for o in OPTIMIZER_TABLE.values()}


@dataclass(frozen=True)
class Signals:
    """Per-layer quantities of one network at one moment (arrays over weight layers, input to
    output; activation entries NaN for the output layer)."""

    cfg: RunConfig
    when: str  # "at initialization", "at the end of training", ...
    grad_mean_abs: np.ndarray
    grad_norm: np.ndarray
    weight_norm: np.ndarray
    act_m2: np.ndarray  # E[h^2] of each hidden layer's output
    step_update: np.ndarray  # relative change of the weights per step
    steps: int  # optimizer steps of the run
    measured: bool  # step_update measured during training (else predicted from the gradient)

    # ------------------------------------------------------------------ layers
    @property
    def layers(self) -> int:
        return len(self.grad_mean_abs)

    @property
    def hidden(self) -> int:
        """Hidden layers: every weight layer but the output layer."""
        return max(self.layers - 1, 0)

    @property
    def deep(self) -> bool:
        """Two hidden layers or more: the least depth a gradient can vanish or explode over."""
        return self.hidden >= 2

    def _first_last(self, values: np.ndarray) -> float:
        """values[layer 1] / values[last hidden layer]; NaN when not deep or not finite."""
        if not self.deep:
            return math.nan
        a, b = float(values[0]), float(values[self.hidden - 1])
        if not (math.isfinite(a) and math.isfinite(b)) or b <= 0:
            return math.nan
        return a / b

    # ------------------------------------------------------------------ ratios
    @property
    def grad_ratio(self) -> float:
        return self._first_last(self.grad_mean_abs)

    @property
    def update_ratio(self) -> float:
        return self._first_last(self.step_update)

    @property
    def forward_ratio(self) -> float:
        """E[h^2] of the last hidden layer over layer 1's; inf when it overflowed."""
        if not self.deep:
            return math.nan
        a, b = float(self.act_m2[0]), float(self.act_m2[self.hidden - 1])
        if math.isnan(a) or math.isnan(b) or a <= 0:
            return math.nan
        return b / a if math.isfinite(b) else math.inf

    @property
    def forward_factor(self) -> float:
        """The forward ratio per hidden layer (its geometric mean)."""
        r = self.forward_ratio
        if not (r > 0) or not math.isfinite(r):
            return r
        return r ** (1 / (self.hidden - 1))

    @property
    def movement(self) -> np.ndarray:
        return self.step_update * self.steps

    def zero_gradient(self) -> list[int]:
        """Hidden layers (1-based) whose weight gradient is exactly 0."""
        return [i + 1 for i in range(self.hidden if self.layers > 1 else self.layers)
                if self.grad_norm[i] == 0]

    def evidence(self) -> dict:
        """The numbers behind the findings, JSON-ready (None where not finite)."""
        num = finite_or_none
        out = {"hidden_layers": self.hidden, "grad_ratio": num(self.grad_ratio),
               "forward_ratio": num(self.forward_ratio), "update_ratio": num(self.update_ratio),
               "steps": self.steps, "update_measured": self.measured,
               "layer1_mean_abs_grad": num(self.grad_mean_abs[0]) if self.layers else None,
               "layer1_step_update": num(self.step_update[0]) if self.layers else None}
        hid = self.step_update[:max(self.hidden, 1)]
        out["largest_hidden_movement"] = num(np.nanmax(hid) * self.steps) if np.isfinite(hid).any() else None
        return out


def _predicted_update(cfg: RunConfig, grad_norm: np.ndarray, weight_norm: np.ndarray,
                      params: np.ndarray) -> np.ndarray:
    """||dW|| / ||W|| of one step of cfg's optimizer on these gradients (see the module's
    docstring); inf where the weights are 0 and the gradient is not, NaN where both are 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if cfg.optimizer in ADAPTIVE_EPS:
            rms = grad_norm / np.sqrt(np.maximum(params, 1))
            step = cfg.lr * np.sqrt(params) * rms / (rms + ADAPTIVE_EPS[cfg.optimizer])
        else:
            boost = 1 / (1 - cfg.momentum) if cfg.optimizer == "sgd_momentum" else 1.0
            step = cfg.lr * boost * grad_norm
        return np.where(weight_norm > 0, step / weight_norm, np.where(step > 0, np.inf, np.nan))


def _column(wide: pd.DataFrame, name: str) -> np.ndarray:
    return (wide[name].to_numpy(dtype=float) if name in wide
            else np.full(len(wide), np.nan))


def _act_m2(wide: pd.DataFrame) -> np.ndarray:
    mean, std = _column(wide, "act_mean"), _column(wide, "act_std")
    with np.errstate(over="ignore", invalid="ignore"):
        return mean ** 2 + std ** 2


def signals_at_init(cfg: RunConfig, flow: pd.DataFrame) -> Signals:
    """From the probe's table (one row per weight layer; `params` gives its weights' count)."""
    flow = flow.sort_values("layer")
    grad_norm, weight_norm = _column(flow, "grad_norm"), _column(flow, "weight_norm")
    params = _column(flow, "params")
    return Signals(cfg, "at initialization", _column(flow, "grad_mean_abs"), grad_norm, weight_norm,
                   _act_m2(flow), _predicted_update(cfg, grad_norm, weight_norm, params),
                   estimate(cfg).total_steps, measured=False)


def signals_of_run(result) -> Signals | None:
    """At the run's last logged step; the step update is the median update_ratio of each layer
    over the logged steps after step 0 (measured). None when the run logged nothing."""
    stats = result.layer_stats
    if stats.empty:
        return None
    last = stats[stats.step == stats.step.max()]
    wide = last.pivot_table(index="layer", columns="stat", values="value", aggfunc="first").sort_index()
    ratios = result.stat_matrix("update_ratio")
    ratios = ratios[ratios.index > 0].replace([np.inf, -np.inf], np.nan)
    update = (ratios.median().reindex(wide.index).to_numpy(dtype=float) if not ratios.empty
              else np.full(len(wide), np.nan))
    steps = int(result.steps["step"].max()) + 1 if not result.steps.empty else 0
    when = "at the end of training" if result.status != "diverged" else "at the last logged step"
    return Signals(result.config, when, _column(wide, "grad_mean_abs"), _column(wide, "grad_norm"),
                   _column(wide, "weight_norm"), _act_m2(wide), update, steps, measured=True)
