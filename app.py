"""Vanishing and exploding gradients: an exploratory app.  Run with `streamlit run app.py`."""
import logging
import os

import streamlit as st

from core.base.config import parse_flag, public_demo as demo_limits_on

# An emoji favicon: Streamlit draws it as an inline SVG, where a :material/...: page icon would
# be fetched from fonts.gstatic.com (the app must work offline; tests/test_browser.py checks).
st.set_page_config(page_title="Vanishing gradients lab", page_icon="📉", layout="wide")


@st.cache_resource
def configure_process() -> bool:
    """Once per server process: log training jobs, and honour a public-demo deployment.

    A shared deployment sets `public_demo = true` in .streamlit/secrets.toml (or the
    environment variable VG_PUBLIC_DEMO=1) to get much smaller limits on what a link can ask for.
    """
    logger = logging.getLogger("core")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    try:
        demo = st.secrets.get("public_demo", False)
    except Exception:  # no secrets file: a local session
        demo = False
    if parse_flag(demo):
        os.environ["VG_PUBLIC_DEMO"] = "1"
    return demo_limits_on()


public_demo = configure_process()

pages = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/explore.py", title="Explore", icon=":material/biotech:"),
    st.Page("pages/playground.py", title="Playground", icon=":material/toys:"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
    st.Page("pages/theory.py", title="Theory", icon=":material/functions:"),
    st.Page("pages/runs.py", title="Runs", icon=":material/folder_open:"),
    st.Page("pages/reproduce.py", title="Reproduce", icon=":material/science:"),
]
page = st.navigation(pages)

from pages.draw import NO_STALE_FADE, SVG_TOGGLE  # noqa: E402
from pages.navigation import page_run_by_app  # noqa: E402
from pages.services import stop_unless_store_opens  # noqa: E402
from pages.train_panel import training_status  # noqa: E402  (the session's training, one line)
from pages.present import adopt_url, presenter_toggle  # noqa: E402  (?present=1, the switch)

stop_unless_store_opens()  # e.g. VG_CACHE_DIR is a file: a message in the page, not a traceback


st.html(NO_STALE_FADE)  # live views redrawn every second do not blink (pages.draw.live_fragment)
with st.sidebar:
    if public_demo:
        st.caption(":material/public: Public demo: networks, epochs and datasets are limited.")
    training_status()
    adopt_url()
    presenter_toggle()
    st.toggle("SVG download under each chart", key=SVG_TOGGLE,
              help="Each chart's own menu saves it as PNG; this adds a button under every chart that "
                   "saves it as an SVG file (drawn in the light theme).")
st.session_state["_svg_seen"] = {}  # the SVG buttons of this run (pages.draw)

with page_run_by_app():
    page.run()
