"""python -m core theory / probe: JSON out, one-line errors with exit status 2."""
import json
import math

import pytest

from core.cli import main


def _json(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_theory_json_matches_the_library(capsys):
    from core.engine.meanfield import signal_propagation

    out = _json(capsys, ["theory", "-a", "tanh", "--sigma-w2", "1.5", "--sigma-b2", "0.05", "--depth", "6", "--json"])
    p = signal_propagation("tanh", 1.5, 0.05, 6)
    assert out["phase"] == p.phase == "ordered"
    assert out["q_star"] == pytest.approx(p.q_star) and out["chi1"] == pytest.approx(p.chi1)
    assert out["c_star"] == pytest.approx(1.0) and out["xi_c"] == pytest.approx(p.xi_c)
    assert out["per_layer_q"] == pytest.approx(list(p.per_layer_q)) and len(out["per_layer_q"]) == 6


def test_theory_json_uses_null_for_infinite_depth_scales(capsys):
    out = _json(capsys, ["theory", "-a", "relu", "--sigma-w2", "2", "--json"])
    assert out["phase"] == "critical" and out["xi_c"] is None and out["xi_q"] is None
    chaotic = _json(capsys, ["theory", "-a", "tanh", "--sigma-w2", "4", "--sigma-b2", "0.05", "--json"])
    assert chaotic["phase"] == "chaotic" and chaotic["c_star"] < 1 and chaotic["chi1"] > 1


@pytest.mark.parametrize("argv,flag", [
    (["theory", "--sigma-w2", "-1"], "--sigma-w2"),
    (["theory", "--sigma-w2", "x"], "--sigma-w2"),
    (["theory", "--sigma-w2", "1", "--sigma-b2", "nan"], "--sigma-b2"),
    (["theory", "--sigma-w2", "1", "--depth", "0"], "--depth"),
    (["theory", "-a", "nope", "--sigma-w2", "1"], "activation"),
    (["theory"], "--sigma-w2"),
    (["probe", "--init-gain", "-2"], "init_gain"),
    (["probe", "--bias-std", "abc"], "bias_std"),
    (["probe", "--jacobian", "--jacobian-batch", "1000"], "--jacobian-batch"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, flag):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and flag in err and "Traceback" not in err


def test_probe_json_flow_theory_and_jacobian(capsys):
    out = _json(capsys, ["probe", "--dataset", "digits", "-n", "16", "16", "16", "-a", "tanh",
                         "--init-gain", "1.3", "--bias-std", "0.1", "--jacobian", "--json"])
    assert [r["name"] for r in out["flow"]] == ["fc1", "fc2", "fc3", "out"]
    assert out["config"]["init_gain"] == 1.3 and out["config"]["bias_std"] == 0.1
    t = out["theory"]
    assert t["phase"] in ("ordered", "critical", "chaotic") and len(t["per_layer_q"]) == 3
    assert t["measured_growth"] > 0 and "measured" in out["theory_note"]
    j = out["jacobian"]
    assert len(j["singular_values"]) == 16 and len(j["singular_values"][0]) == 10  # min(classes, features)
    s = [v for row in j["singular_values"] for v in row]
    assert j["mean_sq"] == pytest.approx(sum(v * v for v in s) / len(s), rel=1e-6)
    assert j["condition"] == pytest.approx(max(s) / min(s), rel=1e-6)


def test_probe_says_when_the_theory_does_not_apply(capsys):
    out = _json(capsys, ["probe", "--dataset", "digits", "-n", "16", "16", "--bn", "before", "--json"])
    assert out["theory"] is None and "batch norm" in out["theory_note"]


def test_probe_reports_a_refused_jacobian(capsys, monkeypatch):
    import core.engine.jacobian as jac

    monkeypatch.setattr(jac, "MAX_WORK", 1.0)
    out = _json(capsys, ["probe", "--dataset", "digits", "-n", "16", "16", "--jacobian", "--json"])
    assert out["jacobian"] is None and "MAX_WORK" in out["jacobian_error"]
    assert math.isfinite(out["theory"]["chi1"])
