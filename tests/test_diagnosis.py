"""The diagnosis is right on the classic cases, says only what its numbers say, and agrees with
what training does on the fast subset of its labelled battery (docs/DIAGNOSIS.md: all of it)."""
import json
import math

import numpy as np
import pandas as pd
import pytest

from core.cli import main
from core.base.config import RunConfig
from core.engine.loop import train
from core.engine.probe import probe_at_init
from core.lab import diagnosis
from core.lab.battery import CASES, SEEDS, agreement, score, seed_outcome
from core.lab.diagnosis import KINDS, diagnose, diagnose_init, predicted_outcome
from core.runs.store import RunStore

VGG38 = RunConfig(arch="vgg", vgg_blocks=5, vgg_filters=16, activation="leaky_relu", init="torch_default",
                  optimizer="adam", lr=1e-3)


def _kinds(findings, severity="problem"):
    return {f.kind for f in findings if f.severity == severity}


def test_vgg38_plain_is_a_problem_at_initialization_and_after_training():
    findings = diagnose_init(VGG38, probe_at_init(VGG38, 128))
    assert {"signal_collapse", "frozen"} <= _kinds(findings), [f.text for f in findings]
    assert not _kinds(findings, "ok")  # never 'healthy' beside a collapse
    collapse = next(f for f in findings if f.kind == "signal_collapse")
    assert collapse.evidence["forward_ratio"] < 1e-20 and collapse.evidence["hidden_layers"] == 37
    result = train(VGG38.replace(epochs=1, train_subset=256))
    after = diagnose(result)
    assert predicted_outcome(after) == "stuck", [f.text for f in after]
    assert not _kinds(after, "ok")


def test_relu_with_glorot_at_depth_20_is_not_called_healthy():
    cfg = RunConfig(activation="relu", init="glorot_uniform", widths=(100,) * 20)
    findings = diagnose_init(cfg, probe_at_init(cfg, 128))
    assert {"signal_collapse", "frozen"} <= _kinds(findings)
    collapse = next(f for f in findings if f.kind == "signal_collapse")
    assert 0.3 < collapse.evidence["forward_ratio"] ** (1 / 19) < 0.7  # about half per layer (He et al.)
    assert "0.49x per layer" in collapse.text or "0.5x per layer" in collapse.text
    from core.lab.diagnosis import _times
    assert [_times(v) for v in (123.4, 0.374, 12345.0)] == ["120", "0.37", "12,000"]  # not 1.2e+02x


@pytest.mark.parametrize("width", [64, 4096])
def test_one_hidden_layer_is_never_called_vanishing_or_exploding(width):
    cfg = RunConfig(activation="logistic", init="glorot_uniform", widths=(width,))
    findings = diagnose_init(cfg, probe_at_init(cfg, 128))
    assert not {f.kind for f in findings} & {"vanishing", "exploding", "signal_collapse", "signal_explosion"}
    assert [f.kind for f in findings if f.severity == "ok"] == ["healthy"]
    assert "one hidden layer" in findings[-1].text and findings[-1].evidence["grad_ratio"] is None


def test_an_adaptive_optimizer_makes_a_vanishing_gradient_a_warning_not_a_problem():
    sgd = RunConfig(activation="logistic", init="glorot_uniform", widths=(128,) * 8)
    flow = probe_at_init(sgd, 128)
    assert "vanishing" in _kinds(diagnose_init(sgd, flow))
    adam = sgd.replace(optimizer="adam", lr=1e-3)
    findings = diagnose_init(adam, flow)
    assert "vanishing" not in _kinds(findings) and "vanishing" in _kinds(findings, "warning")
    assert "Adam rescales" in next(f.text for f in findings if f.kind == "vanishing")


def test_every_finding_is_json_with_a_known_kind_and_its_numbers():
    for cfg in (VGG38, RunConfig(activation="tanh", init="zeros", widths=(32,) * 3),
                RunConfig(activation="relu", init="normal", widths=(256,) * 6, optimizer="sgd")):
        for f in diagnose_init(cfg, probe_at_init(cfg, 64)):
            d = f.to_dict()
            assert set(d) >= {"severity", "kind", "signal", "text", "evidence"} and d["kind"] in KINDS
            json.dumps(d, allow_nan=False)
            assert d["evidence"]


# ---------------------------------------------------------------------- thresholds, both sides
def _flow(m2: list[float], grads: list[float], weight_norm: float = 10.0, params: int = 10_000) -> pd.DataFrame:
    """A probe table: hidden layers with activation second moments m2, then the output layer."""
    n = len(grads)
    act = list(np.sqrt(m2)) + [math.nan]
    return pd.DataFrame({"layer": range(1, n + 1), "name": [f"fc{i}" for i in range(1, n + 1)],
                         "grad_norm": grads, "grad_mean_abs": [g / 100 for g in grads],
                         "weight_norm": weight_norm, "act_mean": 0.0, "act_std": act, "params": params,
                         "loss": 2.3})


CFG = RunConfig(activation="tanh", widths=(100,) * 3, epochs=1)  # 57 steps of sgd_momentum, lr 0.01


@pytest.mark.parametrize("last,expected", [(0.9e-4, ("problem", "signal_collapse")),
                                           (1.1e-4, ("warning", "signal_collapse")),
                                           (1.1e-2, None), (0.9e2, None),
                                           (1.1e2, ("warning", "signal_explosion")),
                                           (1.1e4, ("problem", "signal_explosion"))])
def test_the_forward_signal_is_judged_on_both_sides_of_each_threshold(last, expected):
    findings = diagnosis.settle(diagnosis._flow_findings(
        diagnosis.signals_at_init(CFG, _flow([1.0, math.sqrt(last), last], [1.0] * 4))))
    forward = [(f.severity, f.kind) for f in findings if f.signal == diagnosis.FORWARD_SIGNAL]
    assert forward == ([expected] if expected else []), [f.text for f in findings]
    if expected:
        assert diagnosis._sci(last) in findings[0].text  # the number it read, in its words


def test_a_collapsing_signal_under_adam_is_a_warning_while_every_layer_still_moves():
    flow = _flow([1.0, 1e-3, 0.9e-4], [1.0] * 4)
    for cfg, severity in ((CFG, "problem"), (CFG.replace(optimizer="adam", lr=1e-3), "warning")):
        found = [f for f in diagnosis._flow_findings(diagnosis.signals_at_init(cfg, flow))
                 if f.kind == "signal_collapse"]
        assert [f.severity for f in found] == [severity]
    frozen = _flow([1.0, 1e-3, 0.9e-4], [1e-12] * 4)  # below Adam's eps: nothing moves
    kinds = {(f.severity, f.kind) for f in diagnosis._flow_findings(
        diagnosis.signals_at_init(CFG.replace(optimizer="adam", lr=1e-3), frozen))}
    assert {("problem", "signal_collapse"), ("problem", "frozen")} <= kinds


def test_a_vanishing_gradient_on_small_weights_under_sgd_says_why_layer_1_still_moves():
    flow = _flow([1.0] * 3, [0.005, 1, 1, 1])
    flow.loc[0, "weight_norm"] = 0.05  # layer 1's weights 200x smaller: its steps are as large relative to them
    found = [f for f in diagnosis._flow_findings(diagnosis.signals_at_init(CFG, flow)) if f.kind == "vanishing"]
    assert [f.severity for f in found] == ["warning"] and "weights are as much smaller" in found[0].text


@pytest.mark.parametrize("scale,frozen", [(0.9, True), (1.1, False)])
def test_updates_that_cannot_move_the_weights_one_percent_are_frozen(scale, frozen):
    steps = diagnosis.signals_at_init(CFG, _flow([1.0] * 3, [1.0] * 4)).steps
    # sgd_momentum: a step moves lr * ||g|| / (1 - momentum) / ||W||; the run, steps times that
    g = scale * diagnosis.FROZEN * 10.0 * (1 - CFG.momentum) / (CFG.lr * steps)
    findings = diagnosis._flow_findings(diagnosis.signals_at_init(CFG, _flow([1.0] * 3, [g] * 4)))
    assert ("frozen" in _kinds(findings)) == frozen


@pytest.mark.parametrize("ratio,expected", [(0.009, "problem"), (0.011, "warning"), (0.11, None)])
def test_vanishing_needs_the_gradient_ratio_past_its_declared_bound(ratio, expected):
    findings = diagnosis._flow_findings(diagnosis.signals_at_init(CFG, _flow([1.0] * 3, [ratio, 1, 1, 1])))
    found = [f.severity for f in findings if f.kind == "vanishing"]
    assert found == ([expected] if expected else [])


# ---------------------------------------------------------------------- agreement with training
def test_the_labelling_rule_reads_training_not_the_diagnosis():
    zero = train(RunConfig(dataset="digits", activation="tanh", init="zeros", widths=(16,) * 3, epochs=2))
    assert seed_outcome(zero, zero.state_dict)[0] == "stuck"
    good = train(RunConfig(dataset="digits", activation="relu", init="he_normal", widths=(32,) * 3, epochs=8,
                           lr=0.05))
    outcome, ev = seed_outcome(good, good.state_dict)
    assert outcome == "learns" and ev["layer1_share"] > 0.1


def test_the_fast_battery_agrees_with_what_training_does(isolated_cache):
    fast = [c for c in CASES if c.fast]
    assert len(CASES) >= 40 and len(fast) >= 6
    scored = score(RunStore(isolated_cache), fast)
    for s in scored:
        assert s.at_init == s.label and s.after == s.label, (s.case.name, s.label, s.seed_outcomes, s.at_init,
                                                             s.after, s.init_kinds, s.after_kinds)
    assert agreement(scored, "at_init") == (len(fast), len(fast))
    assert {s.label for s in scored} == {"learns", "stuck", "diverges"}  # every outcome is exercised
    assert all(len(s.seed_outcomes) == len(SEEDS) for s in scored)


# ---------------------------------------------------------------------- the command line
def test_probe_and_show_carry_the_diagnosis_as_json(capsys, isolated_cache):
    argv = ["--dataset", "digits", "-a", "logistic", "-n", "32", "32", "32", "32", "-e", "1"]
    assert main(["probe", *argv, "--json"]) == 0
    probe = json.loads(capsys.readouterr().out)["diagnosis"]
    assert probe and all(set(f) >= {"severity", "kind", "signal", "text", "evidence"} for f in probe)
    assert main(["train", *argv, "--json"]) == 0
    run_id = json.loads(capsys.readouterr().out)["run_id"]
    assert main(["show", run_id, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)["diagnosis"]
    assert [f["kind"] for f in shown] == [f.kind for f in diagnose(RunStore(isolated_cache).load(run_id))]
    assert main(["show", run_id]) == 0
    assert "diagnosis:" in capsys.readouterr().out
