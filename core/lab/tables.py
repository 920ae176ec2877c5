"""The tables of a reproduction: ours (over seeds, with intervals) beside the published numbers,
gradient flow per configuration, the points of the ours-vs-published chart, and the per-seed
samples the findings are checked on.

    ours_vs_published_table(preset, cells, results)   # seed means, laid out like the document's table
    rows = uncertainty_rows(preset, cells, results)   # per row and metric: mean, sd, ci95, values, Δ
    display_table(preset, rows)                       # the same as text: 'mean ± sd [lo, hi]'
    flow_summary(cells, results)                      # gradient flow per configuration
    grouped(cells, results)                           # (label, [RunResult per seed]) for charts
    Samples(preset, cells, results, store)            # what core.lab.findings checks

`results` maps run ids to results; a cell whose run is missing gives empty values.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..engine.result import RunResult, gradient_ratio, hidden_flow
from .findings import SPLIT_OF, censored_values
from .metrics import METRICS, column_name, metric_value
from .predictions import correct as run_correct
from .presets import Cell, Preset
from .uncertainty import paired_difference, summary


def labelled(cells: list[Cell], results: dict[str, RunResult]) -> list[tuple[str, RunResult]]:
    """(cell label, result) of every cell whose run is in `results`, in order (one per seed)."""
    return [(c.label, results[c.config.run_id]) for c in cells if c.config.run_id in results]


def grouped(cells: list[Cell], results: dict[str, RunResult]) -> list[tuple[str, list[RunResult]]]:
    """(label, results of its seeds) per configuration with at least one stored run, in order."""
    out: dict[str, list[RunResult]] = {}
    for label, r in labelled(cells, results):
        out.setdefault(label, []).append(r)
    return list(out.items())


class Samples:
    """Per-seed values of a preset's runs, by (row, column): what claims and intervals read."""

    def __init__(self, preset: Preset, cells: list[Cell], results: dict[str, RunResult], store=None):
        self.preset, self.results, self.store = preset, results, store
        self.by_key: dict[tuple, dict[int, Cell]] = {}
        for c in cells:
            self.by_key.setdefault(c.key, {})[c.seed_index] = c
        self.n_seeds = max((max(v) + 1 for v in self.by_key.values()), default=0)

    def result(self, row, column, k: int) -> RunResult | None:
        cell = self.by_key.get((tuple(row), column), {}).get(k)
        return self.results.get(cell.config.run_id) if cell is not None else None

    def ran(self, row, column, k: int) -> bool:
        r = self.result(row, column, k)
        return r is not None and r.status == "completed"

    def epochs(self, row, column) -> int:
        cells = self.by_key.get((tuple(row), column), {})
        return max((c.config.epochs for c in cells.values()), default=0)

    def values(self, row, column, metric: str, base_row=None) -> list[float | None]:
        """The metric per seed index (None where the run is missing or lacks it)."""
        base_row = base_row if base_row is not None else self.preset.baseline_row
        out = []
        for k in range(self.n_seeds):
            r = self.result(row, column, k)
            base = self.result(base_row, column, k) if base_row is not None else None
            out.append(metric_value(metric, r, base) if r is not None else None)
        return out

    def correct(self, row, column, split: str | None) -> np.ndarray | None:
        """(seeds, examples) 0/1 of the final models on `split`, or None unless every seed has them."""
        if split is None or self.n_seeds == 0:
            return None
        rows = []
        for k in range(self.n_seeds):
            r = self.result(row, column, k)
            if r is None:
                return None
            weights = r.state_dict
            if weights is None and self.store is not None:
                loaded = self.store.load(r.run_id, weights=True)
                weights = loaded.state_dict if loaded is not None else None
            hits = run_correct(r, split, weights)
            if hits is None or (rows and len(hits) != len(rows[0])):
                return None
            rows.append(hits)
        return np.stack(rows)


def _baseline(preset: Preset, row: tuple) -> tuple | None:
    base = preset.baseline_of(row) if preset.baseline_of is not None else preset.baseline_row
    return None if base is None or tuple(base) == tuple(row) else tuple(base)


def uncertainty_rows(preset: Preset, cells: list[Cell], results: dict[str, RunResult],
                     samples: Samples | None = None) -> list[dict]:
    """Per table row: its key, the seeds it has, and per (column group, metric) the summary of
    core.lab.uncertainty (mean, sd, ci95, values), the published value and, where the row has a
    baseline row, the seed-paired difference against it with its interval."""
    samples = samples or Samples(preset, cells, results)
    rows = list(dict.fromkeys(c.row for c in cells))
    groups = [g for g in preset.columns if any(c.column == g for c in cells)]
    out = []
    for row in rows:
        rec = {"row": row, "baseline": _baseline(preset, row), "metrics": {}, "notes": []}
        seeds = 0
        for g in groups:
            if (row, g) not in samples.by_key:
                continue
            stored = [samples.result(row, g, k) for k in range(samples.n_seeds)]
            missing = sum(r is None for r in stored[:len(samples.by_key[(row, g)])])
            seeds = max(seeds, sum(r is not None for r in stored))
            if missing:
                rec["notes"].append(f"{g + ': ' if g else ''}{missing} run(s) not trained yet")
            bad = sorted({r.status for r in stored if r is not None and r.status != "completed"})
            if bad:
                rec["notes"].append(f"{g + ': ' if g else ''}{', '.join(bad)}")
            for m in preset.metrics:
                # censored metrics as the findings count them: a seed that never got there is one
                # epoch past its run, and the note says how many
                values, censored = censored_values(samples, row, g, m)
                if censored:
                    rec["notes"].append(f"{g + ' · ' if g else ''}{METRICS[m].label}: {censored}")
                entry = {"summary": summary(values), "published": preset.published.get((row, g), {}).get(m)}
                base = rec["baseline"]
                if base is not None and (base, g) in samples.by_key and METRICS[m].unit != "K":
                    split = SPLIT_OF.get(m)
                    d = paired_difference(values, censored_values(samples, base, g, m)[0],
                                          samples.correct(row, g, split), samples.correct(base, g, split))
                    entry["difference"] = {"mean": d.mean, "ci95": d.ci95, "n": d.n,
                                           "examples": d.example_half is not None}
                rec["metrics"][(g, m)] = entry
        rec["seeds"] = seeds
        out.append(rec)
    return out


def ours_vs_published_table(preset: Preset, cells: list[Cell], results: dict[str, RunResult],
                            rows: list[dict] | None = None) -> pd.DataFrame:
    """Seed means beside the published numbers, one row per row key of the document's table,
    with the number of seeds. A published column is only included for metrics the document
    reports in that column group; missing runs give empty cells."""
    rows = rows if rows is not None else uncertainty_rows(preset, cells, results)
    groups = [g for g in preset.columns if any(c.column == g for c in cells)]
    has_published = {(g, m) for (row, g), vals in preset.published.items() for m in vals}
    records = []
    for rec in rows:
        out = dict(zip(preset.row_names, rec["row"]))
        for g in groups:
            for m in preset.metrics:
                entry = rec["metrics"].get((g, m))
                out[column_name(g, m, "ours")] = entry["summary"]["mean"] if entry else None
                if (g, m) in has_published:
                    out[column_name(g, m, "published")] = entry["published"] if entry else None
        out["seeds"] = rec["seeds"]
        out["notes"] = "; ".join(rec["notes"])
        records.append(out)
    table = pd.DataFrame(records)
    if "notes" in table and not table["notes"].astype(bool).any():
        table = table.drop(columns="notes")
    return table


def number(v: float | None, metric: str, signed: bool = False) -> str:
    """A metric's value as the tables print it."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    if metric.startswith("ratio") or METRICS[metric].unit == "|g|":
        return f"{v:.1e}"
    digits = 0 if metric in ("params_k", "best_epoch", "epochs_to_base_best") or metric == "best_epoch_change" \
        else 3 if "loss" in metric else 2
    return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"


def display_table(preset: Preset, rows: list[dict]) -> pd.DataFrame:
    """The uncertainty rows as text: per metric 'mean ± sd [lo, hi]' (95% CI over seeds), the
    published value, and 'Δ +d [lo, hi]' against the row's baseline."""
    has_published = {(g, m) for (row, g), vals in preset.published.items() for m in vals}
    records = []
    for rec in rows:
        out = dict(zip(preset.row_names, rec["row"]))
        out["seeds"] = str(rec["seeds"])
        for (g, m), entry in rec["metrics"].items():
            s = entry["summary"]
            text = number(s["mean"], m)
            if s["sd"] is not None:
                text += f" ± {number(s['sd'], m)} [{number(s['ci95'][0], m)}, {number(s['ci95'][1], m)}]"
            out[column_name(g, m, "ours")] = text
            if (g, m) in has_published:
                pub = entry["published"]
                out[column_name(g, m, "published")] = pub if isinstance(pub, str) else number(pub, m)
            d = entry.get("difference")
            if d is not None and not m.startswith("ratio"):
                ci = "" if d["ci95"] is None else f" [{number(d['ci95'][0], m, True)}, {number(d['ci95'][1], m, True)}]"
                out[column_name(g, m, "Δ vs baseline")] = number(d["mean"], m, True) + ci
        if rec["notes"]:
            out["notes"] = "; ".join(rec["notes"])
        records.append(out)
    return pd.DataFrame(records).fillna("")


def flow_summary(cells: list[Cell], results: dict[str, RunResult]) -> pd.DataFrame:
    """Per configuration: mean |g| of layer 1 and of the top layer (the last hidden layer; the
    output layer when there is only one hidden layer), and their ratio, at initialization and at
    the last logged step (ratio < 1e-2: vanishing; > 1e2: exploding); geometric means over the
    configuration's seeds."""
    rows = []
    by_label: dict[str, list[Cell]] = {}
    for c in cells:
        by_label.setdefault(c.label, []).append(c)
    for label, group in by_label.items():
        runs = [results[c.config.run_id] for c in group if c.config.run_id in results]
        statuses = sorted({r.status for r in runs})
        rec = {"configuration": label, "dataset": group[0].config.dataset, "seeds": len(runs),
               "status": ", ".join(statuses) if runs else "not trained"}
        for when, key in (("init", "init"), ("end", "final")):
            firsts, tops, ratios = [], [], []
            for r in runs:
                flow = r.grad_flow(key)
                hidden = hidden_flow(flow)
                if len(hidden):
                    firsts.append(float(hidden[0]))
                    tops.append(float(hidden[-1]))
                ratios.append(gradient_ratio(flow))
            rec[f"layer 1 |g| {when}"] = _geomean(firsts)
            rec[f"top |g| {when}"] = _geomean(tops)
            rec[f"ratio {when}"] = _geomean(ratios)
        rows.append(rec)
    return pd.DataFrame(rows)


def _geomean(values) -> float | None:
    a = np.asarray([v for v in values if v is not None and math.isfinite(v) and v > 0], dtype=float)
    return float(np.exp(np.log(a).mean())) if len(a) else None


def ours_vs_published_frame(preset: Preset, cells: list[Cell], results: dict[str, RunResult]) -> pd.DataFrame:
    """One point per configuration and published % metric: label, metric, ours (seed mean), published."""
    samples = Samples(preset, cells, results)
    rows = []
    for (row, group), values in preset.published.items():
        if (row, group) not in samples.by_key:
            continue
        label = next(iter(samples.by_key[(row, group)].values())).label
        for m, published in values.items():
            ours = summary(samples.values(row, group, m))["mean"]
            if isinstance(published, (int, float)) and ours is not None and METRICS[m].unit == "%" \
                    and m != "best_epoch_change":
                rows.append({"configuration": label, "metric": METRICS[m].label,
                             "published": float(published), "ours": ours})
    return pd.DataFrame(rows, columns=["configuration", "metric", "published", "ours"])
