"""Drawing a run: the diagnosis, the charts of a stored run, and a training job's live progress.

Pages call `show_*` functions with data from core; the charts themselves are core.views.charts.
Which per-layer statistics a tab draws, and their titles, scales and captions, come from their
declarations in core.instruments (the `view` of each instrument of the tab's block).
"""
from __future__ import annotations


import numpy as np
import pandas as pd
import streamlit as st

from core.views import charts
from core.config import RunConfig
from core.engine.data import DatasetUnavailable
from core.engine.probe import PROBE_BATCH
from core.instruments import ACTIVATION, BARS, FLOW, GRADIENT, INSTRUMENTS, STEPS, WEIGHT, Instrument, block
from core.lab.diagnosis import Finding, diagnose, diagnose_init
from core.runs.jobs import CANCELLED, DONE, FAILED, QUEUED
from core.views.links import config_to_query

from .services import get_jobs, probe, session_id

SEVERITY = {"problem": st.error, "warning": st.warning, "ok": st.success}
# Where each view draws a statistic, for its caption.
_WHERE = {FLOW: "Per weight layer at the chosen steps: how the gradient flow evolves during training",
          STEPS: "Over all logged steps, one line per layer, dark = input side",
          BARS: "Per layer at the chosen step"}


def chart(c) -> None:
    st.altair_chart(c, theme="streamlit", width="stretch")


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
    """Each finding in plain words, with its remedies as one-click configuration changes."""
    for i, f in enumerate(findings):
        SEVERITY[f.severity](f.text, icon={"problem": ":material/error:", "warning": ":material/warning:",
                                     "ok": ":material/check_circle:"}[f.severity])
        if f.remedies:
            cols = st.columns(min(len(f.remedies), 4))
            for j, remedy in enumerate(f.remedies[:4]):
                cols[j].button(remedy.label, key=f"{key}-remedy-{i}-{j}", width="stretch",
                               on_click=_apply_remedy, args=(config_to_query(remedy.config),),
                               help="Change the configuration (the link updates too)")


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
               f"{PROBE_BATCH} training examples, before any update (log scale). "
               "A line falling toward the input means vanishing gradients.")
    show_findings(diagnose_init(cfg, flow), key)


def _layer_names(result) -> pd.DataFrame:
    return result.layers[["layer", "name"]]


def _steps(result) -> list[int]:
    return sorted(int(s) for s in result.layer_stats["step"].unique())


def _pick_steps(steps: list[int], n: int = 4) -> list[int]:
    if len(steps) <= n:
        return steps
    idx = np.unique(np.linspace(0, len(steps) - 1, n).round().astype(int))
    return [steps[i] for i in idx]


def show_training_curves(epochs: pd.DataFrame, key: str) -> None:
    if epochs.empty:
        st.info("No finished epoch yet.")
        return
    left, right = st.columns(2)
    with left:
        chart(charts.training_curves(epochs, "loss"))
    with right:
        chart(charts.training_curves(epochs, "acc"))
    st.caption("Loss and accuracy after each epoch: train (running average over the epoch), "
               "validation and test.")


def show_run(result, key: str = "run") -> None:
    """Everything about a stored run: diagnosis, curves, gradient flow, histograms, activations."""
    meta = result.meta
    status = result.status
    if status == "diverged":
        st.error(f"Diverged: {meta.get('diverged_reason')}. The charts show the run up to that point.",
                 icon=":material/bolt:")
    show_findings(diagnose(result), f"{key}-dx")
    show_training_curves(result.epochs, key)
    flow, hists, acts, updates, numbers = st.tabs(
        ["Gradient flow", "Gradient histograms", "Activations", "Updates", "Numbers"])
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
    chosen = st.multiselect("steps to compare", steps, default=_pick_steps(steps), key=f"{key}-{ins.stat}-steps",
                            help=f"Each line is the {ins.title} of every layer at one logged training step.")
    stats = result.layer_stats
    df = stats[(stats.stat == ins.stat) & (stats.step.isin(chosen))].merge(_layer_names(result), on="layer")
    chart(charts.grad_flow(df.assign(series="step " + df["step"].astype(str)), value_title=ins.title,
                           series_title="step"))
    st.caption(caption(ins, FLOW))
    show_over_steps(result, ins)


def show_histograms(result, key: str) -> None:
    hist = result.histograms
    names = list(result.layers.sort_values("layer")["name"])
    if hist["grad"].shape[0] == 0:
        st.info("No histograms were logged.")
        return
    default = list(dict.fromkeys([names[0], names[len(names) // 2], names[-2] if len(names) > 1 else names[-1]]))
    chosen = st.multiselect("layers", names, default=default, key=f"{key}-hist-layers")
    noisy = "noisy_grad" in hist
    for name in chosen:
        i = names.index(name)
        if noisy:
            left, right = st.columns(2)
            with left:
                chart(charts.histogram_heatmap(hist["grad"][:, i], hist["steps"], hist["grad_edges"],
                                               f"{name}: true gradient"))
            with right:
                chart(charts.histogram_heatmap(hist["noisy_grad"][:, i], hist["steps"], hist["grad_edges"],
                                               f"{name}: noisy gradient (applied)"))
        else:
            chart(charts.histogram_heatmap(hist["grad"][:, i], hist["steps"], hist["grad_edges"],
                                           f"{name}: weight gradient"))
    st.caption("Distribution of log10 |gradient| of the layer's weights over training steps; colour "
               "is the share of entries in each bin (log colour scale). Exact zeros are drawn below "
               "the smallest bin." + (" With gradient noise on, the right panel shows the gradient "
                                      "actually applied, noise included." if noisy else ""))


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
    act = result.histograms.get("act")
    if act is not None and act.shape[0]:
        hidden = list(names["name"])[:-1]
        which = st.selectbox("activation histogram of layer", hidden, index=len(hidden) - 1,
                             key=f"{key}-act-layer")
        i = hidden.index(which)
        chart(charts.histogram_heatmap(act[:, i], result.histograms["steps"], result.histograms["act_edges"],
                                       f"{which}: activations", log_bins=False))
        st.caption("Distribution of the layer's outputs over training steps (share of entries per bin).")


def show_numbers(result) -> None:
    meta = result.meta
    cols = st.columns(4)
    cols[0].metric("parameters", f"{meta.get('params', 0):,}")
    cols[1].metric("training time", f"{meta.get('seconds', 0):.1f} s")
    cols[2].metric("device", str(meta.get("device")))
    cols[3].metric("logged every", f"{meta.get('log_every')} steps")
    st.dataframe(result.epochs, hide_index=True)
    wide = result.layer_stats[result.layer_stats.step == result.layer_stats.step.max()]
    wide = wide.pivot_table(index="layer", columns="stat", values="value", aggfunc="first")
    order = {stat: i for i, stat in enumerate(INSTRUMENTS)}  # the stored order, not alphabetical
    wide = wide[sorted(wide.columns, key=lambda stat: order.get(stat, len(order)))]
    wide = wide.reset_index()
    st.dataframe(result.layers.merge(wide, on="layer"), hide_index=True)
    st.caption("Per-epoch metrics, and per-layer statistics at the last logged step.")


def show_job(job, key: str) -> None:
    """Progress of a queued or running job, refreshed every second; reruns the page when done."""

    @st.fragment(run_every=1.0)
    def panel():
        jobs = get_jobs()
        jobs.heartbeat(job.run_id, session_id())
        if job.finished:
            if job.state == DONE:
                st.rerun()  # the whole page redraws from the store
            elif job.state == FAILED:
                st.error(f"Training failed: {job.error}")
            elif job.state == CANCELLED:
                st.info("Training was cancelled." + (f" ({job.error})" if job.error else ""))
            return
        if job.state == QUEUED:
            pos = jobs.position(job)
            st.info(f"Waiting in the queue: position {pos} (one run trains at a time on {job.device}; "
                    "other sessions' runs go first).", icon=":material/hourglass_top:")
        else:
            p = job.progress
            frac = job.fraction_done()
            eta = job.eta_seconds()
            text = (f"Training on {job.device}: epoch {p.get('epoch', 0)}/{p.get('epochs', '?')}, "
                    f"step {p.get('step', 0)}/{p.get('total_steps', '?')}, "
                    f"{p.get('elapsed', 0):.0f} s elapsed" + (f", about {eta:.0f} s left" if eta is not None else ""))
            st.progress(frac, text=text)
            if "loss" in p:
                st.caption(f"last epoch: train loss {p['loss']:.4f}, test accuracy {p['test_acc']:.1%}")
        if st.button("Cancel training", key=f"{key}-cancel"):
            outcome = jobs.cancel(job.run_id, watcher=session_id())
            if outcome == "detached":
                st.info("Other sessions are waiting for this run, so it continues for them.")
        if job.epoch_rows:
            show_training_curves(pd.DataFrame(job.epoch_rows), f"{key}-live")
        if job.flow_rows:
            step, flow = job.flow_rows[-1]
            names = job.layers if len(job.layers) == len(flow) else [f"{i + 1}" for i in range(len(flow))]
            df = pd.DataFrame({"layer": range(1, len(flow) + 1), "name": names, "value": flow})
            chart(charts.grad_flow(df.assign(series=f"step {step}"), series_title="latest logged step"))
            st.caption("Mean |gradient| per layer at the latest logged step, updated while training runs.")

    panel()
