"""Compare's run explorer: a run selector beside the charts (tick runs on and off, filter by a
setting), the gradient flow of every selected run at one point of training (a slider moves all
of them through training together), and one layer's histogram overlaid across the runs."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core.views import charts, histograms as hv

from .run_views import chart


def _at_fraction(steps, fraction: float) -> int:
    """The logged step nearest to `fraction` of the run's last logged step."""
    steps = np.asarray(sorted(int(s) for s in steps))
    return int(steps[np.argmin(np.abs(steps - fraction * steps[-1]))])


def select_runs(results: dict, key: str) -> dict:
    """Checkboxes per run, after an optional filter on one setting; returns the ticked runs."""
    settings = {label: r.config.to_dict() for label, r in results.items()}
    varying = [k for k in next(iter(settings.values()), {})
               if len({str(s.get(k)) for s in settings.values()}) > 1]
    if varying:
        field = st.selectbox("filter by", ["(none)"] + varying, key=f"{key}-filter-field")
        if field != "(none)":
            values = sorted({str(s.get(field)) for s in settings.values()})
            keep = st.multiselect(field, values, default=values, key=f"{key}-filter-{field}")
            results = {label: r for label, r in results.items() if str(settings[label].get(field)) in keep}
    return {label: r for label, r in results.items()
            if st.checkbox(label, value=True, key=f"{key}-on-{r.run_id}")}


def show_run_explorer(results: dict, key: str = "compare-explore") -> None:
    left, right = st.columns([1, 4])
    with left:
        st.markdown("**Runs shown**")
        chosen = select_runs(results, key)
    with right:
        if not chosen:
            st.info("Tick at least one run.")
            return
        fraction = st.slider("point of training (share of each run's steps)", 0.0, 1.0, 1.0, 0.05,
                             key=f"{key}-fraction",
                             help="0 = step 0 (before any update), 1 = each run's last logged step; every "
                                  "run is shown at its logged step nearest to this share of its training.")
        frames = []
        for label, r in chosen.items():
            stats = r.layer_stats[r.layer_stats.stat == "grad_mean_abs"]
            if stats.empty:
                continue
            step = _at_fraction(stats["step"].unique(), fraction)
            rows = stats[stats.step == step].merge(r.layers[["layer", "name"]], on="layer")
            frames.append(rows.assign(series=f"{label} (step {step})"))
        if frames:
            flow = pd.concat(frames, ignore_index=True)
            chart(charts.grad_flow(flow, series="series", series_title="run"))
            st.caption("Mean |gradient| per weight layer of each ticked run at the chosen point of its "
                       "training (log scale)." + (" Runs of different depths: layers counted from the input, "
                                                   "each run's output layer drawn as a square."
                                                   if charts.aligned_by_index(flow) else ""))
        depth = min(len(r.layers) for r in chosen.values())
        index = st.select_slider("layer, counted from the input", list(range(1, depth + 1)), value=1,
                                 key=f"{key}-hist-layer",
                                 help="Runs of different depths are compared at the same index from the input.")
        hists = {}
        for label, r in chosen.items():
            hist = r.histograms
            if hist["grad"].shape[0] == 0:
                continue
            step = _at_fraction(hist["steps"], fraction)
            h = hv.split(hist["grad"][:, index - 1], hist["grad_edges"], hv.GRAD)
            name = r.layers.sort_values("layer")["name"].iloc[index - 1]
            hists[f"{label} ({name}, step {step})"] = hv.ridge_frame(h, hist["steps"], [step])
        if hists:
            chart(hv.across_runs(hists, hv.GRAD, f"weight layer {index}: gradient histogram"))
            st.caption("Share of the layer's weight-gradient entries per bin of log10 |g|, one line per run; "
                       "exact zeros and NaN/inf are counted on each run's own page (Histograms tab).")
