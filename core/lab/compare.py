"""Comparing runs: sweeps over one setting, with several seeds per value, and a table of seed
means with their intervals and the differences against a baseline row.

    groups, problems = sweep_configs(base, "activation", ["logistic", "relu"], seeds=3)
    table = runs_table({"logistic": [r0, r1, r2], "relu": [...]}, baseline="logistic")
    groups = group_by_seed({"a": r_a, "b": r_b})   # stored runs that differ only in seed: one row

Rows: mean over seeds, sample sd and a 95% Student-t interval (core.lab.uncertainty); Δ
columns: the seed-paired difference against the baseline row, its interval widened by a paired
bootstrap over test examples when `correct_of` gives per-example correctness (DIFF_METHOD).
One seed gives no interval: one seed is an anecdote, and the table says so.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import pandas as pd

from ..base.config import STORED_LIMITS, ConfigError, RunConfig, config_fields, limits_in_force
from .presets import check_seeds
from .uncertainty import DIFF_METHOD, MEAN_METHOD, UNPAIRED_METHOD, paired_difference, summary, unpaired_difference

# Settings that make sense to sweep (device and logging do not change the experiment).
SWEEPABLE = [f.name for f in config_fields() if f.name not in ("device", "log_every")]
# the table's metrics: (column, RunResult.final_metrics key, scale: accuracy in %)
METRICS = (("test acc %", "test_acc", 100.0), ("train acc %", "train_acc", 100.0),
           ("test loss", "test_loss", 1.0), ("train loss", "train_loss", 1.0))
METHODS = f"{MEAN_METHOD}; {DIFF_METHOD}; rows without a common seed: {UNPAIRED_METHOD}"
MAX_VALUES = 64  # values of one sweep (each with its seeds; the job queue bounds the runs)


def sweep_configs(base: RunConfig, field: str, values: list[str],
                  seeds: int = 1) -> tuple[list[tuple[str, list[RunConfig]]], list[str]]:
    """Per value of `field`: its label ('activation=relu') and `seeds` configs (seeds base.seed,
    base.seed + 1, ...: seed k of every value shares its initialization seed, data order and
    noise, so the values pair by seed). Invalid values are reported, not raised."""
    if field not in SWEEPABLE:
        return [], [f"vary: {field!r} cannot be varied; choose one of {', '.join(SWEEPABLE)}"]
    try:
        n = check_seeds(seeds)
    except ConfigError as exc:
        return [], [str(exc)]
    if field == "seed" and n > 1:
        return [], ["seeds: a sweep over seed takes one seed per value (seeds 1)"]
    values = [v for v in values if v.strip()]
    if len(values) > MAX_VALUES:
        return [], [f"values: {len(values):,} given; at most {MAX_VALUES}"]
    out, problems, seen = [], [], set()
    for raw in values:
        raw = raw.strip()
        if not raw:
            continue
        try:
            cfg = base.replace(**{field: raw.replace("-", " ") if field == "widths" else raw})
            group = [cfg.replace(seed=cfg.seed + k) for k in range(n)]
        except ConfigError as exc:
            problems.append(f"{exc} (value {raw!r} skipped)")
            continue
        if cfg.run_id in seen:
            continue
        seen.add(cfg.run_id)
        out.append((f"{field}={raw}", group))
    return out, problems


def seedless_id(cfg: RunConfig) -> str:
    """The run id of `cfg` at seed 0: runs with the same one differ only in seed (checked as
    the store checks a stored run, so a public demo's smaller limits do not refuse it)."""
    with limits_in_force(STORED_LIMITS):
        return cfg.replace(seed=0).run_id


def group_by_seed(results: dict[str, object]) -> dict[str, list]:
    """Labelled runs grouped by configuration without the seed (the first label of a group
    names it), each group's runs in seed order: what runs_table pairs by seed."""
    groups: dict[str, tuple[str, list]] = {}
    for label, r in results.items():
        groups.setdefault(seedless_id(r.config), (label, []))[1].append(r)
    return {label: sorted(runs, key=lambda r: r.config.seed) for label, runs in groups.values()}


def _geomean(values) -> float | None:
    a = np.asarray([v for v in values if v is not None and math.isfinite(v) and v > 0], dtype=float)
    return float(10 ** np.log10(a).mean()) if len(a) else None


def _interval(ci, scale: float, over: str = "") -> str | None:
    digits = 2 if scale == 100.0 else 4
    return None if ci is None else f"[{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]" + (f" ({over})" if over else "")


def _complete(values: list) -> list | None:
    """The values if every seed has one (a diverged seed has no final loss): a mean over the
    seeds that survived would describe a better network than the row's."""
    return values if all(v is not None and math.isfinite(v) for v in values) else None


def _scaled(values, scale: float) -> list:
    return [None if v is None else v * scale for v in values]


def runs_table(groups: dict[str, list], baseline: str | None = None,
               correct_of: Callable[[object], np.ndarray | None] | None = None) -> pd.DataFrame:
    """One row per label (a list of runs, one per seed; a single run is a list of one): seed
    mean of the final loss and accuracy (in %), with sd and 95% interval where there are 2 seeds or
    more; gradient ratios (geometric mean over seeds), size, time, status. With a baseline
    label, per metric the difference against its row over the seeds both rows have (paired by
    seed), with its 95% interval.
    `correct_of(run)`: 0/1 per test example of the run's final model (optional), for the paired
    bootstrap of 'Δ test acc'. (A preset's table beside the published numbers is
    core.lab.tables.ours_vs_published_table.)"""
    groups = {label: list(runs) for label, runs in groups.items() if runs}
    several = any(len(runs) > 1 for runs in groups.values())
    finals = {label: [r.final_metrics() for r in runs] for label, runs in groups.items()}
    rows = []
    for label, runs in groups.items():
        row = {"run": label, "seeds": len(runs)}
        for col, key, scale in METRICS:
            s = summary(_scaled(_complete([f[key] for f in finals[label]]) or [], scale))
            row[col] = s["mean"]
            if several:
                row[f"{col} sd"] = s["sd"]
                row[f"{col} 95% CI"] = _interval(s["ci95"], scale)
        row["grad ratio first/last (init)"] = _geomean([r.grad_ratio("init") for r in runs])
        row["grad ratio first/last (end)"] = _geomean([r.grad_ratio("final") for r in runs])
        row["parameters"] = runs[0].meta.get("params")
        # a stacked run records its stack's time: each run's share is that over the stack's size
        row["seconds"] = sum(float(r.meta.get("seconds") or 0.0) / max(1, int(r.meta.get("trained_with") or 1))
                             for r in runs)
        row["status"] = ", ".join(sorted({r.status for r in runs}))
        row["run_id"] = ",".join(r.run_id for r in runs)
        rows.append(row)
    table = pd.DataFrame(rows)
    if baseline is None or baseline not in groups or table.empty:
        return table
    # the baseline row's own cells stay empty: a difference with itself is 0 by construction
    table["Δ seed pairs"] = [None if label == baseline else len(_paired(groups[label], groups[baseline])[0])
                             for label in groups]
    for col, key, scale in METRICS:
        deltas, cis = [], []
        for label in groups:
            if label == baseline:
                deltas.append(None)
                cis.append(None)
                continue
            d, over = _difference(groups[label], groups[baseline], key, scale, correct_of)
            deltas.append(None if d is None else d.mean)
            cis.append(None if d is None else _interval(d.ci95, scale, over))
        table[f"Δ {col}"] = deltas
        if several:
            table[f"Δ {col} 95% CI"] = cis
    return table


def _difference(runs, base_runs, key: str, scale: float, correct_of):
    """(Difference, what its interval covers) of `key` between two rows: paired by seed over
    their common seeds; without a common seed, Welch's unpaired difference of the means; None
    when a seed lacks the value (it diverged)."""
    a, b = _paired(runs, base_runs)
    if not a:
        va, vb = (_complete([r.final_metrics()[key] for r in rs]) for rs in (runs, base_runs))
        if va is None or vb is None:
            return None, ""
        return unpaired_difference(_scaled(va, scale), _scaled(vb, scale)), "unpaired"
    va, vb = (_complete([r.final_metrics()[key] for r in rs]) for rs in (a, b))
    if va is None or vb is None:
        return None, ""
    correct = _correct_pair(a, b, correct_of) if key == "test_acc" else (None, None)
    d = paired_difference(_scaled(va, scale), _scaled(vb, scale), *correct, scale=scale)
    return d, ("seeds + test examples" if d.example_half is not None else "seeds") if d.ci95 else ""


def _paired(runs, base_runs) -> tuple[list, list]:
    """The runs of both rows at their common seeds, in seed order (pairs share initialization
    seed, data order and noise). No common seed: no pairs (the difference is then Welch's)."""
    by_seed = {r.config.seed: r for r in base_runs}
    common = [r for r in runs if r.config.seed in by_seed]
    return common, [by_seed[r.config.seed] for r in common]


def _correct_pair(runs, base_runs, correct_of) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(seeds, examples) 0/1 arrays of two seed-paired rows, or (None, None)."""
    if correct_of is None or len(runs) < 2:
        return None, None
    a, b = [correct_of(r) for r in runs], [correct_of(r) for r in base_runs]
    if any(x is None for x in a + b) or len({len(x) for x in a + b}) != 1:
        return None, None
    return np.stack(a), np.stack(b)


def store_correct(store) -> Callable[[object], np.ndarray | None]:
    """correct_of for runs_table: 0/1 per test example of a stored run's final model (weights
    from `store`; core.lab.predictions caches per run id), None where weights or data are missing."""
    from ..runs.store import CorruptRun
    from .predictions import correct

    def weights_of(run):
        def load():
            try:
                loaded = store.load(run.run_id, weights=True)
            except CorruptRun:
                return None
            return loaded.state_dict if loaded is not None else None
        return run.state_dict if run.state_dict is not None else load

    return lambda run: correct(run, "test", weights_of(run))
