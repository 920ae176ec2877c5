"""The report of a reproduction as text, Markdown or JSON (what `python -m core reproduce` prints).

    print(render(run_preset(PRESETS["gna-bn"], "quick"), "markdown"))
    print(render_all([rep1, rep2, ...], "markdown", command="python -m core reproduce --all ..."))
    print(format_table(ours_vs_published_table(...)))   # any table of core.lab.tables, aligned

Every sentence that interprets a result is generated from the numbers (the verdicts of
core.lab.findings and their evidence); the rest states settings and what the code checks.
"""
from __future__ import annotations

import json
import math

import pandas as pd

from ..base.cost import duration
from ..lab.findings import VERDICTS, correction_text
from ..lab.metrics import column_name
from ..lab.presets import substitutions
from ..lab.reproduce import Reproduction
from ..lab.tables import display_table
from ..lab.uncertainty import DIFF_METHOD, MEAN_METHOD
from ..lab.verdicts import VERDICT_RULE

THREADS_NOTE = ("Runs that differ only in seed, initialization or optimizer settings train together "
                "as one stacked model; each run's results are bit-identical to training it alone at a "
                "fixed CPU thread count only (each run's metadata records its \"threads\").")


def format_table(table: pd.DataFrame, style: str = "text") -> str:
    """The table as aligned text (numbers rounded) or as a Markdown table."""
    def fmt(col, v):
        if v is None or (isinstance(v, float) and not math.isfinite(v)):
            return "—"
        if isinstance(v, str):
            return v or "—"
        if "|g|" in col or col.startswith("ratio") or "grad ratio" in col:
            return f"{v:.1e}"
        if "# params" in col or col in ("seeds", "parameters", "Δ seed pairs"):
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


def json_report(rep: Reproduction) -> dict:
    """The JSON object: the table's flat keys (means, published) plus, per row, `seeds` and per
    numeric metric {"mean", "sd", "ci95", "values"} (and "difference" against its baseline)."""
    def plain(df):
        return json.loads(df.to_json(orient="records"))
    table = plain(rep.table())
    for row, rec in zip(table, rep.rows()):
        row["seeds"] = rec["seeds"]
        for (g, m), entry in rec["metrics"].items():
            s = entry["summary"]
            if s["n"] == 0:
                continue
            obj = {"mean": s["mean"], "sd": s["sd"], "ci95": s["ci95"], "values": s["values"]}
            if entry.get("difference") and entry["difference"]["mean"] is not None:
                d = entry["difference"]
                obj["difference"] = {"vs": list(rec["baseline"]), "mean": d["mean"], "ci95": d["ci95"]}
            row[column_name(g, m, "")] = obj
    return {"preset": rep.preset.name, "scale": rep.scale, "seeds": rep.seeds,
            "source": rep.preset.source, "substitutions": substitutions(rep.cells),
            "runs": len({c.config.run_id for c in rep.cells}), "trained": rep.trained,
            "table": table, "gradient_flow": plain(rep.flow()),
            "findings": [f.to_dict() for f in rep.findings()],
            "methods": {"mean": MEAN_METHOD, "difference": DIFF_METHOD, "verdict": VERDICT_RULE,
                        "correction": correction_text(rep.findings())}}


def findings_lines(rep: Reproduction, style: str) -> list[str]:
    found = rep.findings()
    if not found:
        return []
    counts = ", ".join(f"{sum(f.verdict == v for f in found)} {v}" for v in VERDICTS)
    correction = correction_text(found)
    head = (f"Findings of the document, checked on these runs ({counts}"
            f"{'; ' + correction if correction else ''}). How a verdict is read: {VERDICT_RULE}")
    if style == "markdown":
        return [head, "\n".join(f"- **{f.verdict}**: {f.claim}. {f.evidence}." for f in found)]
    return [head, "\n".join(f"  [{f.verdict}] {f.claim}\n      {f.evidence}" for f in found)]


def _time_line(rep: Reproduction) -> str:
    calls = rep.timings()
    if not calls:
        return "Training time here: not recorded in this store (its runs were trained elsewhere or before it was recorded)."
    total = sum(c.get("seconds", 0.0) for c in calls)
    trained = sum(c.get("trained", 0) for c in calls)
    threads = sorted({c.get("threads") for c in calls})
    return (f"Training time here: {duration(total)} of wall time for {trained} runs in {len(calls)} "
            f"call(s), {', '.join(map(str, threads))} CPU thread(s) (recorded in the store by "
            "`python -m core reproduce`).")


def render(rep: Reproduction, style: str = "text") -> str:
    """The report of a reproduction: header, findings, comparison table, gradient flow."""
    if style == "json":
        return json.dumps(json_report(rep), allow_nan=False)
    p, subs = rep.preset, substitutions(rep.cells)
    n_runs = len({c.config.run_id for c in rep.cells})
    seeds_line = f"Seeds: {rep.seeds} per configuration"
    default = p.default_seeds(rep.scale)
    if rep.seeds < 3 or rep.seeds < default:
        seeds_line += f" (fewer than the default {default}" + (
            f"; {p.seeds_note[rep.scale]})" if rep.scale in p.seeds_note else ")")
    elif rep.scale in p.seeds_note:
        seeds_line += f" ({p.seeds_note[rep.scale]})"
    head = [f"Scale ({rep.scale}): {p.note(rep.scale)}", seeds_line + "."]
    if subs:
        head.append(f"Dataset substituted (not available here): {', '.join(subs)}.")
    head += [f"Note: {n}." for n in dict.fromkeys(c.note for c in rep.cells if c.note)]
    head.append(f"{len(rep.results)} of {n_runs} runs available, {len(rep.trained)} of them trained "
                f"now (this call took {duration(rep.seconds)}; device: {_devices(rep)}).")
    head += [_time_line(rep), f"Published: {p.published_note}",
             f"Ours: mean ± sd over seeds [{MEAN_METHOD}]; Δ vs baseline: the seed-paired difference "
             f"against the row named by the preset [{DIFF_METHOD}]. Where a cell holds two numbers: "
             "ours / published (— where there is none).", THREADS_NOTE]
    flow_intro = ("Gradient flow (geometric means over seeds): mean |gradient| of the weights of "
                  "layer 1 and of the top layer (the last hidden layer, or the output layer when there "
                  "is only one hidden layer), and their ratio (below 1e-2: vanishing; above 1e2: exploding):")
    table = format_table(display_table(p, rep.rows()), style)
    flow = format_table(rep.flow().drop(columns=["dataset"]), style)
    differences = "Differences from the document's setup: " + " ".join(p.differences) if p.differences else ""
    tail = [s for s in (f"What the document found: {p.reading}", differences) if s]
    if style == "markdown":
        title = f"### {p.title} (`{p.name}`, {rep.scale}, {rep.seeds} seeds)"
        return "\n\n".join([title, f"Source: {p.source}.", *head, *findings_lines(rep, style), table,
                            flow_intro, flow, *tail])
    title = f"{p.title}  [{p.name}, {rep.scale} scale, {rep.seeds} seeds]\nsource: {p.source}"
    return "\n\n".join(["\n".join([title, *head]), *findings_lines(rep, style), table,
                        "\n".join([flow_intro, flow]), *tail])


def render_all(reps: list[Reproduction], style: str = "text", command: str = "") -> str:
    """Several reproductions in one report (JSON: a list), with a verdict summary first."""
    if style == "json":
        return json.dumps([json_report(r) for r in reps], allow_nan=False)
    rows = [{"preset": r.preset.name, "source": r.preset.short, "scale": r.scale, "seeds": str(r.seeds),
             "runs": str(len(r.results)),
             **{v: str(sum(f.verdict == v for f in r.findings())) for v in VERDICTS}} for r in reps]
    intro = [f"Generated by `{command}` from the run store; every number below comes from it."] if command else []
    parts = [*intro, format_table(pd.DataFrame(rows), style)]
    return "\n\n".join(parts + [render(r, style) for r in reps])


def _devices(rep: Reproduction) -> str:
    devices = sorted({str(r.meta.get("device")) for r in rep.results.values()})
    return ", ".join(devices) or "—"
