"""The parts every page uses to train: a start button that asks first when the action is long,
the "train the missing runs → progress → cancel" panel (Compare's sweeps, Reproduce's presets),
and the sidebar's one-line summary of this session's training.

    if start_button("Train this network", "explore-train", estimate, [cfg.run_id]): ...
    missing_runs_panel([(label, cfg), ...], stored=3, key="compare")
    training_status()                      # app.py's sidebar, every page

A batch larger than the queue accepts at once (core.runs.jobs.split_batches: MAX_BATCH_RUNS,
the work limit, the session's room in the queue) is queued in turns: what fits now, the rest
held in the session and queued as room frees (by the sidebar's status, which runs on every page
while the tab is open; a closed tab drops them, as the queue drops its abandoned jobs).
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.base.config import RunConfig
from core.base.cost import duration
from core.runs.jobs import SubmitError, split_batches
from core.views.markup import inert
from core.views.progress import TimeEstimate, position_text, queue_summary, run_name, runs_trained_text
from pages.draw import live_fragment
from pages.services import get_jobs, session_id, time_estimate

CONFIRM_SECONDS = 600.0  # an action that trains longer than this on a quiet machine asks first
HELD = "_vg_held_batches"  # this session's batches waiting for room in the queue
SHOWN_LABELS = 8  # missing runs named in the panel's text


def start_button(label: str, key: str, estimate: TimeEstimate, signature, container=None, **kwargs) -> bool:
    """A primary button; True when its action should start now. Above CONFIRM_SECONDS of
    training on a quiet machine (the size of the action, not the load of the moment) the first
    click asks instead ("Start" / "Not now"), for the same `signature` (e.g. the run ids) only:
    changing the settings withdraws the question."""
    where = container or st
    asked = st.session_state.get(f"{key}-confirm")
    if asked is not None and asked == signature:
        where.warning(f"This trains for about {duration(estimate.train)} on this machine"
                      + (f" as busy as it is now ({duration(estimate.quiet)} on a quiet one)" if estimate.busy > 1.25 else "")
                      + (f", after {duration(estimate.queue)} of runs queued before it" if estimate.ahead else "")
                      + ". Start it?", icon=":material/schedule:")
        yes, no = where.columns(2)
        if yes.button("Start", type="primary", key=f"{key}-yes"):
            del st.session_state[f"{key}-confirm"]
            return True
        if no.button("Not now", key=f"{key}-no"):
            del st.session_state[f"{key}-confirm"]
            st.rerun()
        return False
    if where.button(label, type="primary", key=key, **kwargs):
        if estimate.quiet > CONFIRM_SECONDS:
            st.session_state[f"{key}-confirm"] = signature
            st.rerun()
        return True
    return False


def submit_in_batches(configs: list[RunConfig]) -> int:
    """Queue `configs` for this session in batches the queue accepts: what fits now, the rest held
    until room frees (release_held). Returns how many runs are held. Raises SubmitError."""
    batches = split_batches([c for c in configs if not get_jobs().store.has(c.run_id)])
    if batches and not st.session_state.get(HELD) and len(batches[0]) <= get_jobs().room(session_id()):
        get_jobs().submit_many(batches.pop(0), watcher=session_id())  # refused: nothing is held
    st.session_state[HELD] = (st.session_state.get(HELD) or []) + batches
    release_held()
    return held_runs()


def release_held() -> None:
    """Queue this session's held batches, in order, while they fit in its room in the queue."""
    held, jobs, me = st.session_state.get(HELD) or [], get_jobs(), session_id()
    while held:
        pending = [c for c in held[0] if not jobs.store.has(c.run_id)
                   and not ((job := jobs.get(c.run_id)) is not None and not job.finished and me in job.watchers)]
        if len(pending) > jobs.room(me):
            break
        held.pop(0)
        try:
            if pending:
                jobs.submit_many(pending, watcher=me)
        except (SubmitError, RuntimeError) as exc:  # e.g. the device went away: say so, drop the batch
            st.toast(f"{len(pending)} runs not queued: {inert(exc)}")
    st.session_state[HELD] = held


def held_runs(configs: list[RunConfig] | None = None) -> int:
    """Runs of this session waiting for room in the queue (of `configs` only, when given)."""
    ids = None if configs is None else {c.run_id for c in configs}
    return sum(1 for batch in st.session_state.get(HELD) or [] for c in batch if ids is None or c.run_id in ids)


def _drop_held(configs: list[RunConfig]) -> None:
    ids = {c.run_id for c in configs}
    st.session_state[HELD] = [kept for batch in st.session_state.get(HELD) or []
                              if (kept := [c for c in batch if c.run_id not in ids])]


def missing_runs_panel(missing: list[tuple[str, RunConfig]], stored: int, key: str,
                       button: str = "Train {n} missing runs") -> None:
    """Runs not stored yet ((label, config) each): what they cost and a button (`button`, {n}
    the count) that queues them all; while they train, their progress with a cancel button (the
    page reruns when they end)."""
    jobs = get_jobs()
    configs = [cfg for _, cfg in missing]
    if not any(j is not None and not j.finished for j in map(jobs.get, (c.run_id for c in configs))) \
            and not held_runs(configs):
        estimate = time_estimate(configs)
        labels = list(dict.fromkeys(label for label, _ in missing))
        names = ", ".join(labels[:SHOWN_LABELS]) + (", …" if len(labels) > SHOWN_LABELS else "")
        st.info(f"{stored} of {stored + len(missing)} runs are stored; {len(missing)} are not yet "
                f"({inert(names)}): " + estimate.text("training them") + ".", icon=":material/schedule:")
        n = len(missing)
        label = button.format(n=n) if n != 1 else button.format(n=n).replace("runs", "run")
        if start_button(label, f"{key}-train", estimate,
                        tuple(c.run_id for c in configs)):
            try:
                submit_in_batches(configs)
            except (SubmitError, RuntimeError) as exc:  # a device not here, a session's share used up
                st.error(f"Not started: {inert(exc)}")
            else:
                st.rerun()
        failed = [j for j in map(jobs.get, (c.run_id for c in configs)) if j is not None and j.state == "failed"]
        if failed:
            st.error(f"{len(failed)} run{'s' if len(failed) != 1 else ''} failed last time, e.g.: {inert(failed[0].error)}")
        return

    @live_fragment(f"{key}-progress", 1.0)
    def progress():
        release_held()
        rows, done, me = [], 0.0, session_id()
        for label, cfg in missing:
            job = jobs.get(cfg.run_id)
            if job is not None:
                jobs.heartbeat(cfg.run_id, me)
            state = job.phase if job is not None else ("held" if held_runs([cfg]) else "not started")
            frac = 1.0 if state == "done" else job.fraction_done() if job is not None else 0.0
            done += frac
            rows.append({"run": label, "seed": cfg.seed,
                         "state": {"held": "to queue when room frees"}.get(state, state)
                         + (f" ({frac:.0%})" if state == "training" else ""),
                         "in line": position_text(jobs.position(job)) if job is not None and state == "queued" else ""})
        st.progress(done / len(missing), text=runs_trained_text(done, len(missing)))
        st.dataframe(pd.DataFrame(rows), hide_index=True, height=min(36 * (len(rows) + 1), 300))
        if not held_runs(configs) and all(jobs.get(c.run_id) is None or jobs.get(c.run_id).finished for c in configs):
            st.rerun()
        if st.button("Cancel the remaining runs", key=f"{key}-cancel"):
            _drop_held(configs)
            for cfg in configs:
                jobs.cancel(cfg.run_id, watcher=me)
            st.rerun()

    progress()


@live_fragment("training-status", 2.0)
def training_status():
    """Every page shows this session's training in the sidebar, as one line with a count and
    the details behind an expander; polling also keeps its jobs alive and queues its held
    batches. When a job this session watched has ended, the whole page reruns: the run view
    appears even if the page's own progress fragment was lost."""
    release_held()
    jobs, me = get_jobs(), session_id()
    mine = [j for j in jobs.active() if me in j.watchers]
    watched = set(st.session_state.get("_vg_watched", ()))
    st.session_state["_vg_watched"] = {j.run_id for j in mine}
    if watched - st.session_state["_vg_watched"]:
        st.rerun(scope="app")
    for job in mine:
        jobs.heartbeat(job.run_id, me)
    show_summary(mine, jobs.position, held_runs())


def show_summary(mine: list, position, held: int = 0) -> None:
    """This session's jobs (core.runs.jobs.Job) as one line with a count and a progress bar, the
    runs by name behind an expander (`position`: JobQueue.position; `held`: runs not queued yet)."""
    line = queue_summary([j.phase for j in mine], [j.fraction_done() for j in mine], held)
    if not line:
        return
    training = [j for j in mine if j.phase == "training"]
    st.caption(f":material/model_training: {line}")
    st.progress(sum(j.fraction_done() for j in training) / len(training) if training else 0.0)
    with st.expander("Details"):  # the state first: the sidebar is narrow, a run's name is long
        st.dataframe(pd.DataFrame([{
            "state": f"training {j.fraction_done():.0%}" if j.phase == "training"
            else f"queued, {position_text(position(j))}" if j.phase == "queued" else j.phase,
            "run": run_name(j.config)} for j in mine]), hide_index=True, height=min(36 * (len(mine) + 1), 300))
