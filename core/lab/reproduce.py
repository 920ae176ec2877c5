"""Rerunning a preset of core.lab.presets: what is stored, what is left, and training it.

    cells = resolve(PRESETS["init-act-bn"], "quick")
    plan(cells, store)                                     # stored, missing, seconds left
    rep = run_preset(PRESETS["init-act-bn"], "quick")      # trains what the store lacks
    rep.table()                                            # core.lab.tables.ours_vs_published_table
    rep.flow()                                             # core.lab.tables.flow_summary

Every run goes through the run store, so nothing is trained twice and an interrupted
reproduction resumes where it stopped. The metrics are core.lab.metrics, the tables
core.lab.tables, the report of `python -m core reproduce` core.report.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import pandas as pd

from ..cost import Rates
from ..engine.result import RunResult
from ..runs.calibration import calibrated_rates, device_of, estimated_seconds
from ..engine.stacked import train_many
from ..runs.runner import Trainer, get_or_train
from ..runs.store import CorruptRun, RunStore
from .presets import Cell, Preset, check_scale, resolve
from .tables import flow_summary, ours_vs_published_table


@dataclass
class Plan:
    cells: list[Cell]
    stored: list[Cell]
    missing: list[Cell]
    seconds_left: float  # estimate for the missing runs

    @property
    def total(self) -> int:
        return len(self.cells)


def plan(cells: list[Cell], store, rates: Rates | None = None) -> Plan:
    """Which cells are stored, which are missing, and about how long the missing ones take here
    (core.runs.calibration: this machine's rates, rescaled by its stored runs, unless `rates`
    are given; missing runs that can train stacked are estimated as a stack)."""
    unique = list({c.config.run_id: c for c in cells}.values())
    stored = [c for c in unique if store.has(c.config.run_id)]
    missing = [c for c in unique if not store.has(c.config.run_id)]
    if rates is None and missing:
        rates = calibrated_rates(store, device_of(missing[0].config))
    seconds = estimated_seconds([c.config for c in missing], rates) if missing else 0.0
    return Plan(cells, stored, missing, seconds)


@dataclass
class Reproduction:
    preset: Preset
    scale: str
    cells: list[Cell]
    results: dict[str, RunResult] = field(default_factory=dict)  # run id -> result
    trained: list[str] = field(default_factory=list)  # run ids trained by this call
    seconds: float = 0.0  # wall time of this call

    def table(self) -> pd.DataFrame:
        return ours_vs_published_table(self.preset, self.cells, self.results)

    def flow(self) -> pd.DataFrame:
        return flow_summary(self.cells, self.results)


def run_preset(preset: Preset, scale: str, store=None, cells: list[Cell] | None = None,
               on_run: Callable[[int, int, Cell], None] | None = None,
               on_event: Callable[[dict], None] | None = None,
               should_stop: Callable[[], bool] | None = None, train_missing: bool = True,
               allow_download: bool = False, trainer: Trainer | None = None) -> Reproduction:
    """Open every cell of `preset` at `scale` from the store, training the missing ones unless
    `train_missing` is False (through core.runs.runner.get_or_train: stacked where configs
    allow it, results identical to one-by-one training). `on_run(i, n, cell)` announces each
    run as it starts (stacked runs start together); `on_event` receives the trainer's events.
    `trainer` (default: the local train_many) may train elsewhere, e.g. a RayTrainer."""
    t0 = time.perf_counter()
    store = store or RunStore()
    cells = cells if cells is not None else resolve(preset, check_scale(scale), allow_download)
    rep = Reproduction(preset, scale, cells)
    unique = list({c.config.run_id: c for c in cells}.values())
    todo = []
    for c in unique:
        try:
            result = store.load(c.config.run_id)
        except CorruptRun:
            result = None  # get_or_train drops the damaged copy and trains it again
        if result is not None:
            rep.results[c.config.run_id] = result
        elif train_missing:
            todo.append(c)
    if todo:
        _train(store, todo, rep, on_run, on_event, should_stop, trainer)
    rep.seconds = time.perf_counter() - t0
    return rep


def _train(store, todo: list[Cell], rep: Reproduction, on_run, on_event, should_stop, trainer) -> None:
    by_id = {c.config.run_id: c for c in todo}
    announced: list[str] = []

    def tagged(event: dict) -> None:
        run_id = event.get("run_id")
        if event["kind"] == "start" and run_id in by_id and run_id not in announced:
            announced.append(run_id)
            if on_run is not None:
                on_run(len(announced), len(todo), by_id[run_id])
        if on_event is not None:
            on_event(event)

    results = get_or_train(store, [c.config for c in todo], on_event=tagged, should_stop=should_stop,
                           trainer=trainer or train_many)
    for c, result in zip(todo, results):
        if result.status == "cancelled":
            continue
        rep.results[c.config.run_id] = result
        if not result.cached:
            rep.trained.append(c.config.run_id)
