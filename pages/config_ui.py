"""Sidebar widgets for every RunConfig field, kept in step with the URL.

    cfg = config_sidebar("explore")        # a valid RunConfig, or None (the error is shown)

The current configuration lives in st.session_state[f"{page}_cfg"]. A URL that differs from
what this page last wrote (a share link, a Home button) replaces it, with a visible warning
for every parameter that was ignored. Widgets take their values from the configuration, and
the configuration from the widgets; after each run the URL is rewritten from it.
Which widget each field gets, its label, options, help and range come from the config's field
metadata (`widget`, `applies`, `choices`, `lo`/`hi`): a new field needs no change here.
"""
from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import streamlit as st

from core.base.config import (ConfigError, Limits, RunConfig, active_limits, config_fields, field_applies,
                         field_spec)
from core.views.links import config_from_query, config_to_query
from core.views.markup import inert

# Sidebar sections: one expander per field group, in the fields' order. A group not named here
# gets its own name as title; a section not always open opens when one of its settings is changed.
SECTIONS = {"data": "Data", "architecture": "Network", "noise": "Gradient noise",
            "optimization": "Training", "instrumentation": "Advanced"}
ALWAYS_OPEN = ("architecture", "optimization")
WIDTHS_MODES = ["depth × width", "list"]


def _key(page: str, name: str) -> str:
    return f"{page}__{name}"


def sync_from_url(page: str, page_params: tuple[str, ...] = ()) -> RunConfig:
    """Adopt the URL's configuration when the URL changed from outside this page's own writes."""
    params = st.query_params.to_dict()
    config_params = {k: v for k, v in params.items() if k not in page_params}
    signature = tuple(sorted(config_params.items()))
    state_key = f"{page}_cfg"
    if st.session_state.get(f"{page}_url_sig") != signature or state_key not in st.session_state:
        cfg, warnings = config_from_query(config_params)
        st.session_state[state_key] = cfg
        st.session_state[f"{page}_url_sig"] = signature
        st.session_state[f"{page}_warnings"] = warnings
        _load_widgets(page, cfg)
    return st.session_state[state_key]


def write_url(page: str, cfg: RunConfig, extra: dict[str, str] | None = None) -> None:
    """Rewrite the URL from the configuration (plus page parameters), remembering what we wrote."""
    params = config_to_query(cfg)
    st.session_state[f"{page}_url_sig"] = tuple(sorted(params.items()))
    params.update(extra or {})
    if st.query_params.to_dict() != params:
        st.query_params.from_dict(params)


def share_url(params: dict[str, str], page_path: str) -> str:
    """An absolute link to `page_path` with `params`, for copying."""
    from urllib.parse import urlencode

    try:
        base = st.context.url or ""
    except Exception:
        base = ""
    base = base.split("?")[0].rstrip("/")
    for suffix in ("/explore", "/compare", "/runs", "/theory", "/reproduce"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    query = urlencode(params)
    return f"{base}/{page_path}" + (f"?{query}" if query else "")


def _load_widgets(page: str, cfg: RunConfig) -> None:
    """Put the configuration's values into the widgets' session state (before they render)."""
    for name, value in cfg.to_dict().items():
        st.session_state[_key(page, name)] = value
    widths = list(cfg.widths)
    uniform = len(set(widths)) == 1
    st.session_state[_key(page, "widths_mode")] = WIDTHS_MODES[0 if uniform else 1]
    st.session_state[_key(page, "depth")] = len(widths)
    st.session_state[_key(page, "width")] = widths[0]
    st.session_state[_key(page, "widths_text")] = " ".join(map(str, widths))


def _ensure(page: str, name: str, value) -> str:
    """The widget key of `name`, initialized from the configuration if the widget is new."""
    key = _key(page, name)
    if key not in st.session_state:
        st.session_state[key] = value
    return key


def _with_value(options: list, value) -> list:
    return options if value in options else sorted(options + [value])


def _clamped(value, lo, hi):
    if lo is not None and value < lo:
        return lo
    return hi if hi is not None and value > hi else value


def widget_key(page: str, name: str) -> str:
    """The session-state key of the widget drawing field `name` (the widths editor: its mode)."""
    return _key(page, "widths_mode" if field_spec(name).metadata["widget"]["kind"] == "widths" else name)


def widget_spec(f: dataclasses.Field, view, limits: Limits) -> dict:
    """Field `f`'s widget metadata, resolved for drawing now: the label, the options (the
    choices `view` allows, or slider values capped at the active limit and reaching it) and
    the range (the field's lo/hi, capped by the limit)."""
    meta = f.metadata
    spec = dict(meta["widget"])
    spec["label"] = spec["label"] or f.name.replace("_", " ")
    cap = getattr(limits, meta["limit"]) if meta["limit"] else None
    options = spec.get("options")
    if callable(options):
        options = list(options(view))
    elif options is not None:
        options = [o for o in options if cap is None or o <= cap]
        options += [cap] if cap is not None and cap not in options else []
    elif meta["choices"]:
        options = list(meta["choices"])
    spec["options"] = options
    lo, hi = meta["lo"], meta["hi"]
    hi = cap if hi is None else hi if cap is None else min(hi, cap)
    cast = type(f.default) if f.default is not dataclasses.MISSING else (lambda x: x)
    spec["lo"], spec["hi"] = (None if x is None else cast(x) for x in (lo, hi))
    return spec


def draw_widget(page: str, f: dataclasses.Field, spec: dict, cfg: RunConfig, limits: Limits):
    """Draw field `f`'s widget as `spec` says; return the widget's value."""
    kind, label, options = spec["kind"], spec["label"], spec["options"]
    if kind == "widths":
        return _widths_editor(page, f, spec, cfg, limits)
    key = _ensure(page, f.name, getattr(cfg, f.name))
    now = st.session_state[key]
    if kind in ("select", "radio") and now not in options:  # e.g. bn=last after switching to vgg
        st.session_state[key] = f.default if f.default in options else options[0]
    elif kind in ("slider", "number") and _clamped(now, spec["lo"], spec["hi"]) != now:
        st.session_state[key] = _clamped(now, spec["lo"], spec["hi"])
    common = dict(key=key, help=f.metadata["help"])
    show = dict(format_func=spec["show"]) if spec.get("show") else {}
    if kind == "select":
        return st.selectbox(label, options, **show, **common)
    if kind == "radio":
        return st.radio(label, options, horizontal=True, **show, **common)
    if kind == "select_slider":
        return st.select_slider(label, _with_value(options, now), **show, **common)
    if kind == "toggle":
        return st.toggle(label, **common)
    if kind == "slider":
        return st.slider(label, spec["lo"], spec["hi"], step=spec.get("step"), **common)
    return st.number_input(label, spec["lo"], spec["hi"], step=spec.get("step"),
                           format=spec.get("format"), **common)


def _widths_editor(page: str, f: dataclasses.Field, spec: dict, cfg: RunConfig, limits: Limits):
    """The MLP's widths: depth x one width (two sliders), or a list of widths as text."""
    mode = st.radio(spec["label"], WIDTHS_MODES, horizontal=True, help=f.metadata["help"],
                    key=_ensure(page, "widths_mode", WIDTHS_MODES[0]))
    if mode != WIDTHS_MODES[0]:
        return st.text_input("widths, input to output", help=f.metadata["help"],
                             key=_ensure(page, "widths_text", " ".join(map(str, cfg.widths))))
    depth_key = _ensure(page, "depth", len(cfg.widths))
    st.session_state[depth_key] = _clamped(st.session_state[depth_key], 1, limits.max_hidden_layers)
    depth = st.slider("depth (hidden layers)", 1, limits.max_hidden_layers, key=depth_key)
    width_key = _ensure(page, "width", cfg.widths[0])
    width = st.select_slider("width (units per layer)",
                             _with_value(spec["options"], st.session_state[width_key]), key=width_key)
    return (int(width),) * int(depth)


def _sections() -> dict[str, list[dataclasses.Field]]:
    """The fields by group, groups in the order of their first field."""
    sections: dict[str, list] = {}
    for f in config_fields():
        sections.setdefault(f.metadata["group"], []).append(f)
    return sections


def config_sidebar(page: str, page_params: tuple[str, ...] = ()) -> RunConfig | None:
    """Draw one widget per field in the sidebar; return the valid config or None.

    A field is drawn only where its `applies` holds for the values of the widgets drawn above it
    (momentum only with sgd_momentum, the vgg settings only with arch=vgg); a hidden field
    keeps its value."""
    cfg = sync_from_url(page, page_params)
    limits, base = active_limits(), RunConfig()
    view = SimpleNamespace(**{f.name: getattr(cfg, f.name) for f in config_fields()})
    values: dict = {}
    for group, fields in _sections().items():
        changed = any(getattr(cfg, f.name) != getattr(base, f.name) for f in fields if field_applies(f, cfg))
        with st.sidebar.expander(SECTIONS.get(group, group.capitalize()),
                                 expanded=group in ALWAYS_OPEN or changed):
            for f in fields:
                if field_applies(f, view):
                    values[f.name] = draw_widget(page, f, widget_spec(f, view, limits), cfg, limits)
                    setattr(view, f.name, values[f.name])
    try:
        new = cfg.replace(**values)  # RunConfig coerces the widths text and checks every limit
    except ConfigError as exc:
        st.sidebar.error(inert(exc))  # the message may echo what was typed
        st.error(f"This configuration cannot run — {inert(exc)}")
        return None
    if new != cfg:
        st.session_state[f"{page}_cfg"] = new
        st.session_state[f"{page}_warnings"] = []
    return new


def show_url_warnings(page: str) -> None:
    warnings = st.session_state.get(f"{page}_warnings") or []
    if warnings:
        # each warning echoes what the link gave: shown as its characters, never as markup
        st.warning("Some link parameters were ignored:\n" + "\n".join(f"- {inert(w)}" for w in warnings))

