"""The theory's verdict in words, from the numbers of core.engine.prediction.compare.

    cmp = compare(cfg, flow)
    verdict(cmp)                     # 'ordered phase (chi_1 = 0.056): the theory predicts ...; measured ...'
    details(cmp)                     # the per-layer comparison behind it, one sentence
    theory_note(cfg, flow)           # the sentence diagnose_init adds to its gradient-flow finding
    does_not_apply(cfg)              # '' where the theory applies, else why not, in a sentence
"""
from __future__ import annotations

import math

from ..engine.data import DatasetUnavailable
from ..engine.meanfield import applies
from ..engine.prediction import Comparison, compare


def _change(ratio: float) -> str:
    """'shrinks by about 196x' / 'grows by about 1.3x' for a ratio after / before."""
    if not math.isfinite(ratio) or ratio <= 0:
        return "explodes" if ratio == math.inf else "vanishes" if ratio == 0 else "could not be computed"
    if abs(math.log(ratio)) < math.log(1.05):
        return f"stays within a factor of {max(ratio, 1 / ratio):.3g}"
    big = max(ratio, 1 / ratio)
    return f"{'grows' if ratio > 1 else 'shrinks'} by about {big:.3g}x" if big < 1000 else \
        f"{'grows' if ratio > 1 else 'shrinks'} by about {big:.1e}x"


def verdict(cmp: Comparison) -> str:
    """The phase, the predicted change of the squared backpropagated gradient over the hidden
    layers (dL/dh_L back to dL/dh_1) and the same quantity measured on the network."""
    p = cmp.propagation
    head = f"{p.phase} phase (chi_1 = {p.chi1:.3g})"
    if cmp.depth < 2:
        return f"{head}: one hidden layer, so there is no depth for the gradient to vanish or explode over."
    measured = (f"measured: it {_change(cmp.measured_growth)}" if math.isfinite(cmp.measured_growth)
                else f"not measured ({cmp.growth_note})")
    return (f"{head}: the theory predicts the squared gradient norm {_change(p.grad_growth)} over "
            f"these {cmp.depth} layers (layer {cmp.depth} back to layer 1); {measured}.")


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
    """One sentence for the at-initialization diagnosis where the theory applies: its phase, the
    predicted change of the gradient and the measured one ('' where it does not apply, or where
    the data to compare with is not on this machine)."""
    if not applies(cfg)[0] or len(cfg.widths) < 2:
        return ""
    try:
        cmp = compare(cfg, flow)
    except (DatasetUnavailable, ValueError):  # no data here, or nothing finite to compare with
        return ""
    return f"Signal-propagation theory: {verdict(cmp)}"


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
