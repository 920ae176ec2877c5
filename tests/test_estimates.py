"""The one time estimator (core.base.cost.training_seconds, core.engine.speed, core.runs.calibration)
and the one 'init or final' row (core.engine.result)."""
import dataclasses
import math

import pandas as pd
import pytest

from core.base.config import RunConfig
from core.base.cost import Rates, duration, training_seconds
from core.engine.result import RunResult, logged_row
from core.engine.speed import machine_rates
from core.runs import calibration
from core.runs.runner import get_or_train
from core.runs.store import RunStore

UNIT = Rates(mac=1e-10, conv_mac=2e-10, element=1e-6, layer_step=1e-4, step=1e-3, logged_layer=1e-3, run=0.01)
TINY = RunConfig(dataset="digits", widths=(8, 8), epochs=1)


def test_the_time_model_adds_its_terms():
    cfg = RunConfig(dataset="digits", widths=(16, 16), epochs=2, batch_size=100)
    # digits: 1294 training images (13 steps an epoch), 143 + 360 evaluated per epoch
    macs = 64 * 16 + 16 * 16 + 16 * 10
    steps, layers, logged = 26, 3, 2
    want = (1e-10 * macs * (3 * 1294 + 143 + 360) * 2 + 1e-6 * 32 * (1294 + (143 + 360) / 3) * 2
            + 1e-4 * layers * (steps + 4)
            + 1e-3 * layers * logged + 0.01 + 1e-3 * steps)
    assert training_seconds(cfg, UNIT, log_every=16) == pytest.approx(want)
    # a stack pays the per-run terms per run, the per-step term once
    one = training_seconds(cfg, UNIT, 16)
    assert training_seconds(cfg, UNIT, 16, runs=3) == pytest.approx(3 * one - 2 * 1e-3 * steps)
    assert training_seconds(cfg, UNIT.scaled(2.0), 16) == pytest.approx(2 * one)
    vgg = RunConfig(arch="vgg", dataset="digits", vgg_filters=4, epochs=1)
    slower_convs = training_seconds(vgg, dataclasses.replace(UNIT, conv_mac=4e-10), 16)
    assert slower_convs > training_seconds(vgg, UNIT, 16)  # convolutions use conv_mac


def test_machine_rates_are_measured_once_and_positive():
    rates = machine_rates("cpu")
    assert machine_rates("cpu") is rates
    assert all(v > 0 and math.isfinite(v) for v in dataclasses.astuple(rates))


def test_estimated_seconds_counts_a_stack_once_and_a_run_given_twice_once():
    seeds = [TINY.replace(seed=s) for s in range(3)]
    stacked = calibration.estimated_seconds(seeds + seeds[:1], UNIT)
    assert stacked == pytest.approx(calibration.predicted_seconds(TINY, UNIT, runs=3))
    vgg = RunConfig(arch="vgg", dataset="digits", vgg_filters=4, epochs=1)  # never stacks
    both = calibration.estimated_seconds([vgg, vgg.replace(seed=1)], UNIT)
    assert both == pytest.approx(2 * calibration.predicted_seconds(vgg, UNIT))


def test_calibration_rescales_by_the_stored_runs(tmp_path):
    store = RunStore(tmp_path)
    empty = calibration.calibrate(store, "cpu")
    assert (empty.factor, empty.runs) == (1.0, 0) and empty.rates == machine_rates("cpu")
    results = get_or_train(store, [TINY, TINY.replace(seed=1), TINY.replace(widths=(4,))])
    cal = calibration.calibrate(store, "cpu")
    base = machine_rates("cpu")
    ratios = sorted(r.meta["seconds"] / calibration.predicted_seconds(r.config, base, r.meta.get("trained_with", 1))
                    for r in results)
    assert cal.runs == 3 and cal.factor == pytest.approx(ratios[1])
    assert cal.rates == base.scaled(cal.factor)
    assert len(calibration.stored_timings(store, "cpu")) == 3
    assert calibration.stored_timings(store, "cuda") == []  # runs of another device do not count


def test_duration_in_words():
    assert [duration(s) for s in (0.2, 40, 720, 5400)] == ["1 s", "40 s", "12 min", "1.5 h"]


def test_init_or_final_is_one_rule_and_names_the_argument():
    assert (logged_row("init"), logged_row("final")) == (0, -1)
    with pytest.raises(ValueError, match="which"):
        logged_row("end")
    stats = pd.DataFrame({"step": [0, 0, 16, 16], "epoch": 1, "layer": [1, 2, 1, 2],
                          "stat": "act_std", "value": [1.0, 2.0, 3.0, 4.0]})
    r = RunResult(config=TINY, status="completed", epochs=pd.DataFrame(), steps=pd.DataFrame(),
                  layer_stats=stats, layers=pd.DataFrame(), histograms={}, meta={})
    assert list(r.stat_at("act_std", "init")) == [1.0, 2.0]
    assert list(r.stat_at("act_std", "final")) == [3.0, 4.0]
    assert r.stat_at("grad_mean_abs").empty and r.grad_flow("init") == []


def test_one_disturbed_timing_cannot_move_a_solved_rate_beyond_its_range(monkeypatch):
    """Five timings solve five rates exactly: one run slowed 1000x by other work would make a
    rate absurd; each stays within SOLVED_RANGE of the reference machine's."""
    from core.base.cost import REFERENCE_RATES
    from core.engine import speed

    calls = {"n": 0}

    def disturbed(cfg, dev):
        calls["n"] += 1
        return 1000.0 if cfg.log_every == 1 else 0.01  # the logging-every-step run hit by other work

    monkeypatch.setattr(speed, "_tiny_run", disturbed)
    speed.machine_rates.cache_clear()
    try:
        rates = speed.machine_rates("cpu")
    finally:
        speed.machine_rates.cache_clear()
    assert calls["n"] > 0
    for name in speed.SOLVED:
        ref = getattr(REFERENCE_RATES, name)
        assert ref / speed.SOLVED_RANGE <= getattr(rates, name) <= ref * speed.SOLVED_RANGE
    assert rates.logged_layer == REFERENCE_RATES.logged_layer * speed.SOLVED_RANGE  # it hit the top
