"""The theory in words, generated from the numbers, and the Jacobian of a config for the app and the CLI.

    cmp = compare(cfg, flow)
    sentences(cmp, cfg)              # [the phase at the fixed point, the prediction over these layers,
                                     #  the measurement beside it]: words that cannot contradict the numbers
    verdict(cmp, cfg)                # the three as one text ('ordered phase: at the fixed point ...')
    details(cmp)                     # the per-layer comparison behind it, one sentence
    theory_note(cfg, flow)           # the text diagnose_init adds to its gradient-flow finding
    does_not_apply(cfg)              # '' where the theory applies, else why not, in a sentence
    jacobian_of(cfg, state_dict)     # (spectrum or None, why): the input-output Jacobian of cfg's
                                     # network on its first JACOBIAN_BATCH training examples
    GLOSSARY                         # chi_1, length map, fixed point, sigma_w2, sigma_b2 in plain words

Why the words are generated: "critical phase (chi_1 = 1) ... shrinks by about 7.57x" read as a
contradiction. Both numbers were right: chi_1 is taken at the fixed point q* of the length map,
while the prediction multiplies each layer's own chi_1(q_l) on the way there (tanh with zero
biases creeps towards q* = 0, each step below 1). So the prediction's sentence says so whenever
it differs from chi_1^(L-1) by more than DRIFT, and a measurement away from the prediction is
named as what it is: the theory is the infinite-width limit, a network of finite width scatters
around it.
"""
from __future__ import annotations

import math

from ..base.datasets import DATASET_INFO
from ..engine.data import DatasetUnavailable, prepare_data
from ..engine.jacobian import JacobianSpectrum, check_at_init, config_spectrum
from ..engine.meanfield import Propagation, applies
from ..engine.prediction import GROWTH_BATCH, Comparison, compare

JACOBIAN_BATCH = 16  # training examples of the input-output Jacobian (the app's and `probe --jacobian`'s)
SAME = 1.05  # a change within this factor "stays about the same"
DRIFT = 2.0  # the layer-by-layer prediction differs from chi_1^(L-1) by more (or in direction): say why
AGREES = 1.5  # a measurement within this factor of the prediction agrees with it,
AGREES_SHARE = 0.1  # or within this share of the predicted change's orders of magnitude (a 2.6x gap
# on a predicted 1e61x is agreement; finite width moves a product of many layers by a factor that
# grows with depth)


def _change(ratio: float, plain: bool = False) -> str:
    """'shrinks by about 196x' / 'grows by about 1.3x' / 'stays about the same (within 1.02x)';
    `plain`: large factors in words ('shrinks about 580 million times'), for presenter mode."""
    if not math.isfinite(ratio) or ratio <= 0:
        return "explodes" if ratio == math.inf else "vanishes" if ratio == 0 else "could not be computed"
    big = max(ratio, 1 / ratio)
    if big < 1.005:
        return "stays the same"
    if big < SAME:
        return f"stays about the same (within a factor of {big:.3g})"
    if plain:
        return f"{'grows' if ratio > 1 else 'shrinks'} about {_in_words(big)} times"
    size = f"{big:.3g}" if big < 1000 else f"{big:,.0f}" if big < 1e6 else f"{big:.1e}"
    return f"{'grows' if ratio > 1 else 'shrinks'} by about {size}x"


def _in_words(big: float) -> str:
    """A factor in words, two significant digits: '2.6', '12,000', '580 million', '10¹⁸'."""
    if big >= 1e15:
        return f"10{_superscript(round(math.log10(big)))}"
    for exponent, word in ((12, "trillion"), (9, "billion"), (6, "million")):
        if big >= 10 ** exponent:
            return f"{float(f'{big / 10 ** exponent:.2g}'):g} {word}"
    return f"{float(f'{big:.2g}'):,g}"


_BASE = {"grows": "grow", "shrinks": "shrink", "stays": "stay", "explodes": "explode", "vanishes": "vanish",
         "could": "could"}


def _would(ratio: float) -> str:
    """_change in the base form, after 'would': 'shrink by about 7.57x'."""
    verb, _, rest = _change(ratio).partition(" ")
    return " ".join(w for w in (_BASE[verb], rest) if w)


def _direction(ratio: float) -> str:
    return _change(ratio).split(" ")[0]  # grows, shrinks, stays, explodes, vanishes


def _q(v: float) -> str:
    """A variance; the fixed point 0 that the iteration reaches as ~1e-16 reads 0."""
    return "0" if 0 <= v < 1e-12 else f"{v:.3g}"


def _factor(ratio: float) -> float:
    return max(ratio, 1 / ratio) if math.isfinite(ratio) and ratio > 0 else math.inf


def _superscript(n: int) -> str:
    return str(n).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))


def phase_sentence(p: Propagation) -> str:
    """The phase, from chi_1 at the fixed point: what one layer does to the squared gradient there."""
    chi = p.chi1
    where = "at the fixed point" if math.isfinite(p.q_star) else \
        "as the variance grows without bound: the length map has no fixed point"
    if p.phase == "critical":
        per_layer = "neither grows nor shrinks the squared gradient" if abs(chi - 1) < 5e-4 else \
            f"changes the squared gradient by under {abs(chi - 1) * 100:.2g}%"
        return (f"critical phase, the edge of chaos (χ₁ = {chi:.3g} {where}): there a layer "
                f"{per_layer}, in the limit of infinitely wide layers.")
    word, verb = ("ordered", "vanishes") if p.phase == "ordered" else ("chaotic", "explodes")
    return (f"{word} phase (χ₁ = {chi:.3g} {'<' if chi < 1 else '>'} 1 {where}): there each layer "
            f"multiplies the squared gradient by {chi:.3g}, so it {verb} with depth.")


def plain_phase_sentence(p: Propagation) -> str:
    """The phase without its symbols, for presenter mode (phase_sentence has the numbers)."""
    if p.phase == "critical":  # within CRITICAL_TOL of 1, as phase_sentence words it
        change = abs(p.chi1 - 1)
        per_layer = "neither grows nor shrinks the gradient" if change < 5e-4 else \
            f"changes the gradient by under {change * 100:.2g}%"
        return f"At the edge of chaos: once the signal has settled, a layer {per_layer}."
    if p.phase == "ordered":
        return "Ordered: once the signal has settled, every layer shrinks the gradient, so it vanishes with depth."
    return "Chaotic: once the signal has settled, every layer grows the gradient, so it explodes with depth."


def prediction_sentence(p: Propagation, plain: bool = False) -> str:
    """The predicted change over these layers, and (unless `plain`) why it differs from
    chi_1^(L-1) where it does by more than DRIFT (the layers are still on their way to the fixed
    point)."""
    depth = len(p.per_layer_q)
    if depth < 2:
        return "One hidden layer: there is no depth for the gradient to vanish or explode over."
    text = (f"Over these {depth} layers (layer {depth} back to layer 1) the theory predicts the squared "
            f"gradient norm {_change(p.grad_growth, plain)}.")
    if plain:
        return text
    chis = [c for c in p.per_layer_chi1 if math.isfinite(c)]
    log_fixed = (depth - 1) * math.log(p.chi1) if 0 < p.chi1 < math.inf else math.nan
    with_fixed = math.exp(min(log_fixed, 700.0)) if math.isfinite(log_fixed) else math.nan
    drift = _factor(p.grad_growth / with_fixed) if 0 < with_fixed < math.inf else math.inf
    turned = math.isfinite(with_fixed) and _direction(with_fixed) != _direction(p.grad_growth)
    if chis and (drift > DRIFT or turned) and math.isfinite(p.q_star):
        qs = p.per_layer_q
        moves = "falls" if qs[-1] < qs[0] else "rises"
        side = "below 1" if max(chis) < 1 else "above 1" if min(chis) > 1 else "on both sides of 1"
        text += (f" At the fixed point it would {_would(with_fixed)} "
                 f"(χ₁{_superscript(depth - 1)} = {with_fixed:.3g}); the layers have not reached it: their "
                 f"variance q {moves} from {_q(qs[0])} to {_q(qs[-1])} on its way to q* = {_q(p.q_star)}, and "
                 f"on the way each layer's factor χ₁(q) is {side} ({min(chis):.3g} to {max(chis):.3g}).")
    return text


def measured_sentence(cmp: Comparison, cfg=None, plain: bool = False) -> str:
    """The measured change beside the predicted one: agreeing, or the gap named as the
    finite-width effect it is (the theory is the infinitely wide limit); `plain` as _change."""
    m, g = cmp.measured_growth, cmp.propagation.grad_growth
    if cmp.depth < 2:
        return ""
    if not math.isfinite(m):
        return f"Not measured on this network ({cmp.growth_note})."
    text = f"Measured on this network ({GROWTH_BATCH} training examples): it {_change(m, plain)}"
    gap = m / g if g > 0 and math.isfinite(g) else math.nan
    if not math.isfinite(gap) or gap <= 0:
        return text + "."
    if math.log(_factor(gap)) <= max(math.log(AGREES), AGREES_SHARE * abs(math.log(g))):
        return text + f", as predicted (within a factor of {_factor(gap):.3g})."
    widths = sorted(set(cfg.widths)) if cfg is not None else []
    width = f"width {widths[0]}" if len(widths) == 1 else "its finite widths" if widths else "finite width"
    return (text + f", ending {_factor(gap):.3g}x {'higher' if gap > 1 else 'lower'} than predicted: the "
            f"theory is the limit of infinitely wide layers, and at {width} the product of {cmp.depth - 1} "
            "random layers scatters around it (another seed, or other examples, give another value).")


def sentences(cmp: Comparison, cfg=None) -> list[str]:
    """The phase, the prediction and the measurement, each a sentence generated from the numbers."""
    return [s for s in (phase_sentence(cmp.propagation), prediction_sentence(cmp.propagation),
                        measured_sentence(cmp, cfg)) if s]


def plain_sentences(cmp: Comparison, cfg=None) -> list[str]:
    """sentences() without χ₁, q or the fixed point: presenter mode's words (the numbers go
    behind an expander)."""
    p = cmp.propagation
    return [s for s in (plain_phase_sentence(p), prediction_sentence(p, plain=True),
                        measured_sentence(cmp, cfg, plain=True)) if s]


def verdict(cmp: Comparison, cfg=None) -> str:
    """sentences(cmp, cfg) as one text, starting in lower case ('ordered phase (χ₁ = 0.056 ...')."""
    return " ".join(sentences(cmp, cfg))


def details(cmp: Comparison) -> str:
    """The per-layer statistics of the chart, predicted against measured, in one or two sentences."""
    L = cmp.depth
    text = (f"Activation variance at layer {L}: predicted {cmp.predicted_act_var:.3g}, measured "
            f"{cmp.measured_act_var:.3g} (inputs of second moment q0 = {cmp.q0:.3g} per feature).")
    if L > 1 and math.isfinite(cmp.predicted_ratio) and math.isfinite(cmp.measured_ratio):
        text += (f" Weight gradient of layer 1 over layer {L} (RMS per weight): predicted "
                 f"{cmp.predicted_ratio:.3g}, measured {cmp.measured_ratio:.3g}.")
    return text


def does_not_apply(cfg) -> str:
    ok, why = applies(cfg)
    return "" if ok else f"The simple signal-propagation theory does not apply to this network: {why}."


def theory_note(cfg, flow) -> str:
    """The text for the at-initialization diagnosis where the theory applies: its phase, the
    predicted change of the gradient and the measured one ('' where it does not apply, or where
    the data to compare with is not on this machine)."""
    if not applies(cfg)[0] or len(cfg.widths) < 2:
        return ""
    try:
        cmp = compare(cfg, flow)
    except (DatasetUnavailable, ValueError):  # no data here, or nothing finite to compare with
        return ""
    return f"Signal-propagation theory: {verdict(cmp, cfg)}"


def with_theory(cfg, flow, findings: list, flow_signal: str) -> list:
    """findings with the theory's sentence added to the gradient-flow finding (the first whose
    signal is `flow_signal`), so the prediction stands with the measurement and carries its
    severity, never its own."""
    note = theory_note(cfg, flow)
    if not note:
        return findings
    for f in findings:
        if f.signal == flow_signal:
            f.text = f"{f.text} {note}"
            return findings
    return findings


def jacobian_of(cfg, state_dict: dict | None = None, batch: int = JACOBIAN_BATCH) -> tuple[JacobianSpectrum | None, str]:
    """The input-output Jacobian's spectrum of cfg's network on its first `batch` training
    examples (eval mode): freshly initialized, or with state_dict's weights (a stored run's).
    (None, why in one line) where core.engine.jacobian refuses it (cost limits, weights or values
    that are not finite); DatasetUnavailable where the data is not on this machine."""
    info = DATASET_INFO[cfg.dataset]
    try:
        check_at_init(cfg, info, batch)  # from the config: before the data is read or a network built
        x = prepare_data(cfg, "cpu", allow_download=False).x_train[:batch]
        return config_spectrum(cfg, info, x=x, state_dict=state_dict), ""
    except ValueError as exc:
        return None, " ".join(str(exc).split())


GLOSSARY = """\
- **σ_w² (weight variance × fan-in)**: how large the random starting weights are. Each weight is drawn
  with variance σ_w² / (number of inputs of its layer), so σ_w² = 1 keeps a layer's output as large as
  its input for a linear unit. He initialization uses σ_w² = 2, LeCun 1, Glorot 1 between
  layers of equal width.
- **σ_b² (bias variance)**: how large the random starting biases are (0: all biases start at zero).
- **Length map**: the rule that gives a layer's pre-activation variance q from the previous layer's:
  q_next = σ_w² · E[f(h)²] + σ_b², where h is the previous layer's pre-activation. Applying it layer
  after layer predicts how the signal's size changes with depth.
- **Fixed point q\\***: the variance where the length map stops changing, q\\* = σ_w² · E[f(h)²] + σ_b² with
  h of variance q\\*. Deep layers settle there; shallow ones may still be on their way.
- **χ₁ (chi one)**: the factor by which one layer multiplies the squared size of the backpropagated
  gradient, χ₁ = σ_w² · E[f′(h)²], taken at the fixed point. Over L layers the gradient's squared size
  changes by about χ₁ to the power L − 1 once the layers sit at the fixed point.
- **Ordered / critical / chaotic**: χ₁ < 1 (ordered): gradients vanish with depth and nearby inputs
  look alike deep in the network; χ₁ > 1 (chaotic): gradients explode and nearby inputs are torn apart;
  χ₁ = 1 (critical, the "edge of chaos"): gradients keep their size, so very deep networks can
  start training there.
- **Wide-network limit**: all of this is exact for infinitely wide layers with independent random
  weights. A real network of finite width scatters around the prediction, more so when it is deep and narrow.
"""
