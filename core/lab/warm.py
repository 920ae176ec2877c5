"""Warming the store: every Home card and the cheapest preset trained before anyone asks, so the
cards open trained.

    python -m core warm                       # trains what the store lacks, one progress line per run
    plan = warm_plan()                        # [(label, config), ...]: the cards first, then the preset
    WarmUp(jobs, store).start()               # the server's way: background jobs (core.runs.jobs)
    WarmUp(jobs, store).status()              # 'Preparing the ready-made experiments: 3 of 8 …' or None

A server whose store is empty starts a WarmUp once (pages.services), unless VG_WARM says no
(`warm_enabled`): its jobs wait in the job queue's background lane, which a worker serves only
when no user's job is queued, so they never stand in front of one. Under pytest the default is
off (tests/conftest.py also sets VG_WARM=0, for the servers the browser tests start).
"""
from __future__ import annotations

import logging
import os
import sys
import time
from typing import Callable

from ..base.config import RunConfig, parse_flag
from ..base.cost import estimate
from .presets import PRESETS, Preset, resolve
from .scenarios import SCENARIOS

log = logging.getLogger(__name__)

WARM_ENV = "VG_WARM"  # 1: warm an empty store when the server starts (default), 0: never
WARM_SCALE = "quick"


def warm_enabled(environ=None) -> bool:
    """Whether a server warms an empty store: VG_WARM if it is a true/false value, else on,
    except under pytest (tests never start training nobody asked for)."""
    environ = os.environ if environ is None else environ
    flag = parse_flag(environ.get(WARM_ENV, ""))
    if flag is not None:
        return flag
    return "pytest" not in sys.modules


def cheapest_preset(scale: str = WARM_SCALE) -> tuple[Preset, list]:
    """The preset whose cells at `scale` (offline substitutes where the data is not here) cost
    the least work, with those cells."""
    costs = []
    for preset in PRESETS.values():
        cells = resolve(preset, scale)
        if cells:
            costs.append((sum(estimate(c.config).work for c in cells), preset.name, preset, cells))
    _, _, preset, cells = min(costs, key=lambda c: c[:2])
    return preset, cells


def warm_plan(scale: str = WARM_SCALE) -> list[tuple[str, RunConfig]]:
    """(label, config) of every Home card, then of the cheapest preset's cells at `scale`."""
    preset, cells = cheapest_preset(scale)
    plan = [(s.title, s.config) for s in SCENARIOS]
    plan += [(f"{preset.name} · {c.label} · seed {c.seed_index + 1}", c.config) for c in cells]
    return list({cfg.run_id: (label, cfg) for label, cfg in plan}.values())


def warm(store, say: Callable[[str], None] = print, trainer=None, plan=None) -> dict:
    """Train every run of `plan` (default warm_plan()) that `store` lacks, one at a time, saying
    one progress line per run; returns {"stored": already there, "trained": n, "seconds": s}."""
    from ..runs.runner import get_or_train

    plan = warm_plan() if plan is None else plan
    missing = [(label, cfg) for label, cfg in plan if not store.has(cfg.run_id)]
    say(f"warm: {len(plan) - len(missing)} of {len(plan)} runs stored already; training {len(missing)}")
    start = time.perf_counter()
    for i, (label, cfg) in enumerate(missing, 1):
        t = time.perf_counter()
        kwargs = {} if trainer is None else {"trainer": trainer}
        [result] = get_or_train(store, [cfg], **kwargs)
        say(f"warm: {i}/{len(missing)} {label}: {result.status} in {time.perf_counter() - t:.1f} s "
            f"({time.perf_counter() - start:.0f} s so far)")
    return {"stored": len(plan) - len(missing), "trained": len(missing),
            "seconds": time.perf_counter() - start}


class WarmUp:
    """The server's warming: the plan's missing runs as background jobs, one job each (a user's
    job waits for at most the one warm run in training), and a line saying how far it is."""

    def __init__(self, jobs, store, plan=None):
        self.jobs, self.store = jobs, store
        self.plan = plan  # None: warm_plan() when started (it reads the data sets: seconds)
        self.started_at: float | None = None

    def start(self) -> int:
        """Submit what the store lacks; returns how many runs were submitted (a failure is
        logged: warming is a courtesy, never an error in a page)."""
        try:
            self.plan = warm_plan() if self.plan is None else self.plan
            submitted = [cfg for _, cfg in self.plan if self.jobs.submit(cfg, background=True) is not None]
        except Exception as exc:  # a data set that cannot load, a device missing: nothing to warm
            log.warning("warming the store: %s", " ".join(str(exc).split()))
            return 0
        self.started_at = time.time()
        log.info("warming the store: %d runs in the background", len(submitted))
        return len(submitted)

    def status(self) -> str | None:
        """One line while warming ('… 3 of 8 Home cards ready …'), None before and after."""
        if self.started_at is None or self.plan is None:
            return None
        cards = {s.config.run_id for s in SCENARIOS}
        ready = {cfg.run_id for _, cfg in self.plan if self.store.has(cfg.run_id)}
        pending = [cfg for _, cfg in self.plan if cfg.run_id not in ready and self._pending(cfg)]
        if not pending:
            return None
        n_cards = len(cards & ready)
        if n_cards < len(cards):
            return (f"Training the ready-made experiments in the background so they open trained: "
                    f"{n_cards} of {len(cards)} ready (your own runs go first).")
        return (f"All {len(cards)} ready-made experiments are trained; training a preset's runs in the "
                f"background: {len(ready) - n_cards} of {len(self.plan) - len(cards)} (your own runs go first).")

    def _pending(self, cfg: RunConfig) -> bool:
        job = self.jobs.get(cfg.run_id)
        return job is not None and not job.finished
