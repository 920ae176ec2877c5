"""The tables of a reproduction: ours beside the published numbers, gradient flow per
configuration, and the points of the ours-vs-published chart.

    ours_vs_published_table(preset, cells, results)   # laid out like the document's table
    flow_summary(cells, results)                      # gradient flow per configuration
    labelled(cells, results)                          # (label, RunResult) pairs for core.views.frames

`results` maps run ids to results; a cell whose run is missing gives empty values.
"""
from __future__ import annotations

import math

import pandas as pd

from ..engine.result import RunResult, gradient_ratio, hidden_flow
from .metrics import METRICS, column_name, metric_value
from .presets import Cell, Preset


def labelled(cells: list[Cell], results: dict[str, RunResult]) -> list[tuple[str, RunResult]]:
    """(cell label, result) of every cell whose run is in `results`, in order."""
    return [(c.label, results[c.config.run_id]) for c in cells if c.config.run_id in results]


def ours_vs_published_table(preset: Preset, cells: list[Cell], results: dict[str, RunResult]) -> pd.DataFrame:
    """Ours beside the published numbers, one row per row key of the document's table.

    `results` maps run ids to results; missing runs give empty cells. A published column is
    only included for metrics the document reports in that column group.
    """
    rows = list(dict.fromkeys(c.row for c in cells))
    groups = [g for g in preset.columns if any(c.column == g for c in cells)]
    by_key = {(c.row, c.column): c for c in cells}
    has_published = {(g, m) for (row, g), vals in preset.published.items() for m in vals}
    records = []
    for row in rows:
        rec = dict(zip(preset.row_names, row))
        notes = []
        for g in groups:
            cell = by_key.get((row, g))
            result = results.get(cell.config.run_id) if cell else None
            base = None
            if cell is not None and preset.baseline_row is not None:
                base_cell = by_key.get((preset.baseline_row, g))
                base = results.get(base_cell.config.run_id) if base_cell else None
            for m in preset.metrics:
                rec[column_name(g, m, "ours")] = metric_value(m, result, base) if result else None
                if (g, m) in has_published:
                    rec[column_name(g, m, "published")] = preset.published.get((row, g), {}).get(m)
            if cell is not None and result is None:
                notes.append(f"{g + ': ' if g else ''}not trained yet")
            elif result is not None and result.status != "completed":
                notes.append(f"{g + ': ' if g else ''}{result.status}")
        rec["notes"] = "; ".join(notes)
        records.append(rec)
    table = pd.DataFrame(records)
    if "notes" in table and not table["notes"].astype(bool).any():
        table = table.drop(columns="notes")
    return table


def flow_summary(cells: list[Cell], results: dict[str, RunResult]) -> pd.DataFrame:
    """Per configuration: mean |g| of layer 1 and of the top layer (the last hidden layer; the
    output layer when there is only one hidden layer), and their ratio, at initialization and at
    the last logged step (ratio < 1e-2: vanishing; > 1e2: exploding)."""
    rows = []
    for c in cells:
        r = results.get(c.config.run_id)
        rec = {"configuration": c.label, "dataset": c.config.dataset,
               "status": r.status if r is not None else "not trained"}
        for when, key in (("init", "init"), ("end", "final")):
            flow = r.grad_flow(key) if r is not None else []
            hidden = hidden_flow(flow)
            rec[f"layer 1 |g| {when}"] = float(hidden[0]) if len(hidden) else None
            rec[f"top |g| {when}"] = float(hidden[-1]) if len(hidden) else None
            ratio = gradient_ratio(flow)
            rec[f"ratio {when}"] = ratio if math.isfinite(ratio) else None
        rows.append(rec)
    return pd.DataFrame(rows)



def ours_vs_published_frame(preset: Preset, cells: list[Cell], results: dict[str, RunResult]) -> pd.DataFrame:
    """One point per cell and published metric: label, metric, ours, published."""
    by_key = {(c.row, c.column): c for c in cells}
    rows = []
    for (row, group), values in preset.published.items():
        cell = by_key.get((row, group))
        result = results.get(cell.config.run_id) if cell else None
        if result is None:
            continue
        base = None
        if preset.baseline_row is not None and (preset.baseline_row, group) in by_key:
            base = results.get(by_key[(preset.baseline_row, group)].config.run_id)
        for m, published in values.items():
            ours = metric_value(m, result, base)
            if isinstance(published, (int, float)) and ours is not None and METRICS[m].unit == "%" \
                    and m != "best_epoch_change":
                rows.append({"configuration": cell.label, "metric": METRICS[m].label,
                             "published": float(published), "ours": ours})
    return pd.DataFrame(rows, columns=["configuration", "metric", "published", "ours"])
