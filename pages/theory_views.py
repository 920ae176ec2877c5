"""Predict before training: the signal-propagation theory beside the measured network.

    show_prediction(cfg, result)   # Explore: predicted vs measured at initialization, the verdict,
                                   # the input-output Jacobian at init (and after training, if stored)
    show_phase_map(cfg)            # Theory: the order-to-chaos map with sliders for (sigma_w2, sigma_b2)
    show_isometry(depth, width)    # Theory: dynamical isometry, three networks' Jacobian spectra

The numbers come from core.engine.prediction / meanfield / jacobian (the Jacobian of a config,
fresh or with stored weights: core.lab.theory.jacobian_of, as `probe --jacobian`), the sentences
from core.lab.theory, the charts from core.views.theory_charts; this module only draws and caches,
computing with torch held to one thread (core.engine.threads: a loaded machine's two threads
made each slider move seconds long). The map and its sliders are a fragment: a slider move
reruns the map and its prediction, not the page.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import streamlit as st

from core.base.config import RunConfig
from core.base.datasets import DATASET_INFO
from core.engine.data import DatasetUnavailable
from core.engine.meanfield import config_sigmas, critical_sigma_w2, init_sigma_b2, init_sigma_w2, phase_diagram
from core.engine.prediction import GROWTH_BATCH, compare
from core.engine.threads import one_thread
from core.lab.theory import (GLOSSARY, JACOBIAN_BATCH, details, does_not_apply, jacobian_of, plain_sentences,
                             sentences)
from core.views import theory_charts as tc
from core.views.markup import inert

from .draw import chart
from .present import presenting
from .services import get_store, probe

SW2_RANGE, SB2_RANGE = (0.1, 4.0), (0.0, 0.5)


def _json(cfg: RunConfig) -> str:
    return json.dumps(cfg.to_dict(), sort_keys=True)


@st.cache_data(max_entries=64, show_spinner=False)
def _compare(config_json: str):
    cfg = RunConfig.from_dict(json.loads(config_json))
    with one_thread():
        return compare(cfg, probe(cfg))


@st.cache_data(max_entries=64, show_spinner=False)
def _spectrum(config_json: str, run_id: str | None = None, stamp: float | None = None):
    """The input-output Jacobian's spectrum over JACOBIAN_BATCH training examples: of a fresh
    network, or of the stored run's final weights; (None, the library's refusal) beyond its limits."""
    cfg = RunConfig.from_dict(json.loads(config_json))
    weights = None
    if run_id is not None:
        result = get_store().load(run_id, weights=True)
        if result is None or not result.state_dict:
            return None, "the stored run has no weights"
        weights = result.state_dict
    with one_thread():
        return jacobian_of(cfg, weights)


def _spectrum_summary(name: str, spec) -> str:
    return (f"{name}: mean squared singular value {spec.mean_sq:.3g}, condition (max/min) "
            f"{spec.condition:.3g}, 95%/5% quantile ratio {spec.quantile_ratio:.3g}")


def show_comparison(cfg: RunConfig, key: str) -> None:
    """The verdict in words and the predicted-against-measured chart, or why there is none."""
    why = does_not_apply(cfg)
    if why:
        st.info(why, icon=":material/block:")
        return
    try:
        cmp = _compare(_json(cfg))
    except DatasetUnavailable as exc:
        st.info(f"No prediction at initialization: {exc}", icon=":material/cloud_download:")
        return
    except ValueError as exc:  # nothing finite to compare with
        st.info(f"No prediction at initialization: {exc}", icon=":material/block:")
        return
    said = sentences(cmp, cfg)
    numbers = f"**{inert(said[0][0].upper() + said[0][1:])}** " + " ".join(inert(t) for t in said[1:])
    if presenting():  # plain words; χ₁ and the fixed point behind an expander
        plain = plain_sentences(cmp, cfg)
        st.markdown(f"**{inert(plain[0])}** " + " ".join(inert(t) for t in plain[1:]))
        with st.expander("The numbers: χ₁ and the fixed point"):
            st.markdown(numbers)
            st.caption(details(cmp))
    else:
        st.markdown(numbers)
    chart(tc.prediction_chart(cmp.frame))
    st.caption(("" if presenting() else f"{details(cmp)} ") + "Solid lines with filled points: measured on one batch at "
               "initialization; dashed with hollow points: the wide-network theory (predicted gradients "
               f"are relative, so they are pinned to the measured value at layer {cmp.depth}). The "
               "squared gradient norm of the verdict is that of dL/dh (the mean squared singular value "
               f"of dh_{cmp.depth}/dh_1, measured on {GROWTH_BATCH} training examples).")


def show_spectra(cfg: RunConfig, result=None, key: str = "jac") -> None:
    """Histogram of the input-output Jacobian's singular values at initialization (and from the
    stored run's final weights), with the mean squared singular value and the condition."""
    if cfg.arch != "mlp":
        st.info("The Jacobian spectrum is shown for MLPs.", icon=":material/block:")
        return
    try:
        spectra = {"at initialization": _spectrum(_json(cfg))}
        if result is not None:
            stamp = result.meta.get("finished_at")
            spectra["after training"] = _spectrum(_json(cfg), cfg.run_id, stamp)
    except DatasetUnavailable as exc:
        st.info(f"No Jacobian: {exc}", icon=":material/cloud_download:")
        return
    good = {name: spec for name, (spec, _) in spectra.items() if spec is not None}
    for name, (spec, why) in spectra.items():
        if spec is None:
            st.warning(f"Jacobian {name}: {why}", icon=":material/block:")
    if good:
        chart(tc.spectrum_chart(tc.spectrum_frame(good)))
        st.caption(f"Singular values of d logits / d input for {JACOBIAN_BATCH} training examples "
                   "(eval mode). " + "; ".join(_spectrum_summary(n, s) for n, s in good.items()) + ".")


def show_prediction(cfg: RunConfig, result=None) -> None:
    """Explore's section: the theory at initialization, and the Jacobian spectrum."""
    st.subheader("Predict before training")
    show_comparison(cfg, key="explore-theory")
    show_glossary()
    with st.expander("Input-output Jacobian spectrum", expanded=result is not None):
        show_spectra(cfg, result, key="explore-jac")


def show_glossary() -> None:
    """χ₁, the length map, the fixed point, σ_w² and σ_b² in plain words, behind an expander."""
    with st.expander("What do these words mean?", icon=":material/help:"):
        st.markdown(GLOSSARY)


# ---------------------------------------------------------------------- Theory page
@st.cache_data(max_entries=16, show_spinner=False)
def _diagram(activation: str, leaky_slope: float):
    sw = np.linspace(*SW2_RANGE, 64)
    sb = np.linspace(*SB2_RANGE, 41)
    with one_thread():
        d = phase_diagram(activation, sw, sb, leaky_slope=leaky_slope)
    grid = tc.phase_frame(d.sigma_w2, d.sigma_b2, d.chi1)
    critical = pd.DataFrame({"sigma_w2": d.critical_sigma_w2, "sigma_b2": d.sigma_b2})
    critical = critical[critical["sigma_w2"].between(*SW2_RANGE)]
    return grid, critical


def _at(cfg: RunConfig, sigma_w2: float, sigma_b2: float, base_w2: float) -> RunConfig:
    """cfg with the gain and bias std that put its hidden layers at (sigma_w2, sigma_b2)."""
    return cfg.replace(init_gain=round(math.sqrt(sigma_w2 / base_w2), 4), bias_std=round(math.sqrt(sigma_b2), 4))


@st.cache_data(max_entries=256, show_spinner=False)
def _critical(activation: str, sigma_b2: float, leaky_slope: float) -> float | None:
    with one_thread():
        return critical_sigma_w2(activation, sigma_b2, leaky_slope)


@st.fragment
def show_phase_map(cfg: RunConfig) -> None:
    """The order-to-chaos map of cfg's activation, sliders that move cfg on it, and the prediction
    with the measured flow at that point (a fragment: a slider move reruns only this)."""
    width = cfg.widths[-1]
    base_w2 = init_sigma_w2(cfg.init, width, width)
    if base_w2 <= 0:
        st.info("Zero weights sit at σ_w² = 0, off the map: choose a random initialization.", icon=":material/block:")
        return
    c = st.columns([2, 2, 1.4])
    start = min(max(round(base_w2, 2), SW2_RANGE[0]), SW2_RANGE[1])
    sw2 = c[0].slider("σ_w² (weight variance × fan-in)", *SW2_RANGE, start, 0.05,
                      key=f"theory-sw2-{cfg.init}-{width}",
                      help=f"{cfg.init} gives σ_w² = {base_w2:.3g}; the slider sets the weight gain to sqrt(σ_w² / {base_w2:.3g})")
    sb2 = c[1].slider("σ_b² (bias variance)", *SB2_RANGE, round(init_sigma_b2(cfg.init, width), 2), 0.01,
                      key=f"theory-sb2-{cfg.init}", help="the bias std is its square root (0 = zero biases)")
    colour = c[2].radio("colour", list(tc.COLOURS), format_func=lambda k: "χ₁" if k == "chi1" else "depth scale",
                        key="theory-colour", horizontal=True)
    at = _at(cfg, sw2, sb2, base_w2)
    sw, sb = config_sigmas(at, DATASET_INFO[at.dataset])
    grid, critical = _diagram(cfg.activation, cfg.leaky_slope)
    point = pd.DataFrame({"sigma_w2": [sw[-2]], "sigma_b2": [sb[-2]], "label": ["this network"]})
    chart(tc.phase_chart(grid, critical, point, colour))
    crit = _critical(cfg.activation, sb[-2], cfg.leaky_slope)
    where = f"the critical σ_w² is {crit:.3g} at σ_b² = {sb[-2]:.3g}" if crit else \
        f"{cfg.activation} has no critical point at σ_b² = {sb[-2]:.3g}"
    st.caption(f"Colour: {tc.COLOURS[colour]} at the fixed point of the length map, for {cfg.activation}: "
               f"blue is ordered (gradients vanish), red chaotic (they explode); the black line is the "
               f"critical line, where {where}. The diamond is this network's hidden layers "
               f"(gain {at.init_gain:g} on {cfg.init}, bias std {at.bias_std:g}).")
    show_comparison(at, key="theory-point")


ISOMETRY_SB2 = 0.0025  # bias std 0.05: a small bias, as in Pennington et al.'s experiments


def _isometry_configs(depth: int, width: int) -> dict[str, RunConfig]:
    sw2 = _critical("tanh", ISOMETRY_SB2, 0.01)  # cached: a bisection of ~50 quadratures
    base = dict(widths=(width,) * depth, bias_std=math.sqrt(ISOMETRY_SB2))
    gain = math.sqrt(sw2 / init_sigma_w2("lecun_normal", width))
    return {f"tanh, orthogonal, critical (σ_w² = {sw2:.3g})":
            RunConfig(activation="tanh", init="orthogonal", init_gain=round(gain, 4), **base),
            f"tanh, Gaussian, critical (σ_w² = {sw2:.3g})":
            RunConfig(activation="tanh", init="lecun_normal", init_gain=round(gain, 4), **base),
            "ReLU, Gaussian (He), critical (σ_w² = 2)": RunConfig(activation="relu", init="he_normal", widths=(width,) * depth)}


def show_isometry(depth: int, width: int) -> None:
    """Dynamical isometry: tanh with orthogonal weights at criticality keeps the input-output
    Jacobian's singular values together; Gaussian weights and ReLU spread them with depth."""
    spectra, refused = {}, []
    try:
        for name, cfg in _isometry_configs(depth, width).items():
            spec, why = _spectrum(_json(cfg))
            if spec is None:
                refused.append(f"{name}: {why}")
            else:
                spectra[name] = spec
    except DatasetUnavailable as exc:
        st.info(f"No Jacobian: {exc}", icon=":material/cloud_download:")
        return
    for why in refused:
        st.warning(why, icon=":material/block:")
    if spectra:
        chart(tc.spectrum_chart(tc.spectrum_frame(spectra)))
        order = sorted(spectra, key=lambda n: spectra[n].quantile_ratio)
        orthogonal = next(iter(spectra)) if "orthogonal" in next(iter(spectra)) else None
        reading = ("Here the orthogonal network's spread is the narrowest, as dynamical isometry predicts: "
                   "criticality fixes the mean squared singular value, orthogonal weights keep the spread small."
                   if orthogonal == order[0] else "Here the orthogonal network's spread is not the narrowest.")
        st.caption(f"Input-output Jacobian of three {depth}-layer networks of {width} units at "
                   f"initialization ({JACOBIAN_BATCH} training examples, σ_b² = {ISOMETRY_SB2:g} for tanh). "
                   + "; ".join(_spectrum_summary(n, s) for n, s in spectra.items()) + f". {reading}")

