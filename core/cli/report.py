"""The report of a reproduction as text, Markdown or JSON (what `python -m core reproduce` prints).

    print(render(run_preset(PRESETS["gna-bn"], "quick"), "markdown"))
    print(render_all([rep1, rep2, ...], "markdown", command="python -m core reproduce --all ..."))
    print(format_table(ours_vs_published_table(...)))   # any table of core.lab.tables, aligned
    collapse_lines(rep, "markdown")     # a VGG preset's collapse at initialization, predicted vs measured

Every sentence that interprets a result is generated from the numbers (the verdicts of
core.lab.findings and their evidence); the rest states settings and what the code checks.
"""
from __future__ import annotations

import json
import math

import pandas as pd

from ..base.cost import duration
from ..engine.data import DatasetUnavailable
from ..lab.findings import VERDICTS, correction_text
from ..lab.metrics import column_name
from ..lab.presets import substitutions
from ..lab.reproduce import Reproduction
from ..lab.signalprop import vgg_sentences, vgg_table
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
    out = {"preset": rep.preset.name, "scale": rep.scale, "seeds": rep.seeds,
           "source": rep.preset.source, "substitutions": substitutions(rep.cells),
           "runs": len({c.config.run_id for c in rep.cells}), "trained": rep.trained,
           "table": table, "gradient_flow": plain(rep.flow()),
           "findings": [f.to_dict() for f in rep.findings()],
           "methods": {"mean": MEAN_METHOD, "difference": DIFF_METHOD, "verdict": VERDICT_RULE,
                       "correction": correction_text(rep.findings())}}
    try:
        found = collapse_at_init(rep)
    except (DatasetUnavailable, ValueError) as exc:
        out["collapse_at_init"] = {"error": str(exc)}
    else:
        if found is not None:  # a VGG preset: predicted vs measured at initialization (computed now)
            out["collapse_at_init"] = {"table": plain(found[1]), "sentences": found[2]}
    return out


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


COLLAPSE_TITLE = "Collapse at initialization, predicted vs measured"


def collapse_at_init(rep: Reproduction) -> tuple | None:
    """For a preset of VGG networks: core.lab.signalprop's table of the five networks of the VGG
    report (VGG08, VGG38 ± BN ± RC) at the preset's data, filters and seed, and its sentences;
    None for other presets. Computed now (a forward pass per network at initialization, nothing
    trained); DatasetUnavailable or ValueError when the data or the probe's budget refuse it."""
    cfg = next((c.config for c in rep.cells if c.config.arch == "vgg"), None)
    if cfg is None:
        return None
    table = vgg_table(cfg)
    return cfg, table, vgg_sentences(table, cfg)


def _log10_text(v: float) -> str:
    return "—" if not math.isfinite(v) else f"{round(v, 1) + 0.0:.1f}"  # + 0.0: no "-0.0"


def collapse_lines(rep: Reproduction, style: str) -> list[str]:
    """The collapse section of a VGG preset's report: what is compared, the table, the sentences."""
    try:
        found = collapse_at_init(rep)
    except (DatasetUnavailable, ValueError) as exc:
        return [f"{COLLAPSE_TITLE}: not computed here ({exc})."]
    if found is None:
        return []
    cfg, t, sentences = found
    shown = pd.DataFrame({
        "network": t["network"], "convolutions": t["convolutions"].map(str),
        "predicted log10 collapse (average over networks)": t["predicted log10 collapse"].map(_log10_text),
        "predicted log10 collapse (one network ± sd)": [
            f"{_log10_text(v)} ± {sd:.1f}" for v, sd in zip(t["predicted log10 (one network)"], t["one-network sd"])],
        "measured log10 collapse": t["measured log10 collapse"].map(_log10_text),
        "factor per layer, predicted / measured": [
            f"{p:.3g} / {m:.3g}" for p, m in zip(t["predicted factor"], t["measured factor"])]})
    intro = (f"{COLLAPSE_TITLE}: log10 of the activations' second moment at the last convolution's output "
             "over the first's (-2.0: a fall by a factor of 100), for the five networks of the VGG report "
             f"built as this preset builds them ({cfg.dataset}, {cfg.vgg_filters} filters, {cfg.init}, "
             f"{cfg.activation}, seed {cfg.seed}). Predicted by core.engine.signalprop's forms and moment "
             "recursion, on average over random networks and for one network of this width (± the spread "
             "from one random network to the next); measured on the probe's batch of one network. "
             "Computed when this report was written (a forward pass per network at initialization, "
             "nothing trained), not read from the store:")
    bullets = "\n".join(("- " if style == "markdown" else "  - ") + s for s in sentences)
    return [intro, format_table(shown, style), bullets]


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
                            flow_intro, flow, *collapse_lines(rep, style), *tail])
    title = f"{p.title}  [{p.name}, {rep.scale} scale, {rep.seeds} seeds]\nsource: {p.source}"
    return "\n\n".join(["\n".join([title, *head]), *findings_lines(rep, style), table,
                        "\n".join([flow_intro, flow]), *collapse_lines(rep, style), *tail])


def render_all(reps: list[Reproduction], style: str = "text", command: str = "") -> str:
    """Several reproductions in one report (JSON: a list), with a verdict summary first."""
    if style == "json":
        return json.dumps([json_report(r) for r in reps], allow_nan=False)
    rows = [{"preset": r.preset.name, "source": r.preset.short, "scale": r.scale, "seeds": str(r.seeds),
             "runs": str(len(r.results)),
             **{v: str(sum(f.verdict == v for f in r.findings())) for v in VERDICTS}} for r in reps]
    computed = any(c.config.arch == "vgg" for r in reps for c in r.cells)
    intro = [f"Generated by `{command}` from the run store; every number below comes from it"
             + (f" except the VGG preset's \"{COLLAPSE_TITLE.lower()}\", computed from its networks at "
                "initialization when the report was written." if computed else ".")] if command else []
    parts = [*intro, format_table(pd.DataFrame(rows), style)]
    return "\n\n".join(parts + [render(r, style) for r in reps])


def _devices(rep: Reproduction) -> str:
    devices = sorted({str(r.meta.get("device")) for r in rep.results.values()})
    return ", ".join(devices) or "—"
