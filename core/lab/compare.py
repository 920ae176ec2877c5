"""Comparing runs: sweeps over one setting, with several seeds per value, and a table of seed
means with their intervals and the differences against a baseline row.

    groups, problems = sweep_configs(base, "activation", ["logistic", "relu"], seeds=3)
    table = runs_table({"logistic": [r0, r1, r2], "relu": [...]}, baseline="logistic")
    groups = group_by_seed({"a": r_a, "b": r_b})   # stored runs that differ only in seed: one row

Rows: mean over seeds, sample sd and a 95% Student-t interval (core.lab.uncertainty); Δ
columns: the seed-paired difference against the baseline row, its interval widened by a paired
bootstrap over test examples when `correct_of` gives per-example correctness (DIFF_METHOD).
One seed gives no interval: one seed is an anecdote, and the table says so. Every interval is
held inside its metric's range (CLIP_METHOD). What the table says about each row against the
baseline is also one sentence, generated from the same numbers:

    diffs = differences(groups, baseline="glorot_uniform")
    [sentence(c) for c in comparisons(groups, "glorot_uniform", diffs)]
    # ["he_normal beats glorot_uniform by 35 points of test accuracy (95% interval 10 to 60);
    #   the 3 seeds agree."]
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from ..base.config import STORED_LIMITS, ConfigError, RunConfig, config_fields, limits_in_force
from .presets import check_seeds
from .uncertainty import (CLIP_METHOD, DIFF_METHOD, MEAN_METHOD, UNPAIRED_METHOD, clip_interval, paired_difference,
                          summary, unpaired_difference)

# Settings that make sense to sweep (device and logging do not change the experiment).
SWEEPABLE = [f.name for f in config_fields() if f.name not in ("device", "log_every")]
# the table's metrics: (column, RunResult.final_metrics key, scale: accuracy in %)
METRICS = (("test acc %", "test_acc", 100.0), ("train acc %", "train_acc", 100.0),
           ("test loss", "test_loss", 1.0), ("train loss", "train_loss", 1.0))
METHODS = f"{MEAN_METHOD}; {DIFF_METHOD}; rows without a common seed: {UNPAIRED_METHOD}; {CLIP_METHOD}"
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


def _range(scale: float, difference: bool = False) -> tuple[float, float]:
    """Where a metric's values lie: accuracy in % (scale 100) 0 to 100, a loss from 0; a
    difference of two accuracies -100 to 100 points, of two losses anything."""
    if scale == 100.0:
        return (-100.0, 100.0) if difference else (0.0, 100.0)
    return (-math.inf, math.inf) if difference else (0.0, math.inf)


def _interval(ci, scale: float, over: str = "", difference: bool = False) -> str | None:
    digits = 2 if scale == 100.0 else 4
    ci = clip_interval(ci, *_range(scale, difference))
    return None if ci is None else f"[{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]" + (f" ({over})" if over else "")


def _complete(values: list) -> list | None:
    """The values if every seed has one (a diverged seed has no final loss): a mean over the
    seeds that survived would describe a better network than the row's."""
    return values if all(v is not None and math.isfinite(v) for v in values) else None


def _scaled(values, scale: float) -> list:
    return [None if v is None else v * scale for v in values]


def runs_table(groups: dict[str, list], baseline: str | None = None,
               correct_of: Callable[[object], np.ndarray | None] | None = None,
               diffs: dict | None = None) -> pd.DataFrame:
    """One row per label (a list of runs, one per seed; a single run is a list of one): seed
    mean of the final loss and accuracy (in %), with sd and 95% interval where there are 2 seeds or
    more; gradient ratios (geometric mean over seeds), size, time, status. With a baseline
    label, per metric the difference against its row over the seeds both rows have (paired by
    seed), with its 95% interval.
    `correct_of(run)`: 0/1 per test example of the run's final model (optional), for the paired
    bootstrap of 'Δ test acc'. `diffs`: `differences(groups, baseline, correct_of)` if already
    computed. (A preset's table beside the published numbers is
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
    diffs = differences(groups, baseline, correct_of) if diffs is None else diffs
    # the baseline row's own cells stay empty: a difference with itself is 0 by construction
    table["Δ seed pairs"] = [None if label == baseline else len(_paired(groups[label], groups[baseline])[0])
                             for label in groups]
    for col, key, scale in METRICS:
        found = [diffs.get(label, {}).get(key, (None, "")) for label in groups]
        table[f"Δ {col}"] = [None if d is None else d.mean for d, _ in found]
        if several:
            table[f"Δ {col} 95% CI"] = [None if d is None else _interval(d.ci95, scale, over, difference=True)
                                        for d, over in found]
    return table


def differences(groups: dict[str, list], baseline: str, correct_of=None) -> dict[str, dict]:
    """Per row but the baseline, per metric key: (Difference against the baseline, what its
    interval covers), as runs_table's Δ columns show them (computed once for table and sentences)."""
    groups = {label: list(runs) for label, runs in groups.items() if runs}
    if baseline not in groups:
        return {}
    return {label: {key: _difference(runs, groups[baseline], key, scale, correct_of) for _, key, scale in METRICS}
            for label, runs in groups.items() if label != baseline}


def _difference(runs, base_runs, key: str, scale: float, correct_of):
    """(Difference, what its interval covers) of `key` between two rows: paired by seed over
    their common seeds; without a common seed, Welch's unpaired difference of the means; None
    when a seed lacks the value (it diverged)."""
    a, b = _paired(runs, base_runs)
    if not a:
        va, vb = (_complete([r.final_metrics()[key] for r in rs]) for rs in (runs, base_runs))
        if va is None or vb is None:
            return None, ""
        return _clipped(unpaired_difference(_scaled(va, scale), _scaled(vb, scale)), scale), "unpaired"
    va, vb = (_complete([r.final_metrics()[key] for r in rs]) for rs in (a, b))
    if va is None or vb is None:
        return None, ""
    correct = _correct_pair(a, b, correct_of) if key == "test_acc" else (None, None)
    d = _clipped(paired_difference(_scaled(va, scale), _scaled(vb, scale), *correct, scale=scale), scale)
    return d, ("seeds + test examples" if d.example_half is not None else "seeds") if d.ci95 else ""


def _clipped(d, scale: float):
    """The difference with its interval held inside the range of a difference of the metric."""
    if d.ci95 is None:
        return d
    lo, hi = clip_interval(d.ci95, *_range(scale, difference=True))
    return dataclasses.replace(d, lo=lo, hi=hi)


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


def shown_table(table: pd.DataFrame, baseline: str | None) -> pd.DataFrame:
    """runs_table for reading: per metric its Δ against the baseline first (then the row's
    value, interval and sd), the run ids last; Δ cells as signed text, the baseline's own
    'baseline' (no difference with itself), a missing value '—' (not 'None')."""
    if table.empty:
        return table
    out = table.copy()
    for col, _, scale in METRICS:
        digits = 2 if scale == 100.0 else 4
        if f"Δ {col}" in out:
            out[f"Δ {col}"] = [("baseline" if col == METRICS[0][0] else "—") if run == baseline
                               else "—" if v is None or not math.isfinite(v) else f"{v:+.{digits}f}"
                               for run, v in zip(out["run"], out[f"Δ {col}"])]
    for c in out.columns:
        if not pd.api.types.is_numeric_dtype(out[c]):  # text (object or pandas' str): a dash for None
            out[c] = ["—" if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in out[c]]
    if "Δ seed pairs" in out:
        out["Δ seed pairs"] = ["—" if run == baseline else str(int(v)) for run, v in zip(out["run"], table["Δ seed pairs"])]
    order = ["run"]
    for col, _, _ in METRICS:
        order += [f"Δ {col}", f"Δ {col} 95% CI", col, f"{col} 95% CI", f"{col} sd"]
        if col == METRICS[0][0]:
            order += ["seeds", "Δ seed pairs"]
    order += [c for c in out.columns if c not in order and c != "run_id"] + ["run_id"]
    return out[[c for c in order if c in out.columns]]


# ---------------------------------------------------------------------- the answer in words
@dataclass(frozen=True)
class Comparison:
    """One row against the baseline in test accuracy (points of %): what `sentence` says."""

    row: str
    baseline: str
    mean: float | None  # row - baseline
    lo: float | None  # its 95% interval (None: fewer than 2 seeds, no interval)
    hi: float | None
    pairs: int  # seed pairs (0: the rows share no seed, the interval is Welch's)
    agree: int  # seed pairs whose difference has the sign of the mean
    seeds: tuple[int, int]  # seeds of the row and of the baseline


def comparisons(groups: dict[str, list], baseline: str, diffs: dict | None = None) -> list[Comparison]:
    """One Comparison per row but the baseline, from `differences` (computed here if not given)."""
    groups = {label: list(runs) for label, runs in groups.items() if runs}
    if baseline not in groups:
        return []
    diffs = differences(groups, baseline) if diffs is None else diffs
    out = []
    for label, runs in groups.items():
        if label == baseline:
            continue
        d, _ = diffs.get(label, {}).get("test_acc", (None, ""))
        a, b = _paired(runs, groups[baseline])
        pair_d = [x.final_metrics()["test_acc"] - y.final_metrics()["test_acc"] for x, y in zip(a, b)
                  if x.final_metrics()["test_acc"] is not None and y.final_metrics()["test_acc"] is not None]
        mean = None if d is None else d.mean
        agree = sum(1 for v in pair_d if mean is not None and v * mean > 0)
        out.append(Comparison(label, baseline, mean, None if d is None else d.lo, None if d is None else d.hi,
                              len(a), agree, (len(runs), len(groups[baseline]))))
    return out


def _points(values: list[float], width: float | None) -> list[str]:
    """Numbers of points at the precision their interval (or size) warrants: 35, 3.5, 0.35."""
    largest = max(abs(v) for v in values)
    size = largest if width is None else max(width, largest / 20)  # seeds that agree exactly: not 35.00
    digits = 0 if size >= 10 else 1 if size >= 1 else 2
    return [f"{v:.{digits}f}".replace("-", "−") for v in values]


def sentence(c: Comparison) -> str:
    """The comparison in one sentence, every word chosen by the numbers: which row is better in
    test accuracy and by how much, the 95% interval, whether it shows a difference (an interval
    holding 0 does not), and how many seeds agree; one seed is said to be one seed."""
    row, base = c.row, c.baseline
    if c.mean is None:
        return (f"{row} and {base} cannot be compared in test accuracy: a seed of one of them has none "
                "(it diverged).")
    if c.lo is None:
        if min(c.seeds) < 2:
            what = "one seed" if max(c.seeds) < 2 else "one seed of one of them"
            if c.mean == 0:
                return f"{row} and {base} reach the same test accuracy on {what}: too little to tell them apart."
            [x] = _points([abs(c.mean)], None)
            return (f"{row} scores {x} points {'above' if c.mean > 0 else 'below'} {base} in test accuracy on "
                    f"{what}: one seed does not show a difference (add seeds).")
        return f"{row} differs from {base} by {c.mean:+.2f} points of test accuracy, without an interval."
    if c.pairs:
        agree = (f"{'both' if c.pairs == 2 else f'the {c.pairs}'} seeds agree" if c.agree == c.pairs
                 else f"{c.agree} of {c.pairs} seeds agree")
    else:
        agree = f"the rows share no seed ({c.seeds[0]} and {c.seeds[1]} seeds, Welch's interval)"
    if c.lo <= 0 <= c.hi:
        mean, lo, hi = _points([c.mean, c.lo, c.hi], c.hi - c.lo)
        return (f"{row} vs {base}: {'+' if c.mean >= 0 else ''}{mean} points of test accuracy, 95% interval {lo} "
                f"to {hi}, which holds 0: this does not show a difference ({agree}).")
    better = c.lo > 0
    mean, lo, hi = _points([abs(c.mean), *sorted((abs(c.lo), abs(c.hi)))], c.hi - c.lo)
    return (f"{row} {'beats' if better else 'trails'} {base} by {mean} points of test accuracy "
            f"(95% interval {lo} to {hi}); {agree}.")


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
