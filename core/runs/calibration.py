"""How long runs will take here: core.base.cost's time model, with this machine's measured rates
rescaled by the runs already stored.

    rates = calibrated_rates(store)              # machine_rates(device) x median(measured / predicted)
    seconds = estimated_seconds(configs, rates)  # the stacks get_or_train would train, summed

The measurement (core.engine.speed) sees this machine for a fraction of a second; the stored
runs say how it really did, load and all, so their median ratio of measured `meta["seconds"]`
to predicted rescales every rate. A run trained in a stack recorded the stack's time
(`meta["trained_with"]` runs): it is compared with the prediction for that stack.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass

from ..base.config import ConfigError, RunConfig
from ..base.cost import Rates, estimate, training_seconds
from ..engine.loop import auto_log_every, resolve_device
from ..engine.speed import machine_rates
from ..engine.stacked import plan_stacks
from .store import CorruptRun, RunStore, read_json_object

RECENT_RUNS = 100  # the stored runs a calibration reads, newest first


@dataclass(frozen=True)
class Calibration:
    rates: Rates  # machine rates x factor
    factor: float  # median of measured / predicted over the stored runs (1.0 without any)
    runs: int  # stored runs it is based on


def device_of(cfg: RunConfig) -> str:
    """Where `cfg` would train ("cpu" when its device is not available here: train says why)."""
    try:
        return resolve_device(cfg.device).type
    except RuntimeError:
        return "cpu"


def predicted_seconds(cfg: RunConfig, rates: Rates, runs: int = 1) -> float:
    """training_seconds of `cfg` (or of a stack of `runs` like it) with the loop's logging rule."""
    est = estimate(cfg)
    log_every = cfg.log_every or auto_log_every(est.steps_per_epoch * cfg.epochs)
    return training_seconds(cfg, rates, log_every, runs)


def estimated_seconds(configs: list[RunConfig], rates: Rates) -> float:
    """Time to train `configs` (each distinct run once) as get_or_train would: in stacks."""
    unique = list({cfg.run_id: cfg for cfg in configs}.values())
    return sum(predicted_seconds(group[0], rates, len(group)) for group in plan_stacks(unique))


def calibrate(store: RunStore, device: str = "cpu") -> Calibration:
    """This machine's rates on `device`, rescaled by the completed runs stored for it."""
    base = machine_rates(device)
    ratios = [took / predicted for cfg, took, n in stored_timings(store, device)
              if (predicted := predicted_seconds(cfg, base, n)) > 0]
    factor = statistics.median(ratios) if ratios else 1.0
    return Calibration(base.scaled(factor), factor, len(ratios))


def calibrated_rates(store: RunStore, device: str = "cpu") -> Rates:
    return calibrate(store, device).rates


def stored_timings(store: RunStore, device: str) -> list[tuple[RunConfig, float, int]]:
    """(config, measured seconds, runs in its stack) of the newest completed runs on `device`."""
    found = []
    for run_id in store.list_ids():
        d = store.run_dir(run_id)
        try:
            meta = read_json_object(d / "meta.json", f"run {run_id}: metadata")
            if meta.get("status") != "completed" or str(meta.get("device")).split(":")[0] != device:
                continue
            cfg = RunConfig.from_dict(read_json_object(d / "config.json", f"run {run_id}: config"))
            took, n = float(meta["seconds"]), int(meta.get("trained_with") or 1)
        except (FileNotFoundError, CorruptRun, ConfigError, KeyError, TypeError, ValueError):
            continue  # being written or deleted, damaged, or beyond this process's limits
        if took > 0:
            found.append((float(meta.get("finished_at") or 0.0), cfg, took, n))
    found.sort(key=lambda row: row[0], reverse=True)
    return [(cfg, took, n) for _, cfg, took, n in found[:RECENT_RUNS]]
