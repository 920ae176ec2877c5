"""Home: what vanishing and exploding gradients are, one picture, ready-made experiments."""

import pandas as pd
import streamlit as st

from core.views import charts
from core.lab.scenarios import PICTURE, SCENARIOS, picture_caption
from core.views.links import config_to_query
from pages.draw import chart
from pages.draw import live_fragment
from pages.present import one_idea, shows
from pages.services import probe, require_app, warm_status

CARD_PX = 190

require_app()

st.title("Vanishing and exploding gradients")
WHAT, CARDS = "What they are", "Ready-made experiments"  # presenter mode: one of them per screen
idea = one_idea("home", [WHAT, CARDS])
INTRO = (
    """
A network learns by sending the gradient of its loss backwards, layer by layer (backpropagation).
At every layer that gradient is multiplied by the layer's weights and by the derivative of its
activation function. When those factors are mostly **below 1** — a logistic unit's derivative is
at most 0.25 — the gradient shrinks exponentially with depth and the first layers stop learning:
**vanishing gradients**. When they are mostly **above 1** — large random weights, say — it grows
exponentially and training blows up: **exploding gradients**.

The cures are well known: initialize weights so each layer keeps the signal's variance (Glorot,
He, LeCun), use activations that do not saturate (ReLU and its relatives, SELU), normalize
activations (batch norm), and give the gradient a short path (residual connections).
Here you can watch each of them at work.
"""
)


@st.cache_data(show_spinner="Computing the picture (one forward and backward pass per network)…")
def picture_data() -> pd.DataFrame:
    frames = []
    for label, cfg in PICTURE:
        flow = probe(cfg)
        frames.append(flow[["layer", "name", "grad_mean_abs"]].rename(columns={"grad_mean_abs": "value"})
                      .assign(network=label))
    return pd.concat(frames, ignore_index=True)


def picture() -> None:
    st.markdown(INTRO)
    data = picture_data()
    chart(charts.grad_flow(data, series="network"))
    st.caption(picture_caption({label: list(data[data.network == label].sort_values("layer")["value"])
                                for label, _ in PICTURE}))


@live_fragment("warm-status", 3.0)
def warming():
    """While a fresh server trains the cards in the background (core.lab.warm): how far it is."""
    line = warm_status()
    if line:
        st.caption(f":material/hourglass_top: {line}")


def cards() -> None:
    st.subheader("Ready-made experiments")
    st.caption("Each opens in Explore with its gradient flow at initialization; train it there with one click.")
    warming()
    # Cards of one width in a row that wraps: four across at 1280 px, two at 800 px (four columns
    # there were 100 px wide and broke words: "standardize d").
    with st.container(horizontal=True, wrap=True, gap="small"):
        for scenario in SCENARIOS:
            with st.container(border=True, width=CARD_PX):
                st.markdown(f"**{scenario.title}**")
                st.caption(scenario.blurb)
                st.page_link("pages/explore.py", label="Open in Explore", icon=":material/arrow_forward:",
                             query_params=config_to_query(scenario.config))


if shows(idea, WHAT):
    picture()
if shows(idea, CARDS):
    cards()
