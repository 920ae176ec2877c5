"""The per-layer instruments of a run, each declared once: name, title, unit, scale, caption,
healthy range and block.

    from core.base.instruments import ACTIVATION, INSTRUMENTS, block_stats
    INSTRUMENTS["update_ratio"].title           # '||ΔW|| / ||W|| per step'
    INSTRUMENTS["act_dead"].healthy.verdict(0.5)  # ('warning', 'high')
    block_stats(ACTIVATION)                     # ('act_mean', 'act_std', 'act_saturation', 'act_dead')

Like Cockpit's quantity classes, one entry per quantity drives everything that names it: the
order and names of the stored columns (core.engine.stats; the `stat` column of layer_stats),
the charts and tabs of a run (core.views.charts, pages.run_views) and the diagnosis thresholds
(core.lab.diagnosis). Adding a statistic means adding it here and computing it in its block's
summarizer. No torch and no streamlit here, so every layer of the code can import it.

Blocks, in stored order: the true gradient of each weight layer, the noisy gradient actually
applied (only with gradient noise on), the weights, the activations of the hidden layers.
Within a block the instruments are listed in the order of the summarizer's columns.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

GRADIENT, NOISY_GRADIENT, WEIGHT, ACTIVATION = "gradient", "noisy gradient", "weight", "activation"
BLOCKS = (GRADIENT, NOISY_GRADIENT, WEIGHT, ACTIVATION)
NOISY_PREFIX = "noisy_"

# Units: what a value is measured in. SHARE values are fractions of units, drawn as percentages.
GRADIENT_UNIT, WEIGHT_UNIT, ACTIVATION_UNIT = "∂loss/∂w", "weight", "activation"
RATIO, SHARE = "ratio", "share of units"

# Views of a run (pages.run_views): a per-layer profile at chosen steps and over steps (FLOW),
# one line per layer over the logged steps (STEPS), one bar per layer at a chosen step (BARS);
# None: only in the table of numbers.
FLOW, STEPS, BARS = "flow", "steps", "bars"


@dataclass(frozen=True)
class Healthy:
    """The healthy range of a quantity, as a rule of thumb.

    Inside [low, high] is healthy; outside it deserves a warning, and outside [problem_low,
    problem_high] it is a problem. None leaves that side open (a problem bound of None: that side
    never gets past a warning). `of` says what is compared with the range: a layer's value, or a
    summary over layers or steps. `typical` is a common healthy value, when there is one.
    """
    low: float | None = None
    high: float | None = None
    problem_low: float | None = None
    problem_high: float | None = None
    of: str = "each layer's value"
    typical: float | None = None

    def verdict(self, value: float) -> tuple[str, str | None]:
        """('ok', None), or ('warning' | 'problem', 'low' | 'high'). Bounds are strict: a value
        equal to a bound is on its healthy side. NaN is not judged ('ok')."""
        if math.isnan(value):
            return "ok", None
        if self.problem_low is not None and value < self.problem_low:
            return "problem", "low"
        if self.problem_high is not None and value > self.problem_high:
            return "problem", "high"
        if self.low is not None and value < self.low:
            return "warning", "low"
        if self.high is not None and value > self.high:
            return "warning", "high"
        return "ok", None

    def describe(self, fmt=lambda x: f"{x:g}") -> str:
        """'healthy: ...' in words, for captions; `fmt` writes a number."""
        if self.low is not None and self.high is not None:
            text = f"between {fmt(self.low)} and {fmt(self.high)}"
        elif self.high is not None:
            text = f"at most {fmt(self.high)}"
        elif self.low is not None:
            text = f"at least {fmt(self.low)}"
        else:
            text = "any value"
        around = f", around {fmt(self.typical)}" if self.typical is not None else ""
        return f"healthy: {text}{around} ({self.of})"


@dataclass(frozen=True)
class Instrument:
    """One per-layer quantity.

    stat: its name in layer_stats' `stat` column; block: GRADIENT, NOISY_GRADIENT, WEIGHT or
    ACTIVATION; title: axis and legend title; unit: what it is measured in (SHARE values are
    drawn as percentages); log: log scale (else linear from 0); caption: what it is, in one
    sentence; healthy: its healthy range, where the diagnosis judges it; view: how a run's
    page draws it (FLOW, STEPS, BARS, or None: numbers only); applies: '' when every layer
    reports it, else when it is reported (a layer whose activation has no such thing stores no
    row, rather than a NaN).
    """
    stat: str
    block: str
    title: str
    unit: str
    log: bool
    caption: str
    healthy: Healthy | None = None
    view: str | None = None
    applies: str = ""

    @property
    def percent(self) -> bool:
        return self.unit == SHARE

    @property
    def scale_note(self) -> str:
        return "log scale" if self.log else "linear scale"

    def format(self, value: float) -> str:
        """A threshold or typical value in words: 30%, 0.1, 1e-5."""
        if self.percent:
            return f"{value:.0%}"
        if value and not 0.01 <= abs(value) < 1e4:
            return f"{value:.0e}".replace("e-0", "e-").replace("e+0", "e+")
        return f"{value:g}"

    @property
    def healthy_note(self) -> str:
        """The healthy range in words ('' when the diagnosis does not judge this quantity)."""
        return self.healthy.describe(self.format) if self.healthy else ""


def _noisy(ins: Instrument) -> Instrument:
    """The same gradient statistic of the gradient actually applied (noise included)."""
    return replace(ins, stat=NOISY_PREFIX + ins.stat, block=NOISY_GRADIENT, title=f"{ins.title} (noisy)",
                   caption=ins.caption.rstrip(".") + ", of the gradient actually applied (noise included).",
                   healthy=None, view=None)


_GRADIENT = (
    Instrument("grad_norm", GRADIENT, "||gradient||", GRADIENT_UNIT, True,
               "L2 norm of the layer's weight gradient."),
    Instrument("grad_mean_abs", GRADIENT, "mean |gradient|", GRADIENT_UNIT, True,
               "Mean |gradient| of the layer's weights.",
               # layer 1 / last hidden layer: 1e-2 is 'the first layer gets 100x less'
               Healthy(low=1e-1, high=10.0, problem_low=1e-2, problem_high=1e2,
                       of="layer 1's value over the last hidden layer's"), view=FLOW),
    Instrument("grad_max_abs", GRADIENT, "max |gradient|", GRADIENT_UNIT, True,
               "Largest |gradient| among the layer's weights."),
    Instrument("grad_std", GRADIENT, "gradient std", GRADIENT_UNIT, True,
               "Standard deviation of the layer's weight gradient."),
)

INSTRUMENT_LIST: tuple[Instrument, ...] = (
    *_GRADIENT,
    *(_noisy(ins) for ins in _GRADIENT),
    Instrument("weight_norm", WEIGHT, "||W||", WEIGHT_UNIT, True,
               "Weight norm of each layer.", view=STEPS),
    Instrument("update_ratio", WEIGHT, "||ΔW|| / ||W|| per step", RATIO, True,
               "Update-to-weight ratio ||W_after - W_before|| / ||W_before|| of each layer: far "
               "below the typical value the layer is frozen, far above it is thrashing.",
               # judged on layer 1, where vanishing gradients freeze learning first
               Healthy(low=1e-5, of="median over logged steps, layer 1", typical=1e-3), view=STEPS),
    Instrument("act_mean", ACTIVATION, "activation mean", ACTIVATION_UNIT, False,
               "Mean of each hidden layer's output: SELU keeps it near 0, the logistic near 0.5.",
               view=STEPS),
    Instrument("act_std", ACTIVATION, "activation std", ACTIVATION_UNIT, True,
               "Standard deviation of each hidden layer's output.", view=STEPS),
    Instrument("act_saturation", ACTIVATION, "saturated units", SHARE, False,
               "Share of units in the flat tails (derivative below 10% of its maximum).",
               Healthy(high=0.3), view=BARS, applies="only logistic and tanh saturate"),
    Instrument("act_dead", ACTIVATION, "dead units", SHARE, False,
               "Share of ReLUs that output 0 for every example of the batch.",
               Healthy(high=0.3), view=BARS, applies="only ReLU units die"),
)

INSTRUMENTS: dict[str, Instrument] = {ins.stat: ins for ins in INSTRUMENT_LIST}


def block(name: str) -> tuple[Instrument, ...]:
    """The instruments of one block, in stored order."""
    return tuple(ins for ins in INSTRUMENT_LIST if ins.block == name)


def block_stats(name: str) -> tuple[str, ...]:
    """The stat names of one block, in stored order (the summarizer's column order)."""
    return tuple(ins.stat for ins in block(name))


def instrument(stat: str) -> Instrument:
    """The declaration of `stat`; a stat not declared here is drawn as a plain log-scale number."""
    return INSTRUMENTS.get(stat) or Instrument(stat, "", stat, "", True, "")


__all__ = ["Healthy", "Instrument", "INSTRUMENTS", "INSTRUMENT_LIST", "BLOCKS", "GRADIENT",
           "NOISY_GRADIENT", "WEIGHT", "ACTIVATION", "FLOW", "STEPS", "BARS", "SHARE", "RATIO",
           "NOISY_PREFIX", "block", "block_stats", "instrument"]
