"""The report of a reproduction as text, Markdown or JSON (what `python -m core reproduce` prints).

    print(render(run_preset(PRESETS["gna-bn"], "quick"), "markdown"))
    print(format_table(ours_vs_published_table(...)))   # any table of core.lab.tables, aligned
"""
from __future__ import annotations

import json
import math

import pandas as pd

from .cost import duration
from .lab.presets import substitutions
from .lab.reproduce import Reproduction


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


def render(rep: Reproduction, style: str = "text") -> str:
    """The report of a reproduction: header, comparison table, gradient flow, how to read it."""
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
                f"now (this call took {duration(rep.seconds)}; device: {_devices(rep)}).")
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
