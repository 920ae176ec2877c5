"""Compare's run explorer: a row selector above the charts (tick rows on and off, filter by a
setting), the gradient flow of every selected row at one point of training (a slider moves all
of them through training together; several seeds: their mean and band), and one layer's
histogram overlaid across the rows, each row in the colour the charts above give it."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core.views import bands, histograms as hv
from core.views.markup import inert

from .run_views import chart


def _at_fraction(steps, fraction: float) -> int:
    """The logged step nearest to `fraction` of the run's last logged step."""
    steps = np.asarray(sorted(int(s) for s in steps))
    return int(steps[np.argmin(np.abs(steps - fraction * steps[-1]))])


def select_runs(rows: dict, key: str) -> dict:
    """A checkbox per row (full width, so a long label is never cut), after an optional filter
    on one setting; returns the ticked rows."""
    settings = {label: runs[0].config.to_dict() for label, runs in rows.items()}
    varying = [k for k in next(iter(settings.values()), {})
               if k != "seed" and len({str(s.get(k)) for s in settings.values()}) > 1]
    if varying and len(rows) > 2:
        field = st.selectbox("filter by", ["(none)"] + varying, key=f"{key}-filter-field")
        if field != "(none)":
            values = sorted({str(s.get(field)) for s in settings.values()})
            keep = st.multiselect(field, values, default=values, key=f"{key}-filter-{field}")
            rows = {label: r for label, r in rows.items() if str(settings[label].get(field)) in keep}
    cols = st.columns(min(2, max(1, len(rows))))
    return {label: runs for i, (label, runs) in enumerate(rows.items())
            if cols[i % len(cols)].checkbox(label, value=True, key=f"{key}-on-{runs[0].run_id}")}


def _flow_at(label: str, runs: list, fraction: float) -> pd.DataFrame:
    """The row's mean |gradient| per layer, each seed at its logged step nearest `fraction`."""
    frames = []
    for r in runs:
        stats = r.layer_stats[r.layer_stats.stat == "grad_mean_abs"]
        if stats.empty:
            continue
        step = _at_fraction(stats["step"].unique(), fraction)
        frames.append(stats[stats.step == step].merge(r.layers[["layer", "name"]], on="layer")
                      .assign(series=label, seed=r.config.seed))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _hist_at(runs: list, index: int, fraction: float) -> tuple[pd.DataFrame, str, list[int]] | None:
    """The row's gradient histogram of weight layer `index` at `fraction` of training: the share
    per bin averaged over the seeds; with the layer's name and the steps shown."""
    frames, steps = [], []
    for r in runs:
        hist = r.histograms
        if hist["grad"].shape[0] == 0:
            continue
        step = _at_fraction(hist["steps"], fraction)
        h = hv.split(hist["grad"][:, index - 1], hist["grad_edges"], hv.GRAD)
        frames.append(hv.ridge_frame(h, hist["steps"], [step]))
        steps.append(step)
    if not frames:
        return None
    mean = pd.concat(frames).groupby(["center", "low", "high"], as_index=False)["share"].mean()
    name = runs[0].layers.sort_values("layer")["name"].iloc[index - 1]
    return mean.assign(step=steps[0], order=0), name, sorted(set(steps))


def show_run_explorer(rows: dict, key: str = "compare-explore") -> None:
    """Rows ({label: its runs, one per seed}) through training, in the colours of the charts
    above (the same row, the same colour, ticked or not): the seeds' mean and band."""
    st.markdown("**Rows shown**")
    domain = list(rows)
    chosen = select_runs(rows, key)
    if not chosen:
        st.info("Tick at least one row.")
        return
    several = any(len(runs) > 1 for runs in chosen.values())
    fraction = st.slider("point of training (share of each run's steps)", 0.0, 1.0, 1.0, 0.05,
                         key=f"{key}-fraction",
                         help="0 = step 0 (before any update), 1 = each run's last logged step; every "
                              "run is shown at its logged step nearest to this share of its training.")
    frames = [f for label, runs in chosen.items() if not (f := _flow_at(label, runs, fraction)).empty]
    if frames:
        flow = pd.concat(frames, ignore_index=True)
        chart(bands.flow_band_chart(bands.band_frame(flow), domain=domain))
        st.caption("Mean |gradient| per weight layer of each ticked row at the chosen point of its training "
                   "(log scale)" + (f"; the line is the geometric mean over its seeds, the band the {bands.BAND}"
                                    if several else "") + ".")
    depth = min(len(runs[0].layers) for runs in chosen.values())
    index = st.select_slider("layer, counted from the input", list(range(1, depth + 1)), value=1,
                             key=f"{key}-hist-layer",
                             help="Runs of different depths are compared at the same index from the input.")
    hists, names = {}, {}
    for label, runs in chosen.items():
        got = _hist_at(runs, index, fraction)
        if got is not None:
            hists[label], (names[label], steps) = got[0], got[1:]
            names[label] += f", step {steps[0]}" if len(steps) == 1 else f", steps {steps[0]}–{steps[-1]}"
    if hists:
        chart(hv.across_runs(hists, hv.GRAD, f"weight layer {index}: gradient histogram", domain=domain))
        st.caption("Share of the layer's weight-gradient entries per bin of log10 |g|, one line per row"
                   + (" (averaged over its seeds)" if several else "") + ": "
                   + "; ".join(f"{inert(label)}: {inert(where)}" for label, where in names.items())
                   + ". Exact zeros and NaN/inf are counted on each run's own page (Histograms tab).")
