"""A run's histograms (gradients, noisy gradients, activations) in every view of
core.views.histograms, its per-step training loss and its per-epoch curves (stored runs and
the live view of a job draw them with the same functions)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core.views import charts, curves, histograms as hv

from .draw import chart

# Short names, so that a select as narrow as a third of an 800 px page shows them whole; the
# caption under the charts says what each view draws.
VIEWS = {"heatmap": "Heatmap", "offset": "Offset ridges", "overlay": "Overlay", "vs0": "Against step 0",
         "distribution": "Percentiles"}
CAPTIONS = {
    "heatmap": "Colour is the share of the layer's entries in each bin at each logged step (log colour scale).",
    "offset": "One histogram per chosen step, later steps lower and in front (TensorBoard's offset view); "
              "heights are shares of all the layer's entries, scaled to the tallest bin shown.",
    "overlay": "The chosen steps' histograms on one axis (share of all the layer's entries per bin).",
    "vs0": "Step 0 (before any update) against the chosen step, on one axis.",
    "distribution": "Percentiles of the in-range entries over steps (TensorBoard's Distributions): the "
                    "bands hold the middle 39%, 68% and 87% of them and their full range, the line is "
                    "the median. Entries outside the bins are counted below.",
}


def histogram_kinds(hist: dict) -> dict:
    """What a run's histograms are of: (array, edges, bins, quantity) by name; weights only in
    runs stored since the trainer records them."""
    kinds = {"weight gradient": ("grad", "grad_edges", hv.GRAD, "gradient")}
    if "noisy_grad" in hist:
        kinds["noisy gradient (applied)"] = ("noisy_grad", "grad_edges", hv.GRAD, "gradient")
    if "weight" in hist and hist["weight"].shape[0]:
        kinds["weight"] = ("weight", "grad_edges", hv.GRAD, "weight")
    if "act" in hist and hist["act"].shape[0]:
        kinds["activation"] = ("act", "act_edges", hv.ACT, "activation")
    return kinds


def show_histograms(result, key: str) -> None:
    hist = result.histograms
    names = list(result.layers.sort_values("layer")["name"])
    if hist["grad"].shape[0] == 0:
        st.info("No histograms were logged.")
        return
    kinds = histogram_kinds(hist)
    c = st.columns([1, 1, 1])
    kind = c[0].selectbox("of", list(kinds), key=f"{key}-hist-kind")
    view = c[1].selectbox("view", list(VIEWS), format_func=VIEWS.get, key=f"{key}-hist-view",
                          help="Heatmap: step × bin. Offset ridges: one histogram per chosen step (TensorBoard's "
                               "offset view). Overlay: the chosen steps on one axis. Against step 0: before any "
                               "update against one step. Percentiles: TensorBoard's Distributions.")
    same_axis = c[2].toggle("shared axis", value=True, key=f"{key}-hist-shared",
                            help="On: every layer on the same value axis, so the shift from layer to layer shows. "
                                 "Off: each layer on its own range (finer detail within a layer).")
    array, edges_key, bins, quantity = kinds[kind]
    layer_names = names if bins == hv.GRAD else names[:-1]  # activations: hidden layers only
    default = list(dict.fromkeys([layer_names[0], layer_names[len(layer_names) // 2], layer_names[-1]]))
    chosen = st.multiselect("layers", layer_names, default=default, key=f"{key}-hist-layers")
    steps = [int(s) for s in hist["steps"]]
    picked = steps
    if view in ("offset", "overlay"):
        picked = st.multiselect("steps", steps, default=hv.pick_steps(steps), key=f"{key}-hist-steps")
    elif view == "vs0" and len(steps) > 1:
        picked = [steps[0], st.select_slider("step against step 0", steps[1:], value=steps[-1],
                                             key=f"{key}-hist-vs0")]
    counts = {name: hist[array][:, layer_names.index(name)] for name in chosen}
    splits = {name: hv.split(n, hist[edges_key], bins, quantity) for name, n in counts.items()}
    domain = None
    if same_axis and len(chosen) > 1:
        if view == "heatmap":
            domain = hv.shared(hv.heatmap_range(hv.heatmap_frame(n, steps, hist[edges_key], bins == hv.GRAD))
                               for n in counts.values())
        else:
            domain = hv.shared(hv.value_range(h, steps, sorted(set(picked)), view) for h in splits.values())
    for name, h in splits.items():
        st.markdown(f"**{name}**: {kind}")
        if view == "heatmap":
            chart(hv.histogram_heatmap(counts[name], hist["steps"], hist[edges_key], "", log_bins=bins == hv.GRAD,
                                       quantity=quantity, domain=domain))
        elif view == "distribution":
            chart(hv.distribution(h, steps, domain=domain))
        else:
            chart(hv.ridge(h, steps, sorted(set(picked)), "offset" if view == "offset" else "overlay", domain=domain))
        if hv.any_outside(h):
            chart(hv.outside(h, steps))
        st.caption(f"{name}, entries outside the bins: {hv.outside_summary(h, steps)}.")
    st.caption(CAPTIONS[view] + (f" {quantity.capitalize()} bins are 0.25 decades of log10 |{quantity[0]}| from 1e-12 to 1e2; exact "
                                 "zeros, values beyond the bins and NaN/inf are counted under each layer "
                                 "(with a chart when there are any), never dropped." if bins == hv.GRAD else
                                 " Activation bins are linear; values beyond them and NaN are counted under "
                                 "each layer, never dropped (runs stored before NaN activations were counted "
                                 "show no NaN count)."))
    if "weight" not in hist:
        st.caption("This run was stored before the trainer recorded weight histograms (its weight "
                   "norms are in Updates).")


def show_step_loss(result, key: str) -> None:
    """The training loss of every step, with TensorBoard's smoothing and a choice of x-axis."""
    steps = result.steps
    if steps is None or steps.empty:
        return
    c = st.columns([2, 2, 1])
    smoothing = c[0].slider("smoothing", 0.0, 0.99, 0.6, 0.01, key=f"{key}-loss-smooth",
                            help="Exponential moving average, as in TensorBoard (0: none).")
    x = c[1].radio("x-axis", list(curves.X_AXES), horizontal=True, key=f"{key}-loss-x")
    finite = np.isfinite(steps["loss"].to_numpy(dtype=float))
    log = c[2].toggle("log y", value=bool(finite.any() and steps["loss"][finite].max() > 50),
                      key=f"{key}-loss-log")
    chart(curves.step_loss(curves.step_loss_frame(steps, result.epochs, x, smoothing), x, log))
    st.caption("Training loss of every mini-batch (faint) and its smoothed line"
               + ("; seconds: each epoch's duration spread evenly over its steps." if x == "seconds" else "."))


def _drawable(epochs: pd.DataFrame, metric: str) -> bool:
    """Whether any epoch has a finite `metric` (a run that diverged in its first epoch has none)."""
    values = epochs[[c for c in epochs.columns if c.endswith(f"_{metric}")]].apply(pd.to_numeric, errors="coerce")
    return bool(np.isfinite(values.to_numpy(dtype=float)).any())


def show_training_curves(epochs: pd.DataFrame, key: str) -> None:
    if epochs.empty:
        st.info("No finished epoch yet.")
        return
    metrics = [m for m in ("loss", "acc") if _drawable(epochs, m)]
    for col, metric in zip(st.columns(len(metrics)) if metrics else [], metrics):
        with col:
            chart(charts.training_curves(epochs, metric))
    st.caption("Loss and accuracy after each epoch: train (running average over the epoch), validation and test"
               + ("." if "loss" in metrics else "; no epoch ended with a finite loss, so there is no loss curve."))
