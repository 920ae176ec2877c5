"""Training on a Ray cluster: the same trainer, run as Ray tasks; results stored where asked.

    trainer = RayTrainer(connect("auto"))             # or "ray://head:10001", or "local"
    results = get_or_train(store, configs, trainer=trainer)

`RayTrainer` has the signature of core.engine.stacked.train_many, so core.runs.runner's one
get-or-train uses it unchanged: stored runs load from the local store, the missing ones are
planned into stacks exactly as locally (`plan_stacks`), each stack becomes one Ray task that
runs the same `train_many` on a cluster node (asking for a GPU when the cluster has one, else
CPUs), and the results come back to this process, which stores them in its own store. So run
ids, caching, share links and the Runs page behave as with the local worker.

Progress events stream back through a Ray queue while the tasks train. `should_stop()` cancels
the tasks (`TrainingCancelled`); a task whose worker or node died, or that raised, ends the
call with `RayTrainingFailed` naming the reason; asking again trains again.

Ray is an optional dependency: `pip install "ray==2.60.0"`. Addresses (VG_RAY_ADDRESS for the
app, --ray for the CLI): "auto" (a cluster started on this machine with `ray start --head`),
"ray://host:10001" (Ray Client, a remote head), "host:port" (a head's GCS address), or "local"
(a private single-node instance on 127.0.0.1, started by this process). This process connects
once and stays connected.
"""
from __future__ import annotations

import os
import re
import socket
import threading
from pathlib import Path
from typing import Callable

from ..base.config import RunConfig
from ..engine.result import RunResult
from ..engine.stacked import plan_stacks

PROJECT_ROOT = Path(__file__).resolve().parents[2]
POLL_SECONDS = 0.2
_ADDRESS = re.compile(r"auto|local|ray://[A-Za-z0-9.\-]+:\d{1,5}|[A-Za-z0-9.\-]+:\d{1,5}")
_connect_lock = threading.Lock()
_connected: str | None = None


class RayUnavailable(RuntimeError):
    """Ray is not installed, or the cluster cannot be reached; the message says which."""


class TrainingCancelled(RuntimeError):
    """should_stop() asked to stop: the Ray tasks were cancelled, nothing was trained."""


class RayTrainingFailed(RuntimeError):
    """A Ray task failed (its worker or node died, or it raised)."""


def check_address(address: str, name: str = "VG_RAY_ADDRESS") -> str:
    address = (address or "").strip()
    if not _ADDRESS.fullmatch(address):
        raise ValueError(f"{name}: got {address[:60]!r}; expected auto, local, ray://host:port or host:port")
    return address


CONNECT_SECONDS = 10.0  # ray.init retries an address where nothing listens without end


def check_reachable(address: str, seconds: float = CONNECT_SECONDS) -> None:
    """A host:port or ray://host:port address where nothing accepts a TCP connection within
    `seconds` raises RayUnavailable (before ray.init, which would wait for it forever)."""
    if address in ("auto", "local"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=seconds).close()
    except (OSError, ValueError) as exc:
        why = "no answer" if isinstance(exc, TimeoutError) else (getattr(exc, "strerror", None) or str(exc))
        raise RayUnavailable(f"cannot connect to Ray at {address}: nothing accepts connections there "
                             f"({why}; waited at most {seconds:g} s)") from exc


def connect(address: str, num_cpus: int | None = None) -> str:
    """Connect this process to Ray (once; later calls with the same address do nothing). An
    address where nothing listens raises RayUnavailable within CONNECT_SECONDS."""
    global _connected
    address = check_address(address)
    check_reachable(address)
    with _connect_lock:
        if _connected is not None:
            if _connected != address:
                raise RayUnavailable(f"already connected to Ray at {_connected}; cannot also use {address}")
            return address
        if address == "local":
            # Ray's single-machine mode: every server binds to 127.0.0.1 (read when ray is
            # first imported, so set before it).
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        try:
            import ray
        except ImportError as exc:
            raise RayUnavailable('Ray is not installed: pip install "ray==2.60.0"') from exc
        if not ray.is_initialized():
            try:
                if address == "local":
                    ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False,
                             configure_logging=False,
                             runtime_env={"env_vars": {"PYTHONPATH": str(PROJECT_ROOT)}})
                else:
                    ray.init(address=address, log_to_driver=False, configure_logging=False,
                             runtime_env={"working_dir": str(PROJECT_ROOT),
                                          "excludes": [".venv", "cache", ".git", "bench/out"]})
            except Exception as exc:  # ConnectionError and Ray's own kinds
                raise RayUnavailable(f"cannot connect to Ray at {address}: {str(exc).splitlines()[0][:200]}") from exc
        _connected = address
        return address


def _train_task(configs: list[dict], events) -> list[RunResult]:
    """On a cluster node: train one stack of runs with the local trainer, streaming events."""
    import ray
    import torch

    from ..engine.stacked import train_many

    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU")
    if cpus:
        torch.set_num_threads(max(1, int(cpus)))  # the task's share of the node, not all of it
    events.put({"kind": "worker", "pid": os.getpid()})
    return train_many([RunConfig.from_dict(c) for c in configs], on_event=events.put)


class RayTrainer:
    """train_many's signature, training on the connected Ray cluster."""

    def __init__(self, address: str, cpus_per_task: int | None = None):
        import ray

        self.address = address
        resources = ray.cluster_resources()
        self.gpus = 1 if resources.get("GPU", 0) >= 1 else 0
        env_cpus = os.environ.get("VG_RAY_TASK_CPUS", "").strip()
        wanted = cpus_per_task or (int(env_cpus) if env_cpus.isdigit() and int(env_cpus) > 0 else 2)
        self.cpus = max(1, min(wanted, int(resources.get("CPU", 1))))
        self.task = ray.remote(max_retries=0)(_train_task)
        self.worker_pids: list[int] = []  # of the tasks of the latest call (tests kill them)

    def __call__(self, configs: list[RunConfig], on_event: Callable[[dict], None] | None = None,
                 should_stop: Callable[[], bool] | None = None) -> list[RunResult]:
        import ray
        from ray.util.queue import Queue

        unique = list({c.run_id: c for c in configs}.values())
        events = Queue(actor_options={"num_cpus": 0})
        refs = [self.task.options(num_cpus=self.cpus, num_gpus=self.gpus).remote(
            [c.to_dict() for c in group], events) for group in plan_stacks(unique)]
        self.worker_pids = []
        done: dict[str, RunResult] = {}
        pending = list(refs)
        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=len(pending), timeout=POLL_SECONDS)
                self._pump(events, on_event)
                for ref in ready:
                    for result in self._result(ref):
                        done[result.run_id] = result
                if pending and should_stop is not None and should_stop():
                    for ref in pending:
                        ray.cancel(ref)
                    raise TrainingCancelled("training was cancelled")
            self._pump(events, on_event)
        except KeyboardInterrupt:
            for ref in pending:
                ray.cancel(ref)
            raise
        finally:
            ray.kill(events.actor)
        return [done[c.run_id] for c in configs]

    def _pump(self, events, on_event) -> None:
        size = events.qsize()
        for event in events.get_nowait_batch(size) if size else []:
            if event.get("kind") == "worker":
                self.worker_pids.append(event["pid"])
            elif on_event is not None:
                on_event(event)

    @staticmethod
    def _result(ref) -> list[RunResult]:
        import ray
        from ray import exceptions as rex

        try:
            return ray.get(ref)
        except rex.TaskCancelledError as exc:
            raise TrainingCancelled("training was cancelled") from exc
        except (rex.WorkerCrashedError, rex.NodeDiedError, rex.LocalRayletDiedError,
                rex.ActorDiedError) as exc:
            raise RayTrainingFailed(f"the Ray worker training these runs died ({type(exc).__name__}); "
                                    "submit again to retrain") from exc
        except rex.RayTaskError as exc:
            cause = exc.cause if getattr(exc, "cause", None) is not None else exc
            raise RayTrainingFailed(f"training on Ray failed: {type(cause).__name__}: "
                                    f"{str(cause).splitlines()[0][:200] if str(cause) else ''}") from exc
        except rex.RayError as exc:
            raise RayTrainingFailed(f"training on Ray failed: {type(exc).__name__}") from exc


def trainer_from_env() -> RayTrainer | None:
    """The app's executor: a RayTrainer when VG_RAY_ADDRESS is set, else None (local worker)."""
    address = os.environ.get("VG_RAY_ADDRESS", "").strip()
    if not address:
        return None
    return RayTrainer(connect(address))

