"""Shared objects of the app process: the run store, the job queue, cached computations.

Pages call these; nothing here draws anything. `st.cache_resource` gives one store and one
job queue per server process (shared by every session, thread-safe); `st.cache_data` caches
results that are safe to copy per caller.
"""
from __future__ import annotations

import threading
import uuid

import streamlit as st

from core.base.config import RunConfig
from core.base.cost import Rates
from core.lab.warm import WarmUp, warm_enabled
from core.runs.jobs import JobQueue
from core.runs.ray_executor import trainer_from_env
from core.engine.probe import probe_at_init
from core.runs import calibration
from core.runs.load import Busy
from core.views.progress import TimeEstimate
from core.runs.store import CorruptRun, RunStore, StoreError

from .navigation import hand_back_unless_app, under_apptest


def require_app() -> None:
    """Make sure the page runs inside app.py's navigation (pages.navigation says why) and that
    the run store opens."""
    hand_back_unless_app()
    stop_unless_store_opens()  # (app.py checks too; AppTest runs a page without app.py)


@st.cache_resource
def get_store() -> RunStore:
    return RunStore()


def stop_unless_store_opens() -> None:
    """Show why the run store cannot open (a bad VG_CACHE_DIR, VG_CACHE_MAX_BYTES or lock file)
    as an error in the page and stop the script, instead of a traceback. A failed open is not
    cached: fixing the setting and reloading works."""
    try:
        get_store()
    except StoreError as exc:
        from core.views.markup import inert

        st.error(f"The run store cannot open, so nothing can be trained or shown: {inert(exc)}. "
                 "Fix the setting and reload the page.", icon=":material/error:")
        st.stop()


@st.cache_resource
def get_jobs() -> JobQueue:
    """The process's job queue: local worker processes, or a Ray cluster when VG_RAY_ADDRESS
    is set (connected once per server process). With an empty store it starts warming it."""
    jobs = JobQueue(get_store(), trainer=trainer_from_env())
    if warm_enabled() and not under_apptest() and not get_store().list_ids():
        _WARMUP.append(WarmUp(jobs, get_store()))  # planned in its thread: resolving reads data sets
        threading.Thread(target=_WARMUP[0].start, daemon=True, name="vg-warm").start()
    return jobs


_WARMUP: list[WarmUp] = []  # the process's warming of an empty store (core.lab.warm), once started


def warm_status() -> str | None:
    """One line while the Home cards are being trained in the background, else None."""
    return _WARMUP[0].status() if _WARMUP else None


def session_id() -> str:
    """A stable id for this browser session (used as the job watcher id)."""
    if "_vg_session" not in st.session_state:
        try:
            from streamlit.runtime.scriptrunner import get_script_run_ctx

            ctx = get_script_run_ctx()
            st.session_state["_vg_session"] = ctx.session_id if ctx else uuid.uuid4().hex
        except Exception:
            st.session_state["_vg_session"] = uuid.uuid4().hex
    return st.session_state["_vg_session"]


@st.cache_data(max_entries=128, show_spinner=False)  # a Compare sweep shows up to 64 runs
def load_run(run_id: str, finished_at: float | None = None):
    """A stored run (None if missing). `finished_at` is part of the cache key so a run trained
    again after deletion is not served from a stale cache entry."""
    try:
        return get_store().load(run_id)
    except CorruptRun:
        get_store().delete(run_id)
        return None


def stored_run(run_id: str):
    """The stored run of `run_id`, through the cache, or None."""
    store = get_store()
    if not store.has(run_id):
        return None
    try:
        stamp = (store.run_dir(run_id) / "manifest.json").stat().st_mtime
    except OSError:
        return None
    return load_run(run_id, stamp)


# One preview at a time in the process: each is held to the preview's memory budget
# (core.engine.probe.probe_batch), so many sessions opening links cannot add theirs up.
_PROBE_LOCK = threading.Lock()


@st.cache_data(max_entries=32, show_spinner=False)
def _probe(config_json: str):
    import json

    cfg = RunConfig.from_dict(json.loads(config_json))
    with _PROBE_LOCK:
        return probe_at_init(cfg)


def probe(cfg: RunConfig):
    """Gradient flow and activation statistics at initialization (one forward/backward pass)."""
    import json

    return _probe(json.dumps(cfg.to_dict(), sort_keys=True))


@st.cache_data(ttl=5, show_spinner=False)
def list_runs():
    return get_store().list_runs()


@st.cache_data(ttl=300, show_spinner=False)
def _time_rates(device: str) -> Rates:
    return calibration.calibrated_rates(get_store(), device)


def time_rates(configs: list[RunConfig]) -> Rates:
    """The time model's rates for where `configs` train: this machine's, measured once per
    machine (kept in the store) and rescaled by the stored runs (read again every 5 minutes)."""
    return _time_rates(calibration.device_of(configs[0]) if configs else "cpu")


def estimated_seconds(configs: list[RunConfig]) -> float:
    """How long training `configs` takes here on a quiet machine (stacked where they allow it,
    as the queue does)."""
    configs = list(configs)
    return calibration.estimated_seconds(configs, time_rates(configs)) if configs else 0.0


def time_estimate(configs: list[RunConfig]) -> TimeEstimate:
    """How long until `configs` are trained if submitted now: their training, after what the
    queue of their device trains first, both stretched by the machine's load of the moment."""
    configs = list(configs)
    rates = time_rates(configs)
    device = calibration.device_of(configs[0]) if configs else "cpu"
    ahead = [j for j in get_jobs().active() if j.device.split(":")[0] == device
             and j.run_id not in {c.run_id for c in configs}
             and not (j.background and j.state == "queued")]  # the warm lane waits behind a user's jobs
    busy = Busy.now([(j.started_at, j.finished_at) for j in get_jobs().jobs() if j.started_at])
    return TimeEstimate(calibration.estimated_seconds(configs, rates) * busy.factor if configs else 0.0,
                        calibration.queue_seconds(ahead, rates) * busy.factor, len(ahead), busy.note(), busy.factor)


def test_correct(run):
    """0/1 per test example of a stored run's final model, or None: Compare's paired bootstrap."""
    from core.lab.compare import store_correct

    return store_correct(get_store())(run)
