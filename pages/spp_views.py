"""Signal propagation for any network, and VGG38's collapse explained: the page parts.

    show_spp_section(cfg)          # Explore: the two below under one heading
    show_signal_propagation(cfg)   # predicted beside measured per layer, the words, the plot
    show_vgg_explained(cfg)        # Explore (VGG) and Reproduce (VGG preset): the five networks

Numbers from core.engine.signalprop / spp, sentences from core.lab.signalprop, charts from
core.views.spp_charts; this module only caches and draws.
"""
from __future__ import annotations

import json

import streamlit as st

from core.base.config import RunConfig
from core.engine.data import DatasetUnavailable
from core.engine.spp import MAX_SPP_STEPS, spp_frame
from core.lab.signalprop import (BACK, GRAD, SECOND, compare_flow, flow_sentences, gap_sentences,
                                 training_sentence, vgg_sentences, vgg_table)
from core.views import spp_charts

from .draw import chart
from .services import probe

STEP_CHOICES = (0, 5, 20, 50, 100, 200)


def _json(cfg: RunConfig) -> str:
    return json.dumps(cfg.to_dict(), sort_keys=True)


@st.cache_data(max_entries=32, show_spinner=False)
def _compare(config_json: str):
    cfg = RunConfig.from_dict(json.loads(config_json))
    return compare_flow(cfg, probe(cfg))


@st.cache_data(max_entries=16, show_spinner="Measuring the signal propagation plot ...")
def _spp(config_json: str, steps: tuple):
    return spp_frame(RunConfig.from_dict(json.loads(config_json)), steps)


@st.cache_data(max_entries=16, show_spinner="Predicting and measuring the five VGG networks ...")
def _vgg(config_json: str):
    cfg = RunConfig.from_dict(json.loads(config_json))
    table = vgg_table(cfg)
    return table, vgg_sentences(table, cfg)


def show_signal_propagation(cfg: RunConfig) -> None:
    """Predicted beside measured at initialization, where the forms stop, and the plot per block."""
    try:
        cmp = _compare(_json(cfg))
    except (DatasetUnavailable, ValueError) as exc:  # no data here, beyond the preview's budget
        st.info(f"No signal-propagation prediction: {exc}", icon=":material/block:")
        return
    st.markdown(" ".join(flow_sentences(cmp)))
    tabs = st.tabs([SECOND, BACK, GRAD])
    for tab, quantity in zip(tabs, (SECOND, BACK, GRAD)):
        with tab:
            chart(spp_charts.compared_chart(cmp.frame, quantity))
    st.caption("Where the forms stop. " + " ".join(gap_sentences(cmp)))
    steps = st.multiselect("signal propagation plot at training steps", STEP_CHOICES, default=[0],
                           key="spp-steps", help=f"0 is initialization; later steps train a copy of this "
                           f"network (at most {MAX_SPP_STEPS} steps), which takes a while for a deep VGG")
    try:
        plot = _spp(_json(cfg), tuple(sorted(set(steps) | {0})))
    except (DatasetUnavailable, ValueError) as exc:
        st.info(f"No signal propagation plot: {exc}", icon=":material/block:")
        return
    chart(spp_charts.spp_chart(plot))
    later = training_sentence(plot)
    st.caption("Signal propagation plot (Brock, De & Smith 2021): at each block's output, over the preview's "
               "batch, the average over channels of the squared channel mean and of the channel variance; "
               "for residual blocks the variance of the branch before the addition. " + later)


def show_spp_section(cfg: RunConfig) -> None:
    st.subheader("Signal propagation at initialization")
    show_signal_propagation(cfg)
    show_vgg_explained(cfg)


def show_vgg_explained(cfg: RunConfig) -> None:
    """The VGG preset's five networks at cfg's data and filters: predicted beside measured collapse."""
    if cfg.arch != "vgg":
        return
    with st.expander("VGG08 / VGG38 ± BN ± RC: the collapse predicted and measured", expanded=True):
        _vgg_body(cfg)


def _vgg_body(cfg: RunConfig) -> None:
    try:
        table, sentences = _vgg(_json(cfg))
    except (DatasetUnavailable, ValueError) as exc:
        st.info(f"No VGG explanation: {exc}", icon=":material/block:")
        return
    st.dataframe(table, hide_index=True, column_config={
        c: st.column_config.NumberColumn(format="%.3g") for c in table.columns if c != "network"})
    for s in sentences:
        st.markdown(f"- {s}")
    st.caption("Second moment of the activations from the first convolution's output to the last's, at "
               "initialization on the preview's batch (log10): predicted on average over random networks, "
               "for one network of this width (± the spread between networks), and measured on this seed.")
