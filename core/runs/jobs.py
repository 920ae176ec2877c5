"""Background training jobs: a queue per device, each served by a worker process.

The app owns one `JobQueue` per server process (through `st.cache_resource`), so training
survives widget changes and page switches, and sessions asking for the same run share one job:

    jobs = JobQueue(RunStore())
    job = jobs.submit(cfg, watcher="session-1")    # queued, or the job already queued/running
    job.progress, jobs.position(job), job.state     # for the progress display
    jobs.cancel(job.run_id, watcher="session-1")

Training runs in a separate worker process per device (spawned once, then reused), not in a
thread of the web server: PyTorch's CPU thread pool is many times slower when driven from a
secondary thread, the server stays responsive, and a crash or a kill of the worker fails only
its job (the next job gets a new worker). The worker trains through the run store, so a run is
trained once even across processes, and the result is read back from the store.

A background job (core.lab.warm) waits in a lane served only when the queue is empty.
A stored run never becomes a job (`submit` returns None: open it from the store). Jobs nobody
watches any more are dropped (queued) or cancelled (running) after `abandon_after` seconds
without a heartbeat, so a closed browser tab leaves nothing stuck.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from ..base.config import RunConfig, active_limits
from ..base.cost import estimate
from ..engine.loop import resolve_device
from ..engine.stacked import plan_stacks
from .workers import LocalWorker, RayWorker
from .store import RunStore

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
FINISHED = (DONE, FAILED, CANCELLED)
# What one session can ask for: unfinished jobs it watches, runs one click (a Compare sweep, a
# preset) may queue, and that batch's total work in multiples of the per-run work limit.
MAX_JOBS_PER_WATCHER = 64
MAX_BATCH_RUNS = 64
MAX_BATCH_WORK = 16  # x active_limits().max_work
MAX_LIVE_POINTS = 400  # logged steps a job keeps for live views (thinned beyond)


def split_batches(configs: list[RunConfig]) -> list[list[RunConfig]]:
    """`configs` (each distinct run once) in batches submit_many accepts: at most MAX_BATCH_RUNS
    runs and MAX_BATCH_WORK x the per-run work limit each, in order, the runs that train as one
    stack kept in one batch where they fit. A preset of 120 runs is two requests, not a refusal."""
    limit = MAX_BATCH_WORK * active_limits().max_work
    batches, current, work = [], [], 0.0
    unique = list({c.run_id: c for c in configs}.values())
    for stack in plan_stacks(unique):
        for cfg in stack:
            cost = estimate(cfg).work
            if current and (len(current) >= MAX_BATCH_RUNS or work + cost > limit
                            or (cfg is stack[0] and len(current) + len(stack) > MAX_BATCH_RUNS)):
                batches.append(current)
                current, work = [], 0.0
            current.append(cfg)
            work += cost
    return batches + ([current] if current else [])


class SubmitError(ValueError):
    """A request the queue refuses (no such device here, too much at once); the message names
    the setting and says what is allowed, for the page to show."""


def default_abandon_after() -> float:
    return float(os.environ.get("VG_JOB_ABANDON_SECONDS", "300"))


@dataclass
class Job:
    config: RunConfig
    device: str
    state: str = QUEUED
    submitted_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    progress: dict = field(default_factory=dict)  # step, total_steps, epoch, epochs, loss, elapsed, eta
    epoch_rows: list = field(default_factory=list)  # per-epoch metrics so far, for live curves
    records: list = field(default_factory=list)  # the logged steps' StepRecords so far (live part)
    layers: list = field(default_factory=list)  # weight layers' names, input to output (from "start")
    error: str | None = None
    watchers: dict = field(default_factory=dict)  # watcher id -> last heartbeat time
    cancel_event: threading.Event = field(default_factory=threading.Event)
    group: int | None = None  # jobs submitted together train together (stacked where they can)
    background: bool = False  # waits in the background lane: trained only when the queue is empty

    @property
    def run_id(self) -> str:
        return self.config.run_id

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    def on_event(self, event: dict) -> None:
        kind = event["kind"]
        if kind == "start":
            self.progress.update(total_steps=event["total_steps"], epochs=event["epochs"], step=0, epoch=0)
            self.layers = list(event.get("layers", []))
        elif kind == "log":
            self.progress.update(step=event["step"] + 1, elapsed=event["elapsed"])
            self.records.append(event["record"])
            if len(self.records) > MAX_LIVE_POINTS:  # a bounded picture of the run: every other point
                del self.records[1:-1:2]
        elif kind == "epoch":
            row = {k: v for k, v in event.items() if k not in ("kind", "epochs", "elapsed", "eta")}
            self.epoch_rows.append(row)
            self.progress.update(epoch=event["epoch"], loss=event["train_loss"],
                                 test_acc=event["test_acc"], elapsed=event["elapsed"], eta=event["eta"])

    @property
    def phase(self) -> str:
        """What to tell a user: "queued", "waiting" (handed to the worker with the rest of its
        group, which trains it after the runs ahead of it), "training", or the finished state."""
        if self.state == RUNNING:
            return "training" if self.progress else "waiting"
        return self.state

    def fraction_done(self) -> float:
        total = self.progress.get("total_steps") or 0
        return min(1.0, self.progress.get("step", 0) / total) if total else 0.0

    def eta_seconds(self) -> float | None:
        """Time left, from the steps done so far (finer than per-epoch estimates)."""
        done, elapsed = self.fraction_done(), self.progress.get("elapsed")
        if self.state != RUNNING or not elapsed or done <= 0:
            return None
        return elapsed * (1 - done) / done


# ---------------------------------------------------------------------- the queue
class JobQueue:
    """Jobs per device, each device's trained by a local worker process, or, with `trainer`
    (a core.runs.ray_executor.RayTrainer), all of them by a Ray cluster (one queue, "ray")."""

    def __init__(self, store: RunStore, abandon_after: float | None = None, trainer=None):
        self.store = store
        self.trainer = trainer
        self.abandon_after = default_abandon_after() if abandon_after is None else abandon_after
        self.trained = 0  # jobs handed to a worker (for tests and the status display)
        self._groups = 0
        self._lock = threading.RLock()
        self._queues: dict[str, deque[Job]] = {}
        self._background: dict[str, deque[Job]] = {}  # per device: jobs served when its queue is empty
        self._jobs: dict[str, Job] = {}  # run_id -> latest job
        self._wakeup: dict[str, threading.Condition] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._workers: dict = {}  # device -> LocalWorker or RayWorker

    # ------------------------------------------------------------------ public
    def submit(self, cfg: RunConfig, watcher: str | None = None, background: bool = False) -> Job | None:
        """Queue `cfg` (`background`: in the background lane) unless stored or already queued/running;
        returns the job (None if stored). SubmitError: the device is not here, or too many jobs."""
        with self._lock:
            job = self._jobs.get(cfg.run_id)
            if job is not None and not job.finished:
                if not background:
                    self._promote(job)
                self._watch(job, watcher)
                return job
        if self.store.has(cfg.run_id):
            return None
        device = self._device(cfg)
        with self._lock:
            self._check_room(watcher, 1)
            job = self._jobs.get(cfg.run_id)
            if job is not None and not job.finished:  # submitted by another session meanwhile
                self._watch(job, watcher)
                return job
            job = Job(config=cfg, device=device, background=background)
            self._watch(job, watcher)
            self._jobs[cfg.run_id] = job
            self._queue(device, background).append(job)
            self._ensure_thread(device)
            self._wakeup[device].notify()
            return job

    def submit_many(self, configs: list[RunConfig], watcher: str | None = None) -> list[Job | None]:
        """Queue several configs to train together: the worker trains those whose settings
        allow it as one stacked model (core.engine.stacked), the rest one by one, in one turn of
        the queue. Returns one entry per config, as `submit` would. A batch over the limits
        (MAX_BATCH_RUNS runs, MAX_BATCH_WORK x the per-run work limit, the session's room in
        the queue) raises SubmitError and queues nothing."""
        new = {c.run_id: c for c in configs if not self._known(c.run_id) and not self.store.has(c.run_id)}
        if len(new) > MAX_BATCH_RUNS:
            raise SubmitError(f"runs: {len(new)} runs to train at once; at most {MAX_BATCH_RUNS} "
                              "per request (fewer values or seeds)")
        limit = MAX_BATCH_WORK * active_limits().max_work
        work = sum(estimate(c).work for c in new.values())
        if work > limit:
            raise SubmitError(f"runs: these {len(new)} runs would cost about {work:.1e} "
                              f"parameter-sample passes together; at most {limit:.0e} per request")
        for cfg in new.values():
            self._device(cfg)
        with self._lock:
            self._check_room(watcher, len(new))
            self._groups += 1
            group = self._groups
            jobs = []
            for cfg in configs:
                job = self.submit(cfg, watcher)
                if job is not None and job.state == QUEUED and job.group is None and \
                        all(j is not job for j in jobs):
                    job.group = group
                jobs.append(job)
            return jobs

    def get(self, run_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(run_id)

    def _known(self, run_id: str) -> bool:
        job = self.get(run_id)
        return job is not None and not job.finished

    def _device(self, cfg: RunConfig) -> str:
        """The queue `cfg` trains in: its device here, or "ray" (on Ray the device is chosen on
        the node that trains, a GPU when the task got one)."""
        if self.trainer is not None:
            return "ray"
        try:
            return str(resolve_device(cfg.device))
        except RuntimeError as exc:
            raise SubmitError(str(exc)) from exc

    def room(self, watcher: str) -> int:
        """How many more runs the session `watcher` may queue now (MAX_JOBS_PER_WATCHER)."""
        with self._lock:
            return max(0, MAX_JOBS_PER_WATCHER - sum(1 for j in self._jobs.values()
                                                     if not j.finished and watcher in j.watchers))

    def _check_room(self, watcher: str | None, wanted: int) -> None:
        if watcher is None or wanted == 0:
            return  # scripts and tests submit without a session
        mine = sum(1 for j in self._jobs.values() if not j.finished and watcher in j.watchers)
        if mine + wanted > MAX_JOBS_PER_WATCHER:
            raise SubmitError(f"queue: this session has {mine} runs waiting or training and asks "
                              f"for {wanted} more; at most {MAX_JOBS_PER_WATCHER} at a time "
                              "(wait for them, or cancel some)")

    def heartbeat(self, run_id: str, watcher: str) -> None:
        with self._lock:
            job = self._jobs.get(run_id)
            if job is not None:
                self._watch(job, watcher)

    def position(self, job: Job) -> int:
        """0 while running; 1, 2, ... while waiting (1 = next); -1 when finished."""
        with self._lock:
            if job.state == RUNNING:
                return 0
            if job.state != QUEUED:
                return -1
            ahead = list(self._queues.get(job.device, ())) + list(self._background.get(job.device, ()))
            return ahead.index(job) + 1 if job in ahead else -1

    def cancel(self, run_id: str, watcher: str | None = None) -> str:
        """Stop waiting for a job. With a watcher id, the job is only cancelled when no other
        session still watches it ("detached" then); without one it is cancelled outright.
        Returns "cancelled", "detached" or "none"."""
        with self._lock:
            job = self._jobs.get(run_id)
            if job is None or job.finished:
                return "none"
            if watcher is not None:
                job.watchers.pop(watcher, None)
                now = time.time()
                if any(now - t <= self.abandon_after for t in job.watchers.values()):
                    return "detached"
            job.cancel_event.set()
            if job.state == QUEUED:
                (self._background if job.background else self._queues)[job.device].remove(job)
                self._finish(job, CANCELLED)
                return "cancelled"
            if job.group is not None and any(
                    j.group == job.group and j.state == RUNNING and not j.cancel_event.is_set()
                    for j in self._jobs.values()):
                return "detached"  # trained with its group, which goes on for the others
            return "cancelled"

    def jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def active(self) -> list[Job]:
        with self._lock:
            return [j for j in self._jobs.values() if not j.finished]

    def wait(self, run_id: str, timeout: float = 120.0) -> Job | None:
        """Block until the job of `run_id` has finished (for tests and scripts)."""
        end = time.time() + timeout
        while time.time() < end:
            job = self.get(run_id)
            if job is None or job.finished:
                return job
            time.sleep(0.05)
        return self.get(run_id)

    def shutdown(self) -> None:
        """Stop the worker processes (tests; the server's are daemons and end with it)."""
        with self._lock:
            workers = list(self._workers.values())
            self._workers.clear()
        for w in workers:
            w.stop()

    # ------------------------------------------------------------------ internals
    def _watch(self, job: Job, watcher: str | None) -> None:
        if watcher is not None:
            job.watchers[watcher] = time.time()

    def _promote(self, job: Job) -> None:
        """A background job a user now asks for: to the end of the queue, out of the lane."""
        if job.background and job.state == QUEUED:
            self._background[job.device].remove(job)
            job.background = False
            self._queues[job.device].append(job)
            self._wakeup[job.device].notify()

    def _queue(self, device: str, background: bool = False) -> deque:
        if device not in self._queues:
            self._queues[device] = deque()
            self._background[device] = deque()
            self._wakeup[device] = threading.Condition(self._lock)
        return (self._background if background else self._queues)[device]

    def _ensure_thread(self, device: str) -> None:
        thread = self._threads.get(device)
        if thread is None or not thread.is_alive():
            thread = threading.Thread(target=self._serve, args=(device,), daemon=True,
                                      name=f"vg-jobs-{device}")
            self._threads[device] = thread
            thread.start()

    def _abandoned(self, job: Job) -> bool:
        if not job.watchers:
            return False  # submitted by a script: nobody is expected to watch
        return time.time() - max(job.watchers.values()) > self.abandon_after

    def _next_jobs(self, device: str) -> list[Job]:
        """The next job of the device's queue (else its background lane), with its group's."""
        with self._lock:
            while True:
                while self._queues[device] or self._background[device]:
                    queue = self._queues[device] or self._background[device]
                    job = queue.popleft()
                    if self._abandoned(job):
                        self._finish(job, CANCELLED, "nobody was waiting for it any more")
                        continue
                    batch = [job]
                    if job.group is not None:
                        mates = [j for j in queue if j.group == job.group]
                        for j in mates:
                            queue.remove(j)
                        batch += [j for j in mates if not self._abandoned(j)]
                    now = time.time()
                    for j in batch:
                        j.state, j.started_at = RUNNING, now
                        self.trained += 1
                        log.info("training run %s on %s: %s", j.run_id, device, j.config.describe())
                    return batch
                self._wakeup[device].wait(timeout=5.0)

    def _worker(self, device: str):
        worker = self._workers.get(device)
        if worker is None or not worker.alive():
            worker = RayWorker(self.store, self.trainer) if self.trainer is not None \
                else LocalWorker(str(self.store.root))
            self._workers[device] = worker
        return worker

    def _serve(self, device: str) -> None:
        """One thread per device: hand queued jobs to the device's worker process, one turn at a time."""
        while True:
            batch = self._next_jobs(device)

            def should_stop(batch=batch) -> bool:
                # A group stops only when every one of its jobs is cancelled or abandoned.
                for job in batch:
                    if self._abandoned(job):
                        job.cancel_event.set()
                return all(job.cancel_event.is_set() for job in batch)

            try:
                outcomes = self._worker(device).run(batch, should_stop)
            except Exception as exc:  # WorkerDied, or a broken pipe: fail the jobs, not the queue
                log.error("jobs %s: %s", [j.run_id for j in batch], exc)
                with self._lock:
                    self._workers.pop(device, None)
                    for job in batch:
                        self._finish(job, FAILED, str(exc))
                continue
            with self._lock:
                for job in batch:
                    self._settle(job, outcomes.get(job.run_id, {"status": "error", "error": "no result"}))

    def _settle(self, job: Job, outcome: dict) -> None:
        status = outcome["status"]
        if status == "cancelled":
            self._finish(job, CANCELLED, "nobody was waiting for it any more" if self._abandoned(job) else None)
        elif status == "error":
            self._finish(job, FAILED, outcome.get("error"))
        elif outcome.get("store_error"):
            self._finish(job, FAILED, f"trained, but not stored: {outcome['store_error']}")
        else:
            self._finish(job, DONE)

    def _finish(self, job: Job, state: str, error: str | None = None) -> None:
        job.state, job.finished_at = state, time.time()
        if error:
            job.error = error
