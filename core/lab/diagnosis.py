"""A plain-language diagnosis of a run (or of a network at initialization), with remedies.

    for finding in diagnose(result):          # or diagnose_init(cfg, probe_table)
        print(finding.severity, finding.kind, finding.text, finding.evidence)
        for remedy in finding.remedies:      # each is a one-click change of the config
            print("  try:", remedy.label, remedy.config.run_id)
    predicted_outcome(findings)              # 'learns', 'stuck' or 'diverges'

Every finding reads named, scale-aware quantities (core.lab.signals) and carries them in
`evidence`, with a machine-readable `kind`:

- exploding: the loss exploded or the run diverged; or layer 1's gradient is 100x the last
  hidden layer's under an optimizer that follows the raw gradient;
- signal_collapse / signal_explosion: the forward signal (E[h^2] of each hidden layer's output)
  shrinks or grows by decades from layer 1 to the last hidden layer;
- frozen: the updates are too small for the weights to move 1% of their size in the whole run;
- vanishing: layer 1 learns 100x slower than the last hidden layer: its gradient, and the step
  the configured optimizer makes from it, are 10^-2 or less of the last hidden layer's (a raw
  gradient that vanishes under Adam, which rescales it, is a warning);
- zero_gradient: layer 1's weight gradient is exactly 0;
- saturation, dead_units: many logistic/tanh units in their flat tails, or ReLUs off for the batch;
- no_learning: after training, test accuracy near chance; overfitting: a large train-test gap;
- healthy: none of the above about the gradient flow.

A claim of vanishing or exploding needs two hidden layers. Thresholds are rules of thumb:
the gradient ratio's is declared with its instrument in core.base.instruments, the others below.
docs/DIAGNOSIS.md scores the findings against what training actually did on a labelled battery
of networks (core.lab.battery). A remedy is only offered when it changes the configuration,
the changed configuration is valid, and it addresses the cause.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from ..base.config import RunConfig
from ..base.datasets import DATASET_INFO
from ..base.instruments import INSTRUMENTS, Healthy
from .remedies import (BATCH_NORM, RELU_HE, Remedy, exploding_fixes, lower_lr, remedies_for, scale_fixes,
                       use_init, vanishing_fixes)
from .signals import ADAPTIVE_EPS, OPTIMIZER_NAMES, Signals, signals_at_init, signals_of_run
from .theory import with_theory

# Healthy ranges, from the instruments' declarations:
FLOW = INSTRUMENTS["grad_mean_abs"].healthy  # of layer 1's mean |g| over the last hidden layer's
SATURATION = INSTRUMENTS["act_saturation"].healthy  # of each layer's share of saturated units
DEAD = INSTRUMENTS["act_dead"].healthy  # of each layer's share of dead ReLUs
UPDATE_RATIO = INSTRUMENTS["update_ratio"]
UPDATES = UPDATE_RATIO.healthy  # of layer 1's median update-to-weight ratio
# The forward signal: E[h^2] of the last hidden layer over layer 1's (four decades: a problem).
FORWARD = Healthy(low=1e-2, high=1e2, problem_low=1e-4, problem_high=1e4,
                  of="E[h²] of the last hidden layer over layer 1's")
# How far the weights can move in the whole run (step update x steps): below 1%, frozen.
FROZEN = 1e-2
EXPLODED = 10  # a training loss above 10x an untrained network's (ln classes) has exploded

FLOW_SIGNAL, LOSS, ACTIVITY, UPDATES_SIGNAL, ACCURACY = "gradient flow", "loss", "activations", "updates", "accuracy"
FORWARD_SIGNAL = "forward signal"
KINDS = ("exploding", "signal_collapse", "signal_explosion", "frozen", "vanishing", "zero_gradient",
         "saturation", "dead_units", "no_learning", "overfitting", "healthy")
# What a problem of each kind predicts of training (core.lab.battery scores it):
STUCK = {"vanishing", "signal_collapse", "frozen", "zero_gradient", "no_learning"}
DIVERGES = {"exploding", "signal_explosion"}
OUTCOMES = ("learns", "stuck", "diverges")


@dataclass
class Finding:
    severity: str  # "problem", "warning", "ok"
    text: str
    remedies: list[Remedy] = field(default_factory=list)
    signal: str = FLOW_SIGNAL  # what it is about: an 'ok' never stands beside a problem of the same
    kind: str = "healthy"  # one of KINDS
    evidence: dict = field(default_factory=dict)  # the numbers it read, JSON-ready

    def to_dict(self) -> dict:
        return {"severity": self.severity, "kind": self.kind, "signal": self.signal, "text": self.text,
                "evidence": self.evidence,
                "remedies": [{"label": r.label, "run_id": r.config.run_id} for r in self.remedies]}


def predicted_outcome(findings: list[Finding]) -> str:
    """What the findings' problems say training does: 'diverges', 'stuck' or 'learns'."""
    kinds = {f.kind for f in findings if f.severity == "problem"}
    return "diverges" if kinds & DIVERGES else "stuck" if kinds & STUCK else "learns"


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _decades(ratio: float) -> str:
    """10⁻⁵: a power of ten with a real superscript."""
    return "10" + f"{math.log10(ratio):.0f}".translate(_SUPERSCRIPT) if ratio > 0 else "0"


def _sci(v: float) -> str:
    return f"{v:.1e}" if v and not 0.01 <= abs(v) < 1000 else f"{v:.3g}"


def _times(v: float) -> str:
    """A factor in two significant digits, never in e-notation below a million: '120', '0.37'."""
    return _sci(v) if v >= 1e6 else f"{float(f'{v:.2g}'):,g}"


# ---------------------------------------------------------------------- the gradient flow
def _flow_findings(s: Signals) -> list[Finding]:
    """Zero gradients, frozen updates, vanishing and exploding, and the forward signal; a
    'healthy' finding when none of them is a problem or warning."""
    cfg, when, ev = s.cfg, s.when, s.evidence()
    zero = s.zero_gradient()
    if zero and zero[0] == 1:
        fix = [use_init("glorot_uniform")] if cfg.init == "zeros" else []
        why = " (zero initialization keeps all units identical: nothing flows back)" if cfg.init == "zeros" else ""
        return [Finding("problem", f"Every weight gradient of layer 1 is exactly 0 {when}{why}: it "
                        "receives no gradient at all.", remedies_for(cfg, fix), kind="zero_gradient",
                        evidence=ev | {"zero_layers": zero})]
    out = _forward_findings(s, ev) + _frozen_findings(s, ev) + _ratio_findings(s, ev)
    if not any(f.severity != "ok" and f.signal in (FLOW_SIGNAL, FORWARD_SIGNAL) for f in out):
        out.append(Finding("ok", _healthy_text(s), kind="healthy", evidence=ev))
    return out


def _healthy_text(s: Signals) -> str:
    parts = []
    if s.deep and math.isfinite(s.grad_ratio):
        parts.append(f"gradients stay within a factor of {max(s.grad_ratio, 1 / s.grad_ratio):.1f} "
                     f"between the first and the last hidden layer")
    elif not s.deep:
        parts.append("one hidden layer: no depth for gradients to vanish or explode over")
    if s.deep and math.isfinite(s.forward_ratio):
        parts.append(f"the forward signal keeps {_sci(s.forward_ratio)} of its second moment "
                     f"over {s.hidden} hidden layers")
    u = s.step_update[0]
    if math.isfinite(u):
        verb = "moves" if s.measured else "should move"
        parts.append(f"each step {verb} layer 1's weights by about {_sci(u)} of their size")
    text = "; ".join(parts) or "nothing unusual in the gradients"
    return f"Healthy flow {s.when}: {text}."


def _forward_findings(s: Signals, ev: dict) -> list[Finding]:
    r = s.forward_ratio
    if not s.deep or math.isnan(r):
        return []
    severity, side = FORWARD.verdict(r) if math.isfinite(r) else ("problem", "high")
    if severity == "ok":
        return []
    per = s.forward_factor
    per_text = f", about {_times(per)}x per layer" if math.isfinite(per) and per > 0 else ""
    if side == "low":
        text = (f"The forward signal collapses {s.when}: the second moment of the activations falls "
                f"to {_sci(r)} of layer 1's by hidden layer {s.hidden}{per_text}. The top layers and "
                "the output see almost nothing of the input, and the gradients they send back are "
                "as small.")
        kind = "signal_collapse"
        moving = s.movement[:s.hidden]
        if severity == "problem" and s.cfg.optimizer in ADAPTIVE_EPS and (moving >= FROZEN).all():
            # Adam & co. divide each weight's gradient by its own scale: a small signal (and so a
            # small gradient) still moves every layer, unless the gradient falls below eps (frozen)
            text += (f" But {OPTIMIZER_NAMES[s.cfg.optimizer]} rescales every weight's step, so every layer still "
                     f"moves (layer 1 by about {_sci(s.step_update[0])} of its size per step).")
            severity = "warning"
    else:
        grown = "overflows" if not math.isfinite(r) else f"grows to {_sci(r)} times layer 1's"
        text = (f"The forward signal explodes {s.when}: the second moment of the activations {grown} "
                f"by hidden layer {s.hidden}{per_text}.")
        kind = "signal_explosion"
    return [Finding(severity, text, remedies_for(s.cfg, scale_fixes(s.cfg)), signal=FORWARD_SIGNAL,
                    kind=kind, evidence=ev)]


def _frozen_findings(s: Signals, ev: dict) -> list[Finding]:
    hidden = s.movement[:max(s.hidden, 1)]
    if not len(hidden) or not (hidden >= 0).all() or not math.isfinite(hidden.max()) or hidden.max() >= FROZEN:
        return []
    how = "moved" if s.measured else "can move"
    text = (f"The updates are too small to learn anything: in the whole run ({s.steps} steps) no hidden "
            f"layer's weights {how} more than {hidden.max():.1e} of their size (each step "
            f"{'moved' if s.measured else 'moves'} layer 1 by {_sci(s.step_update[0])}).")
    if s.cfg.optimizer in ADAPTIVE_EPS and not s.measured:
        text += (f" {OPTIMIZER_NAMES[s.cfg.optimizer]} rescales each gradient, but not one far below its eps "
                 f"({ADAPTIVE_EPS[s.cfg.optimizer]:g}).")
    fixes = scale_fixes(s.cfg) + [("Learning rate × 10", {"lr": s.cfg.lr * 10})]
    return [Finding("problem", text, remedies_for(s.cfg, fixes), kind="frozen", evidence=ev)]


def _ratio_findings(s: Signals, ev: dict) -> list[Finding]:
    """Vanishing or exploding: layer 1's gradient over the last hidden layer's, and what the
    optimizer makes of it (the step update ratio)."""
    g, u = s.grad_ratio, s.update_ratio
    if not s.deep or math.isnan(g):
        return []
    cfg, when = s.cfg, s.when
    severity, side = FLOW.verdict(g)
    effective = FLOW.verdict(u) if math.isfinite(u) else (severity, side)
    adaptive = cfg.optimizer in ADAPTIVE_EPS
    if severity == "ok":
        return []
    if side == "low":
        text = (f"Gradients reaching layer 1 are {_decades(g)} of those at the last hidden layer "
                f"{when} ({g:.1e}): vanishing gradients.")
        if severity == "problem" and effective[0] == "ok" and math.isfinite(u):
            why = (f"{OPTIMIZER_NAMES[cfg.optimizer]} rescales every weight's step" if adaptive else
                   "layer 1's weights are as much smaller")  # SGD: the step relative to the weights
            text += f" But {why}, so layer 1 still moves {_times(u)}x as fast as the last hidden layer (relative to its weights)."
            severity = "warning"
        elif severity == "problem":
            text += " The first layers barely learn."
        else:
            text = (f"Gradients shrink {1 / g:.0f}x on their way back from the last hidden layer to "
                    f"layer 1 {when}: mild vanishing.")
        return [Finding(severity, text, remedies_for(cfg, vanishing_fixes(cfg)), kind="vanishing", evidence=ev)]
    text = (f"Gradients at layer 1 are {g:.1e} times those at the last hidden layer {when}: exploding gradients."
            if severity == "problem" else
            f"Gradients grow {g:.0f}x on their way back to layer 1 {when}: mild exploding.")
    if severity == "problem" and adaptive:
        text += f" {OPTIMIZER_NAMES[cfg.optimizer]} rescales every weight's step, which keeps the updates bounded."
        severity = "warning"
    return [Finding(severity, text, remedies_for(cfg, exploding_fixes(cfg)), kind="exploding", evidence=ev)]


# ---------------------------------------------------------------------- activations
def _activation_findings(cfg: RunConfig, sat: pd.Series, dead: pd.Series, when: str) -> list[Finding]:
    out = []
    if len(sat) and SATURATION.verdict(sat.max())[0] != "ok":
        layer = int(sat.idxmax())
        fixes = [use_init("glorot_uniform")] if cfg.init in ("normal",) else []
        fixes += [BATCH_NORM, RELU_HE]
        out.append(Finding("warning", f"{sat.max():.0%} of the units in layer {layer} are saturated "
                           f"{when} (in the flat tails of {cfg.activation}, where the derivative is "
                           "below 10% of its maximum).", remedies_for(cfg, fixes), signal=ACTIVITY,
                           kind="saturation", evidence={"layer": layer, "saturated": float(sat.max())}))
    if len(dead) and DEAD.verdict(dead.max())[0] != "ok":
        layer = int(dead.idxmax())
        fixes = [("Leaky ReLU", {"activation": "leaky_relu"}), use_init("he_normal")]
        if when != "at initialization":  # a smaller step changes nothing before the first update
            fixes.append(lower_lr(cfg))
        out.append(Finding("warning", f"{dead.max():.0%} of the units in layer {layer} are dead "
                           f"{when} (ReLUs that output 0 for every example of the batch).",
                           remedies_for(cfg, fixes), signal=ACTIVITY, kind="dead_units",
                           evidence={"layer": layer, "dead": float(dead.max())}))
    return out


def _loss_problem(cfg: RunConfig, text: str, ev: dict) -> Finding:
    return Finding("problem", text, remedies_for(cfg, exploding_fixes(cfg)), signal=LOSS, kind="exploding",
                   evidence=ev)


# ---------------------------------------------------------------------- entry points
def diagnose_init(cfg: RunConfig, flow: pd.DataFrame, theory: bool = True) -> list[Finding]:
    """Findings from `core.engine.probe.probe_at_init`'s table (one forward/backward, no training);
    `theory`: add the mean-field prediction's sentence (words only: it never changes a verdict)."""
    findings = _flow_findings(signals_at_init(cfg, flow))
    if theory:  # the prediction beside the measured flow
        findings = with_theory(cfg, flow, findings, FLOW_SIGNAL)
    idx = flow.set_index("layer")
    sat = idx["act_saturation"].dropna() if "act_saturation" in idx else pd.Series(dtype=float)
    dead = idx["act_dead"].dropna() if "act_dead" in idx else pd.Series(dtype=float)
    findings += _activation_findings(cfg, sat, dead, "at initialization")
    loss = float(flow["loss"].iloc[0])
    chance = math.log(DATASET_INFO[cfg.dataset].classes)
    if not math.isfinite(loss) or loss > EXPLODED * chance:
        findings.insert(0, _loss_problem(cfg, f"The initial loss is {loss:.3g} (about {chance:.2f} is "
                                         "expected from an untrained network): the logits are enormous, "
                                         "activations exploded on the way forward.",
                                         {"loss": loss if math.isfinite(loss) else None, "chance_loss": chance}))
    return settle(findings)


def diagnose(result) -> list[Finding]:
    """Findings from a finished (or diverged) run, most serious first."""
    cfg = result.config
    findings = []
    if result.status == "diverged":
        reason = result.meta.get("diverged_reason") or f"training diverged at step {result.diverged_step}"
        findings.append(_loss_problem(cfg, f"{reason[0].upper()}{reason[1:]}: exploding gradients or a "
                                      "learning rate too large for this network.",
                                      {"diverged_step": result.diverged_step}))
    else:
        findings += _loss_explosion(result)
    s = signals_of_run(result)
    if s is not None:
        findings += _flow_findings(s)
        last_step = result.layer_stats["step"].max()
        at_last = result.layer_stats[result.layer_stats.step == last_step]
        by_stat = {k: g.set_index("layer")["value"] for k, g in at_last.groupby("stat")}
        findings += _activation_findings(cfg, by_stat.get("act_saturation", pd.Series(dtype=float)),
                                         by_stat.get("act_dead", pd.Series(dtype=float)),
                                         "at the end of training")
        findings += _slow_layer_one(s, findings)
    findings += _accuracy_findings(result, findings)
    return settle(findings)


def _slow_layer_one(s: Signals, findings: list[Finding]) -> list[Finding]:
    """Layer 1's median step update below its instrument's healthy range (when no problem of the
    gradient flow has said so already)."""
    u = s.step_update[0] if len(s.step_update) else math.nan
    if not (u > 0) or UPDATES.verdict(u) != ("warning", "low") or \
            any(f.severity == "problem" and f.signal == FLOW_SIGNAL for f in findings):
        return []
    return [Finding("warning", f"Layer 1 barely moves: each step changes its weights by about "
                    f"{UPDATE_RATIO.format(u)} of their size ({UPDATE_RATIO.format(UPDATES.typical)} is a "
                    "common healthy value).", remedies_for(s.cfg, [("Learning rate × 10", {"lr": s.cfg.lr * 10})]
                                                        + vanishing_fixes(s.cfg)[:1]),
                    signal=UPDATES_SIGNAL, kind="frozen", evidence={"layer1_step_update": float(u)})]


def _accuracy_findings(result, findings: list[Finding]) -> list[Finding]:
    cfg, final = result.config, result.final_metrics()
    classes = DATASET_INFO[cfg.dataset].classes
    if final["test_acc"] is None or result.status != "completed":
        return []
    ev = {"test_acc": final["test_acc"], "train_acc": final["train_acc"], "chance": 1 / classes}
    if final["test_acc"] < 1.5 / classes:
        causes = {f.kind for f in findings if f.severity == "problem"}
        fixes = ([] if causes & {"zero_gradient"} else vanishing_fixes(cfg)[:2])
        if not causes & {"zero_gradient", "frozen", "signal_collapse"}:  # longer helps only what moves
            fixes.append(("Train 4× longer", {"epochs": cfg.epochs * 4}))
        return [Finding("problem", f"The network has not learned: test accuracy {final['test_acc']:.1%} "
                        f"is close to chance ({1 / classes:.0%}).", remedies_for(cfg, fixes),
                        signal=ACCURACY, kind="no_learning", evidence=ev)]
    if final["train_acc"] is not None and final["train_acc"] - final["test_acc"] > 0.15:
        return [Finding("warning", f"Overfitting: {final['train_acc']:.0%} accuracy on training data "
                        f"but {final['test_acc']:.0%} on test data.",
                        remedies_for(cfg, [("Dropout 0.3", {"dropout": 0.3}), ("Weight decay 1e-4", {"weight_decay": 1e-4})]),
                        signal=ACCURACY, kind="overfitting", evidence=ev)]
    return []


def _loss_explosion(result) -> list[Finding]:
    """A run that ended 'completed' with a finite but enormous training loss exploded too."""
    cfg, steps = result.config, result.steps
    losses = pd.to_numeric(steps["loss"], errors="coerce") if "loss" in steps else pd.Series(dtype=float)
    losses = losses[losses.abs() < math.inf]
    chance = math.log(DATASET_INFO[cfg.dataset].classes)
    if losses.empty or losses.max() <= EXPLODED * chance:
        return []
    at = int(steps.loc[losses.idxmax(), "step"])
    return [_loss_problem(cfg, f"The training loss reached {losses.max():.1e} at step {at} (an untrained "
                          f"network starts near {chance:.2f}): the loss exploded, although every value "
                          "stayed finite and the run ended normally.",
                          {"max_loss": float(losses.max()), "at_step": at, "chance_loss": chance})]


def settle(findings: list[Finding]) -> list[Finding]:
    """Most serious first; no 'ok' next to a problem about the same signal (an exploded loss is
    a problem of the gradient flow too, and so is a collapsed forward signal); each remedy
    offered once, under its most serious finding."""
    order = {"problem": 0, "warning": 1, "ok": 2}
    findings = sorted(findings, key=lambda f: order[f.severity])
    troubled = {f.signal for f in findings if f.severity == "problem"}
    if troubled & {LOSS, FORWARD_SIGNAL}:
        troubled.add(FLOW_SIGNAL)
    findings = [f for f in findings if not (f.severity == "ok" and f.signal in troubled)]
    seen: set[str] = set()
    for f in findings:
        distinct = [r for r in f.remedies if r.config.run_id not in seen]
        seen.update(r.config.run_id for r in distinct)
        f.remedies = distinct
    return findings
