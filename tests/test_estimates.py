"""The one time estimator (core.base.cost.training_seconds, core.engine.speed, core.runs.calibration)
and the one 'init or final' row (core.engine.result)."""
import dataclasses
import math
import multiprocessing
import os
import time

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
    steps, layers, logged, params = 26, 3, 2, macs + 16 + 16 + 10
    want = (1e-10 * macs * (3 * 1294 + 143 + 360) * 2 + 1e-6 * 32 * (1294 + (143 + 360) / 3) * 2
            + 1e-4 * layers * (steps + 4)
            + (1e-3 * layers + 1e-6 * params) * logged + 0.01 + 1e-3 * steps)
    assert training_seconds(cfg, UNIT, log_every=16) == pytest.approx(want)
    # a stack pays the per-run terms per run, the per-step term once
    one = training_seconds(cfg, UNIT, 16)
    assert training_seconds(cfg, UNIT, 16, runs=3) == pytest.approx(3 * one - 2 * 1e-3 * steps)
    assert training_seconds(cfg, UNIT.scaled(2.0), 16) == pytest.approx(2 * one)
    vgg = RunConfig(arch="vgg", dataset="digits", vgg_filters=4, epochs=1)
    slower_convs = training_seconds(vgg, dataclasses.replace(UNIT, conv_mac=4e-10), 16)
    assert slower_convs > training_seconds(vgg, UNIT, 16)  # convolutions use conv_mac
    calls = training_seconds(vgg, dataclasses.replace(UNIT, conv_call=1e-3), 16) - training_seconds(vgg, UNIT, 16)
    assert calls == pytest.approx(1e-3 * vgg.depth * 21)  # each convolution layer's fixed cost, every step
    assert training_seconds(cfg, dataclasses.replace(UNIT, conv_call=1.0), 16) == one  # not for an MLP


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


def test_calibration_rescales_by_the_quiet_quartile_of_the_stored_runs(tmp_path):
    store = RunStore(tmp_path)
    empty = calibration.calibrate(store, "cpu")
    base = calibration.machine_rates(store, "cpu")
    assert (empty.factor, empty.runs) == (1.0, 0) and empty.rates == base
    results = get_or_train(store, [TINY, TINY.replace(seed=1), TINY.replace(widths=(4,)),
                                   TINY.replace(widths=(4, 4)), TINY.replace(widths=(12,))])
    cal = calibration.calibrate(store, "cpu")
    ratios = sorted(r.meta["seconds"] / calibration.predicted_seconds(r.config, base, r.meta.get("trained_with", 1))
                    for r in results)
    assert cal.runs == 5 and cal.factor == pytest.approx(ratios[1])  # the lower quartile: the quiet runs
    assert cal.rates == base.scaled(cal.factor)
    assert len(calibration.stored_timings(store, "cpu")) == 5
    assert calibration.stored_timings(store, "cuda") == []  # runs of another device do not count


def test_duration_in_words():
    assert [duration(s) for s in (0.2, 40, 720, 5400, 47_000)] == ["1 s", "40 s", "12 min", "1.5 h", "13.1 h"]


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


# ---------------------------------------------------------------------- stable estimates
JOBS = {  # a preset's stacks, a deep MLP, a VGG: the time model's three regimes
    "stacks": [RunConfig(widths=(128, 128, 64, 64, 32), activation="leaky_relu", epochs=50, seed=s) for s in range(30)],
    "deep": [RunConfig(activation="logistic", widths=(256,) * 5, epochs=10)],
    "vgg": [RunConfig(arch="vgg", train_subset=1000, batch_size=100, vgg_filters=16, vgg_blocks=5, epochs=5)],
}


def _spread(measurements) -> float:
    """The largest ratio between two measurements' estimates of the same job."""
    worst = 1.0
    for configs in JOBS.values():
        seconds = [calibration.estimated_seconds(configs, r) for r in measurements]
        worst = max(worst, max(seconds) / min(seconds))
    return worst


def _spin(seconds: float) -> None:
    end = time.time() + seconds
    while time.time() < end:
        pass


def test_the_same_job_gets_the_same_estimate_from_every_measurement_even_on_a_busy_machine():
    """Each measurement times the processor time of one thread: other programs on the cores
    (here one spinning process per core) do not inflate it; two estimates of a job differ by
    less than 1.5x (a first audit saw 12 to 68 min for one preset from fresh servers)."""
    from core.engine.speed import measure_rates

    quiet = [measure_rates("cpu") for _ in range(2)]
    ctx = multiprocessing.get_context("spawn")
    spinners = [ctx.Process(target=_spin, args=(60.0,), daemon=True) for _ in range(os.cpu_count() or 1)]
    for p in spinners:
        p.start()
    try:
        time.sleep(0.5)
        busy = measure_rates("cpu")
    finally:
        for p in spinners:
            p.terminate()
            p.join()
    assert _spread(quiet + [busy]) < 1.5, [dataclasses.asdict(r) for r in quiet + [busy]]


def test_one_measurement_per_machine_is_kept_in_the_store_for_every_process(tmp_path, monkeypatch):
    calls = []

    def counted(device):
        calls.append(device)
        return UNIT.scaled(len(calls))

    monkeypatch.setattr(calibration, "measure_rates", counted)
    first = calibration.machine_rates(RunStore(tmp_path), "cpu")
    again = calibration.machine_rates(RunStore(tmp_path), "cpu")  # another server on the machine
    assert first == again == UNIT and calls == ["cpu"]
    monkeypatch.setattr(calibration, "machine_key", lambda device: {"device": device, "cpu": "another machine"})
    assert calibration.machine_rates(RunStore(tmp_path), "cpu") == UNIT.scaled(2)  # another machine measures
    (tmp_path / calibration.RATES_FILE).write_text("{not json")
    assert calibration.machine_rates(RunStore(tmp_path), "cpu") == UNIT.scaled(3)  # damaged: measured again
    assert calibration.machine_rates(RunStore(tmp_path), "cpu") == UNIT.scaled(3)


def test_the_load_of_the_moment_and_the_queue_before_are_counted(monkeypatch):
    from core.runs.jobs import Job

    monkeypatch.setattr(calibration.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(calibration.torch, "get_num_threads", lambda: 2)
    monkeypatch.setattr(calibration.os, "getloadavg", lambda: (0.1, 0.1, 0.1))
    quiet = calibration.Busy.now()
    assert quiet.factor == pytest.approx(1.05) and quiet.note() == ""
    monkeypatch.setattr(calibration.os, "getloadavg", lambda: (6.0, 6.0, 6.0))
    assert calibration.Busy.now().factor == pytest.approx(4.0) and "load 6.0 on 2 cores" in calibration.Busy.now().note()
    now = time.time()  # our own training of the last minutes is in the load average, not "others"
    assert calibration.Busy.now([(now - 1e6, None)]).factor == pytest.approx(3.0)
    assert calibration.own_load([(now - 60, now - 30), (now - 40, now - 20)], now) == \
        pytest.approx(math.exp(-20 / 60) - math.exp(-1))  # overlapping spans count once
    assert calibration.own_load([(now - 1e6, now - 1e5)], now) == pytest.approx(0.0)
    monkeypatch.setattr(calibration.os, "getloadavg", lambda: (99.0, 99.0, 99.0))
    assert calibration.Busy.now().factor == calibration.MAX_BUSY
    running, queued = Job(TINY, "cpu", state="running"), Job(TINY.replace(seed=1), "cpu")
    waiting = Job(TINY.replace(seed=2), "cpu", state="running")  # handed to the worker with its batch
    running.progress.update(step=3, total_steps=4)
    one = calibration.predicted_seconds(TINY, UNIT)
    assert calibration.queue_seconds([running, queued, waiting], UNIT) == \
        pytest.approx(0.25 * one + calibration.predicted_seconds(TINY, UNIT, runs=2))  # the two stack
    assert calibration.queue_seconds([], UNIT) == 0.0


def test_estimate_texts_name_the_queue_and_the_load():
    from core.views.progress import TimeEstimate, position_text, queue_summary

    text = TimeEstimate(240.0, 130.0, 3, "the machine is busy now").text("training them")
    assert text.startswith("training them takes about 4 min here, after about 2 min for the 3 runs queued before")
    assert "busy now" in text and "queued" not in TimeEstimate(30.0).text("x")
    assert TimeEstimate(240.0, busy=4.0).quiet == 60.0  # the action's size: what the confirmation compares
    assert [position_text(p) for p in (-1, 0, 1, 2, 3, 11, 22)] == ["", "training", "next", "2nd in line",
                                                                    "3rd in line", "11th in line", "22nd in line"]
    assert queue_summary([], [], 0) == ""
    assert queue_summary(["training", "waiting", "queued", "queued"], [0.4, 0.0, 0.0, 0.0], held=5) == \
        "9 runs: 1 training (40%), 1 waiting in the worker, 2 queued, 5 to queue when room frees"
    assert queue_summary(["training"], [0.25]) == "1 run training (25%)" and queue_summary([], [], 1) == \
        "1 run to queue when room frees"
