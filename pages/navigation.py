"""Why pages run through app.py, and the one patch of Streamlit's internals this app needs.

Streamlit treats a folder named pages/ next to the entry script as its older automatic
multipage app until app.py's st.navigation has run once in the server process. A share link
that opens /explore first after a restart would run the page without app.py (no page config, a
sidebar listing every file, no training status). The project's design keeps the folder's name,
so `hand_back_unless_app()` hands such a run back to app.py by setting
`PagesManager.uses_pages_directory = False` (Streamlit's flag for "this app navigates itself")
and rerunning. Whether this run came through app.py is asked of the run itself
(`page_run_by_app`, a thread-local each session's script thread sets), not of Streamlit's
process-wide flag: when ten sessions open at once, the first resets the flag while the others
are already running the old way (one such session was left half drawn, without its status
fragment). AppTest resolves pages the old way on purpose; a rerun there would swallow clicks.
"""
from __future__ import annotations

import contextlib
import threading

import streamlit as st

_APP_RUN = threading.local()  # set while app.py runs the page, in the script's own thread


@contextlib.contextmanager
def page_run_by_app():
    """app.py runs the chosen page inside this, so the page knows it came through navigation."""
    _APP_RUN.active = True
    try:
        yield
    finally:
        _APP_RUN.active = False


def hand_back_unless_app() -> None:
    """Rerun through app.py when this page was started by Streamlit's pages/ folder handling."""
    from streamlit.runtime.pages_manager import PagesManager

    if not getattr(_APP_RUN, "active", False) and not under_apptest():
        PagesManager.uses_pages_directory = False
        st.rerun()


def under_apptest() -> bool:
    """AppTest runs scripts against a mock Runtime (its config flag is not visible to them)."""
    from unittest.mock import Mock

    from streamlit.runtime import Runtime

    return isinstance(getattr(Runtime, "_instance", None), Mock)
