"""Compare: several stored runs, or a sweep over one setting; curves, gradient flows, a table."""

import streamlit as st

from core.views import charts
from core.lab.compare import (METHODS, SWEEPABLE, comparisons, differences, group_by_seed, runs_table, sentence,
                              shown_table, sweep_configs)
from core.lab.presets import MAX_SEEDS, check_seeds
from core.base.config import ConfigError
from core.views import bands
from core.views.frames import grad_flow_frame
from core.views.labels import distinct_labels
from core.views.markup import inert
from pages.compare_views import show_run_explorer
from pages.config_ui import config_sidebar, share_url, show_url_warnings, write_url
from pages.run_views import chart
from pages.services import list_runs, require_app, stored_run, test_correct
from pages.train_panel import missing_runs_panel

require_app()

PAGE_PARAMS = ("mode", "runs", "vary", "values", "seeds", "baseline")

st.title("Compare")
params = st.query_params.to_dict()


def _baseline_param() -> dict[str, str]:
    """The baseline row chosen below (or the link's, before the select is drawn), kept in the link."""
    chosen = st.session_state.get("compare-baseline", params.get("baseline"))
    return {"baseline": str(chosen)} if chosen else {}


mode = st.radio("compare", ["stored runs", "sweep"], horizontal=True, key="compare-mode",
                index=1 if params.get("mode") == "sweep" else 0)
runs_param = params.get("runs", "")

if mode == "stored runs":
    stored = list_runs()
    if stored.empty:
        st.info("No stored runs yet. Train one in Explore, or build a sweep here.")
        st.stop()
    labels = {r.run_id: (f"{r.name} · " if r.name else "") + f"{r.label} · seed {r.seed} · {r.run_id}"
              for r in stored.itertuples()}
    wanted = [r for r in runs_param.split(",") if r]
    unknown = [r for r in wanted if r not in labels]
    if unknown:
        st.warning(f"runs: not stored here, ignored: {inert(', '.join(u[:20] for u in unknown[:5]))}")
    chosen = st.multiselect("runs", list(labels), default=[r for r in wanted if r in labels],
                            format_func=lambda r: labels[r], key="compare-runs")
    # runs that differ only in seed form one row, labelled by what differs between the rows
    grouped = group_by_seed({r: run for r in chosen if (run := stored_run(r)) is not None})
    short = distinct_labels({rid: runs[0].config.replace(seed=0) for rid, runs in grouped.items()})
    named = {rid: names.pop() for rid, runs in grouped.items()  # the user's own name, when its seeds share one
             if len(names := {r.meta.get("name", "") for r in runs}) == 1 and "" not in names}
    shown_as = {rid: short.get(rid, rid) + (f" · {len(runs)} seeds" if len(runs) > 1 else "") for rid, runs in grouped.items()}
    shown_as |= {rid: name if list(named.values()).count(name) == 1 else f"{name} · {shown_as[rid]}"
                 for rid, name in named.items()}
    entries = [(shown_as[rid], [(run.run_id, None) for run in runs]) for rid, runs in grouped.items()]
    extra = {"runs": ",".join(chosen), **_baseline_param()} if chosen else {}
    if st.query_params.to_dict() != extra and extra:
        st.query_params.from_dict(extra)
else:
    base = config_sidebar("compare", PAGE_PARAMS)
    show_url_warnings("compare")
    if base is None:
        st.stop()
    c1, c2, c3 = st.columns([2, 4, 1])
    vary_default = params.get("vary", "activation")
    vary = c1.selectbox("vary", SWEEPABLE, index=SWEEPABLE.index(vary_default) if vary_default in SWEEPABLE else 0,
                        key="compare-vary", help="The setting that changes; everything else is the sidebar's.")
    values_text = c2.text_input("values, comma-separated", params.get("values", "logistic,tanh,relu"),
                                key="compare-values", help="For widths write each list with dashes, e.g. 64-64,128-128.")
    try:
        seeds_default = check_seeds(params.get("seeds", 3))
    except ConfigError as exc:
        st.warning(f"Link: {inert(exc)}; using 3 seeds.")
        seeds_default = 3
    seeds = int(c3.number_input("seeds", 1, MAX_SEEDS, seeds_default, key="compare-seeds",
                                help="Seeds per value (the sidebar's seed, then the next ones). Seed k of "
                                     "every value starts from the same random seed (the draws of its "
                                     "initialization, data order and noise), so differences pair by seed; "
                                     "the seeds of one value train as one stack."))
    st.caption(f"Every setting comes from the sidebar except {vary}, which takes the values above"
               + (f", each with {seeds} seeds." if seeds > 1 else "; one seed: no intervals (one seed is an anecdote)."))
    built, problems = sweep_configs(base, vary, values_text.split(","), seeds=seeds)
    for p in problems:
        st.warning(inert(p))
    entries = [(label, [(cfg.run_id, cfg) for cfg in group]) for label, group in built]
    extra = {"mode": "sweep", "vary": vary, "values": values_text, "seeds": str(seeds), **_baseline_param()}
    write_url("compare", base, extra)

if not entries:
    st.info("Choose runs (or sweep values) to compare.")
    st.stop()

with st.expander("Share this comparison"):
    st.code(share_url(st.query_params.to_dict(), "compare"), language=None)

groups, missing = {}, []
for label, members in entries:
    for run_id, cfg in members:
        r = stored_run(run_id)
        if r is not None:
            groups.setdefault(label, {})[run_id] = r
        elif cfg is not None:
            missing.append((label, cfg))  # the panel shows each run's seed

if missing:
    missing_runs_panel(missing, stored=sum(len(m) for _, m in entries) - len(missing), key="compare")

if not groups:
    st.stop()

runs_of = {label: list(g.values()) for label, g in groups.items()}  # each row's runs, in seed order
several = any(len(runs) > 1 for runs in runs_of.values())
labels = list(runs_of)
baseline = st.selectbox("baseline row", labels, index=labels.index(params["baseline"]) if params.get("baseline") in labels else 0,
                        key="compare-baseline")
if st.query_params.get("baseline") != baseline:  # e.g. the values changed and the old baseline is gone
    st.query_params["baseline"] = baseline
diffs = differences(runs_of, baseline, test_correct)
table = runs_table(runs_of, baseline=baseline, diffs=diffs)
st.subheader("Results")
for c in comparisons(runs_of, baseline, diffs):  # the answer first, in words, from the table's numbers
    st.markdown(f"- {inert(sentence(c))}")
shown = shown_table(table, baseline)
# the run's label pinned at the left, then per metric its Δ against the baseline, the run ids last
st.dataframe(shown, hide_index=True, column_config={
    "run": st.column_config.TextColumn(pinned=True),
    **{c: st.column_config.NumberColumn(format="%.2f" if "acc" in c else "%.4f")
       for c in shown.columns if ("loss" in c or "acc" in c) and "CI" not in c and not c.startswith("Δ")}})
st.caption("Final-epoch loss and accuracy (accuracy in %); grad ratio = mean |gradient| at the first layer over the last "
           "hidden layer (1 is even, 1e-5 is vanishing), at initialization and at the last logged step; "
           "Δ columns are differences against the baseline row. "
           + (f"With several seeds: the mean over seeds, its sd, and 95% intervals ({METHODS}); a Δ "
              "whose interval holds 0 is not a measured difference. Rows with one seed have no interval."
              if several else "One seed per row: no intervals, so no difference here is measured; "
              "add seeds to see which ones hold."))
st.download_button("Download the table (CSV)", table.to_csv(index=False), "comparison.csv", "text/csv")

# one below the other: side by side, long run labels squeeze the plots at 800 px
epochs = {label: [r.epochs for r in runs] for label, runs in runs_of.items()}
chart(bands.curve_band_chart(epochs, "test_acc", "test accuracy"))
chart(bands.curve_band_chart(epochs, "train_loss", "train loss"))
st.caption("Test accuracy and training loss per epoch, one line per row"
           + (f": the mean over its seeds, the band the {bands.BAND}." if several else "."))

which = st.radio("gradient flow", ["at initialization", "at the end of training"], horizontal=True,
                 key="compare-flow-when")
flat = [(label, r) for label, runs in runs_of.items() for r in runs]
frame = grad_flow_frame(flat, "init" if which == "at initialization" else "final")
if not frame.empty:
    if several:
        chart(bands.flow_band_chart(bands.band_frame(frame)))
    else:
        chart(charts.grad_flow(frame.rename(columns={"series": "run"}), series="run"))
    st.caption("Mean |gradient| per weight layer (log scale), one line per row"
               + (f" (the geometric mean over its seeds, the band the {bands.BAND})" if several else "") + "."
               + (" The runs differ in depth: layers are counted from the input (1 = first layer)"
                  + (" and each run's output layer is drawn as a square." if not several else ".")
                  if charts.aligned_by_index(frame) else ""))

st.subheader("Through training")
show_run_explorer(runs_of)
