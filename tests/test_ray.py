"""Training on a real local Ray instance (127.0.0.1, 2 CPUs, no dashboard), started once."""
import os
import signal
import time

import pandas as pd
import pytest

# Ray's single-machine mode (every server on 127.0.0.1) is read when ray is first imported.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
ray = pytest.importorskip("ray", reason="Ray is part of requirements-dev.txt")

from core.base.config import RunConfig  # noqa: E402
from core.engine.stacked import train_many  # noqa: E402
from core.runs import ray_executor  # noqa: E402
from core.runs.jobs import CANCELLED, DONE, FAILED, JobQueue  # noqa: E402
from core.runs.runner import get_or_train  # noqa: E402
from core.runs.store import RunStore  # noqa: E402

BASE = RunConfig(dataset="digits", train_subset=400, widths=(24, 12), epochs=2, batch_size=64,
                 activation="tanh", log_every=3)
# Long enough to be killed or cancelled while it trains (tens of seconds on 2 cores).
SLOW = RunConfig(dataset="mnist-5k", widths=(512,) * 4, epochs=40, batch_size=16)


@pytest.fixture(scope="module")
def trainer():
    ray_executor.connect("local", num_cpus=2)
    yield ray_executor.RayTrainer("local")


def _same(a, b):
    assert a.config == b.config and a.status == b.status
    pd.testing.assert_frame_equal(a.epochs.drop(columns="seconds"), b.epochs.drop(columns="seconds"))
    pd.testing.assert_frame_equal(a.layer_stats, b.layer_stats)
    for k in b.histograms:
        assert (a.histograms[k] == b.histograms[k]).all()


def test_the_local_instance_listens_on_loopback_only(trainer):
    assert {n["NodeManagerAddress"] for n in ray.nodes() if n["Alive"]} == {"127.0.0.1"}


def test_a_batch_trained_on_ray_equals_the_local_trainer_and_is_stored_here(trainer, isolated_cache):
    configs = [BASE, BASE.replace(seed=3), BASE.replace(activation="relu", init="he_normal", bn="before")]
    events = []
    store = RunStore(isolated_cache)
    remote = get_or_train(store, configs, on_event=events.append, trainer=trainer)
    assert {e["run_id"] for e in events if e["kind"] == "end"} == {c.run_id for c in configs}
    assert set(store.list_ids()) == {c.run_id for c in configs}
    for a, b in zip(remote, train_many(configs)):
        assert a.meta["threads"] == b.meta["threads"]  # the task trains with the local thread count
        _same(a, b)
    again = get_or_train(store, configs, trainer=trainer)
    assert all(r.cached for r in again)


def _slow_job(jobs):
    job = jobs.submit(SLOW)
    assert ray_executor_wait(lambda: job.progress.get("step", 0) > 0, 120), "the task never started"
    return job


def ray_executor_wait(predicate, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def test_cancel_cancels_the_ray_task(trainer, isolated_cache):
    jobs = JobQueue(RunStore(isolated_cache), trainer=trainer)
    try:
        job = _slow_job(jobs)
        assert jobs.cancel(job.run_id) == "cancelled"
        assert jobs.wait(job.run_id, timeout=60).state == CANCELLED
        assert not jobs.store.has(SLOW.run_id)
    finally:
        jobs.shutdown()


def test_a_killed_ray_worker_fails_the_job_and_a_resubmit_trains_it(trainer, isolated_cache):
    jobs = JobQueue(RunStore(isolated_cache), trainer=trainer)
    try:
        job = _slow_job(jobs)
        assert ray_executor_wait(lambda: trainer.worker_pids, 10)
        os.kill(trainer.worker_pids[0], signal.SIGKILL)
        finished = jobs.wait(job.run_id, timeout=60)
        assert finished.state == FAILED and "Ray worker" in finished.error and "died" in finished.error
        small = BASE.replace(seed=11)
        jobs.submit(small)
        assert jobs.wait(small.run_id, timeout=120).state == DONE and jobs.store.has(small.run_id)
        retry = jobs.submit(SLOW)  # the failed run is not stored: it trains again
        assert retry is not None and retry is not job
        jobs.cancel(SLOW.run_id)
    finally:
        jobs.shutdown()


def test_bad_addresses_are_refused_with_the_setting_named():
    for bad in ("", "http://x", "auto; rm -rf /", "host:port"):
        with pytest.raises(ValueError, match="VG_RAY_ADDRESS"):
            ray_executor.check_address(bad)


def test_the_app_trains_a_run_through_ray(trainer, isolated_cache, monkeypatch):
    import streamlit as st

    from apptest_helpers import TINY, open_page, texts, wait_for_jobs

    monkeypatch.setenv("VG_RAY_ADDRESS", "local")  # this process is connected already: reused
    st.cache_resource.clear()
    try:
        at = open_page("pages/explore.py", TINY)
        next(b for b in at.button if b.label == "Train this network").click().run()
        assert not at.exception
        from pages.services import get_jobs

        assert get_jobs().trainer is not None
        wait_for_jobs()
        at.run()
        assert not at.exception and "Stored run" in texts(at)
        assert len(RunStore(isolated_cache).list_ids()) == 1
    finally:
        st.cache_resource.clear()
