"""Rerunning a preset of core.lab.presets and comparing it with the published numbers.

    cells = resolve(PRESETS["init-act-bn"], "quick")
    rep = run_preset(PRESETS["init-act-bn"], "quick")      # trains what the store lacks
    comparison_table(rep.preset, rep.cells, rep.results)   # laid out like the document's table
    flow_summary(rep.cells, rep.results)                   # gradient flow per configuration

and on the command line:

    python -m core reproduce --list
    python -m core reproduce gna-bn --scale quick
    python -m core reproduce vgg-bn-rc --scale full --format markdown

Every run goes through the run store, so nothing is trained twice and an interrupted
reproduction resumes where it stopped. Tables are DataFrames; metric values are shown in the
published units (accuracy in %, parameters in thousands).
"""
from __future__ import annotations

import math
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from ..config import RunConfig
from ..cost import estimate
from .presets import PRESETS, SCALES, Cell, Preset, check_scale, get_preset, resolve, substitutions
from ..engine.result import RunResult, gradient_ratio
from ..runs.runner import get_or_train
from ..runs.store import CorruptRun, RunStore

TINY_GRADIENT = 1e-4  # deep-sigmoid's 'layer 1 gradients below 1e-4': such a weight barely moves


# ---------------------------------------------------------------------- metrics
@dataclass(frozen=True)
class Metric:
    label: str
    unit: str  # "%" values are fractions shown x100
    fn: Callable[[RunResult, "RunResult | None"], float | None]  # (result, baseline result)


def _final(key: str):
    return lambda r, base: _last_epoch(r, key)


def _last_epoch(r: RunResult, key: str) -> float | None:
    if r.epochs.empty:
        return None
    v = float(r.epochs[key].iloc[-1])
    return v if math.isfinite(v) else None


def _best_val(r: RunResult) -> tuple[float, int] | None:
    """Best validation accuracy and the (first) epoch it was reached."""
    if r.epochs.empty or not np.isfinite(r.epochs["val_acc"]).any():
        return None
    i = int(np.nanargmax(r.epochs["val_acc"].to_numpy()))
    return float(r.epochs["val_acc"].iloc[i]), int(r.epochs["epoch"].iloc[i])


def _best_epoch_change(r: RunResult, base: RunResult | None) -> float | None:
    if base is None or base is r or base.run_id == r.run_id:
        return None
    mine, theirs = _best_val(r), _best_val(base)
    if mine is None or theirs is None:
        return None
    return mine[1] / theirs[1] - 1.0


def _epochs_to_base_best(r: RunResult, base: RunResult | None) -> float | None:
    """First epoch at which `r` reaches the baseline row's best validation accuracy."""
    target = _best_val(base if base is not None else r)
    if target is None or r.epochs.empty:
        return None
    reached = r.epochs[r.epochs["val_acc"] >= target[0]]
    return float(reached["epoch"].iloc[0]) if len(reached) else None


def _ratio(which: str):
    def fn(r: RunResult, base) -> float | None:
        v = gradient_ratio(r.grad_flow(which))
        return v if math.isfinite(v) else None
    return fn


def _tiny_share(r: RunResult, base) -> float | None:
    """Share of layer 1's nonzero weight gradients below TINY_GRADIENT at the last logged step.

    Exact zeros are left out: in layer 1 they belong to input pixels that are blank in the
    whole batch (MNIST's borders), not to a vanishing gradient."""
    grad, edges = r.histograms.get("grad"), r.histograms.get("grad_edges")
    if grad is None or grad.shape[0] == 0:
        return None
    row = grad[-1, 0].astype(np.float64)  # GRAD_COLUMNS: zero, below, bins..., above, nonfinite
    total = row[1:].sum()
    if total == 0:
        return None
    cut = math.log10(TINY_GRADIENT)
    below_bins = row[2:2 + len(edges) - 1][edges[1:] <= cut + 1e-9].sum()
    return float((row[1] + below_bins) / total)


def _saturation(which: str, layer: str):
    def fn(r: RunResult, base) -> float | None:
        m = r.stat_matrix("act_saturation")
        if m.empty:
            return None
        row = m.iloc[0] if which == "init" else m.iloc[-1]
        v = float(row.iloc[0] if layer == "first" else row.iloc[-1])
        return v if math.isfinite(v) else None
    return fn


METRICS: dict[str, Metric] = {
    "test_acc": Metric("test acc", "%", _final("test_acc")),
    "train_acc": Metric("train acc", "%", _final("train_acc")),
    "val_acc": Metric("val acc", "%", _final("val_acc")),
    "train_loss": Metric("train loss", "", _final("train_loss")),
    "val_loss": Metric("val loss", "", _final("val_loss")),
    "test_loss": Metric("test loss", "", _final("test_loss")),
    "params_k": Metric("# params", "K",
                       lambda r, base: r.meta["params"] / 1000 if r.meta.get("params") else None),
    "best_val_acc": Metric("best val acc", "%", lambda r, base: (_best_val(r) or (None,))[0]),
    "best_epoch": Metric("epochs to best val", "",
                         lambda r, base: (_best_val(r) or (None, None))[1]),
    "best_epoch_change": Metric("epochs to best vs regular", "%", _best_epoch_change),
    "epochs_to_base_best": Metric("epochs to regular's best val", "", _epochs_to_base_best),
    "ratio_init": Metric("grad ratio at init", "ratio", _ratio("init")),
    "ratio_end": Metric("grad ratio at end", "ratio", _ratio("final")),
    "tiny_grad_share": Metric("layer 1 nonzero gradients below 1e-4", "%", _tiny_share),
    "sat_first_init": Metric("layer 1 saturated at init", "%", _saturation("init", "first")),
    "sat_top_init": Metric("top layer saturated at init", "%", _saturation("init", "top")),
    "sat_top_end": Metric("top layer saturated at end", "%", _saturation("final", "top")),
}


def metric_value(name: str, result: RunResult, base: RunResult | None = None) -> float | None:
    """`name` of `result` in display units (accuracy in %, parameters in thousands)."""
    metric = METRICS[name]
    try:
        v = metric.fn(result, base)
    except (KeyError, IndexError, ValueError):
        return None  # a run that ended before logging what this metric needs
    if v is None or not math.isfinite(v):
        return None
    return 100.0 * v if metric.unit == "%" else float(v)


def column_name(group: str, metric: str, which: str) -> str:
    """Flat column names, e.g. '5-layer · test acc % · ours'."""
    m = METRICS[metric]
    unit = f" {m.unit}" if m.unit in ("%", "K") else ""
    return " · ".join(p for p in (group, m.label + unit, which) if p)


# ---------------------------------------------------------------------- tables
def comparison_table(preset: Preset, cells: list[Cell], results: dict[str, RunResult]) -> pd.DataFrame:
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
            hidden = flow[:-1] if len(flow) >= 3 else flow
            rec[f"layer 1 |g| {when}"] = hidden[0] if hidden else None
            rec[f"top |g| {when}"] = hidden[-1] if hidden else None
            ratio = gradient_ratio(flow) if flow else float("nan")
            rec[f"ratio {when}"] = ratio if math.isfinite(ratio) else None
        rows.append(rec)
    return pd.DataFrame(rows)


def format_table(table: pd.DataFrame, style: str = "text") -> str:
    """The table as aligned text (numbers rounded) or as a Markdown table."""
    def fmt(col, v):
        if v is None or (isinstance(v, float) and not math.isfinite(v)):
            return "—"
        if isinstance(v, str):
            return v
        if "|g|" in col or col.startswith("ratio") or "grad ratio" in col:
            return f"{v:.1e}"
        if "# params" in col:
            return f"{v:.0f}"
        if "epochs to" in col and "vs" not in col:
            return f"{v:.0f}"
        if "loss" in col:
            return f"{v:.3f}"
        if "vs regular" in col:
            return f"{v:+.0f}"
        return f"{v:.2f}"

    # Each metric's ours/published pair becomes one column "ours / published".
    columns = list(table.columns)
    headers, getters = [], []
    for i, col in enumerate(columns):
        if col.endswith(" · published") and col[:-len(" · published")] + " · ours" in columns:
            continue
        if col.endswith(" · ours"):
            base = col[:-len(" · ours")]
            j = columns.index(base + " · published") if base + " · published" in columns else None
            headers.append(base)
            getters.append(lambda row, i=i, j=j, c=col: fmt(c, row[i]) if j is None
                           else f"{fmt(c, row[i])} / {fmt(c, row[j])}")
        else:
            headers.append(col)
            getters.append(lambda row, i=i, c=col: fmt(c, row[i]))
    cells = [[get(row) for get in getters] for row in table.itertuples(index=False)]
    if style == "markdown":
        esc = lambda text: text.replace("|", "\\|")  # noqa: E731  (|g| inside a cell)
        lines = ["| " + " | ".join(map(esc, headers)) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        lines += ["| " + " | ".join(map(esc, row)) + " |" for row in cells]
        return "\n".join(lines)
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


# ---------------------------------------------------------------------- chart data
def _per_layer_frame(cells: list[Cell], results: dict[str, RunResult], values) -> pd.DataFrame:
    """layer, name, value, series (the cell's label) for every stored cell. `values(result)`
    gives {layer number: value} (the layers it covers), or None where the run has nothing."""
    frames = []
    for c in cells:
        r = results.get(c.config.run_id)
        by_layer = values(r) if r is not None else None
        if not by_layer:
            continue
        names = r.layers.set_index("layer")["name"]
        frames.append(pd.DataFrame({"layer": list(by_layer), "name": [names[i] for i in by_layer],
                                    "value": np.fromiter(by_layer.values(), dtype=float),
                                    "series": c.label}))
    return pd.concat(frames, ignore_index=True) if frames else \
        pd.DataFrame(columns=["layer", "name", "value", "series"])


def grad_flow_frame(cells: list[Cell], results: dict[str, RunResult], which: str = "final") -> pd.DataFrame:
    """layer, name, value (mean |g|), series (the cell's label): input of charts.grad_flow."""
    def values(r: RunResult):
        flow = r.grad_flow(which)
        return dict(enumerate(flow, start=1)) if flow and len(flow) == len(r.layers) else None
    return _per_layer_frame(cells, results, values)


def layer_stat_frame(cells: list[Cell], results: dict[str, RunResult], stat: str,
                     which: str = "final") -> pd.DataFrame:
    """One per-layer statistic (e.g. act_saturation) at the first or last logged step."""
    def values(r: RunResult):
        m = r.stat_matrix(stat)
        if m.empty:
            return None
        row = m.iloc[0] if which == "init" else m.iloc[-1]
        return {int(i): float(v) for i, v in row.items()}
    return _per_layer_frame(cells, results, values)


def grad_value_histogram_frame(result: RunResult, step: str = "final") -> pd.DataFrame:
    """Share of nonzero weight-gradient entries per log10|g| bin at one logged step, per layer
    (values below the first bin go into the lowest bin; exact zeros, e.g. the weights of input
    pixels blank in the whole batch, are left out)."""
    grad, edges = result.histograms["grad"], result.histograms["grad_edges"]
    if grad.shape[0] == 0:
        return pd.DataFrame(columns=["low", "high", "share", "name", "layer"])
    counts = grad[0 if step == "init" else -1].astype(np.float64)  # (n_layers, columns)
    n_bins = len(edges) - 1
    names = list(result.layers.sort_values("layer")["name"])
    frames = []
    for i, name in enumerate(names):
        row = counts[i]
        total = row[1:].sum()
        if total == 0:
            continue
        bins = row[2:2 + n_bins].copy()
        bins[0] += row[1]
        bins[-1] += row[2 + n_bins]
        frames.append(pd.DataFrame({"low": edges[:-1], "high": edges[1:], "share": bins / total,
                                    "name": name, "layer": i + 1}))
    return pd.concat(frames, ignore_index=True)


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


# ---------------------------------------------------------------------- planning and running
# This trainer's speed on an idle 2-core laptop CPU, fitted to the quick presets' measured times:
# multiply-accumulates per second (forward and backward together) and a cost per weight layer
# and step (statistics, Python). Rough (within 2x); plan() rescales it by the stored runs.
MACS_PER_SECOND = {"mlp": 5e9, "vgg": 5e9}
SECONDS_PER_LAYER_STEP = 6e-4


def rough_seconds(cfg: RunConfig) -> float:
    """Rough training time of `cfg` on an idle 2-core laptop CPU."""
    est = estimate(cfg)
    steps = est.steps_per_epoch * cfg.epochs
    return est.work / MACS_PER_SECOND[cfg.arch] + SECONDS_PER_LAYER_STEP * (cfg.depth + 1) * steps


@dataclass
class Plan:
    cells: list[Cell]
    stored: list[Cell]
    missing: list[Cell]
    seconds_left: float  # estimate for the missing runs

    @property
    def total(self) -> int:
        return len(self.cells)


def plan(cells: list[Cell], store, seconds_of: Callable[[str], float | None] | None = None) -> Plan:
    """Which cells are stored, which are missing, and about how long the missing ones take.

    The estimate is `rough_seconds` scaled by how this machine did on the stored runs of the
    same cells (the median of measured over estimated), when there are any.
    """
    unique = list({c.config.run_id: c for c in cells}.values())
    stored = [c for c in unique if store.has(c.config.run_id)]
    missing = [c for c in unique if not store.has(c.config.run_id)]
    seconds_of = seconds_of or (lambda run_id: _stored_seconds(store, run_id))
    ratios = []
    for c in stored:
        took = seconds_of(c.config.run_id)
        if took:
            ratios.append(took / max(rough_seconds(c.config), 1e-3))
    factor = statistics.median(ratios) if ratios else 1.0
    return Plan(cells, stored, missing, factor * sum(rough_seconds(c.config) for c in missing))


def _stored_seconds(store, run_id: str) -> float | None:
    import json

    try:
        return float(json.loads((store.run_dir(run_id) / "meta.json").read_text())["seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


@dataclass
class Reproduction:
    preset: Preset
    scale: str
    cells: list[Cell]
    results: dict[str, RunResult] = field(default_factory=dict)  # run id -> result
    trained: list[str] = field(default_factory=list)  # run ids trained by this call
    seconds: float = 0.0  # wall time of this call

    def table(self) -> pd.DataFrame:
        return comparison_table(self.preset, self.cells, self.results)

    def flow(self) -> pd.DataFrame:
        return flow_summary(self.cells, self.results)


def run_preset(preset: Preset, scale: str, store=None, cells: list[Cell] | None = None,
               on_run: Callable[[int, int, Cell], None] | None = None,
               on_event: Callable[[dict], None] | None = None,
               should_stop: Callable[[], bool] | None = None, train_missing: bool = True,
               allow_download: bool = False) -> Reproduction:
    """Open every cell of `preset` at `scale` from the store, training the missing ones unless
    `train_missing` is False (through core.runs.runner.get_or_train: stacked where configs
    allow it, results identical to one-by-one training). `on_run(i, n, cell)` announces each
    run as it starts (stacked runs start together); `on_event` receives the trainer's events."""
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
        _train(store, todo, rep, on_run, on_event, should_stop)
    rep.seconds = time.perf_counter() - t0
    return rep


def _train(store, todo: list[Cell], rep: Reproduction, on_run, on_event, should_stop) -> None:
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

    results = get_or_train(store, [c.config for c in todo], on_event=tagged, should_stop=should_stop)
    for c, result in zip(todo, results):
        if result.status == "cancelled":
            continue
        rep.results[c.config.run_id] = result
        if not result.cached:
            rep.trained.append(c.config.run_id)


# ---------------------------------------------------------------------- command line
def add_reproduce_parser(sub) -> None:
    """The `reproduce` subcommand of `python -m core`."""
    p = sub.add_parser("reproduce", help="rerun an experiment of the source documents and "
                       "compare with the published numbers")
    p.add_argument("name", nargs="?", help="preset name (see --list)")
    p.add_argument("--scale", default="quick", help="quick (minutes on a laptop CPU, scaled "
                   "down as stated) or full (the document's settings). Default: quick.")
    p.add_argument("--list", action="store_true", help="list the presets, one line each")
    p.add_argument("--format", default="text", dest="output_format",
                   help="text (default), markdown (tables for a report) or json")
    p.add_argument("--stored-only", action="store_true",
                   help="train nothing: show what the store already holds")


FORMATS = ("text", "markdown", "json")


def reproduce_command(args) -> int:
    """Run `python -m core reproduce ...` (bad input raises ConfigError / CliError: exit 2)."""
    from ..cli import CliError, _ProgressBar

    if args.list:
        width = max(len(n) for n in PRESETS)
        for name, p in PRESETS.items():
            print(f"{name.ljust(width)}  {p.source.split(' ')[0]}  {p.description}")
        return 0
    if args.output_format not in FORMATS:
        raise CliError(f"--format: got {args.output_format[:40]!r}; expected one of {', '.join(FORMATS)}")
    if not args.name:
        raise CliError(f"preset: name a preset ({', '.join(PRESETS)}) or use --list")
    preset = get_preset(args.name)
    scale = check_scale(args.scale)
    store = RunStore()
    cells = resolve(preset, scale, allow_download=not args.stored_only)
    pl = plan(cells, store)
    show_bars = args.output_format != "json" or sys.stderr.isatty()
    if not args.stored_only and pl.missing:
        print(f"{preset.name} ({scale}): {len(pl.stored)} of {len(pl.missing) + len(pl.stored)} "
              f"runs stored; training {len(pl.missing)} (about {_duration(pl.seconds_left)})",
              file=sys.stderr)
    runs_bar, step_bar = _RunsBar(len(pl.missing), show_bars), None

    def on_run(i, n, cell):
        nonlocal step_bar
        if step_bar is not None:
            step_bar.close()
        runs_bar.next(cell)
        step_bar = _ProgressBar(enabled=show_bars)

    def on_event(event):
        if step_bar is not None:
            step_bar.update(event)

    try:
        rep = run_preset(preset, scale, store, cells=cells, on_run=on_run, on_event=on_event,
                         train_missing=not args.stored_only)
    finally:
        if step_bar is not None:
            step_bar.close()
        runs_bar.close()
    print(render(rep, args.output_format))
    return 0


class _RunsBar:
    """tqdm over the runs of a reproduction (stderr); each run gets its own step bar below."""

    def __init__(self, total: int, enabled: bool):
        self.bar = None
        if enabled and total:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="run", file=sys.stderr, desc="runs", position=0)
        self.started = 0

    def next(self, cell: Cell) -> None:
        if self.bar is None:
            return
        if self.started:
            self.bar.update(1)
        self.started += 1
        self.bar.set_postfix_str(cell.label[:60])

    def close(self) -> None:
        if self.bar is not None:
            if self.started:
                self.bar.update(1)
            self.bar.close()


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(seconds, 1):.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def render(rep: Reproduction, style: str = "text") -> str:
    """The report of a reproduction: header, comparison table, gradient flow, how to read it."""
    import json

    table, flow = rep.table(), rep.flow()
    subs = substitutions(rep.cells)
    if style == "json":
        def plain(df):
            return json.loads(df.to_json(orient="records"))
        return json.dumps({"preset": rep.preset.name, "scale": rep.scale,
                           "substitutions": subs, "runs": len({c.config.run_id for c in rep.cells}),
                           "trained": rep.trained, "table": plain(table), "gradient_flow": plain(flow)},
                          allow_nan=False)
    p = rep.preset
    note = p.quick_note if rep.scale == "quick" else p.full_note
    n_runs = len({c.config.run_id for c in rep.cells})
    head = [f"{'Scaled down' if rep.scale == 'quick' else 'Settings'}: {note}"]
    if subs:
        head.append(f"Dataset substituted (not available here): {', '.join(subs)}.")
    head += [f"Note: {n}." for n in dict.fromkeys(c.note for c in rep.cells if c.note)]
    head.append(f"{len(rep.results)} of {n_runs} runs available, {len(rep.trained)} of them trained "
                f"now (this call took {_duration(rep.seconds)}; device: {_devices(rep)}).")
    head.append(f"Published: {p.published_note}")
    if any(c.endswith(" · published") for c in table.columns):
        head.append("Where a cell holds two numbers: ours / published (— where there is none).")
    flow_intro = ("Gradient flow: mean |gradient| of the weights of layer 1 and of the top layer (the "
                  "last hidden layer, or the output layer when there is only one hidden layer), and "
                  "their ratio (below 1e-2: vanishing; above 1e2: exploding):")
    sections = [format_table(table, style), flow_intro, format_table(flow.drop(columns=["dataset"]), style),
                f"How to read it: {p.reading}"]
    if style == "markdown":
        title = f"### {p.title} (`{p.name}`, {rep.scale})"
        return "\n\n".join([title, f"Source: {p.source}.", *head, *sections])
    title = f"{p.title}  [{p.name}, {rep.scale} scale]\nsource: {p.source}"
    return "\n\n".join(["\n".join([title, *head]), sections[0], "\n".join(sections[1:3]), sections[3]])


def _devices(rep: Reproduction) -> str:
    devices = sorted({str(r.meta.get("device")) for r in rep.results.values()})
    return ", ".join(devices) or "—"


__all__ = ["METRICS", "SCALES", "Plan", "Reproduction", "add_reproduce_parser", "comparison_table",
           "flow_summary", "format_table", "grad_flow_frame", "grad_value_histogram_frame",
           "layer_stat_frame", "metric_value", "ours_vs_published_frame", "plan", "render",
           "reproduce_command", "rough_seconds", "run_preset"]
