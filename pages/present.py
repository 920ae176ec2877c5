"""Presenter mode: taller charts, one idea per screen, the details (run ids, χ₁) out of the way.

    adopt_url()                      # app.py, before the page runs: ?present=1 turns it on
    presenter_toggle()               # app.py's sidebar switch
    presenting()                     # whether this session presents
    chart_scale()                    # pages.draw.chart: how much taller each plot is drawn
    idea = one_idea("explore", ["Problem and cure", "Predict before training"])
    if shows(idea, "Problem and cure"): ...   # presenting: only the chosen idea; else every one

The mode lives in the session: the link's parameter is read once and taken out of the URL, so a
page that rewrites its URL from its settings (Explore, Compare) never sees it as a setting.
"""
from __future__ import annotations

import streamlit as st

from core.base.config import parse_flag
from core.views.markup import inert
from core.views.style import PRESENT_SCALE

KEY = "presenter"  # the mode (a plain session key: a widget's own state is dropped on a run that lacks it)
SWITCH = "presenter-switch"  # the sidebar's toggle
PARAM = "present"


def adopt_url() -> None:
    """Take ?present=1 (or 0) from the URL into the session; a value that is neither is named."""
    if PARAM not in st.query_params:
        return
    raw = st.query_params[PARAM]
    del st.query_params[PARAM]
    flag = parse_flag(raw)
    if flag is None:
        st.warning(inert(f"{PARAM}: got {raw[:40]!r}; expected 1 (presenter mode) or 0"), icon=":material/warning:")
    else:
        st.session_state[KEY] = st.session_state[SWITCH] = flag


def presenter_toggle() -> None:
    if SWITCH not in st.session_state:
        st.session_state[SWITCH] = presenting()
    st.session_state[KEY] = st.toggle(
        "Presenter mode", key=SWITCH, help="For a class: taller charts, one idea per screen, run ids out of the "
        "way. A link with ?present=1 opens in this mode.")


def presenting() -> bool:
    return bool(st.session_state.get(KEY))


def chart_scale() -> float:
    return PRESENT_SCALE if presenting() else 1.0


def one_idea(page: str, ideas: list[str]) -> str | None:
    """Presenting: a row of buttons choosing the one idea the screen shows (the first by default);
    otherwise None (every idea is shown)."""
    if not presenting():
        return None
    chosen = st.segmented_control("Show", ideas, default=ideas[0], key=f"{page}-idea")
    return chosen or ideas[0]


def shows(idea: str | None, name: str) -> bool:
    return idea is None or idea == name
