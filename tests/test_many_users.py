"""Many users at once, through the real app (AppTest sessions sharing one server process)."""
import time

import pandas as pd
import pytest
import streamlit as st

from apptest_helpers import open_page, texts, wait_for_jobs
from core.base.config import RunConfig
from core.views.links import config_to_query

# A few seconds of training: long enough for eight sessions to click while it is queued/running.
SHARED = RunConfig(dataset="mnist-5k", widths=(256, 256), epochs=3, activation="tanh")
SLOW = RunConfig(dataset="mnist-5k", widths=(512,) * 4, epochs=200, batch_size=16)
# The many-session tests of test_browser.py and test_many_users.py run on one
# xdist worker, one after another: two of them side by side on two cores starved each other's
# page runs (pytest.ini: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("many-sessions")


@pytest.fixture(autouse=True)
def fresh_server_state(isolated_cache):
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    from pages.services import get_jobs

    for job in get_jobs().active():
        get_jobs().cancel(job.run_id)
    wait_for_jobs()
    get_jobs().shutdown()
    st.cache_resource.clear()
    st.cache_data.clear()


def click_train(at):
    at.button(key="explore-train").click().run()
    assert not at.exception


def test_eight_sessions_asking_for_one_missing_run_train_it_once():
    from pages.services import get_jobs

    sessions = [open_page("pages/explore.py", config_to_query(SHARED)) for _ in range(8)]
    for at in sessions:  # everyone clicks while the first click's job is still queued or running
        click_train(at)
    wait_for_jobs()
    assert get_jobs().trained == 1
    tables = []
    for at in sessions:
        at.run()
        assert not at.exception and "Stored run" in texts(at)
        tables.append(at.dataframe[0].value.drop(columns="seconds"))
    for table in tables[1:]:
        pd.testing.assert_frame_equal(table, tables[0])


def test_different_runs_queue_one_at_a_time_and_show_their_position():
    from pages.services import get_jobs

    configs = [SLOW, SHARED.replace(seed=2), SHARED.replace(seed=3)]
    sessions = [open_page("pages/explore.py", config_to_query(c)) for c in configs]
    for at in sessions:
        click_train(at)
    last = sessions[-1]
    last.run()
    assert "Waiting in the queue: position 2" in texts(last)  # SLOW runs, seed 2 is next
    get_jobs().cancel(SLOW.run_id)
    wait_for_jobs()
    jobs = [get_jobs().get(c.run_id) for c in configs]
    assert [j.state for j in jobs] == ["cancelled", "done", "done"]
    spans = sorted((j.started_at, j.finished_at) for j in jobs)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))  # never two at once
    last.run()
    assert "Stored run" in texts(last)


def test_a_session_that_disconnects_does_not_leave_a_stuck_job(monkeypatch):
    # AppTest does not run the page's polling fragment, so a session's heartbeats are its
    # reruns; a short abandon time makes "the tab was closed" happen within the test. Short, but
    # longer than a rerun of the polling session takes on a loaded machine (with 4 s, a rerun
    # beside training and the suite's other worker left its own job unwatched and cancelled).
    monkeypatch.setenv("VG_JOB_ABANDON_SECONDS", "15")
    from pages.services import get_jobs

    gone = open_page("pages/explore.py", config_to_query(SLOW))
    click_train(gone)  # ... and the browser tab is closed: no more reruns, no heartbeats
    waiting = open_page("pages/explore.py", config_to_query(SHARED.replace(seed=9)))
    click_train(waiting)
    deadline = time.time() + 120
    while time.time() < deadline and get_jobs().get(SHARED.replace(seed=9).run_id).state != "done":
        waiting.run()  # this session keeps polling, as its open tab does
        time.sleep(0.5)
    slow = get_jobs().get(SLOW.run_id)
    assert slow.state == "cancelled" and "nobody" in slow.error
    assert get_jobs().get(SHARED.replace(seed=9).run_id).state == "done"


def test_cancel_from_the_page():
    from pages.services import get_jobs

    at = open_page("pages/explore.py", config_to_query(SLOW))
    click_train(at)
    at.run()
    at.button(key="explore-job-cancel").click().run()
    assert not at.exception
    job = get_jobs().wait(SLOW.run_id)
    assert job.state == "cancelled"
    at.run()
    assert any(b.label == "Train this network" for b in at.button)


def test_public_demo_secret_lowers_the_limits(monkeypatch):
    monkeypatch.setenv("VG_PUBLIC_DEMO", "0")  # restored (removed) after the test
    from streamlit.testing.v1 import AppTest

    from apptest_helpers import APP

    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["public_demo"] = True
    at.run()
    at.switch_page("pages/explore.py")
    at.query_params["widths"] = "2048-2048"
    at.run()
    assert not at.exception
    warning = " ".join(w.value for w in at.warning)
    assert "widths" in warning and "must be 1 to 1024" in warning
    assert at.session_state["explore_cfg"].widths == RunConfig().widths
