"""Every chart of the app is drawn through `chart`: Streamlit's theme, the container's width, and
with the sidebar's switch on (app.py), a button under the chart that saves it as an SVG file
(core.views.svg; PNG is in the chart's own menu)."""
from __future__ import annotations

import hashlib

import streamlit as st

from core.views.markup import inert
from core.views.svg import to_svg

SVG_TOGGLE = "svg_downloads"  # the sidebar switch (app.py) that puts an SVG button under each chart


def chart(c) -> None:
    """Every chart of the app is drawn here: in Streamlit's theme, the container's width, and
    with the sidebar's switch on, a button under it that saves it as an SVG file."""
    st.altair_chart(c, theme="streamlit", width="stretch")
    if st.session_state.get(SVG_TOGGLE):
        _svg_button(c)


@st.cache_data(max_entries=64, show_spinner=False)
def _svg(spec_json: str) -> str:
    return to_svg(spec_json)


def _svg_button(c) -> None:
    spec = c.to_json()
    digest = hashlib.sha1(spec.encode()).hexdigest()[:12]
    seen = st.session_state.setdefault("_svg_seen", {})
    seen[digest] = seen.get(digest, 0) + 1  # the same chart twice in one page: two buttons
    try:
        svg = _svg(spec)
    except ValueError as exc:
        st.caption(f"No SVG: {inert(exc)}")
        return
    st.download_button("SVG", svg, file_name=f"chart-{digest}.svg", mime="image/svg+xml",
                       icon=":material/download:", key=f"svg-{digest}-{seen[digest]}")
