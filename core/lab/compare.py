"""Comparing runs: sweeps over one setting, and a table in the style of Agarap (2019)'s Table 1.

    configs, problems = sweep_configs(base, "activation", ["logistic", "relu"])
    table = runs_table({"logistic": r1, "relu": r2}, baseline="logistic")
"""
from __future__ import annotations

import math

import pandas as pd

from ..config import ConfigError, RunConfig, config_fields

# Settings that make sense to sweep (device and logging do not change the experiment).
SWEEPABLE = [f.name for f in config_fields() if f.name not in ("device", "log_every")]


def sweep_configs(base: RunConfig, field: str, values: list[str]) -> tuple[list[tuple[str, RunConfig]], list[str]]:
    """One config per value of `field` (labels like 'activation=relu'); invalid values are reported."""
    if field not in SWEEPABLE:
        return [], [f"vary: {field!r} cannot be varied; choose one of {', '.join(SWEEPABLE)}"]
    out, problems, seen = [], [], set()
    for raw in values:
        raw = raw.strip()
        if not raw:
            continue
        try:
            cfg = base.replace(**{field: raw.replace("-", " ") if field == "widths" else raw})
        except ConfigError as exc:
            problems.append(f"{exc} (value {raw!r} skipped)")
            continue
        if cfg.run_id in seen:
            continue
        seen.add(cfg.run_id)
        out.append((f"{field}={raw}", cfg))
    return out, problems


def comparison_row(result) -> dict:
    final = result.final_metrics()
    return {
        "train loss": final["train_loss"], "train acc": final["train_acc"],
        "test loss": final["test_loss"], "test acc": final["test_acc"],
        "grad ratio first/last (init)": result.grad_ratio("init"),
        "grad ratio first/last (end)": result.grad_ratio("final"),
        "parameters": result.meta.get("params"),
        "seconds": result.meta.get("seconds"),
        "status": result.status,
    }


def runs_table(results: dict[str, object], baseline: str | None = None) -> pd.DataFrame:
    """One row per labelled run (final metrics, gradient ratios, size, time); with a baseline
    label, accuracy and loss differences against its row. (A preset's table beside the
    published numbers is core.lab.tables.ours_vs_published_table.)"""
    rows = [{"run": label, "run_id": r.run_id, **comparison_row(r)} for label, r in results.items()]
    table = pd.DataFrame(rows)
    if baseline is not None and baseline in results and not table.empty:
        base = table.set_index("run").loc[baseline]
        for col in ("test acc", "train acc", "test loss", "train loss"):
            table[f"Δ {col}"] = [_diff(v, base[col]) for v in table[col]]
    return table


def _diff(value, base):
    if value is None or base is None or not (math.isfinite(value) and math.isfinite(base)):
        return None
    return value - base
