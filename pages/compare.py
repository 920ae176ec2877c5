"""Compare: several stored runs, or a sweep over one setting; curves, gradient flows, a table."""

import pandas as pd
import streamlit as st

from core.views import charts
from core.lab.compare import SWEEPABLE, runs_table, sweep_configs
from core.cost import duration
from core.views.frames import grad_flow_frame
from core.views.labels import distinct_labels
from core.views.markup import inert
from pages.compare_views import show_run_explorer
from pages.config_ui import config_sidebar, share_url, show_url_warnings, write_url
from pages.run_views import chart
from core.runs.jobs import SubmitError
from pages.services import estimated_seconds, get_jobs, list_runs, require_app, session_id, stored_run

require_app()

PAGE_PARAMS = ("mode", "runs", "vary", "values", "baseline")

st.title("Compare")
params = st.query_params.to_dict()
mode = st.radio("compare", ["stored runs", "sweep"], horizontal=True, key="compare-mode",
                index=1 if params.get("mode") == "sweep" else 0)
runs_param = params.get("runs", "")

if mode == "stored runs":
    stored = list_runs()
    if stored.empty:
        st.info("No stored runs yet. Train one in Explore, or build a sweep here.")
        st.stop()
    labels = {r.run_id: f"{r.label} · seed {r.seed} · {r.run_id}" for r in stored.itertuples()}
    wanted = [r for r in runs_param.split(",") if r]
    unknown = [r for r in wanted if r not in labels]
    if unknown:
        st.warning(f"runs: not stored here, ignored: {inert(', '.join(u[:20] for u in unknown[:5]))}")
    chosen = st.multiselect("runs", list(labels), default=[r for r in wanted if r in labels],
                            format_func=lambda r: labels[r], key="compare-runs")
    # labelled by what differs between the chosen runs, as a sweep labels its runs
    short = distinct_labels({r: stored_run(r).config for r in chosen if stored_run(r) is not None})
    entries = [(short.get(r, labels[r]), r, None) for r in chosen]
    extra = {"runs": ",".join(chosen)} if chosen else {}
    if st.query_params.to_dict() != extra and extra:
        st.query_params.from_dict(extra)
else:
    base = config_sidebar("compare", PAGE_PARAMS)
    show_url_warnings("compare")
    if base is None:
        st.stop()
    c1, c2 = st.columns([1, 2])
    vary_default = params.get("vary", "activation")
    vary = c1.selectbox("vary", SWEEPABLE, index=SWEEPABLE.index(vary_default) if vary_default in SWEEPABLE else 0,
                        key="compare-vary", help="The setting that changes; everything else is the sidebar's.")
    values_text = c2.text_input("values, comma-separated", params.get("values", "logistic,tanh,relu"),
                                key="compare-values", help="For widths write each list with dashes, e.g. 64-64,128-128.")
    st.caption(f"Every setting comes from the sidebar except {vary}, which takes the values above.")
    built, problems = sweep_configs(base, vary, values_text.split(","))
    for p in problems:
        st.warning(inert(p))
    entries = [(label, cfg.run_id, cfg) for label, cfg in built]
    extra = {"mode": "sweep", "vary": vary, "values": values_text}
    write_url("compare", base, extra)

if not entries:
    st.info("Choose runs (or sweep values) to compare.")
    st.stop()

with st.expander("Share this comparison"):
    st.code(share_url(st.query_params.to_dict(), "compare"), language=None)

results, missing, jobs = {}, [], get_jobs()
for label, run_id, cfg in entries:
    r = stored_run(run_id)
    if r is not None:
        results[label] = r
    elif cfg is not None:
        missing.append((label, cfg))

if missing:
    active = [jobs.get(cfg.run_id) for _, cfg in missing]
    waiting = [j for j in active if j is not None and not j.finished]
    seconds = estimated_seconds([cfg for _, cfg in missing])
    st.info(f"{len(missing)} of {len(entries)} runs are not stored yet "
            f"({inert(', '.join(label for label, _ in missing))}); training them takes about "
            f"{duration(seconds)} here (estimated from this machine's speed and its stored runs).")
    if not waiting:
        if st.button(f"Train {len(missing)} missing run{'s' if len(missing) != 1 else ''}", type="primary"):
            # one turn of the queue: runs that differ only in seed, init, lr, optimizer or noise
            # train together as one stacked model
            try:
                jobs.submit_many([cfg for _, cfg in missing], watcher=session_id())
            except (SubmitError, RuntimeError) as exc:  # too many runs, a device not here
                st.error(f"Not started: {inert(exc)}")
            else:
                st.rerun()
    else:
        @st.fragment(run_every=1.0)
        def sweep_progress():
            states = []
            for label, cfg in missing:
                job = jobs.get(cfg.run_id)
                if job is not None:
                    jobs.heartbeat(cfg.run_id, session_id())
                state = job.phase if job else "not started"
                done = f" ({job.fraction_done():.0%})" if job is not None and state == "training" else ""
                states.append({"run": label, "state": state + done,
                               "queue position": jobs.position(job) if job is not None else None})
            st.dataframe(pd.DataFrame(states), hide_index=True)
            if all(jobs.get(cfg.run_id) is None or jobs.get(cfg.run_id).finished for _, cfg in missing):
                st.rerun()
            if st.button("Cancel the remaining runs"):
                for _, cfg in missing:
                    jobs.cancel(cfg.run_id, watcher=session_id())

        sweep_progress()

if not results:
    st.stop()

labels = list(results)
baseline = st.selectbox("baseline row", labels, index=labels.index(params["baseline"]) if params.get("baseline") in labels else 0,
                        key="compare-baseline")
table = runs_table(results, baseline=baseline)
st.subheader("Results")
# the run's label pinned at the left, the run id last: the Δ columns the caption names stay in view
order = ["run"] + [c for c in table.columns if c not in ("run", "run_id")] + ["run_id"]
st.dataframe(table, hide_index=True, column_order=[c for c in order if c in table.columns], column_config={
    "run": st.column_config.TextColumn(pinned=True),
    **{c: st.column_config.NumberColumn(format="%.4f", width="small") for c in table.columns
       if "loss" in c or "acc" in c}})
st.caption("Final-epoch loss and accuracy; grad ratio = mean |gradient| at the first layer over the last "
           "hidden layer (1 is even, 1e-5 is vanishing), at initialization and at the last logged step; "
           "Δ columns are differences against the baseline row.")
st.download_button("Download the table (CSV)", table.to_csv(index=False), "comparison.csv", "text/csv")

# one below the other: side by side, long run labels squeeze the plots at 800 px
chart(charts.compare_curves({k: r.epochs for k, r in results.items()}, "test_acc", "test accuracy"))
chart(charts.compare_curves({k: r.epochs for k, r in results.items()}, "train_loss", "train loss"))
st.caption("Test accuracy and training loss per epoch, one line per run.")

which = st.radio("gradient flow", ["at initialization", "at the end of training"], horizontal=True,
                 key="compare-flow-when")
frame = grad_flow_frame(results.items(), "init" if which == "at initialization" else "final")
if not frame.empty:
    chart(charts.grad_flow(frame.rename(columns={"series": "run"}), series="run"))
    st.caption("Mean |gradient| per weight layer (log scale), one line per run."
               + (" The runs differ in depth: layers are counted from the input (1 = first layer) and each "
                  "run's output layer is drawn as a square." if charts.aligned_by_index(frame) else ""))

st.subheader("Through training")
show_run_explorer(results)
