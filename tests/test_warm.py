"""Warming: the Home cards and the cheapest preset trained ahead, behind every user's job."""
import threading
import time

import pytest

from core.base.config import RunConfig
from core.lab.presets import PRESETS, resolve
from core.lab.scenarios import SCENARIOS
from core.lab.warm import WarmUp, cheapest_preset, warm, warm_enabled, warm_plan
from core.runs.jobs import JobQueue
from core.runs.store import RunStore
from core.base.cost import estimate
from core.engine.loop import train


def test_the_plan_is_every_card_then_the_cheapest_presets_cells():
    plan = warm_plan()
    cards = [s.config.run_id for s in SCENARIOS]
    assert [cfg.run_id for _, cfg in plan[:len(cards)]] == cards
    preset, cells = cheapest_preset()
    work = {name: sum(estimate(c.config).work for c in resolve(p, "quick")) for name, p in PRESETS.items()}
    assert work[preset.name] == min(work.values())
    assert {c.config.run_id for c in cells} <= {cfg.run_id for _, cfg in plan}


@pytest.mark.parametrize("env,expected", [
    ({"VG_WARM": "0"}, False), ({"VG_WARM": "off"}, False), ({"VG_WARM": "1"}, True),
    ({}, False),  # unset, under pytest: off
])
def test_warming_is_off_in_tests_and_by_the_environment_variable(env, expected):
    assert warm_enabled(env) is expected


def test_the_command_trains_what_is_missing_and_then_nothing(isolated_cache, tiny):
    store = RunStore(isolated_cache)
    plan = [("a", tiny), ("b", tiny.replace(seed=1))]
    store.save(train(tiny))
    lines = []
    report = warm(store, say=lines.append, plan=plan)
    assert report["stored"] == 1 and report["trained"] == 1 and store.has(tiny.replace(seed=1).run_id)
    assert lines[0].startswith("warm: 1 of 2 runs stored already; training 1") and lines[1].startswith("warm: 1/1 b:")
    assert warm(store, say=lines.append, plan=plan)["trained"] == 0


class _Worker:
    """Records the order the queue hands runs out in; each run waits for `gate` once started."""

    def __init__(self):
        self.order, self.gate = [], threading.Event()

    def alive(self):
        return True

    def run(self, jobs, should_stop):
        self.order += [j.config.seed for j in jobs]
        self.gate.wait(10)
        return {j.run_id: {"status": "completed"} for j in jobs}

    def stop(self):
        pass


def test_background_jobs_never_stand_in_front_of_a_users_job(isolated_cache):
    jobs = JobQueue(RunStore(isolated_cache))
    worker = _Worker()
    jobs._workers["cpu"] = worker
    base = RunConfig(dataset="digits", widths=(8,), epochs=1)
    warmups = [jobs.submit(base.replace(seed=s), background=True) for s in (1, 2, 3)]
    deadline = time.time() + 10
    while worker.order != [1] and time.time() < deadline:  # the first warm run started
        time.sleep(0.01)
    user = jobs.submit(base.replace(seed=9), watcher="s")
    promoted = jobs.submit(base.replace(seed=3), watcher="s")  # a user asks for a warm run: it moves up
    assert promoted is warmups[2] and not promoted.background
    assert jobs.position(user) == 1 and jobs.position(promoted) == 2 and jobs.position(warmups[1]) == 3
    worker.gate.set()
    for s in (9, 3, 2):
        jobs.wait(base.replace(seed=s).run_id, timeout=10)
    assert worker.order == [1, 9, 3, 2]  # the running warm run finishes; then the user's, then the lane


def test_a_warmup_says_how_far_it_is_and_nothing_once_done(isolated_cache):
    store = RunStore(isolated_cache)
    jobs = JobQueue(store)
    worker = _Worker()
    jobs._workers["cpu"] = worker
    plan = [(s.title, s.config) for s in SCENARIOS[:2]]
    w = WarmUp(jobs, store, plan=plan)
    assert w.status() is None  # not started
    assert w.start() == 2
    assert w.status().startswith("Training the ready-made experiments in the background") and "0 of 8" in w.status()
    worker.gate.set()
    for _, cfg in plan:
        jobs.wait(cfg.run_id, timeout=10)
    assert w.status() is None  # nothing pending (the fake worker stores nothing: nothing to wait for)
