"""Drawing a run: the diagnosis, the charts of a stored run, and a training job's live progress.

Pages call `show_*` functions with data from core; the charts themselves are core.views.charts.
Which per-layer statistics a tab draws, and their titles, scales and captions, come from their
declarations in core.base.instruments (the `view` of each instrument of the tab's block).
"""
from __future__ import annotations


import pandas as pd
import streamlit as st

from core.views import charts, histograms as hv
from core.base.config import RunConfig
from core.base.cost import duration
from core.engine.data import DatasetUnavailable
from core.engine.probe import PROBE_BATCH
from core.base.instruments import ACTIVATION, BARS, FLOW, GRADIENT, INSTRUMENTS, STEPS, WEIGHT, Instrument, block
from core.lab.diagnosis import Finding, diagnose, diagnose_init
from core.views.links import config_to_query

from .draw import chart  # noqa: F401  (pages import it from here too)
from .hist_views import show_histograms, show_step_loss, show_training_curves
from .live_views import show_job  # noqa: F401  (pages import it from here)
from .services import probe

SEVERITY = {"problem": st.error, "warning": st.warning, "ok": st.success}
# Where each view draws a statistic, for its caption.
_WHERE = {FLOW: "Per weight layer at the chosen steps: how the gradient flow evolves during training",
          STEPS: "Over all logged steps, one line per layer, dark = input side",
          BARS: "Per layer at the chosen step"}


def shown(block_name: str, view: str | None = None) -> list[Instrument]:
    """The instruments of a block that a run's page draws (in `view`, or in any), those the
    diagnosis judges (with a healthy range) first."""
    drawn = [ins for ins in block(block_name) if ins.view and view in (None, ins.view)]
    return sorted(drawn, key=lambda ins: ins.healthy is None)


def caption(ins: Instrument, view: str) -> str:
    """What the statistic is, where and on which scale it is drawn, and its healthy range."""
    scale = "" if ins.percent else f", {ins.scale_note}"
    healthy = f"; {ins.healthy_note}" if ins.healthy else ""
    return f"{ins.caption} {_WHERE[view]} ({ins.title}{scale}){healthy}."


def _apply_remedy(params: dict) -> None:
    st.query_params.from_dict(params)


def show_findings(findings: list[Finding], key: str) -> None:
    """Each finding in plain words, with its remedies as one-click configuration changes (the
    diagnosis offers each change once); buttons sit in a row that wraps, each as wide as its label."""
    for i, f in enumerate(findings):
        SEVERITY[f.severity](f.text, icon={"problem": ":material/error:", "warning": ":material/warning:",
                                     "ok": ":material/check_circle:"}[f.severity])
        if f.remedies:
            with st.container(horizontal=True, gap="small"):
                for j, remedy in enumerate(f.remedies):
                    st.button(remedy.label, key=f"{key}-remedy-{i}-{j}", width="content",
                              on_click=_apply_remedy, args=(config_to_query(remedy.config),),
                              help="Change the configuration to this (the link updates too)")


def zero_note(df: pd.DataFrame, counts: dict | None = None) -> str:
    """'fc1, fc2: every entry exactly 0 (...)' for the layers whose value is exactly 0, which a
    log-scale chart cannot place (marked '0' at its bottom edge); '' when there are none.
    counts: layer name -> (zero entries, all entries), from the gradient histograms."""
    zero = df[pd.to_numeric(df["value"], errors="coerce") == 0]
    names = list(dict.fromkeys(zero["name"]))
    if not names:
        return ""
    detail = ""
    if counts:
        detail = " (" + ", ".join(f"{n}: {counts[n][0]:,} of {counts[n][1]:,} entries are 0"
                                  for n in names if n in counts) + ")"
    every = "every layer has" if len(names) == df["name"].nunique() else f"{', '.join(names)}: "
    return (f"Gradients exactly zero: {every} mean |gradient| 0{detail}, so no weight of "
            f"{'any layer' if every == 'every layer has' else 'these layers'} changes. A log scale has no "
            "place for 0: such points are marked 0 at the bottom edge of the chart.")


def _zero_counts(result, step: int) -> dict:
    hist = result.histograms
    steps = list(hist.get("steps", []))
    if step not in steps:
        return {}
    row = hist["grad"][steps.index(step)]
    names = list(result.layers.sort_values("layer")["name"])
    return {n: (int(row[i, 0]), int(row[i].sum())) for i, n in enumerate(names)}


def show_init_flow(cfg: RunConfig, key: str = "init") -> None:
    """Gradient flow at initialization: one forward/backward pass, answered at once."""
    try:
        flow = probe(cfg)
    except DatasetUnavailable as exc:
        st.info(f"No preview at initialization: {exc}", icon=":material/cloud_download:")
        return
    df = flow[["layer", "name", "grad_mean_abs"]].rename(columns={"grad_mean_abs": "value"})
    chart(charts.grad_flow(df.assign(series="at initialization"), series_title="when"))
    st.caption(f"Mean |gradient| of each weight layer after one forward and backward pass on "
               f"{flow.attrs.get('batch', PROBE_BATCH)} training examples, before any update (log scale). "
               "A line falling toward the input means vanishing gradients.")
    note = zero_note(df)
    if note:
        st.info(note, icon=":material/exposure_zero:")
    show_findings(diagnose_init(cfg, flow), key)


def _layer_names(result) -> pd.DataFrame:
    return result.layers[["layer", "name"]]


def _steps(result) -> list[int]:
    return sorted(int(s) for s in result.layer_stats["step"].unique())


def show_run(result, key: str = "run") -> None:
    """Everything about a stored run: diagnosis, curves, gradient flow, histograms, activations."""
    show_findings(diagnose(result), f"{key}-dx")  # a diverged run's first finding says where and why
    if result.status == "diverged":
        st.caption("Training stopped there: the charts show the run up to that step.")
    show_training_curves(result.epochs, key)
    show_step_loss(result, key)
    flow, hists, acts, updates, numbers = st.tabs(
        ["Gradient flow", "Histograms", "Activations", "Updates", "Numbers"])
    steps = _steps(result)
    if not steps:
        st.info("No statistics were logged before the run ended.")
        return
    with flow:
        show_block(result, GRADIENT, steps, key)
    with hists:
        show_histograms(result, key)
    with acts:
        show_activation_stats(result, key, steps)
    with updates:
        show_block(result, WEIGHT, steps, key)
    with numbers:
        show_numbers(result)


def show_block(result, block_name: str, steps: list[int], key: str) -> None:
    """The charts of one block's instruments (gradient, weight), as each one's view says."""
    for ins in shown(block_name):
        if ins.view == FLOW:
            show_flow(result, ins, steps, key)
        else:
            show_over_steps(result, ins)


def show_over_steps(result, ins: Instrument) -> None:
    chart(charts.stat_over_steps(result.layer_stats, result.layers, ins.stat))
    st.caption(caption(ins, STEPS))


def show_flow(result, ins: Instrument, steps: list[int], key: str) -> None:
    """A per-layer profile at chosen steps (one line per step), then the same over all steps."""
    chosen = st.multiselect("steps to compare", steps, default=hv.pick_steps(steps, 4), key=f"{key}-{ins.stat}-steps",
                            help=f"Each line is the {ins.title} of every layer at one logged training step.")
    stats = result.layer_stats
    df = stats[(stats.stat == ins.stat) & (stats.step.isin(chosen))].merge(_layer_names(result), on="layer")
    chart(charts.grad_flow(df.assign(series="step " + df["step"].astype(str)), value_title=ins.title,
                           series_title="step"))
    st.caption(caption(ins, FLOW))
    note = zero_note(df, _zero_counts(result, max(chosen)) if chosen else None)
    if note:
        st.info(note, icon=":material/exposure_zero:")
    show_over_steps(result, ins)


def show_activation_stats(result, key: str, steps: list[int]) -> None:
    stats = result.layer_stats
    names = _layer_names(result)
    step = st.select_slider("step", steps, value=steps[-1], key=f"{key}-act-step")
    at = stats[stats.step == step].merge(names, on="layer")
    available = set(stats.stat.unique())
    bars = shown(ACTIVATION, BARS)
    cols = st.columns(2)
    with cols[0]:
        for ins in (ins for ins in bars if ins.stat in available):
            chart(charts.layer_bars(at[at.stat == ins.stat], ins.stat))
            st.caption(caption(ins, BARS))
        if bars and not available.intersection(ins.stat for ins in bars):
            st.info(f"No {' or '.join(ins.title for ins in bars)} to show for {result.config.activation}: "
                    f"{', '.join(ins.applies for ins in bars)}.")
    with cols[1]:
        for ins in shown(ACTIVATION, STEPS):
            show_over_steps(result, ins)
    st.caption("Histograms of each layer's activations over training: the Histograms tab.")


def show_numbers(result) -> None:
    meta = result.meta
    cols = st.columns(4)
    cols[0].metric("parameters", f"{meta.get('params', 0):,}")
    cols[1].metric("training time", duration(meta.get("seconds") or 0))
    cols[2].metric("device", str(meta.get("device")))
    cols[3].metric("logged every", f"{meta.get('log_every')} steps")
    st.dataframe(readable(result.epochs), hide_index=True)
    wide = result.layer_stats[result.layer_stats.step == result.layer_stats.step.max()]
    wide = wide.pivot_table(index="layer", columns="stat", values="value", aggfunc="first")
    order = {stat: i for i, stat in enumerate(INSTRUMENTS)}  # the stored order, not alphabetical
    wide = wide[sorted(wide.columns, key=lambda stat: order.get(stat, len(order)))]
    wide = wide.reset_index()
    st.dataframe(readable(result.layers.merge(wide, on="layer")), hide_index=True)
    st.caption("Per-epoch metrics, and per-layer statistics at the last logged step; — where a "
               "statistic does not apply (e.g. activations of the output layer).")


_COLUMN_TITLES = {"train_loss": "train loss", "train_acc": "train acc", "val_loss": "val loss",
                  "val_acc": "val acc", "test_loss": "test loss", "test_acc": "test acc", "lr": "learning rate",
                  "noise_std": "gradient noise std", "seconds": "seconds", "fan_in": "fan in", "fan_out": "fan out"}


def readable(df: pd.DataFrame):
    """A table with titled columns (instrument titles, plain words) and '—' for missing values."""
    titles = {c: INSTRUMENTS[c].title if c in INSTRUMENTS else _COLUMN_TITLES.get(c, c.replace("_", " "))
              for c in df.columns}
    out = df.rename(columns=titles)
    numeric = [titles[c] for c in df.columns if pd.api.types.is_float_dtype(df[c])]
    return out.style.format("{:.4g}", subset=numeric, na_rep="—").format(na_rep="—")
