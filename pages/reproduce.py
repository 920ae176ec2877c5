"""Reproduce: rerun an experiment of the source documents and compare with the published numbers."""

import streamlit as st

from core.views import bands, charts
from core.base.config import ConfigError
from core.lab.findings import VERDICTS, check_all, correction_text
from core.lab.presets import MAX_SEEDS, PRESETS, SCALES, resolve, seeds_of, substitutions
from core.lab.reproduce import plan
from core.lab.tables import (Samples, display_table, flow_summary, grouped, labelled, ours_vs_published_frame,
                             ours_vs_published_table, uncertainty_rows)
from core.lab.uncertainty import DIFF_METHOD, MEAN_METHOD
from core.lab.verdicts import VERDICT_RULE
from core.views.frames import grad_flow_frame, grad_value_histogram_frame, layer_stat_frame
from core.views.links import config_to_query
from core.views.markup import inert
from pages.config_ui import share_url
from pages.run_views import chart, show_histograms
from pages.spp_views import show_vgg_explained
from pages.services import get_store, require_app, stored_run, time_rates
from pages.train_panel import missing_runs_panel

require_app()

st.title("Reproduce")
st.caption("The experiments of the source documents, one click each: train what the store lacks, "
           "then compare our numbers with the published ones.")

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
    problems.append(f"scale: {wanted_scale[:40]!r} is not a scale; using quick (scales: {', '.join(SCALES)})")
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
                      format_func=lambda n: f"{PRESETS[n].title} ({PRESETS[n].short})")
scale = right.radio("scale", SCALES, horizontal=True, key="reproduce-scale",
                    help="quick: the design scaled down to minutes on a laptop CPU; standard: the "
                         "smallest design that decides the document's claims (about 15 minutes of a "
                         "2-core CPU); full: the document's settings. What each changes is said below.")
for w in st.session_state.get("reproduce_warnings") or []:
    st.warning(inert(w), icon=":material/warning:")  # echoes the link's preset and scale
if (name, scale) != signature:
    st.session_state["reproduce_warnings"] = []
    st.session_state["reproduce_url_sig"] = (name, scale)
if params != {"preset": name, "scale": scale}:
    st.query_params.from_dict({"preset": name, "scale": scale})

preset = PRESETS[name]
default_seeds = preset.default_seeds(scale)
seeds = int(st.number_input("seeds per configuration", 1, MAX_SEEDS, default_seeds, key=f"reproduce-seeds-{name}-{scale}",
                            help="The seeds of one configuration train together as one stacked model where "
                                 "the configuration stacks; each is stored as its own run. Intervals need "
                                 "at least 2."))
try:
    cells = resolve(preset, scale, seeds=seeds)
except ConfigError as exc:  # e.g. full scale beyond a public demo's limits
    st.error(f"This experiment cannot run at {scale} scale here — {exc}")
    st.stop()

st.markdown(f"**{preset.title}** · from {preset.source}")
st.markdown(preset.description)
with st.expander("Share this reproduction"):
    st.code(share_url({"preset": name, "scale": scale}, "reproduce"), language=None)
st.caption(f"**Scale ({scale}):** " + preset.note(scale))
if name == "vgg-bn-rc":  # why VGG38 collapses, predicted beside measured (pages.spp_views)
    show_vgg_explained(cells[0].config)
if seeds < default_seeds or scale in preset.seeds_note:
    why = preset.seeds_note.get(scale, "")
    st.caption(f"**Seeds:** {seeds} per configuration" + (f" (the default here is {default_seeds})" if seeds != default_seeds else "")
               + (f"; {why}." if why else "."))
for sub in substitutions(cells):
    source, target = sub.split(" -> ")
    st.warning(f"dataset: {source} is not on this machine, so these runs use {target} with the same "
               f"architectures (run `python -m core reproduce {name} --scale {scale}` once to "
               "download it where the network allows).", icon=":material/swap_horiz:")
for capped in dict.fromkeys(c.note for c in cells if c.note):
    st.warning(f"epochs: {capped}.", icon=":material/speed:")

# ---------------------------------------------------------------- what is stored, what is left
store = get_store()
pl = plan(cells, store, time_rates([c.config for c in cells]))
if not pl.missing:
    st.success(f"All {pl.total} runs are stored.", icon=":material/inventory_2:")
else:  # runs that differ only in seed, init or optimizer settings train as one stacked model
    missing_runs_panel([(c.label, c.config) for c in pl.missing], stored=len(pl.stored), key="reproduce",
                       button="Run the {n} missing runs")

# ---------------------------------------------------------------- results
results = {}
for c in cells:
    r = stored_run(c.config.run_id)
    if r is not None:
        results[c.config.run_id] = r
if not results:
    st.info("No run of this experiment is stored yet: its table and charts appear here when the runs have finished.")
    st.stop()

samples = Samples(preset, cells, results, store)
st.subheader("Findings")
found = check_all(preset.claims, samples)
ICONS = {"reproduced": ":material/check_circle:", "contradicted": ":material/cancel:",
         "inconclusive": ":material/help:"}
if found:
    correction = correction_text(found)
    st.caption(", ".join(f"{sum(f.verdict == v for f in found)} {v}" for v in VERDICTS)
               + (f" ({correction})" if correction else "") + " — each claim of the document checked "
               f"on these runs. {VERDICT_RULE}")
    for f in found:
        with st.container(border=True):
            st.markdown(f"{ICONS[f.verdict]} **{f.verdict}** — {inert(f.claim)}")
            st.caption(f"{inert(f.evidence)}. Checked: {inert(f.check)}.")

st.subheader("Ours vs published")
rows = uncertainty_rows(preset, cells, results, samples)
table = display_table(preset, rows)
# the row names pinned at the left: at 800 px the metric columns scroll beside them
st.dataframe(table, hide_index=True, height=35 * (len(table) + 1) + 3, column_config={
    c: st.column_config.TextColumn(pinned=True) for c in preset.row_names if c in table.columns})
st.caption(f"Laid out like the document's table; accuracy in %. Ours: mean ± sd over "
           f"{seeds_of(cells)} seeds [{MEAN_METHOD}]; Δ vs baseline: the seed-paired difference "
           f"against the row's baseline [{DIFF_METHOD}]. Published: {preset.published_note}")
numbers = ours_vs_published_table(preset, cells, results, rows)
st.download_button("Download the table (CSV: seed means)", numbers.to_csv(index=False),
                   f"{name}-{scale}.csv", "text/csv")
with st.expander("What the document found", expanded=False):
    st.markdown(preset.reading)
    if preset.differences:
        st.markdown("**Differences from the document's setup.** " + " ".join(preset.differences))
points = ours_vs_published_frame(preset, cells, results)
if not points.empty:
    chart(charts.ours_vs_published(points))
    st.caption("Each point is one configuration: the mean of our seeds against the published "
               "number; on the dashed diagonal they would be equal.")

st.subheader("Gradient flow")
flow = flow_summary(cells, results)
st.dataframe(flow, hide_index=True, column_config={
    **{c: st.column_config.NumberColumn(format="%.1e") for c in flow.columns if "|g|" in c or c.startswith("ratio")},
    **{c: st.column_config.TextColumn(pinned=True) for c in ("configuration",) if c in flow.columns}})
st.caption("Geometric means over each configuration's seeds of the mean |gradient| of the weights of "
           "layer 1 and of the top layer (the last hidden layer, or "
           "the output layer when there is only one hidden layer), and their ratio, at initialization "
           "and at the last logged step: below 1e-2 the gradient vanishes on its way back, above 1e2 "
           "it explodes.")

trained_cells = [c for c in cells if c.config.run_id in results]
groups = [g for g in preset.columns if any(c.column == g for c in trained_cells)]
if len(groups) > 1:
    group = st.radio("columns of the table to chart", groups, horizontal=True, key="reproduce-group")
    trained_cells = [c for c in trained_cells if c.column == group]
labels = list(dict.fromkeys(c.label for c in trained_cells))
default = labels[:6]
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
frame = bands.band_frame(grad_flow_frame(runs, when))
if not frame.empty:
    chart(bands.flow_band_chart(frame))
    st.caption(f"Mean |gradient| of each weight layer (log scale): the line is the geometric mean over "
               f"each configuration's seeds, the band the {bands.BAND}. A line falling toward the "
               "input is a vanishing gradient.")

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
        st.caption("Standard deviation of each hidden layer's output (log scale), one line per seed"
                   + (". The article's claim is that a self-normalizing network keeps it near 1 through "
                      "the depth." if "activation_std" in preset.charts else "."))

st.subheader("Training curves")
epochs = {label: [r.epochs for r in seed_runs] for label, seed_runs in grouped(shown, results)}
cols = st.columns(2)
with cols[0]:
    chart(bands.curve_band_chart(epochs, "test_acc", "test accuracy"))
with cols[1]:
    chart(bands.curve_band_chart(epochs, "train_loss", "train loss"))
st.caption(f"Test accuracy and training loss after each epoch: the line is the mean over each "
           f"configuration's seeds, the band the {bands.BAND}.")

st.subheader("Gradient histograms")
pick = st.selectbox("configuration (its first seed)", list(dict.fromkeys(c.label for c in shown)),
                    key="reproduce-hist-cell")
cell = next(c for c in shown if c.label == pick)
result = results[cell.config.run_id]
if "grad_histogram" in preset.charts:
    hist = grad_value_histogram_frame(result)
    if not hist.empty:
        chart(charts.grad_value_histogram(hist))
        st.caption("Weight gradients of every layer at the last logged step, by magnitude (log10 |g| "
                   "bins, log share of the layer's nonzero gradients; exact zeros, such as the weights "
                   "of always-blank border pixels, are left out).")
show_histograms(result, key=f"reproduce-{cell.config.run_id}")
st.page_link("pages/explore.py", label="Open this configuration in Explore", icon=":material/biotech:",
             query_params=config_to_query(cell.config))
