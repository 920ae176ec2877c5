"""The background job queue: one worker process per device, dedupe, queueing, cancel, crashes."""
import os
import signal
import time

import pytest

from core.base.config import RunConfig
from core.runs.jobs import CANCELLED, DONE, FAILED, RUNNING, Job, JobQueue
from core.runs.store import RunStore

TINY = RunConfig(dataset="digits", widths=(16, 16), epochs=1, activation="tanh")
# Long enough to be caught running (tens of seconds), stopped by the tests well before it ends.
SLOW = RunConfig(dataset="mnist-5k", widths=(512,) * 4, epochs=200, batch_size=16)


@pytest.fixture
def queue(isolated_cache):
    q = JobQueue(RunStore(isolated_cache))
    yield q
    for job in q.active():
        q.cancel(job.run_id)
    q.shutdown()


def wait_until(predicate, timeout=60.0):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_a_job_trains_in_the_worker_and_lands_in_the_store(queue):
    job = queue.submit(TINY, watcher="a")
    assert job is not None
    queue.wait(TINY.run_id)
    assert job.state == DONE and queue.store.has(TINY.run_id)
    assert job.progress["epoch"] == 1 and job.epoch_rows and job.records
    assert queue.submit(TINY, watcher="a") is None  # stored: open it, do not train


def test_many_sessions_asking_for_one_run_share_one_job(queue):
    jobs = [queue.submit(TINY, watcher=f"session-{i}") for i in range(8)]
    assert all(j is jobs[0] for j in jobs) and len(jobs[0].watchers) == 8
    queue.wait(TINY.run_id)
    assert queue.trained == 1 and jobs[0].state == DONE


def test_different_runs_queue_on_one_device(queue):
    configs = [TINY.replace(seed=s) for s in range(3)]
    jobs = [queue.submit(c, watcher="a") for c in configs]
    assert wait_until(lambda: jobs[0].state in (RUNNING, DONE))
    if jobs[0].state == RUNNING:
        assert queue.position(jobs[1]) in (1, 0) and queue.position(jobs[2]) >= 1
    for c in configs:
        queue.wait(c.run_id)
    assert [j.state for j in jobs] == [DONE] * 3
    assert jobs[0].finished_at <= jobs[1].started_at and jobs[1].finished_at <= jobs[2].started_at


def test_cancel_stops_a_running_job_and_stores_nothing(queue):
    job = queue.submit(SLOW, watcher="a")
    assert wait_until(lambda: job.progress.get("step", 0) > 0, timeout=120)
    assert queue.cancel(SLOW.run_id, watcher="a") == "cancelled"
    queue.wait(SLOW.run_id)
    assert job.state == CANCELLED and not queue.store.has(SLOW.run_id)
    # the worker is free again
    after = queue.submit(TINY, watcher="a")
    queue.wait(TINY.run_id)
    assert after.state == DONE


def test_cancel_by_one_of_two_watchers_detaches_only(queue):
    job = queue.submit(SLOW, watcher="a")
    queue.submit(SLOW, watcher="b")
    assert queue.cancel(SLOW.run_id, watcher="a") == "detached"
    assert not job.cancel_event.is_set()
    assert queue.cancel(SLOW.run_id, watcher="b") == "cancelled"
    queue.wait(SLOW.run_id)
    assert job.state == CANCELLED


def test_a_job_nobody_watches_is_cancelled(isolated_cache):
    queue = JobQueue(RunStore(isolated_cache), abandon_after=1.0)
    try:
        job = queue.submit(SLOW, watcher="gone")  # the session never sends a heartbeat again
        queue.wait(SLOW.run_id, timeout=120)
        assert job.state == CANCELLED and "nobody" in (job.error or "")
    finally:
        queue.shutdown()


def test_a_killed_worker_fails_its_job_and_the_next_job_gets_a_new_worker(queue):
    job = queue.submit(SLOW, watcher="a")
    assert wait_until(lambda: job.progress.get("step", 0) > 0, timeout=120)
    worker = queue._workers[job.device]
    os.kill(worker.process.pid, signal.SIGKILL)
    queue.wait(SLOW.run_id)
    assert job.state == FAILED and "killed by signal 9" in job.error
    assert not queue.store.has(SLOW.run_id)
    again = queue.submit(TINY, watcher="a")
    queue.wait(TINY.run_id)
    assert again.state == DONE


def test_a_job_whose_dataset_is_missing_fails_with_the_reason(queue):
    cfg = RunConfig(dataset="cifar10", arch="vgg", vgg_filters=4, epochs=1)
    job = queue.submit(cfg, watcher="a")
    queue.wait(cfg.run_id)
    assert job.state == FAILED and "dataset: 'cifar10' is not on this machine" in job.error


def test_runs_submitted_together_train_in_one_turn_and_are_each_stored(queue):
    configs = [TINY.replace(seed=s) for s in range(3)] + [TINY.replace(bn="before")]  # the last one cannot stack
    jobs = queue.submit_many(configs, watcher="a")
    assert len({j.group for j in jobs}) == 1 and jobs[0].group is not None
    for c in configs:
        queue.wait(c.run_id)
    assert [j.state for j in jobs] == [DONE] * 4
    assert all(queue.store.has(c.run_id) for c in configs)
    assert len({j.started_at for j in jobs}) == 1  # handed to the worker together
    assert all(j.epoch_rows for j in jobs)  # each job got its own progress events
    assert queue.submit_many(configs, watcher="a") == [None] * 4  # stored now


def test_phase_tells_queued_waiting_in_its_batch_and_training_apart(tiny):
    job = Job(tiny, "cpu")
    assert job.phase == "queued"
    job.state = RUNNING  # handed to the worker with its group, not started yet
    assert job.phase == "waiting" and job.eta_seconds() is None
    job.on_event({"kind": "start", "total_steps": 20, "epochs": 1, "device": "cpu"})
    assert job.phase == "training"
    job.state = DONE
    assert job.phase == "done"


def test_a_device_that_is_not_here_is_a_submit_error_not_a_traceback(queue, monkeypatch):
    from core.runs.jobs import SubmitError

    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    with pytest.raises(SubmitError, match="device: cuda was requested"):
        queue.submit(TINY.replace(device="cuda"), watcher="a")
    with pytest.raises(SubmitError, match="device: cuda"):
        queue.submit_many([TINY, TINY.replace(seed=2, device="cuda")], watcher="a")
    assert queue.active() == []  # nothing of the refused batch was queued


def test_one_click_and_one_session_are_bounded(queue, monkeypatch):
    import core.runs.jobs as jobs_mod
    from core.runs.jobs import SubmitError

    too_many = [TINY.replace(seed=s) for s in range(jobs_mod.MAX_BATCH_RUNS + 1)]
    with pytest.raises(SubmitError, match=f"at most {jobs_mod.MAX_BATCH_RUNS} per request"):
        queue.submit_many(too_many, watcher="a")
    assert queue.active() == []
    monkeypatch.setattr(jobs_mod, "MAX_BATCH_WORK", 1e-9)
    with pytest.raises(SubmitError, match="parameter-sample passes together"):
        queue.submit_many(too_many[:2], watcher="a")
    monkeypatch.setattr(jobs_mod, "MAX_BATCH_WORK", 16)
    monkeypatch.setattr(jobs_mod, "MAX_JOBS_PER_WATCHER", 3)
    first = queue.submit(SLOW, watcher="a")
    queue.submit_many([SLOW.replace(seed=s) for s in (1, 2)], watcher="a")
    with pytest.raises(SubmitError, match="at most 3 at a time"):
        queue.submit(SLOW.replace(seed=3), watcher="a")
    assert queue.submit(SLOW.replace(seed=3), watcher="b") is not None  # another session has room
    assert queue.submit(SLOW, watcher="a") is first  # joining a job it watches costs nothing


def test_a_preset_too_big_for_one_request_is_split_into_batches_the_queue_accepts(monkeypatch):
    """gna-bn at quick scale is 120 runs; one request takes MAX_BATCH_RUNS: its own button queues
    it in batches, each stack whole, instead of refusing."""
    import core.runs.jobs as jobs_mod
    from core.base.config import active_limits
    from core.base.cost import estimate
    from core.engine.stacked import plan_stacks
    from core.lab.presets import PRESETS, resolve

    configs = [c.config for c in resolve(PRESETS["gna-bn"], "quick")]
    batches = jobs_mod.split_batches(configs + configs[:3])  # a run given twice is trained once
    assert len(configs) == 120 and len(batches) == 2
    assert [c.run_id for b in batches for c in b] == list(dict.fromkeys(c.run_id for c in configs))
    limit = jobs_mod.MAX_BATCH_WORK * active_limits().max_work
    for b in batches:
        assert len(b) <= jobs_mod.MAX_BATCH_RUNS and sum(estimate(c).work for c in b) <= limit
    where = {c.run_id: i for i, b in enumerate(batches) for c in b}
    assert all(len({where[c.run_id] for c in stack}) == 1 for stack in plan_stacks(configs))  # stacks whole
    monkeypatch.setattr(jobs_mod, "MAX_BATCH_WORK", 3.5 * estimate(configs[0]).work / active_limits().max_work)
    assert max(len(b) for b in jobs_mod.split_batches(configs[:10])) == 3  # the work limit splits too
    assert jobs_mod.split_batches([]) == []


def test_room_is_what_a_session_may_still_queue(queue):
    from core.runs.jobs import MAX_JOBS_PER_WATCHER

    assert queue.room("a") == MAX_JOBS_PER_WATCHER
    queue.submit(SLOW, watcher="a")
    queue.submit_many([SLOW.replace(seed=s) for s in (1, 2)], watcher="a")
    assert queue.room("a") == MAX_JOBS_PER_WATCHER - 3 and queue.room("b") == MAX_JOBS_PER_WATCHER
    queue.cancel(SLOW.replace(seed=2).run_id, watcher="a")
    assert queue.room("a") == MAX_JOBS_PER_WATCHER - 2
