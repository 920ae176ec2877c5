"""Helpers for AppTest-based tests of the Streamlit app."""
import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "app.py")
TINY = {"dataset": "digits", "widths": "16-16", "epochs": "1", "activation": "tanh"}


def open_page(page: str, params: dict | None = None, timeout: float = 60) -> AppTest:
    """The app opened on `page` ('pages/explore.py', ...) with query parameters, like a link."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    for k, v in (params or {}).items():
        at.query_params[k] = v
    at.run()
    if page != "pages/home.py":
        at.switch_page(page)
        for k, v in (params or {}).items():
            at.query_params[k] = v
        at.run()
    return at


def charts(at: AppTest) -> list:
    return list(at.get("vega_lite_chart"))


def texts(at: AppTest) -> str:
    parts = []
    for kind in ("markdown", "caption", "success", "info", "warning", "error", "title", "subheader"):
        parts += [getattr(e, "value", "") or "" for e in at.get(kind)]
    return "\n".join(str(p) for p in parts)


def wait_for_jobs(timeout: float = 120) -> None:
    from pages.services import get_jobs

    end = time.time() + timeout
    while time.time() < end:
        if not get_jobs().active():
            return
        time.sleep(0.05)
    raise TimeoutError("training jobs did not finish")


@pytest.fixture(autouse=True)
def fresh_app_caches(isolated_cache):
    """Autouse in every test module that imports it: each test gets its own store; the
    process-wide store, job queue and cached data are dropped before and after."""
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    wait_for_jobs()
    from pages.services import get_jobs

    get_jobs().shutdown()
    st.cache_resource.clear()
    st.cache_data.clear()
