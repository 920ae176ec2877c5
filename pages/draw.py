"""Every chart of the app is drawn through `chart`: Streamlit's theme, the container's width (its
plot as tall as the chart's height, legends and axes around it: core.views.style.fit_width), and
with the sidebar's switch on (app.py), a button under the chart that saves it as an SVG file
(core.views.svg; PNG is in the chart's own menu). Views redrawn in place every second or so
(fragments with run_every) are `live_fragment`s, so they do not blink."""
from __future__ import annotations

import functools
import hashlib

import altair as alt
import streamlit as st

from core.views.markup import inert
from core.views.style import fit_width
from core.views.svg import to_svg

from .present import chart_scale

SVG_TOGGLE = "svg_downloads"  # the sidebar switch (app.py) that puts an SVG button under each chart
# Streamlit fades a fragment's elements while it reruns ("stale"). A view that reruns every second
# under a training job's load would blink with it, so inside live fragments they stay opaque
# (app.py puts this style in every page).
NO_STALE_FADE = ('<style>div[class*="st-key-live-"] [data-stale="true"] '
                 '{opacity: 1 !important; transition: none !important;}</style>')


def live_fragment(name: str, seconds: float):
    """Decorator for a view redrawn in place: a fragment rerun every `seconds` s that draws in
    a container keyed `live-{name}`, where NO_STALE_FADE keeps it from blinking."""
    def wrap(body):
        @st.fragment(run_every=seconds)
        @functools.wraps(body)  # the fragment's identity is the view's own name
        def view(*args, **kwargs):
            with st.container(key=f"live-{name}"):
                return body(*args, **kwargs)
        return view
    return wrap


def chart(c, svg: bool = True) -> None:
    """Every chart of the app is drawn here: in Streamlit's theme, the container's width with the
    plot as tall as the chart's height, and with the sidebar's switch on, a button under it that
    saves it as an SVG file (not under live charts, `svg=False`: they redraw every second)."""
    st.altair_chart(fit_width(c, chart_scale()), theme="streamlit", width="stretch")
    if svg and st.session_state.get(SVG_TOGGLE):
        _svg_button(c)


@functools.lru_cache(maxsize=16)  # called on the download's own thread, outside any script run
def _svg(spec_json: str) -> str:
    try:
        return to_svg(spec_json)
    except ValueError as exc:  # too big to draw: the file says why
        return f"<!-- no SVG: {inert(exc)} -->"


def _svg_button(c) -> None:
    """A download whose SVG is drawn when it is clicked (Streamlit runs the callable then, on
    its own thread), not on every rerun; clicking does not rerun the page."""
    with alt.data_transformers.disable_max_rows():  # the chart itself has no row limit either
        spec = c.to_json()
    digest = hashlib.sha1(spec.encode()).hexdigest()[:12]
    seen = st.session_state.setdefault("_svg_seen", {})
    seen[digest] = seen.get(digest, 0) + 1  # the same chart twice in one page: two buttons
    st.download_button("SVG", lambda: _svg(spec), file_name=f"chart-{digest}.svg", mime="image/svg+xml",
                       icon=":material/download:", key=f"svg-{digest}-{seen[digest]}", on_click="ignore")

