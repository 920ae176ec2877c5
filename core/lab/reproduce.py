"""Rerunning a preset of core.lab.presets: what is stored, what is left, and training it.

    cells = resolve(PRESETS["init-act-bn"], "quick")
    plan(cells, store)                                     # stored, missing, seconds left
    rep = run_preset(PRESETS["init-act-bn"], "quick", seeds=3)   # trains what the store lacks
    rep.table()                                            # core.lab.tables.ours_vs_published_table
    rep.rows()                                             # per row and metric: mean, sd, ci95, Δ
    rep.findings()                                         # the document's claims, with verdicts
    rep.flow()                                             # core.lab.tables.flow_summary

Every run goes through the run store, so nothing is trained twice and an interrupted
reproduction resumes where it stopped. The metrics are core.lab.metrics, the tables
core.lab.tables, the report of `python -m core reproduce` core.cli.report.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd
import torch

from ..base.cost import Rates
from ..engine.result import RunResult
from ..runs.calibration import calibrated_rates, device_of, estimated_seconds
from ..engine.stacked import train_many
from ..runs.runner import Trainer, get_or_train
from ..runs.store import CorruptRun, RunStore
from .findings import Finding, check_all
from .presets import Cell, Preset, check_scale, resolve, seeds_of
from .tables import Samples, flow_summary, ours_vs_published_table, uncertainty_rows


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
    store: object = None  # where the runs' weights are read for per-example intervals
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def seeds(self) -> int:
        return seeds_of(self.cells)

    def samples(self) -> Samples:
        if "samples" not in self._cache:
            self._cache["samples"] = Samples(self.preset, self.cells, self.results, self.store)
        return self._cache["samples"]

    def rows(self) -> list[dict]:
        if "rows" not in self._cache:
            self._cache["rows"] = uncertainty_rows(self.preset, self.cells, self.results, self.samples())
        return self._cache["rows"]

    def table(self) -> pd.DataFrame:
        return ours_vs_published_table(self.preset, self.cells, self.results, self.rows())

    def findings(self) -> list[Finding]:
        if "findings" not in self._cache:
            self._cache["findings"] = check_all(self.preset.claims, self.samples())
        return self._cache["findings"]

    def flow(self) -> pd.DataFrame:
        return flow_summary(self.cells, self.results)

    def timings(self) -> list[dict]:
        """The training calls of this reproduction recorded in the store (see record_timing)."""
        return read_timings(self.store, self.preset.name, self.scale, self.seeds)


def _timing_path(store, name: str, scale: str, seeds: int) -> Path | None:
    root = getattr(store, "root", None)
    return None if root is None else Path(root) / "reproductions" / f"{name}-{scale}-{seeds}seeds.json"


def read_timings(store, name: str, scale: str, seeds: int) -> list[dict]:
    path = _timing_path(store, name, scale, seeds)
    try:
        data = json.loads(path.read_text()) if path is not None else []
    except (OSError, ValueError):
        return []
    return [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []


def record_timing(rep: Reproduction, seconds: float) -> None:
    """Append this call's training wall time, runs trained and CPU threads to the store's record
    of the reproduction, so a report written later from the store can say what it cost."""
    path = _timing_path(rep.store, rep.preset.name, rep.scale, rep.seeds)
    if path is None or not rep.trained:
        return
    entry = {"seconds": round(seconds, 1), "trained": len(rep.trained), "runs": len(rep.results),
             "threads": torch.get_num_threads(), "cpus": os.cpu_count(), "at": time.strftime("%Y-%m-%d %H:%M")}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(read_timings(rep.store, rep.preset.name, rep.scale, rep.seeds) + [entry]))
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only store still gives its report; it cannot say the time


def run_preset(preset: Preset, scale: str, store=None, cells: list[Cell] | None = None,
               on_run: Callable[[int, int, Cell], None] | None = None,
               on_event: Callable[[dict], None] | None = None,
               should_stop: Callable[[], bool] | None = None, train_missing: bool = True,
               allow_download: bool = False, trainer: Trainer | None = None,
               seeds: int | None = None) -> Reproduction:
    """Open every cell of `preset` at `scale` from the store, training the missing ones unless
    `train_missing` is False (through core.runs.runner.get_or_train: stacked where configs
    allow it, results identical to one-by-one training). `on_run(i, n, cell)` announces each
    run as it starts (stacked runs start together); `on_event` receives the trainer's events.
    `trainer` (default: the local train_many) may train elsewhere, e.g. a RayTrainer.
    `seeds`: seeds per configuration (default: the preset's for `scale`); the seeds of one
    configuration differ only in seed, so they train as one stack where the config stacks."""
    t0 = time.perf_counter()
    store = store or RunStore()
    cells = cells if cells is not None else resolve(preset, check_scale(scale), allow_download, seeds=seeds)
    rep = Reproduction(preset, scale, cells, store=store)
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
        t_train = time.perf_counter()
        _train(store, todo, rep, on_run, on_event, should_stop, trainer)
        record_timing(rep, time.perf_counter() - t_train)
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
