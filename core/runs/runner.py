"""Get or train: the one way a run is obtained, for one configuration or many.

    [result] = get_or_train(store, [cfg])            # stored -> instant; missing -> trained once
    results = get_or_train(store, configs)           # stored ones load; the rest train stacked

Stored runs load from the store; the missing ones are trained once, under their store locks
(taken in run-id order, so two callers never deadlock, and a second process asking for the
same run waits and then reads it), stacked where their settings allow
(core.engine.stacked.train_many), and saved when they finished (completed or diverged; a
cancelled run is not a result). A run that could not be saved is still returned, with the
reason in `result.meta["store_error"]`. A run trained in this process keeps in `meta["busy"]`
how much other programs' load stretched its time (core.runs.load.busy_while), which
core.runs.calibration takes off.
"""
from __future__ import annotations

from contextlib import ExitStack
from typing import Callable

from ..base.config import RunConfig
from ..engine.result import RunResult
from ..engine.stacked import train_many
from .load import busy_while, read_stat
from .store import RunStore

Trainer = Callable[..., list[RunResult]]  # (configs, on_event, should_stop) -> results in order


def get_or_train(store: RunStore, configs: list[RunConfig],
                 on_event: Callable[[dict], None] | None = None,
                 should_stop: Callable[[], bool] | None = None,
                 trainer: Trainer = train_many) -> list[RunResult]:
    """One result per config, in order (a config given twice is trained once)."""
    found: dict[str, RunResult] = {}
    missing: dict[str, RunConfig] = {}
    for cfg in configs:
        if cfg.run_id in found or cfg.run_id in missing:
            continue
        result = store.load_or_drop(cfg.run_id)
        if result is not None:
            found[cfg.run_id] = result
        else:
            missing[cfg.run_id] = cfg
    if missing:
        with ExitStack() as locks:
            for run_id in sorted(missing):
                locks.enter_context(store.lock(run_id))
            todo = []
            for run_id, cfg in missing.items():
                result = store.load_or_drop(run_id)  # someone may have trained it while we waited
                if result is not None:
                    found[run_id] = result
                else:
                    todo.append(cfg)
            first = read_stat() if todo and trainer is train_many else None  # trained here, in this process
            results = trainer(todo, on_event, should_stop) if todo else []
            busy = busy_while(first, read_stat() if first else None)
            for result in results:
                if busy is not None:  # how much the others' load stretched its time
                    result.meta["busy"] = round(busy, 3)
                store.try_save(result)
                found[result.run_id] = result
    return [found[cfg.run_id] for cfg in configs]
