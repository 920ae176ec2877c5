"""A training job's live view: progress, per-epoch curves, and the gradient flow, the training
loss and a layer's gradient histogram of every logged step (core.views.live), redrawn in place
once a second by a fragment (the rest of the page is not rerun, so nothing flickers); the whole
page reruns once the job has finished, so it shows the stored run or, after a cancel or a
failure, the button to train again."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.base.instruments import FLOW, INSTRUMENT_LIST, INSTRUMENTS, STEPS
from core.engine.stats import GRAD_EDGES
from core.runs.jobs import CANCELLED, DONE, FAILED, QUEUED
from core.views import charts, curves, histograms as hv, live
from core.views.progress import RateTracker, progress_text

from .draw import chart, live_fragment
from .hist_views import show_training_curves
from .services import get_jobs, session_id

REFRESH_SECONDS = 1.0


def _tracker(job) -> RateTracker:
    trackers = st.session_state.setdefault("job-rate-trackers", {})
    return trackers.setdefault(job.run_id, RateTracker())


def flow_frames(job, stat: str = "grad_mean_abs") -> tuple[pd.DataFrame, pd.DataFrame]:
    """The job's `stat` per layer: (layer_stats-like rows of every logged step, its layers)."""
    return live.flow_frames(job.records, job.layers, stat)


def _show_loss_and_histogram(job, layers: pd.DataFrame, key: str) -> None:
    """The training loss and one layer's gradient histogram at every logged step so far."""
    frame = live.loss_frame(job.records, smoothing=0.6)
    steps, _ = live.hist_counts(job.records, 0)
    if frame.empty and not len(steps):
        return
    left, right = st.columns(2)
    with left:
        if not frame.empty:
            log = bool(frame["loss"].max() > 50 and (frame["loss"] > 0).all())
            chart(curves.step_loss(frame, "step", log), svg=False)
            st.caption("Training loss of the mini-batch at every logged step (faint) and its moving "
                       "average (smoothing 0.6)" + (", log scale." if log else "."))
    with right:
        names = list(layers["name"])
        if len(steps) and names:
            name = st.selectbox("gradient histogram of", names, index=0, key=f"{key}-live-hist-layer")
            steps, counts = live.hist_counts(job.records, names.index(name))
            chart(hv.histogram_heatmap(counts, steps, GRAD_EDGES, ""), svg=False)
            st.caption(f"{name}: share of its weight-gradient entries per 0.25-decade bin of log10 |g| at "
                       "every logged step so far (exact zeros and values below 1e-12 in the bottom rows).")


def show_job(job, key: str) -> None:
    """Progress of a queued or running job, refreshed every second; reruns the page when done."""
    @live_fragment(f"job-{key}", REFRESH_SECONDS)
    def panel():
        jobs = get_jobs()
        if job.finished:
            if job.state == CANCELLED:
                st.toast("Training was cancelled." + (f" ({job.error})" if job.error else ""))
            elif job.state not in (DONE, FAILED):
                st.toast(f"Training ended: {job.state}")
            st.rerun(scope="app")  # the page redraws: the stored run, or the button to train again
        jobs.heartbeat(job.run_id, session_id())
        if job.state == QUEUED:
            st.info(f"Waiting in the queue: position {jobs.position(job)} (one run trains at a time on "
                    f"{job.device}; runs submitted earlier go first).", icon=":material/hourglass_top:")
        else:
            p = dict(job.progress)
            tracker = _tracker(job)
            tracker.observe(p.get("step"), p.get("elapsed"))
            st.progress(job.fraction_done(), text=progress_text(p, job.device,
                                                                tracker.seconds_left(p.get("total_steps"))))
            if "loss" in p:
                st.caption(f"Last finished epoch: train loss {p['loss']:.4f}, test accuracy {p['test_acc']:.1%}.")
        if st.button("Cancel training", key=f"{key}-cancel"):
            if jobs.cancel(job.run_id, watcher=session_id()) == "detached":
                st.info("Other sessions are waiting for this run, so it goes on training for them.")
        stats, layers = flow_frames(job)
        if not stats.empty:
            last = int(stats["step"].max())
            left, right = st.columns(2)
            with left:
                latest = stats[stats.step == last].merge(layers, on="layer")
                chart(charts.grad_flow(latest.assign(series=f"step {last}"), series_title="step"), svg=False)
                st.caption(f"Mean |gradient| per layer at the latest logged step ({last}), log scale.")
            with right:  # any instrument a run's page draws over steps, live from the same records
                names = [ins.stat for ins in INSTRUMENT_LIST if ins.view in (FLOW, STEPS)]
                stat = st.selectbox("over the logged steps", names, key=f"{key}-live-stat",
                                    format_func=lambda s: INSTRUMENTS[s].title)
                over, _ = flow_frames(job, stat)
                chart(charts.stat_over_steps(over, layers, stat), svg=False)
                st.caption(f"{INSTRUMENTS[stat].caption} At every logged step so far, one line per layer.")
        _show_loss_and_histogram(job, layers, key)
        if job.epoch_rows:
            show_training_curves(pd.DataFrame(job.epoch_rows), f"{key}-live")

    panel()
