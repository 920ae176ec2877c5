"""The executors behind the job queue: a local worker process per device, or a Ray cluster.

Both have `run(jobs, should_stop) -> {run_id: {"status", "store_error" or "error"}}`, feed each
job's progress through `job.on_event`, and raise WorkerDied when the training process (or Ray
worker) died, which fails the jobs but not the queue.
"""
from __future__ import annotations

import multiprocessing as mp
from ..base.config import RunConfig
from .runner import get_or_train
from .store import RunStore


# ---------------------------------------------------------------------- the worker process
def _worker_main(conn, cancel, cache_dir: str) -> None:
    """Child process: train each requested config through the store, streaming events back."""
    store = RunStore(cache_dir)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return  # the server went away
        if message is None:
            return
        configs = [RunConfig.from_dict(m) for m in message]
        send = lambda e: conn.send(("event", e))  # noqa: E731
        try:  # several runs at once train as one stacked model where their settings allow
            results = get_or_train(store, configs, on_event=send, should_stop=cancel.is_set)
            conn.send(("done", {r.run_id: {"status": r.status, "store_error": r.meta.get("store_error")}
                                for r in results}))
        except Exception as exc:  # reported to the jobs; the worker lives on
            error = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
            conn.send(("done", {c.run_id: error for c in configs}))


class WorkerDied(RuntimeError):
    pass


class RayWorker:
    """The executor for a Ray cluster (core.runs.ray_executor): the same get-or-train, in a
    thread of this process, with the training itself in Ray tasks and the results stored here."""

    def __init__(self, store: RunStore, trainer):
        self.store, self.trainer = store, trainer

    def alive(self) -> bool:
        return True

    def run(self, jobs: list, should_stop) -> dict:  # jobs: core.runs.jobs.Job
        from .ray_executor import RayTrainingFailed, TrainingCancelled

        by_id = {j.run_id: j for j in jobs}

        def dispatch(event: dict) -> None:
            job = by_id.get(event.get("run_id"))
            if job is not None:
                job.on_event(event)

        try:
            results = get_or_train(self.store, [j.config for j in jobs], on_event=dispatch,
                                   should_stop=should_stop, trainer=self.trainer)
        except TrainingCancelled:
            return {j.run_id: {"status": "cancelled"} for j in jobs}
        except RayTrainingFailed as exc:
            raise WorkerDied(str(exc)) from exc
        return {r.run_id: {"status": r.status, "store_error": r.meta.get("store_error")} for r in results}

    def stop(self) -> None:
        pass


class LocalWorker:
    """The server side of one worker process."""

    def __init__(self, cache_dir: str):
        ctx = mp.get_context("spawn")  # a clean interpreter: no copied locks or thread pools
        self.conn, child = ctx.Pipe()
        self.cancel = ctx.Event()
        self.process = ctx.Process(target=_worker_main, args=(child, self.cancel, cache_dir),
                                   daemon=True, name="vg-trainer")
        self.process.start()
        child.close()

    def alive(self) -> bool:
        return self.process.is_alive()

    def run(self, jobs: list, should_stop) -> dict:  # jobs: core.runs.jobs.Job
        """Train `jobs` in the worker; returns {run_id: {"status", "store_error" or "error"}}."""
        by_id = {j.run_id: j for j in jobs}
        self.cancel.clear()
        self.conn.send([j.config.to_dict() for j in jobs])
        while True:
            if should_stop():
                self.cancel.set()
            try:
                ready = self.conn.poll(0.2)
            except (EOFError, OSError):
                ready = False
            if ready:
                try:
                    kind, payload = self.conn.recv()
                except (EOFError, OSError) as exc:
                    raise WorkerDied(self._death()) from exc
                if kind == "event":
                    target = by_id.get(payload.get("run_id"))
                    if target is not None:
                        target.on_event(payload)
                else:
                    return payload
            elif not self.process.is_alive():
                raise WorkerDied(self._death())

    def _death(self) -> str:
        self.process.join(timeout=1)
        code = self.process.exitcode
        how = f"was killed by signal {-code}" if code is not None and code < 0 else f"exited with code {code}"
        return f"the training process {how}"

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except (OSError, ValueError):
            pass
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
