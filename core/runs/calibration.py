"""How long runs will take here: core.base.cost's time model with this machine's rates, measured
once per machine, rescaled by the runs already stored, stretched by the load of the moment.

    cal = calibrate(store, "cpu")                  # machine_rates(store, device) x the stored runs' factor
    seconds = estimated_seconds(configs, cal.rates)  # the stacks get_or_train would train, summed
    wait = queue_seconds(jobs.active(), cal.rates)   # what the queue trains before a new job
    busy = core.runs.load.Busy.now(our_jobs_spans)  # busy.factor: how much the others' load stretches it

Stable: the rates are measured once per machine and device (core.engine.speed, processor time
of one thread, so a busy moment does not inflate them) and kept in the run store's
machine-rates.json, which every server and command on the machine reads; the stored runs rescale
them by the median of measured / predicted, each run's time divided by the load factor it met
(`meta["busy"]`, core.runs.load.busy_while; the load of the moment is counted apart, by
core.runs.load.Busy). The lower quartile it took before, to stand for the runs trained while
the machine was quiet, rescaled every estimate by the model's per-case error instead: calibrated
estimates were 0.71 of the measured time (median of bench/estimates.py's 24 cases, on a quiet
machine). A run trained in a stack
recorded the stack's time (`meta["trained_with"]` runs): it is compared with the prediction for
that stack.
"""
from __future__ import annotations

import json
import math
import os
import platform
import time
import statistics
from dataclasses import asdict, dataclass, fields, replace

import torch
from filelock import FileLock

from ..base.config import ConfigError, RunConfig
from ..base.cost import Rates, log_interval, training_seconds
from ..engine.loop import resolve_device
from ..engine.speed import conv_thread_gain, measure_rates
from ..engine.stacked import plan_stacks
from .load import Busy
from .store import CorruptRun, RunStore, read_json_object

RECENT_RUNS = 100  # the stored runs a calibration reads, newest first
QUANTILE = 0.5  # of the stored runs' measured / predicted, each less the load it met
MIN_VGG_RUNS = 3  # stored VGG runs that rescale the convolutions' rate
RATES_FILE = "machine-rates.json"
RATES_MAX_AGE = 30 * 86400.0  # seconds before a kept measurement is taken again
BUSY_AGE = 600.0  # ... when the machine was busy as it was measured (the threads' gain not known)
QUIET = 1.1  # the load factor under which the threads' gain is measured


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
    return training_seconds(cfg, rates, log_interval(cfg), runs)


def estimated_seconds(configs: list[RunConfig], rates: Rates) -> float:
    """Time to train `configs` (each distinct run once) as get_or_train would: in stacks."""
    unique = list({cfg.run_id: cfg for cfg in configs}.values())
    return sum(predicted_seconds(group[0], rates, len(group)) for group in plan_stacks(unique))


def queue_seconds(jobs, rates: Rates) -> float:
    """What the queue trains before a job submitted now: the unfinished part of the jobs
    training, and the jobs queued or waiting in the worker, stacked as they will train (`jobs`:
    core.runs.jobs.Job of one device, unfinished)."""
    started = [j for j in jobs if j.state == "running" and j.progress]
    waiting = [j.config for j in jobs if j.state == "queued" or (j.state == "running" and not j.progress)]
    left = sum(predicted_seconds(j.config, rates) * (1.0 - j.fraction_done()) for j in started)
    return left + (estimated_seconds(waiting, rates) if waiting else 0.0)  # in stacks, as they train


def calibrate(store: RunStore, device: str = "cpu") -> Calibration:
    """This machine's rates on `device`, rescaled by the completed runs stored for it: every rate
    by the median of the runs' measured / predicted, then the convolutions' rates by the
    VGG runs' own median (a convolution gains more from the threads than the small matrix
    products the single-thread measurement stands for), when at least MIN_VGG_RUNS are stored."""
    return calibrated(machine_rates(store, device), stored_timings(store, device))


def calibrated(base: Rates, timings: list[tuple[RunConfig, float, int]]) -> Calibration:
    """`base` rescaled by `timings` ((config, measured seconds, runs in its stack)), as calibrate."""
    # a stack of n runs is one measurement, stored n times: each of its runs weighs 1 / n (an
    # 8-run stack had outvoted 16 single runs)
    rows = [(cfg, (took / predicted, 1.0 / n)) for cfg, took, n in timings
            if (predicted := predicted_seconds(cfg, base, n)) > 0]
    if not rows:
        return Calibration(base, 1.0, 0)
    factor = _middle([r for cfg, r in rows if cfg.arch == "mlp"] or [r for _, r in rows])
    rates = base.scaled(factor)
    vgg = [(cfg, r) for cfg, r in rows if cfg.arch == "vgg"]
    if len(vgg) >= MIN_VGG_RUNS:
        without = replace(base, conv_mac=0.0, conv_value=0.0)
        share = statistics.median(1 - predicted_seconds(cfg, without) / predicted_seconds(cfg, base) for cfg, _ in vgg)
        if share > 0.2:  # convolutions are what a VGG run spends its time on
            scale = 1 + (_middle([r for _, r in vgg]) / factor - 1) / share
            scale = min(max(scale, 0.1), 10.0)
            rates = replace(rates, conv_mac=rates.conv_mac * scale, conv_value=rates.conv_value * scale)
    return Calibration(rates, factor, len(rows))


def _middle(weighted: list[tuple[float, float]]) -> float:
    """The weighted QUANTILE (the median) of (ratio, weight) pairs: the first ratio, in order,
    at which the weights reach QUANTILE of their sum."""
    weighted = sorted(weighted)
    total, reached = sum(w for _, w in weighted), 0.0
    for ratio, w in weighted:
        reached += w
        if reached >= QUANTILE * total - 1e-12:
            return ratio
    return weighted[-1][0]


def calibrated_rates(store: RunStore, device: str = "cpu") -> Rates:
    return calibrate(store, device).rates


# ---------------------------------------------------------------------- one measurement per machine
def machine_key(device: str) -> dict:
    """What a kept measurement is valid for: this machine, device, torch and thread count."""
    model = platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model)
    except OSError:
        pass
    return {"device": device, "node": platform.node(), "cpu": model, "cpus": os.cpu_count(),
            "threads": torch.get_num_threads(), "torch": torch.__version__,
            "rates": [f.name for f in fields(Rates)]}  # a measurement of another model's rates is not kept


def machine_rates(store: RunStore, device: str = "cpu") -> Rates:
    """This machine's rates on `device`: the store's kept measurement when it is for this
    machine and recent, else a new one, kept for the next process (measured once: processes
    asking at once wait for the first)."""
    path, key = store.root / RATES_FILE, machine_key(device)
    kept = _kept_rates(path, key)
    if kept is not None:
        return kept
    with FileLock(str(store.locks_dir / "machine-rates.lock")):
        kept = _kept_rates(path, key)
        if kept is not None:
            return kept
        rates, quiet = with_thread_gain(measure_rates(device), device)
        try:
            entries = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
        except (OSError, ValueError):
            entries = []
        entries = [e for e in entries if isinstance(e, dict) and e.get("key") != key][-7:]
        entries.append({"key": key, "rates": asdict(rates), "measured_at": time.time(), "quiet": quiet})
        tmp = path.with_name(f".{RATES_FILE}.{os.getpid()}")
        try:
            tmp.write_text(json.dumps(entries, indent=1), encoding="utf-8")
            os.replace(tmp, path)
        except OSError:  # a full or read-only store: the estimate still works, measured again
            tmp.unlink(missing_ok=True)
        return rates


def with_thread_gain(rates: Rates, device: str) -> tuple[Rates, bool]:
    """`rates` (one thread's) with what the threads gain on a VGG's large tensors, measured on
    the wall clock while the machine is quiet (a fresh clone had estimated VGG runs at 1.8 to
    2.1x their time without it); (rates, whether it was measured). On a busy machine two threads
    that wait for each other gain nothing or lose: the gain is left at 1 (estimates err long) and
    the measurement is kept BUSY_AGE only."""
    threads = torch.get_num_threads()
    if device != "cpu" or threads <= 1:
        return rates, True
    if Busy.now().factor > QUIET:
        return rates, False
    gain = conv_thread_gain(threads)
    return replace(rates, conv_mac=rates.conv_mac / gain, conv_value=rates.conv_value / gain,
                   map_element=rates.map_element / gain), True


def _kept_rates(path, key: dict) -> Rates | None:
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
        for e in entries:
            age = RATES_MAX_AGE if e.get("quiet", True) else BUSY_AGE
            if e.get("key") == key and time.time() - float(e["measured_at"]) < age:
                rates = Rates(**{k: float(v) for k, v in e["rates"].items()})
                if all(math.isfinite(v) and v >= 0 for v in asdict(rates).values()) and rates.mac > 0:
                    return rates
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        pass  # none kept, or damaged: measure again
    return None


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
            took, n = float(meta["seconds"]) / float(meta.get("busy") or 1.0), int(meta.get("trained_with") or 1)
        except (FileNotFoundError, CorruptRun, ConfigError, KeyError, TypeError, ValueError):
            continue  # being written or deleted, damaged, or beyond this process's limits
        if took > 0:
            found.append((float(meta.get("finished_at") or 0.0), cfg, took, n))
    found.sort(key=lambda row: row[0], reverse=True)
    return [(cfg, took, n) for _, cfg, took, n in found[:RECENT_RUNS]]
