"""End to end in a real browser: `streamlit run app.py` and headless Chromium (Debian's).

Opens a share link first thing after the server starts (the case Streamlit's pages/ folder
handling gets wrong without pages.services.require_app), waits for the charts, trains a tiny
network with a click, and fails on any Streamlit exception. Screenshots go to test-artifacts/.
"""
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from core.config import RunConfig
from core.runs.store import RunStore
from core.engine.loop import train
from core.views.links import config_to_query

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server(str):
    """The server's base URL; `.log()` is what it printed so far."""

    def log(self) -> str:
        return Path(self.log_path).read_text()


@pytest.fixture
def server(isolated_cache, tmp_path):
    port = free_port()
    env = dict(os.environ, VG_CACHE_DIR=str(isolated_cache), VG_OFFLINE="1")
    log_path = tmp_path / "streamlit.log"
    log_file = open(log_path, "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT, text=True)
    base = Server(f"http://127.0.0.1:{port}")
    base.log_path = str(log_path)
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{base}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("streamlit did not start: " + base.log())
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log_file.close()


@pytest.fixture
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (see README / .ci/run)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    return browser.new_page(viewport={"width": 1400, "height": 1000})


def no_exceptions(page):
    count = page.locator("[data-testid=stException]").count()
    assert count == 0, page.locator("[data-testid=stException]").first.inner_text()


def test_share_link_opens_the_stored_run_and_a_click_trains_a_new_one(server, page, isolated_cache):
    stored = RunConfig(dataset="digits", widths=(32, 32, 32), activation="logistic", epochs=2)
    RunStore(isolated_cache).save(train(stored))
    query = "&".join(f"{k}={v}" for k, v in config_to_query(stored).items())

    page.goto(f"{server}/explore?{query}")  # the very first request to this server
    page.get_by_text("Stored run").wait_for(timeout=90_000)
    page.wait_for_function("document.querySelectorAll('.vega-embed').length >= 3", timeout=60_000)
    time.sleep(1.0)
    page.screenshot(path=str(ARTIFACTS / "explore-stored.png"), full_page=True)
    no_exceptions(page)
    nav = page.locator("[data-testid=stSidebarNav]").inner_text()
    assert "Explore" in nav and "config ui" not in nav  # app.py's navigation, not the pages/ folder

    fresh = stored.replace(activation="relu", init="he_normal")
    query = "&".join(f"{k}={v}" for k, v in config_to_query(fresh).items())
    page.goto(f"{server}/explore?{query}")
    page.get_by_role("button", name="Train this network").click(timeout=60_000)
    page.get_by_text("Stored run").wait_for(timeout=120_000)
    page.wait_for_function("document.querySelectorAll('.vega-embed').length >= 3", timeout=60_000)
    time.sleep(1.0)
    page.screenshot(path=str(ARTIFACTS / "explore-trained.png"), full_page=True)
    no_exceptions(page)
    assert "activation=relu" in page.url  # the URL reflects the experiment


def test_every_page_loads_in_the_browser(server, page):
    for path in ("", "explore", "compare", "theory", "runs"):
        page.goto(f"{server}/{path}")
        page.locator("h1").first.wait_for(timeout=90_000)
        page.wait_for_load_state("networkidle")
        time.sleep(1.5)
        page.screenshot(path=str(ARTIFACTS / f"page-{path or 'home'}.png"), full_page=True)
        no_exceptions(page)


def test_invalid_link_shows_a_warning_in_the_browser(server, page):
    page.goto(f"{server}/explore?activation=sigmoidal&epochs=3&lr=-1")
    page.get_by_text("Some link parameters were ignored").wait_for(timeout=90_000)
    text = page.locator("[data-testid=stAlert]").first.inner_text()
    assert "activation" in text and "lr" in text
    no_exceptions(page)


def test_sessions_in_separate_browsers_share_one_training(server, browser):
    cfg = RunConfig(dataset="digits", widths=(64, 64), activation="elu", epochs=3)
    query = "&".join(f"{k}={v}" for k, v in config_to_query(cfg).items())
    pages = [browser.new_context().new_page() for _ in range(4)]  # four independent sessions
    for p in pages:
        p.goto(f"{server}/explore?{query}")
    for p in pages:
        p.get_by_role("button", name="Train this network").wait_for(timeout=90_000)
    for p in pages:  # the clicks arrive while the first one's job is starting
        p.get_by_role("button", name="Train this network").click()
    for p in pages:
        p.get_by_text("Stored run").wait_for(timeout=120_000)
        no_exceptions(p)
    assert server.log().count(f"training run {cfg.run_id}") == 1
