"""Theory: activation functions and derivatives, the initialization table, signal propagation."""

import pandas as pd
import streamlit as st
import torch

from core.views import charts
from core.engine.activations import ACTIVATION_SPECS, activation_and_derivative
from core.base.config import ACTIVATIONS, BN_PLACEMENTS, INITS, RunConfig, active_limits
from core.base.catalogue import FAMILY_TABLE
from core.engine.probe import PROBE_BATCH
from core.engine.threads import one_thread
from pages.draw import chart
from pages.services import probe, require_app
from pages.theory_views import show_glossary, show_isometry, show_phase_map

require_app()

st.title("Theory")

st.header("Activation functions and their derivatives")
chosen = st.multiselect("activations", ACTIVATIONS, default=["logistic", "tanh", "relu", "selu"],
                        key="theory-acts")
x = torch.linspace(-5, 5, 401)
frames = []
for name in chosen:
    y, dy = activation_and_derivative(name, x, 0.01)
    frames.append(pd.DataFrame({"x": x.numpy(), "value": y.numpy(), "function": name, "curve": "f(x)"}))
    frames.append(pd.DataFrame({"x": x.numpy(), "value": dy.numpy(), "function": name, "curve": "f'(x)"}))
if frames:
    for col, panel in zip(st.columns(2), charts.activation_panels(pd.concat(frames))):
        with col:
            chart(panel)
st.caption("Left: f(z); right: f'(z), the factor each unit multiplies the backward gradient by. The "
           "logistic derivative never exceeds 0.25 (dashed line), so every logistic layer shrinks the "
           "gradient at least fourfold; tanh reaches 1 only at 0; ReLU passes 1 or 0. Click a legend "
           "entry to highlight one function.")

st.header("Initialization")
st.table(pd.DataFrame(FAMILY_TABLE, columns=["initialization", "suits activations", "variance (normal form)"]))
st.caption("fan_in and fan_out are a layer's input and output sizes, fan_avg their mean. Each scheme "
           "keeps the variance of activations (forward) and gradients (backward) roughly constant "
           "across layers for the activations it is meant for. Uniform forms use U(-r, r) with "
           "r = sqrt(3 · variance).")

st.header("Signal propagation at initialization")
limits = active_limits()
c = st.columns(3) + st.columns(3)  # two rows, so every select shows its value at 800 px
depth = c[0].slider("depth", 2, min(60, limits.max_hidden_layers), 20, key="theory-depth")
width = c[1].select_slider("width", [16, 32, 64, 100, 128, 256, 512], value=100, key="theory-width")
act = c[2].selectbox("activation", ACTIVATIONS, index=ACTIVATIONS.index("tanh"), key="theory-act")
init = c[3].selectbox("initialization", INITS, index=INITS.index("glorot_uniform"), key="theory-init")
bn = c[4].selectbox("batch norm", [b for b in BN_PLACEMENTS if b != "last"], key="theory-bn")
with c[5]:
    st.space("small")
    standardize = st.checkbox("standardize inputs", value=act == "selu", key="theory-std")
cfg = RunConfig(widths=(width,) * depth, activation=act, init=init, bn=bn, standardize=standardize)
with one_thread():  # a small network: one thread is fast, two wait for each other on a busy machine
    flow = probe(cfg)
for col, panel in zip(st.columns(2), charts.signal_propagation(flow)):
    with col:
        chart(panel)
spec = ACTIVATION_SPECS[act]
std = flow["act_std"].dropna().to_numpy()
g = flow["grad_mean_abs"].to_numpy()[:-1]
st.caption(f"One batch of {PROBE_BATCH} MNIST digits through {depth} layers of {width} {act} units ({init}"
           f"{', batch norm ' + bn if bn != 'none' else ''}): the activation std falls from {std[0]:.2g} "
           f"to {std[-1]:.2g}, and mean |gradient| changes by a factor of {g[0] / g[-1]:.2g} from the last "
           f"hidden layer back to the first. {spec.suited_init.capitalize()} initialization is the one "
           f"matched to {act}.")

st.header("Order and chaos: predict before training")
st.caption("The theory of very wide random networks (Poole et al. 2016, Schoenholz et al. 2017): once "
           "the signal has settled, each layer multiplies the squared size of the gradient flowing back "
           "by a factor χ₁. Below 1 gradients vanish with depth, above 1 they explode, at 1 they keep "
           "their size. The map shows χ₁ for the activation above over the sizes of the starting weights "
           "(σ_w²) and biases (σ_b²); move the network with the sliders.")
show_glossary()
show_phase_map(cfg)

st.header("Dynamical isometry: the Jacobian's spectrum")
show_isometry(depth, width)
