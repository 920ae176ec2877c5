"""Reproduce: rerun an experiment of the source documents and compare with the published numbers."""

import pandas as pd
import streamlit as st

from core.views import charts
from core.config import ConfigError
from core.lab.presets import PRESETS, SCALES, resolve, substitutions
from core.lab.reproduce import plan
from core.lab.tables import flow_summary, labelled, ours_vs_published_frame, ours_vs_published_table
from core.views.frames import grad_flow_frame, grad_value_histogram_frame, layer_stat_frame
from core.views.links import config_to_query
from core.views.markup import inert
from core.runs.jobs import SubmitError
from pages.config_ui import share_url
from pages.run_views import chart, show_histograms
from pages.services import get_jobs, get_store, require_app, session_id, stored_run, time_rates

require_app()

st.title("Reproduce")
st.caption("The experiments of the source documents, one click each: train what the store lacks, "
           "then compare our numbers with the published ones.")

def _number_format(column: str) -> str:
    if "loss" in column:
        return "%.3f"
    if "# params" in column or "epochs to" in column:
        return "%+.0f" if "vs regular" in column else "%.0f"
    if "grad ratio" in column:
        return "%.1e"
    return "%.2f"


# ---------------------------------------------------------------- choice (URL -> widgets -> URL)
names = list(PRESETS)
params = st.query_params.to_dict()
problems = []
wanted_name = params.get("preset", names[0])
if wanted_name not in PRESETS:
    problems.append(f"preset: {wanted_name[:40]!r} is not a preset; showing {names[0]} "
                    f"(presets: {', '.join(names)})")
    wanted_name = names[0]
wanted_scale = params.get("scale", "quick")
if wanted_scale not in SCALES:
    problems.append(f"scale: {wanted_scale[:40]!r} is not a scale; using quick (scales: quick, full)")
    wanted_scale = "quick"
# A link that differs from what this page last wrote (a share link) sets the widgets.
signature = (wanted_name, wanted_scale)
if st.session_state.get("reproduce_url_sig") != signature:
    st.session_state["reproduce-preset"] = wanted_name
    st.session_state["reproduce-scale"] = wanted_scale
    st.session_state["reproduce_url_sig"] = signature
    st.session_state["reproduce_warnings"] = problems

left, right = st.columns([3, 1])
name = left.selectbox("experiment", names, key="reproduce-preset",
                      format_func=lambda n: f"{PRESETS[n].title} ({PRESETS[n].source.split(' ')[0]})")
scale = right.radio("scale", SCALES, horizontal=True, key="reproduce-scale",
                    help="quick: the same design scaled down to minutes on a laptop CPU (what is "
                         "scaled down is said below); full: the document's settings.")
for w in st.session_state.get("reproduce_warnings") or []:
    st.warning(inert(w), icon=":material/warning:")  # echoes the link's preset and scale
if (name, scale) != signature:
    st.session_state["reproduce_warnings"] = []
    st.session_state["reproduce_url_sig"] = (name, scale)
if params != {"preset": name, "scale": scale}:
    st.query_params.from_dict({"preset": name, "scale": scale})

preset = PRESETS[name]
try:
    cells = resolve(preset, scale)
except ConfigError as exc:  # e.g. full scale beyond a public demo's limits
    st.error(f"This experiment cannot run at {scale} scale here — {exc}")
    st.stop()

st.markdown(f"**{preset.title}** · from {preset.source}")
st.markdown(preset.description)
with st.expander("Share this reproduction"):
    st.code(share_url({"preset": name, "scale": scale}, "reproduce"), language=None)
note = preset.quick_note if scale == "quick" else preset.full_note
st.caption(("**Scaled down:** " if scale == "quick" else "**Settings:** ") + note)
for sub in substitutions(cells):
    source, target = sub.split(" -> ")
    st.warning(f"dataset: {source} is not on this machine, so these runs use {target} with the same "
               f"architectures (run `python -m core reproduce {name} --scale {scale}` once to "
               "download it where the network allows).", icon=":material/swap_horiz:")
for capped in dict.fromkeys(c.note for c in cells if c.note):
    st.warning(f"epochs: {capped}.", icon=":material/speed:")

# ---------------------------------------------------------------- what is stored, what is left
store, jobs = get_store(), get_jobs()
pl = plan(cells, store, time_rates([c.config for c in cells]))
active = [j for j in (jobs.get(c.config.run_id) for c in pl.missing) if j is not None and not j.finished]
minutes = pl.seconds_left / 60
if not pl.missing:
    st.success(f"All {pl.total} runs are stored.", icon=":material/inventory_2:")
elif not active:
    st.info(f"{len(pl.stored)} of {len(pl.stored) + len(pl.missing)} runs are stored; the other "
            f"{len(pl.missing)} take about {max(minutes, 0.1):.1f} min here (estimated from this "
            "machine's speed and its stored runs).", icon=":material/schedule:")
    if st.button(f"Run the {len(pl.missing)} missing runs", type="primary", key="reproduce-run"):
        # One turn of the queue: runs that differ only in seed, init or optimizer settings
        # train together as one stacked model (core.engine.stacked), the rest one after the other.
        try:
            jobs.submit_many([c.config for c in pl.missing], watcher=session_id())
        except (SubmitError, RuntimeError) as exc:  # too many runs, a device not here
            st.error(f"Not started: {inert(exc)}")
        else:
            st.rerun()
    failed = [j for j in (jobs.get(c.config.run_id) for c in pl.missing) if j is not None and j.state == "failed"]
    if failed:
        st.error(f"{len(failed)} runs failed last time, e.g.: {inert(failed[0].error)}")
else:
    @st.fragment(run_every=1.0)
    def reproduction_progress():
        rows, done = [], 0.0
        for c in pl.missing:
            job = jobs.get(c.config.run_id)
            if job is not None:
                jobs.heartbeat(c.config.run_id, session_id())
            state = job.phase if job is not None else "not started"
            frac = 1.0 if state == "done" else job.fraction_done() if job is not None else 0.0
            done += frac
            rows.append({"configuration": c.label, "state": state,
                         "progress": f"{frac:.0%}" if state == "training" else ""})
        st.progress(done / len(pl.missing), text=f"{done:.1f} of {len(pl.missing)} runs trained")
        st.dataframe(pd.DataFrame(rows), hide_index=True, height=min(36 * (len(rows) + 1), 300))
        if all(jobs.get(c.config.run_id) is None or jobs.get(c.config.run_id).finished for c in pl.missing):
            st.rerun()
        if st.button("Cancel the remaining runs", key="reproduce-cancel"):
            for c in pl.missing:
                jobs.cancel(c.config.run_id, watcher=session_id())
            st.rerun()

    reproduction_progress()

# ---------------------------------------------------------------- results
results = {}
for c in cells:
    r = stored_run(c.config.run_id)
    if r is not None:
        results[c.config.run_id] = r
if not results:
    st.info("No run of this experiment is stored yet: its table and charts appear here when the runs have finished.")
    st.stop()

st.subheader("Ours vs published")
table = ours_vs_published_table(preset, cells, results)
number_format = {c: st.column_config.NumberColumn(format=_number_format(c)) for c in table.columns
                 if "·" in c and pd.api.types.is_numeric_dtype(table[c])}
st.dataframe(table, hide_index=True, column_config=number_format, height=35 * (len(table) + 1) + 3)
st.caption(f"Laid out like the document's table; accuracy in %. Published: {preset.published_note}")
st.download_button("Download the table (CSV)", table.to_csv(index=False), f"{name}-{scale}.csv", "text/csv")
with st.expander("How to read it", expanded=True):
    st.markdown(preset.reading)
points = ours_vs_published_frame(preset, cells, results)
if not points.empty:
    chart(charts.ours_vs_published(points))
    st.caption("Each point is one configuration: ours against the published number. On the dashed "
               "diagonal they agree; the scale-down above explains most of the distance.")

st.subheader("Gradient flow")
flow = flow_summary(cells, results)
st.dataframe(flow, hide_index=True, column_config={
    c: st.column_config.NumberColumn(format="%.1e") for c in flow.columns if "|g|" in c or c.startswith("ratio")})
st.caption("Mean |gradient| of the weights of layer 1 and of the top layer (the last hidden layer, or "
           "the output layer when there is only one hidden layer), and their ratio, at initialization "
           "and at the last logged step: below 1e-2 the gradient vanishes on its way back, above 1e2 "
           "it explodes.")

trained_cells = [c for c in cells if c.config.run_id in results]
groups = [g for g in preset.columns if any(c.column == g for c in trained_cells)]
if len(groups) > 1:
    group = st.radio("columns of the table to chart", groups, horizontal=True, key="reproduce-group")
    trained_cells = [c for c in trained_cells if c.column == group]
labels = [c.label for c in trained_cells]
default = [c.label for c in trained_cells[:6]]
chosen = st.multiselect("configurations to chart", labels, default=default, key=f"reproduce-chosen-{name}",
                        help="Up to six are shown at first; add or remove any.")
shown = [c for c in trained_cells if c.label in chosen]
if not shown:
    st.info("Choose configurations to chart.")
    st.stop()

which = st.radio("gradient flow", ["at the end of training", "at initialization"], horizontal=True,
                 key="reproduce-flow-when")
when = "init" if which == "at initialization" else "final"
runs = labelled(shown, results)
frame = grad_flow_frame(runs, when)
if not frame.empty:
    chart(charts.grad_flow(frame, series="series", series_title="configuration"))
    st.caption("Mean |gradient| of each weight layer (log scale), one line per configuration: a line "
               "falling toward the input is a vanishing gradient.")

if "saturation" in preset.charts:
    sat = layer_stat_frame(runs, "act_saturation", when)
    if not sat.empty:
        chart(charts.layer_profile(sat, "saturated units"))
        st.caption("Share of each hidden layer's units in the flat tails of the logistic function "
                   "(derivative below 10% of its maximum), on one training batch.")
if "activation_std" in preset.charts or "saturation" in preset.charts:
    std = layer_stat_frame(runs, "act_std", when)
    if not std.empty:
        chart(charts.layer_profile(std, "activation std", percent=False, log=True))
        st.caption("Standard deviation of each hidden layer's output (log scale)."
                   + (" A self-normalizing network keeps it near 1 through the depth."
                      if "activation_std" in preset.charts else ""))

st.subheader("Training curves")
epochs = {c.label: results[c.config.run_id].epochs for c in shown}
cols = st.columns(2)
with cols[0]:
    chart(charts.compare_curves(epochs, "test_acc", "test accuracy"))
with cols[1]:
    chart(charts.compare_curves(epochs, "train_loss", "train loss"))
st.caption("Test accuracy and training loss after each epoch, one line per configuration.")

st.subheader("Gradient histograms")
pick = st.selectbox("configuration", [c.label for c in shown], key="reproduce-hist-cell")
cell = next(c for c in shown if c.label == pick)
result = results[cell.config.run_id]
if "grad_histogram" in preset.charts:
    hist = grad_value_histogram_frame(result)
    if not hist.empty:
        chart(charts.grad_value_histogram(hist))
        st.caption("Weight gradients of every layer at the last logged step, by magnitude (log10 |g| "
                   "bins, log share of the layer's nonzero gradients; exact zeros, such as the weights "
                   "of always-blank border pixels, are left out). Where a vanishing gradient is, the "
                   "first layers' distributions sit decades to the left of the last ones'.")
show_histograms(result, key=f"reproduce-{cell.config.run_id}")
st.page_link("pages/explore.py", label="Open this configuration in Explore", icon=":material/biotech:",
             query_params=config_to_query(cell.config))
