"""The Playground's pieces: its compact network controls, the upload of your own data (also on
Explore), and the process-wide hub of live trainers.

    cfg = playground_controls("playground", cfg)   # a few of Explore's widgets, in a column
    data_upload("explore")                         # CSV / .npz -> dataset "upload:<hash>"
"""
from __future__ import annotations

import dataclasses
import re
from types import SimpleNamespace

import streamlit as st

from core.base.config import (ConfigError, RunConfig, active_limits, config_fields, display_name, field_applies,
                              field_spec, plain_str)
from core.base.datasets import TOY, dataset_label, is_tabular
from core.engine.userdata import MAX_BYTES, LABEL_NAMES, UploadError, csv_columns, ingest, uploads_allowed
from core.runs.playground import MAX_BATCH, MAX_DEPTH, MAX_WIDTH, PlaygroundHub, check_playground
from core.views.links import config_to_query
from core.views.markup import inert
from pages.config_ui import draw_widget, sync_from_url, widget_spec

# What the Playground lets you change (the rest keeps the link's or the default values).
CONTROLS = ("dataset", "data_noise", "widths", "activation", "init", "bn", "residual",
            "grad_noise", "optimizer", "lr", "batch_size", "seed")
# A small network on the circles that trains in seconds (used when a link names no 2-D data).
DEFAULTS = dict(dataset="circles", widths=(8, 8, 8, 8), activation="tanh", init="glorot_uniform",
                lr=0.03, batch_size=32, optimizer="sgd_momentum")


@st.cache_resource
def get_playground() -> PlaygroundHub:
    """One hub per server process: every session's live trainer, under the global cap on
    worker processes."""
    return PlaygroundHub()


def playground_controls(page: str, cfg: RunConfig) -> RunConfig | None:
    """Explore's widgets for CONTROLS, drawn where called, within the Playground's limits."""
    limits = active_limits()
    view = SimpleNamespace(**{f.name: getattr(cfg, f.name) for f in config_fields()})
    values = {}
    for name in CONTROLS:
        f = field_spec(name)
        if not field_applies(f, view):
            continue
        spec = widget_spec(f, view, limits)
        if name == "dataset":
            spec["options"] = [d for d in spec["options"] if is_tabular(d)]
        elif name == "batch_size":
            spec["options"] = [b for b in spec["options"] if b <= MAX_BATCH]
        elif name == "widths":
            spec["options"] = [w for w in spec["options"] if w <= MAX_WIDTH]
            limits = dataclasses.replace(limits, max_hidden_layers=min(MAX_DEPTH, limits.max_hidden_layers))
        values[name] = draw_widget(page, f, spec, cfg, limits)
        setattr(view, name, values[name])
        limits = active_limits()
    try:
        new = cfg.replace(**values)
    except ConfigError as exc:
        st.error(inert(exc))
        return None
    if new != st.session_state.get(f"{page}_cfg", new):  # a setting changed: the link's warnings are answered
        st.session_state[f"{page}_cfg"] = new
        st.session_state[f"{page}_warnings"] = []
    return new


def data_upload(page: str) -> None:
    """Upload a CSV or .npz; a valid file becomes this page's dataset (through the URL, so the
    sidebar and the share link show it); a bad one is refused with the reason."""
    with st.expander("Your own data (CSV or .npz)", icon=":material/upload_file:"):
        if not uploads_allowed():
            st.caption("Uploads are switched off in this public demo.")
            return
        st.caption(f"A CSV with numeric feature columns and a label column, or an .npz with arrays "
                   f"x (rows × features) and y (labels); at most {MAX_BYTES // 2**20} MiB. Two "
                   "features draw a decision boundary on the Playground.")
        upload = st.file_uploader("data file", type=["csv", "npz"], key=f"{page}_upload",
                                  max_upload_size=max(1, MAX_BYTES // 2**20))  # says its own limit
        if upload is None:
            return
        if upload.size > MAX_BYTES:
            st.error(f"data file: {upload.size / 2**20:.1f} MiB; at most {MAX_BYTES // 2**20} MiB allowed")
            return
        raw, label = upload.getvalue(), None
        if not upload.name.lower().endswith(".npz"):
            try:
                columns = csv_columns(raw)
            except UploadError as exc:
                st.error(inert(exc))
                return
            named = [i for i, c in enumerate(columns) if c.strip().lower() in LABEL_NAMES]
            label = st.selectbox("label column", columns, index=named[0] if named else len(columns) - 1,
                                 key=f"{page}_upload_label", format_func=inert)
        if st.button("Use this data", key=f"{page}_upload_use", type="primary"):
            try:
                name = ingest(raw, upload.name, label)
            except UploadError as exc:
                st.error(inert(exc))
                return
            st.query_params["dataset"] = name
            st.rerun()


def link_config(page: str) -> RunConfig:
    """The link's configuration (the one URL state of every page, sync_from_url) fitted to the
    Playground by playground_defaults; the link is rewritten to it. Each value of the link that
    was refused or replaced is one of the page's link warnings (show_url_warnings), naming what
    the Playground uses instead; they stay until a setting is changed (playground_controls)."""
    cfg = sync_from_url(page)
    carried = st.session_state.pop(f"{page}_link_refused", None)
    if carried is not None:  # the run after the rewrite: the rewritten link itself is valid
        st.session_state[f"{page}_warnings"] = carried + list(st.session_state.get(f"{page}_warnings") or [])
        return cfg
    warnings = list(st.session_state.get(f"{page}_warnings") or [])
    refused = {w.split(":", 1)[0] for w in warnings}
    given = tuple(k for k in st.query_params if display_name(k) not in refused)
    fitted = playground_defaults(cfg, given)
    if fitted == cfg:
        return cfg
    try:
        check_playground(cfg)
        reason = None
    except ConfigError as exc:
        reason = exc
    replaced = [f"{reason if reason and reason.field == name else name + ': not for the Playground'} "
                f"(ignored, using {plain_str(getattr(fitted, name))})"
                for name in given if name in FIELDS and getattr(fitted, name) != getattr(cfg, name)]  # data not 2-D
    st.session_state[f"{page}_link_refused"] = [_as_used(w, cfg, fitted) for w in warnings] + replaced
    st.query_params.from_dict(config_to_query(fitted))
    st.rerun()


FIELDS = tuple(f.name for f in config_fields())
# The end of a link warning (RunConfig.from_lenient): the value used instead of the one given.
_USING = re.compile(r" \(ignored(?: (?P<field>\w+))?, using .*\)$")


def _as_used(warning: str, cfg: RunConfig, fitted: RunConfig) -> str:
    """`warning` naming what the Playground uses: the link's parser names the app's default
    (mnist-5k, batch size 64), which the Playground replaced with its own (circles, 32)."""
    m = _USING.search(warning)
    name = m["field"] if m and m["field"] else warning.split(":", 1)[0]
    if name not in FIELDS or getattr(fitted, name) == getattr(cfg, name):
        return warning
    used = f"using {plain_str(getattr(fitted, name))}, the Playground's"
    if m is None:
        return f"{warning} ({used})"
    return f"{warning[:m.start()]} (ignored{' ' + m['field'] if m['field'] else ''}, {used})"


def playground_defaults(cfg: RunConfig, given=()) -> RunConfig:
    """`cfg` if the Playground can train it as the link gives it; else the Playground's small
    default network for every setting the link did not give (`given`: the link's parameter
    names): a link without 2-D data gets the Playground's data too, and `?dataset=spiral` alone
    gets a small network instead of the app's 5 x 128. A setting the link gives stays, and the
    page says what is wrong with it."""
    if not is_tabular(cfg.dataset):
        return cfg.replace(**{k: v for k, v in DEFAULTS.items() if k not in given or k == "dataset"})
    try:
        check_playground(cfg)
    except ConfigError as exc:
        if exc.field not in given and exc.field in DEFAULTS:
            return cfg.replace(**{k: v for k, v in DEFAULTS.items() if k not in given and k != "dataset"})
    return cfg


def dataset_caption(cfg: RunConfig) -> str:
    if cfg.dataset in TOY:
        return f"{dataset_label(cfg.dataset)}, noise {cfg.data_noise:g}"
    return inert(dataset_label(cfg.dataset))
