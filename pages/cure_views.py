"""Explore's "Compare with the cure": a problem and its cure, side by side on shared axes.

    show_cure_comparison(cfg, result)   # under the run or its preview; nothing when cfg has no cure

The pairs come from core.lab.cures (a Home card's declared cure, the card a cure card fixes, the
diagnosis's one-click remedies). Both networks' gradient flow is one chart (core.views.charts.
grad_flow, a series each), each curve one chart (core.views.bands.curve_band_chart), and the
per-layer histograms sit side by side on one value axis shared by both runs and every layer shown
(core.views.histograms). A run not stored yet gets a button that queues it on the page's job queue.
"""
from __future__ import annotations

import json

import streamlit as st

from core.base.config import RunConfig
from core.engine.data import DatasetUnavailable
from core.lab.cures import CURE, PROBLEM, CurePair, cure_pairs, flow_pair, flow_sentence, series_names
from core.lab.diagnosis import diagnose, diagnose_init
from core.runs.jobs import SubmitError
from core.views import bands, charts, frames, histograms as hv
from core.views.links import config_to_query
from core.views.markup import inert

from .draw import chart, live_fragment
from .hist_views import histogram_kinds
from .present import presenting
from .services import get_jobs, probe, session_id, stored_run, time_estimate
from .train_panel import start_button

WHEN = {"final": "at the end of training", "init": "at initialization"}
CURVES = (("train_loss", "training loss"), ("test_acc", "test accuracy"))


@st.cache_data(max_entries=32, show_spinner=False)
def _remedy_findings(run_id: str, stored: bool, config_json: str):
    """The diagnosis's findings (of the stored run, else at initialization), for their remedies."""
    cfg = RunConfig.from_dict(json.loads(config_json))
    result = stored_run(run_id) if stored else None
    try:
        return diagnose(result) if result is not None else diagnose_init(cfg, probe(cfg))
    except DatasetUnavailable:
        return []


def show_cure_comparison(cfg: RunConfig, result) -> None:
    """A toggle 'Compare with the cure' where cfg has one, and the comparison when it is on."""
    pairs = cure_pairs(cfg, _remedy_findings(cfg.run_id, result is not None,
                                             json.dumps(cfg.to_dict(), sort_keys=True)))
    if not pairs:
        if presenting():  # the screen was chosen for this: say why it is empty
            st.info("No cure to compare: this network is no Home card with a cure, and its diagnosis offers "
                    "no remedy.", icon=":material/info:")
        return
    st.subheader("Problem and cure")
    if not st.toggle("Compare with the cure", key="cure-on", value=presenting(),
                     help="The problem and its cure on shared axes: gradient flow, curves, histograms"):
        return
    pair = pairs[0]
    if len(pairs) > 1:
        pair = st.selectbox("cure", pairs, format_func=lambda p: p.title, key="cure-pair")
    runs = stored_run(pair.problem.run_id), stored_run(pair.cure.run_id)
    _train_missing(pair, runs)
    _flow(pair, runs)
    if all(r is not None for r in runs):
        _curves(pair, runs)
        _histograms(pair, runs)
    other = pair.cure if pair.cure.run_id != cfg.run_id else pair.problem
    st.button(f"Open the {'cure' if other is pair.cure else 'problem'} here", key="cure-open",
              on_click=lambda: st.query_params.from_dict(config_to_query(other)),
              help="Explore that network (the link updates too)")


def _train_missing(pair: CurePair, runs) -> None:
    missing = [(which, c) for which, c, r in zip(("problem", "cure"), (pair.problem, pair.cure), runs) if r is None]
    if not missing:
        return
    jobs = {c.run_id: get_jobs().get(c.run_id) for _, c in missing}
    active = [j for j in jobs.values() if j is not None and not j.finished]
    if active:
        _wait_for(tuple(j.run_id for j in active))
        return
    for j in jobs.values():
        if j is not None and j.state == "failed":
            st.error(f"The last attempt to train {j.config.describe()} failed: {inert(j.error)}")
    configs = [c for _, c in missing]
    what = " and the ".join(which for which, _ in missing)
    estimate = time_estimate(configs)
    left, right = st.columns([1, 2])
    if start_button(f"Train the {what}", "cure-train", estimate, tuple(c.run_id for c in configs),
                    container=left, width="stretch"):
        try:
            get_jobs().submit_many(configs, watcher=session_id())
        except (SubmitError, RuntimeError) as exc:
            st.error(f"Not started: {inert(exc)}")
        else:
            st.rerun()
    right.caption(f"The {what} {'is' if len(missing) == 1 else 'are'} not trained yet: until "
                  f"{'it is' if len(missing) == 1 else 'they are'}, both are compared at initialization. "
                  f"{estimate.text('Training')}.")


@live_fragment("cure-wait", 2.0)
def _wait_for(run_ids: tuple) -> None:
    """The queued runs' state, redrawn every 2 s; the page reruns when they are all stored."""
    jobs = [get_jobs().get(r) for r in run_ids]
    if all(j is None or j.finished for j in jobs):
        st.rerun(scope="app")
    states = ", ".join(f"{j.config.describe()}: {j.state}" for j in jobs if j is not None)
    st.caption(f"Training ({states}); the comparison after training appears when it is stored.")


def _init_flow(cfg: RunConfig):
    flow = probe(cfg)
    return flow[["layer", "name", "grad_mean_abs"]].rename(columns={"grad_mean_abs": "value"})


def _flow(pair: CurePair, runs) -> None:
    whens = list(WHEN) if all(r is not None for r in runs) else ["init"]
    when = whens[0]
    if len(whens) > 1:
        when = st.radio("gradient flow", whens, format_func=WHEN.get, horizontal=True, key="cure-when")
    try:
        parts = ([frames.grad_flow_frame([("", r)], "final") for r in runs] if when == "final"
                 else [_init_flow(pair.problem), _init_flow(pair.cure)])
    except DatasetUnavailable as exc:
        st.info(f"No gradient flow to compare: {exc}", icon=":material/cloud_download:")
        return
    frame = flow_pair(pair, *parts)
    chart(charts.grad_flow(frame, series_title="network"))
    st.caption(flow_sentence(frame, WHEN[when]) + (
        " Measured by one forward and backward pass of each network before any update." if when == "init"
        else " Mean |gradient| per weight layer at each run's last logged step."))


def _curves(pair: CurePair, runs) -> None:
    names = series_names(pair)
    for column, title in CURVES:  # one under the other: side by side, an 800 px page cuts the legends
        chart(bands.curve_band_chart({n: [r.epochs] for n, r in zip(names, runs)}, column, title))
    st.caption("After each epoch, on one axis for both networks: the training loss (running average over the "
               "epoch) and the test accuracy.")


def _histograms(pair: CurePair, runs) -> None:
    kinds = [k for k in histogram_kinds(runs[0].histograms) if k in histogram_kinds(runs[1].histograms)]
    if not kinds or any(r.histograms["grad"].shape[0] == 0 for r in runs):
        return
    c = st.columns(2)
    kind = c[0].selectbox("histograms of", kinds, key="cure-hist-kind")
    array, edges_key, bins, quantity = histogram_kinds(runs[0].histograms)[kind]
    names = [list(r.layers.sort_values("layer")["name"]) for r in runs]
    if bins != hv.GRAD:  # activations: hidden layers only
        names = [n[:-1] for n in names]
    count = min(len(n) for n in names)
    default = list(dict.fromkeys([0, count // 2, count - 1]))
    chosen = c[1].multiselect("layers", range(count), default=default, key="cure-hist-layers",
                              format_func=lambda i: names[0][i])
    steps = [[int(s) for s in r.histograms["steps"]] for r in runs]
    picked = [sorted({s[0], s[-1]}) for s in steps]  # initialization and the last logged step
    splits = {(i, j): hv.split(r.histograms[array][:, i], r.histograms[edges_key], bins, quantity)
              for i in chosen for j, r in enumerate(runs)}
    if not splits:
        return
    domain = hv.shared(hv.value_range(h, steps[j], picked[j]) for (_, j), h in splits.items())
    st.caption(f"Left: the problem ({pair.problem_label}); right: the cure ({pair.cure_label}).")
    for i in chosen:
        st.markdown(f"**{' / '.join(dict.fromkeys(n[i] for n in names))}**: {kind}")
        for j, col in enumerate(st.columns(2)):
            with col:
                chart(hv.ridge(splits[i, j], steps[j], picked[j], "offset", title=(PROBLEM, CURE)[j], domain=domain))
    st.caption("Each layer's histogram at initialization (top) and at the last logged step (bottom), the problem "
               "on the left and the cure on the right, on one value axis shared by both runs and every layer shown.")
