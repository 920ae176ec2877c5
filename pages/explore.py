"""Explore: set up one network, see its gradient flow at once, train it, read the diagnosis."""

import streamlit as st

from core.base.cost import estimate
from core.runs.jobs import SubmitError
from core.views.links import config_to_query
from core.views.markup import inert
from pages.cure_views import show_cure_comparison
from pages.config_ui import config_sidebar, share_url, show_url_warnings, write_url
from pages.playground_ui import data_upload
from pages.present import one_idea, presenting, shows
from pages.run_views import show_init_flow, show_job, show_run
from pages.theory_views import show_prediction
from pages.spp_views import show_spp_section
from pages.services import get_jobs, require_app, session_id, stored_run, time_estimate
from pages.train_panel import start_button

require_app()

st.title("Explore")
cfg = config_sidebar("explore")
show_url_warnings("explore")
data_upload("explore")
if cfg is None:
    st.stop()
write_url("explore", cfg)

est = estimate(cfg)
details = f"{est.params:,} parameters · {cfg.epochs} epochs of {est.train_samples:,} examples · run `{cfg.run_id}`"
st.markdown(f"**{cfg.describe()}**" + ("" if presenting() else f" · {details}"))  # presenting: in the expander
with st.expander("Share this experiment" + (" · details" if presenting() else "")):
    if presenting():
        st.markdown(details)
    st.code(share_url(config_to_query(cfg), "explore"), language=None)
    st.caption("Copy the link (button at the right of the box): it reopens this configuration, "
               "and its results if the run is stored.")

result = stored_run(cfg.run_id)
job = get_jobs().get(cfg.run_id)
NETWORK, CURE, PREDICT, SPP = "This network", "Problem and cure", "Predict before training", "Signal propagation"
idea = one_idea("explore", [NETWORK, CURE, PREDICT, SPP])  # presenter mode: one per screen; else None (all)
if not shows(idea, NETWORK):
    pass
elif result is not None:
    st.success(f"Stored run: opened from the store ({result.meta.get('seconds', 0):.1f} s of training "
               f"on {result.meta.get('device')}).", icon=":material/inventory_2:")
    show_run(result, key="explore")
elif job is not None and not job.finished:
    st.subheader("Training")
    show_job(job, key="explore-job")
    st.subheader("At initialization")
    show_init_flow(cfg)
else:
    estimate = time_estimate([cfg])
    left, right = st.columns([1, 2])
    if start_button("Train this network", "explore-train", estimate, cfg.run_id, container=left, width="stretch"):
        try:
            get_jobs().submit(cfg, watcher=session_id())
        except (SubmitError, RuntimeError) as exc:  # e.g. device=cuda on a machine without one
            st.error(f"Not started: {inert(exc)}")
        else:
            st.rerun()
    right.caption(f"Not trained yet. {estimate.text('Training it')}. "
                  "Training runs in the background: you can change settings or pages meanwhile.")
    if job is not None and job.state == "failed":
        st.error(f"The last attempt failed: {inert(job.error)}")
    st.subheader("Gradient flow at initialization")
    show_init_flow(cfg)
if shows(idea, CURE):
    show_cure_comparison(cfg, result)
if shows(idea, PREDICT):
    show_prediction(cfg, result)
if shows(idea, SPP):
    show_spp_section(cfg)
