"""A plain-language diagnosis of a run (or of a network at initialization), with remedies.

    for finding in diagnose(result):
        print(finding.severity, finding.text)
        for remedy in finding.remedies:      # each is a one-click change of the config
            print("  try:", remedy.label, remedy.config.run_id)

Thresholds are rules of thumb, declared with their quantity in core.instruments (each
instrument's `healthy` range). A remedy is only offered when it changes the configuration and
the changed configuration is valid.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..config import ConfigError, RunConfig
from ..datasets import DATASET_INFO
from ..engine.result import gradient_ratio
from ..instruments import INSTRUMENTS
from .theory import with_theory

# Healthy ranges, from the instruments' declarations:
FLOW = INSTRUMENTS["grad_mean_abs"].healthy  # of layer 1's mean |g| over the last hidden layer's
SATURATION = INSTRUMENTS["act_saturation"].healthy  # of each layer's share of saturated units
DEAD = INSTRUMENTS["act_dead"].healthy  # of each layer's share of dead ReLUs
UPDATE_RATIO = INSTRUMENTS["update_ratio"]
UPDATES = UPDATE_RATIO.healthy  # of layer 1's median update-to-weight ratio


@dataclass(frozen=True)
class Remedy:
    label: str
    config: RunConfig


FLOW_SIGNAL, LOSS, ACTIVITY, UPDATES_SIGNAL, ACCURACY = "gradient flow", "loss", "activations", "updates", "accuracy"
EXPLODED = 10  # a training loss above 10x an untrained network's (ln classes) has exploded


@dataclass
class Finding:
    severity: str  # "problem", "warning", "ok"
    text: str
    remedies: list[Remedy] = field(default_factory=list)
    signal: str = FLOW_SIGNAL  # what it is about: an 'ok' never stands beside a problem of the same


INIT_NAMES = {"glorot_uniform": "Glorot uniform", "glorot_normal": "Glorot normal", "he_normal": "He normal",
              "he_uniform": "He uniform", "lecun_normal": "LeCun normal", "lecun_uniform": "LeCun uniform"}


def _use_init(init: str) -> tuple[str, dict]:
    """One label per initialization, wherever a finding suggests it."""
    return f"{INIT_NAMES.get(init, init)} init", {"init": init}


BATCH_NORM = ("Batch norm before each activation", {"bn": "before"})


def _lower_lr(cfg: RunConfig) -> tuple[str, dict]:
    return "Learning rate ÷ 10", {"lr": cfg.lr / 10}


def _remedies(cfg: RunConfig, options: list[tuple[str, dict]]) -> list[Remedy]:
    out, seen = [], {cfg.run_id}
    for label, changes in options:
        try:
            new = cfg.replace(**changes)
        except ConfigError:
            continue
        if new.run_id not in seen:
            seen.add(new.run_id)
            out.append(Remedy(label, new))
    return out


def _vanishing_fixes(cfg: RunConfig) -> list[tuple[str, dict]]:
    fixes = [BATCH_NORM, ("ReLU + He normal init", {"activation": "relu", "init": "he_normal"})]
    if cfg.arch == "mlp":
        fixes.append(("SELU + LeCun normal + standardized inputs",
                      {"activation": "selu", "init": "lecun_normal", "standardize": True}))
    fixes.append(("Residual connections", {"residual": True}))
    if cfg.activation == "logistic":
        fixes.append(("tanh instead of logistic", {"activation": "tanh"}))
    return fixes


def _exploding_fixes(cfg: RunConfig) -> list[tuple[str, dict]]:
    fixes = [_lower_lr(cfg)]
    if cfg.init in ("normal", "random_normal") or cfg.init.startswith("glorot") and cfg.activation in ("relu", "leaky_relu", "prelu"):
        suited = {"relu": "he_normal", "leaky_relu": "he_normal", "prelu": "he_normal",
                  "selu": "lecun_normal"}.get(cfg.activation, "glorot_uniform")
        fixes.append(_use_init(suited))
    fixes.append(BATCH_NORM)
    return fixes


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _decades(ratio: float) -> str:
    """10⁻⁵: a power of ten with a real superscript."""
    return "10" + f"{math.log10(ratio):.0f}".translate(_SUPERSCRIPT) if ratio > 0 else "0"


def _flow_findings(cfg: RunConfig, flow: list[float], when: str) -> list[Finding]:
    ratio = gradient_ratio(flow)
    if not math.isfinite(ratio):
        if len(flow) and flow[0] == 0:
            fix = [] if cfg.init != "zeros" else [_use_init("glorot_uniform")]
            why = " (zero initialization keeps all units identical: nothing flows back)" if cfg.init == "zeros" else ""
            return [Finding("problem", f"Every weight gradient of layer 1 is exactly 0 {when}{why}: "
                            "it receives no gradient at all.", _remedies(cfg, fix))]
        return []
    verdict = FLOW.verdict(ratio)
    if verdict == ("problem", "low"):
        return [Finding("problem", f"Gradients reaching layer 1 are {_decades(ratio)} of those at "
                        f"the last hidden layer {when} ({ratio:.1e}): vanishing gradients. The "
                        "first layers barely learn.", _remedies(cfg, _vanishing_fixes(cfg)))]
    if verdict == ("problem", "high"):
        return [Finding("problem", f"Gradients at layer 1 are {ratio:.1e} times those at the last "
                        f"hidden layer {when}: exploding gradients.",
                        _remedies(cfg, _exploding_fixes(cfg)))]
    if verdict == ("warning", "low"):
        return [Finding("warning", f"Gradients shrink {1 / ratio:.0f}x on their way back from the last "
                        f"hidden layer to layer 1 {when}: mild vanishing.",
                        _remedies(cfg, _vanishing_fixes(cfg)))]
    if verdict == ("warning", "high"):
        return [Finding("warning", f"Gradients grow {ratio:.0f}x on their way back to layer 1 {when}: "
                        "mild exploding.", _remedies(cfg, _exploding_fixes(cfg)))]
    return [Finding("ok", f"Gradients stay within a factor of {max(ratio, 1 / ratio):.1f} between the "
                    f"first and the last hidden layer {when}: healthy flow.")]


def _activation_findings(cfg: RunConfig, sat: pd.Series, dead: pd.Series, when: str) -> list[Finding]:
    out = []
    if len(sat) and SATURATION.verdict(sat.max())[0] != "ok":
        layer = int(sat.idxmax())
        fixes = [_use_init("glorot_uniform")] if cfg.init in ("normal",) else []
        fixes += [BATCH_NORM, ("ReLU + He normal init", {"activation": "relu", "init": "he_normal"})]
        out.append(Finding("warning", f"{sat.max():.0%} of the units in layer {layer} are saturated "
                           f"{when} (in the flat tails of {cfg.activation}, where the derivative is "
                           "below 10% of its maximum).", _remedies(cfg, fixes), signal=ACTIVITY))
    if len(dead) and DEAD.verdict(dead.max())[0] != "ok":
        layer = int(dead.idxmax())
        fixes = [("Leaky ReLU", {"activation": "leaky_relu"}), _use_init("he_normal"), _lower_lr(cfg)]
        out.append(Finding("warning", f"{dead.max():.0%} of the units in layer {layer} are dead "
                           f"{when} (ReLUs that output 0 for every example of the batch).",
                           _remedies(cfg, fixes), signal=ACTIVITY))
    return out


def diagnose_init(cfg: RunConfig, flow: pd.DataFrame) -> list[Finding]:
    """Findings from `core.engine.probe.probe_at_init`'s table (one forward/backward, no training)."""
    findings = _flow_findings(cfg, list(flow["grad_mean_abs"]), "at initialization")
    findings = with_theory(cfg, flow, findings, FLOW_SIGNAL)  # the prediction beside the measured flow
    idx = flow.set_index("layer")
    sat = idx["act_saturation"].dropna() if "act_saturation" in idx else pd.Series(dtype=float)
    dead = idx["act_dead"].dropna() if "act_dead" in idx else pd.Series(dtype=float)
    findings += _activation_findings(cfg, sat, dead, "at initialization")
    loss = float(flow["loss"].iloc[0])
    chance = math.log(DATASET_INFO[cfg.dataset].classes)
    if not math.isfinite(loss) or loss > EXPLODED * chance:
        findings.insert(0, Finding("problem", f"The initial loss is {loss:.3g} (about {chance:.2f} is "
                                   "expected from an untrained network): the logits are enormous, "
                                   "activations exploded on the way forward.",
                                   _remedies(cfg, _exploding_fixes(cfg)), signal=LOSS))
    return settle(findings)


def diagnose(result) -> list[Finding]:
    """Findings from a finished (or diverged) run, most serious first."""
    cfg = result.config
    findings = []
    if result.status == "diverged":
        reason = result.meta.get("diverged_reason") or f"training diverged at step {result.diverged_step}"
        findings.append(Finding("problem", f"{reason[0].upper()}{reason[1:]}: exploding gradients "
                                "or a learning rate too large for this network.",
                                _remedies(cfg, _exploding_fixes(cfg)), signal=LOSS))
    else:
        findings += _loss_explosion(result)
    flow = result.grad_flow("final")
    if flow:
        findings += _flow_findings(cfg, flow, "at the end of training" if result.status != "diverged"
                                   else "at the last logged step")
    last_step = result.layer_stats["step"].max() if not result.layer_stats.empty else None
    if last_step is not None:
        at_last = result.layer_stats[result.layer_stats.step == last_step]
        by_stat = {s: g.set_index("layer")["value"] for s, g in at_last.groupby("stat")}
        findings += _activation_findings(cfg, by_stat.get("act_saturation", pd.Series(dtype=float)),
                                         by_stat.get("act_dead", pd.Series(dtype=float)),
                                         "at the end of training")
        ratios = result.stat_matrix("update_ratio")
        if not ratios.empty:
            first = ratios[ratios.columns[0]].replace([np.inf, -np.inf], np.nan).dropna()
            # a median of exactly 0 is no update at all (nothing was applied), not a frozen layer
            if len(first) and first.median() > 0 and UPDATES.verdict(first.median()) == ("warning", "low"):
                findings.append(Finding("warning", f"Layer 1 barely moves: each step changes its "
                                        f"weights by about {UPDATE_RATIO.format(first.median())} of their size "
                                        f"({UPDATE_RATIO.format(UPDATES.typical)} is a common healthy value).",
                                        _remedies(cfg, [("Learning rate × 10", {"lr": cfg.lr * 10})]
                                                  + _vanishing_fixes(cfg)[:1]), signal=UPDATES_SIGNAL))
    final = result.final_metrics()
    classes = DATASET_INFO[cfg.dataset].classes
    if final["test_acc"] is not None and result.status == "completed":
        if final["test_acc"] < 1.5 / classes:
            findings.append(Finding("problem", f"The network has not learned: test accuracy "
                                    f"{final['test_acc']:.1%} is close to chance ({1 / classes:.0%}).",
                                    _remedies(cfg, _vanishing_fixes(cfg)[:2] +
                                              [("Train 4× longer", {"epochs": cfg.epochs * 4})]),
                                    signal=ACCURACY))
        elif final["train_acc"] is not None and final["train_acc"] - final["test_acc"] > 0.15:
            findings.append(Finding("warning", f"Overfitting: {final['train_acc']:.0%} accuracy on "
                                    f"training data but {final['test_acc']:.0%} on test data.",
                                    _remedies(cfg, [("Dropout 0.3", {"dropout": 0.3}),
                                                    ("Weight decay 1e-4", {"weight_decay": 1e-4})]),
                                    signal=ACCURACY))
    return settle(findings)


def _loss_explosion(result) -> list[Finding]:
    """A run that ended 'completed' with a finite but enormous training loss exploded too."""
    cfg, steps = result.config, result.steps
    losses = pd.to_numeric(steps["loss"], errors="coerce") if "loss" in steps else pd.Series(dtype=float)
    losses = losses[np.isfinite(losses)]
    chance = math.log(DATASET_INFO[cfg.dataset].classes)
    if losses.empty or losses.max() <= EXPLODED * chance:
        return []
    at = int(steps.loc[losses.idxmax(), "step"])
    return [Finding("problem", f"The training loss reached {losses.max():.1e} at step {at} (an untrained "
                    f"network starts near {chance:.2f}): the loss exploded, although every value stayed "
                    "finite and the run ended normally.", _remedies(cfg, _exploding_fixes(cfg)), signal=LOSS)]


def settle(findings: list[Finding]) -> list[Finding]:
    """Most serious first; no 'ok' next to a problem about the same signal (an exploded loss is
    a problem of the gradient flow too); each remedy offered once, under its most serious finding."""
    order = {"problem": 0, "warning": 1, "ok": 2}
    findings = sorted(findings, key=lambda f: order[f.severity])
    troubled = {f.signal for f in findings if f.severity == "problem"}
    if LOSS in troubled:
        troubled.add(FLOW_SIGNAL)
    findings = [f for f in findings if not (f.severity == "ok" and f.signal in troubled)]
    seen: set[str] = set()
    for f in findings:
        distinct = [r for r in f.remedies if r.config.run_id not in seen]
        seen.update(r.config.run_id for r in distinct)
        f.remedies = distinct
    return findings
