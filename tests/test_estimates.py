"""The one time estimator (core.base.cost.training_seconds, core.engine.speed, core.runs.calibration)
and the one 'init or final' row (core.engine.result)."""
import dataclasses
import json
import math
import multiprocessing
import os
import subprocess
import sys
import time

import pandas as pd
import pytest

from core.base.config import RunConfig
from core.base.cost import Rates, duration, training_seconds
from core.engine.result import RunResult, logged_row
from core.engine.speed import machine_rates
from core.runs import calibration, load
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


def test_calibration_rescales_by_the_median_of_the_stored_runs_each_less_the_load_it_met(tmp_path):
    store = RunStore(tmp_path)
    empty = calibration.calibrate(store, "cpu")
    base = calibration.machine_rates(store, "cpu")
    assert (empty.factor, empty.runs) == (1.0, 0) and empty.rates == base
    results = get_or_train(store, [TINY, TINY.replace(seed=1), TINY.replace(widths=(4,)),
                                   TINY.replace(widths=(4, 4)), TINY.replace(widths=(12,))])
    cal = calibration.calibrate(store, "cpu")
    assert all(1.0 <= r.meta["busy"] <= load.MAX_BUSY for r in results)  # trained here: the load it met
    ratios = sorted(r.meta["seconds"] / r.meta["busy"]
                    / calibration.predicted_seconds(r.config, base, r.meta.get("trained_with", 1)) for r in results)
    assert cal.runs == 5 and any(cal.factor == pytest.approx(r) for r in ratios)
    assert cal.rates == base.scaled(cal.factor)
    slowed = store.run_dir(results[0].run_id) / "meta.json"  # a run that met a load of 3x
    meta = json.loads(slowed.read_text())
    slowed.write_text(json.dumps({**meta, "seconds": 3 * meta["seconds"], "busy": 3 * meta["busy"]}))
    assert calibration.calibrate(store, "cpu").factor == pytest.approx(cal.factor)  # counted as alone
    assert len(calibration.stored_timings(store, "cpu")) == 5
    assert calibration.stored_timings(store, "cuda") == []  # runs of another device do not count


def test_a_stack_is_one_measurement_in_the_median():
    one = calibration.predicted_seconds(TINY, UNIT)
    eight = calibration.predicted_seconds(TINY, UNIT, 8)
    singles = [(TINY.replace(seed=s), r * one, 1) for s, r in ((1, 1.0), (2, 2.0), (3, 3.0))]
    stack = [(TINY.replace(seed=10 + s), 10.0 * eight, 8) for s in range(8)]  # stored 8 times, one timing
    assert calibration.calibrated(UNIT, singles + stack).factor == pytest.approx(2.0)  # not 10: 8 of 11 rows
    assert calibration.calibrated(UNIT, singles).factor == pytest.approx(2.0)


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


def test_the_threads_gain_on_convolutions_is_measured_only_on_a_quiet_machine(tmp_path, monkeypatch):
    one = dataclasses.replace(UNIT, conv_value=4e-9, map_element=1e-9)  # one thread's rates
    monkeypatch.setattr(calibration, "measure_rates", lambda device: one)
    monkeypatch.setattr(calibration.torch, "get_num_threads", lambda: 2)
    monkeypatch.setattr(calibration, "conv_thread_gain", lambda threads: 2.0)
    monkeypatch.setattr(calibration.Busy, "now", classmethod(lambda cls, spans=(): load.Busy.of(4.0, 2, 2)))
    busy = calibration.machine_rates(RunStore(tmp_path), "cpu")
    assert busy == one  # busy: no gain (two threads waiting for each other gain nothing), errs long
    monkeypatch.setattr(calibration.Busy, "now", classmethod(lambda cls, spans=(): load.Busy.of(0.0, 2, 2)))
    assert calibration.machine_rates(RunStore(tmp_path), "cpu") == one  # kept for BUSY_AGE
    monkeypatch.setattr(calibration, "BUSY_AGE", 0.0)  # ... then measured again, quiet this time
    quiet = calibration.machine_rates(RunStore(tmp_path), "cpu")
    assert quiet == dataclasses.replace(one, conv_mac=1e-10, conv_value=2e-9, map_element=5e-10)
    assert quiet.mac == one.mac and quiet.element == one.element  # an MLP's small products: one thread's
    monkeypatch.setattr(calibration, "RATES_MAX_AGE", 1e9)
    assert calibration.machine_rates(RunStore(tmp_path), "cpu") == quiet  # a quiet measurement is kept


def _reading(at, busy, total, running=1, own_cpu=0.0):
    return load.Reading(at, busy, total, running, own_cpu, wall=1000.0 + at)


def test_the_load_reads_the_last_seconds_less_our_own_work(tmp_path):
    # 2 cores for 10 s: 2000 jiffies; 1000 of them busy -> one core's worth of demand
    first, last = _reading(0.0, 0.0, 0.0), _reading(10.0, 1000.0, 2000.0)
    assert load.others_in(first, last, [first, last], 2, 2, []) == pytest.approx(1.0)
    # this process used 5 CPU seconds of them (a server drawing, a command training in-process)
    assert load.others_in(first, _reading(10.0, 1000.0, 2000.0, own_cpu=5.0), [first, last], 2, 2, []) == \
        pytest.approx(0.5)
    # a worker of ours with 2 threads ran for the last 2.5 s of the window: 2 x 0.25 is ours
    assert load.others_in(first, last, [first, last], 2, 2, [(1000.0 + 7.5, None)]) == pytest.approx(0.5)
    # saturated cores: the runnable threads (less the reader) say how far beyond them
    full = [_reading(0.0, 0.0, 0.0, running=7), _reading(5.0, 990.0, 1000.0, running=5)]
    assert load.others_in(full[0], full[1], full, 2, 2, []) == pytest.approx(5.0)
    assert load.covered([(0, 4), (2, 6), (8, None)], 0, 10) == pytest.approx(0.8)  # overlaps count once
    assert load.covered([(-10, -5)], 0, 10) == 0.0
    assert load.Busy.of(0.1, 2, 2).factor == pytest.approx(1.05) and load.Busy.of(0.1, 2, 2).note() == ""
    assert load.Busy.of(6.0, 2, 2).factor == pytest.approx(4.0) and "load 6.0 on 2 cores" in load.Busy.of(6.0, 2, 2).note()
    assert load.Busy.of(99.0, 2, 2).factor == load.MAX_BUSY
    stat = tmp_path / "stat"
    stat.write_text("cpu  100 5 20 800 7 0 3 2 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\nprocs_running 3\nprocs_blocked 0\n")
    r = load.read_stat(str(stat))
    assert (r.busy, r.total, r.running) == (130.0, 937.0, 3)  # idle and iowait are not busy
    assert load.read_stat(str(tmp_path / "missing")) is None


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="needs Linux's /proc/stat")
def test_busy_counts_a_process_spinning_beside_it_and_reads_its_own_cpu_time(monkeypatch):
    monkeypatch.setattr(load, "WINDOW_S", 2.0)  # the child below covers the whole window
    load.Busy.now()  # the sampling thread starts
    child = subprocess.Popen([sys.executable, "-c", "import time\nend = time.time() + 5\nwhile time.time() < end: pass"])
    try:
        time.sleep(2.5)
        beside = load.Busy.now()
    finally:
        child.kill()
        child.wait(10)
    # the spinning child: about one core (more where other work shares the machine: a test
    # beside it; the runnable threads count them all once the cores are saturated)
    assert beside.load >= 0.8, beside
    assert 1.0 <= beside.factor <= load.MAX_BUSY
    first, end = load.read_stat(), time.process_time() + 0.5
    while time.process_time() < end:  # this process's own work (a server drawing a page)
        pass
    assert load.read_stat().own_cpu - first.own_cpu >= 0.5  # what others_in takes off as ours


def test_the_queue_before_is_counted():
    from core.runs.jobs import Job

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
