"""The Playground's live training, server side: one worker process per training session
(core.runs.playground_worker runs the network there), read by the page a few times per second.

    hub = PlaygroundHub()                      # one per server process (the page caches it)
    live = hub.get(session_id, cfg)            # this session's LiveSession; a new cfg resets it
    hub.start(session_id)                      # None, or why not (the global cap is reached)
    live.pause(); live.step_once(); live.reset()
    frame = live.frame                         # the latest picture (a Frame), never half-written

Why processes: PyTorch driven from a secondary thread of the busy Streamlit server is starved
(a step releases and retakes the GIL at every op; the page's threads hold it): ~1 step/s under
load against hundreds in a script. A spawned worker trains at its own speed on one torch thread.

A session holds its network here (a LiveTrainer, built when the page opens: the step-0 frame,
the data points, Step and Reset before any Start) until Start spawns its worker with that
state; from then the worker owns it (pause, step, reset and a new config go to it) until it
hands the state back and exits: 20 s (`idle_s`) after the page stopped reading, after 5 minutes
or 100,000 steps of training, after a minute paused, when the hub needs its slot, or when the
session is forgotten.

Why not the job queue's workers (core.runs.workers): they share the training step (the
engine's Trainer) but not a lifecycle. A job worker serves a device's queue one batch of runs at
a time, reports through events and delivers through the store, and is cancelled by a flag; a
Playground worker is one session's interactive network, commanded over a pipe several times a
second (start, pause, step, reset), sending frames at up to 4 Hz, handing its whole training
state back when it lingers, with a pre-warmed spare so Start answers in well under a second. One
pool with both protocols would be two pools in one class.

Bounds: at most one worker per session; at most `max_running` workers in the process (a paused
one gives its slot up to a new Start; beyond it Start refuses with a message); sessions not
seen for `forget_s` are dropped with their workers, as are the oldest beyond MAX_SESSIONS.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import threading
import time

from ..base.config import RunConfig
from .playground_worker import (GRID, MAX_BATCH, MAX_DEPTH, MAX_RUN_SECONDS, MAX_STEPS, MAX_WIDTH,  # noqa: F401
                                NEURONS, Frame, LiveTrainer, check_playground, worker_main)

MAX_SESSIONS = 64
WORKER_NAME = "vg-playground"  # the worker processes' name (tests look for them)
READER_NAME = "playground-reader"  # the thread that reads one worker's pipe


def default_max_running() -> int:
    """Concurrent Playground workers: VG_PLAYGROUND_WORKERS (or the older VG_PLAYGROUND_THREADS),
    else the number of cores."""
    for name in ("VG_PLAYGROUND_WORKERS", "VG_PLAYGROUND_THREADS"):
        try:
            return max(1, int(os.environ.get(name, "")))
        except ValueError:
            continue
    return max(2, os.cpu_count() or 2)


class _Worker:
    """The server side of one worker process: its pipe, and (once it has an owner) a thread
    that reads it. Spawned as a spare (its imports and first kernels done before a Start)."""

    def __init__(self, device: str, idle_s: float):
        ctx = mp.get_context("spawn")  # a clean interpreter: no copied locks or thread pools
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=worker_main, args=(child, None, None, device, idle_s),
                                   daemon=True, name=WORKER_NAME)
        self.process.start()
        child.close()
        self.owner, self.seq, self.stopping = None, 0, False
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._read, name=READER_NAME, daemon=True)

    def attach(self, owner: "LiveSession", blob: bytes) -> None:
        """Give the worker `owner`'s network and state; from now the thread reads its answers."""
        self.owner = owner
        self.send("init", owner.cfg.to_dict(), blob)
        self.thread.start()

    def send(self, kind: str, *args) -> int:
        """Send a command; its sequence number (0 when the worker is gone)."""
        with self._lock:
            self.seq += 1
            try:
                self.conn.send((kind, self.seq, *args))
            except (OSError, ValueError):
                return 0
            return self.seq

    def stop(self, note: str = "") -> None:
        self.stopping = True
        self.send("stop", note)

    def discard(self, wait: float = 5.0) -> None:
        """End a spare (it has no state to hand back)."""
        self.stop()
        self.process.join(wait)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(wait)
        self.conn.close()

    def _read(self) -> None:
        try:
            while True:
                self.owner._check_idle(self)
                if not self.conn.poll(0.5):
                    if not self.process.is_alive():
                        break
                    continue
                message = self.conn.recv()
                self.owner._receive(self, message)
                if message[0] in ("state", "error"):
                    break
        except (EOFError, OSError):
            pass
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
        self.conn.close()
        self.owner._ended(self)


class LiveSession:
    """One browser session's live network: here while paused, in a worker while it trains."""

    def __init__(self, cfg: RunConfig, device: str = "cpu", idle_s: float = 20.0, take_worker=None):
        self.cfg, self.device, self.idle_s = cfg, device, idle_s
        self._take_worker = take_worker or (lambda: _Worker(device, idle_s))
        self.local = LiveTrainer(cfg, device)  # the state while no worker holds it
        self._frame: Frame = self.local.frame
        self._worker: _Worker | None = None
        self._cond = threading.Condition()
        self._acked = self._start_seq = self._since = 0
        self.last_seen = time.monotonic()

    # ------------------------------------------------------------------ reading
    def touch(self) -> None:
        self.last_seen = time.monotonic()

    @property
    def frame(self) -> Frame:
        return self._frame

    @property
    def worker(self) -> _Worker | None:
        return self._worker

    @property
    def starting(self) -> bool:
        """Start was pressed and the worker has not answered yet (it imports torch: seconds)."""
        return self._worker is not None and self._acked < self._start_seq

    @property
    def running(self) -> bool:
        return self._worker is not None and (self.starting or self._frame.running)

    def points(self):
        return self.local.points()

    # ------------------------------------------------------------------ control
    def start(self) -> None:
        with self._cond:
            if self._worker is None:
                self._worker = self._take_worker()
                self._worker.attach(self, self.local.state())
            self._start_seq = self._worker.send("start") or self._start_seq
            self.touch()

    def pause(self, wait: float = 10.0) -> None:
        self._command("pause", wait)

    def step_once(self, wait: float = 10.0) -> None:
        """One logged step (when paused: while training, the worker owns the steps)."""
        if self.running:
            return
        if not self._command("step", wait):
            with self._cond:
                self.local.step_once()
                self._frame = self.local.frame

    def reset(self, wait: float = 10.0) -> None:
        if not self._command("reset", wait):
            with self._cond:
                self.local.reset()
                self._frame = self.local.frame

    def stop(self, wait: float = 10.0, note: str = "") -> None:
        """Have the worker hand its state back and exit (waits up to `wait` s for it)."""
        worker = self._worker
        if worker is not None and not worker.stopping:
            worker.stop(note)
        if worker is not None and wait > 0:
            worker.thread.join(wait)

    def _command(self, kind: str, wait: float) -> bool:
        """Send to the worker and wait for its answer; False when no worker holds the state."""
        with self._cond:
            worker = self._worker
            seq = worker.send(kind) if worker is not None and not worker.stopping else 0
            if not seq:
                return False
            self._cond.wait_for(lambda: self._acked >= seq or self._worker is not worker, wait)
            return True

    def adopt(self, old: "LiveSession") -> None:
        """Take over `old`'s worker for this session's new config (it keeps training if it was)."""
        with old._cond:
            was_running = old.running
            worker, old._worker = old._worker, None
        if worker is None or worker.stopping:
            return
        with self._cond:
            worker.owner, self._worker = self, worker
            self._since = worker.send("config", self.cfg.to_dict())
            self._acked = self._since - 1
            self._start_seq = self._since if was_running else self._acked  # running until it answers
            if not worker.thread.is_alive():  # it ended during the hand-over
                self._worker = None

    # ------------------------------------------------------------------ from the reader thread
    def _receive(self, worker: _Worker, message) -> None:
        kind, ack, *rest = message
        with self._cond:
            if kind == "ready" or worker is not self._worker or ack < self._since:
                return  # an answer about an earlier config
            if kind == "frame":
                self._frame = rest[0]
            elif kind == "state":
                self.local.load_state(rest[0], rest[1])
                self._frame = rest[1]
            else:  # "error": the worker could not build the network
                self._frame = Frame(**{**self._frame.__dict__, "running": False,
                                       "note": f"the training process failed: {rest[0]}"})
            self._acked = max(self._acked, ack)
            self._cond.notify_all()

    def _check_idle(self, worker: _Worker) -> None:
        if not worker.stopping and time.monotonic() - self.last_seen > self.idle_s:
            worker.stop("paused: the page stopped watching")

    def _ended(self, worker: _Worker) -> None:
        with self._cond:
            if worker is not self._worker:
                return
            self._worker = None
            restart = self._start_seq > self._acked  # Start pressed while it was handing back
            if self._frame.running:  # it died without handing back: the last state here stays
                self._frame = Frame(**{**self.local.frame.__dict__,
                                       "note": "the training process ended unexpectedly"})
            self._cond.notify_all()
        if restart:
            self.start()


class PlaygroundHub:
    """Every session's LiveSession in this process, with the caps on workers and sessions."""

    SPARE_PING_SECONDS = 5.0

    def __init__(self, max_running: int | None = None, idle_s: float = 20.0, forget_s: float = 900.0,
                 device: str = "cpu", spare: bool = True):
        self.max_running = max_running or default_max_running()
        self.idle_s, self.forget_s, self.device = idle_s, forget_s, device
        self._sessions: dict[str, LiveSession] = {}
        self._lock = threading.Lock()
        # One warm worker waits while a page watches and a slot is free: a Start then skips the
        # seconds a fresh interpreter takes to import torch.
        self.spare, self._spare, self._pinged = spare, None, 0.0

    def _take_worker(self) -> _Worker:
        with self._lock:
            spare, self._spare = self._spare, None
        if spare is not None and spare.process.is_alive():
            return spare
        if spare is not None:
            spare.discard()
        return _Worker(self.device, self.idle_s)

    def _keep_spare(self) -> None:
        now = time.monotonic()
        with self._lock:
            watched = any(now - t.last_seen < self.idle_s for t in self._sessions.values())
            held = sum(t.worker is not None and not t.worker.stopping for t in self._sessions.values())
            spare, wanted = self._spare, self.spare and watched and held < self.max_running
            if spare is not None and (not wanted or not spare.process.is_alive()):
                self._spare = None
        if spare is not None and self._spare is None:
            spare.discard(wait=0)
            spare = None
        if spare is None and wanted:
            spare = _Worker(self.device, self.idle_s)
            with self._lock:
                self._spare, spare = (spare, None) if self._spare is None else (self._spare, spare)
            if spare is not None:  # another thread made one meanwhile
                spare.discard(wait=0)
        elif spare is not None and now - self._pinged > min(self.SPARE_PING_SECONDS, self.idle_s / 4):
            self._pinged = now
            spare.send("seen")

    def get(self, sid: str, cfg: RunConfig) -> LiveSession:
        """This session's trainer for `cfg` (a changed cfg replaces it, still training if it was)."""
        self.reap()
        with self._lock:
            live = self._sessions.get(sid)
        if live is not None and live.cfg == cfg:
            live.touch()
            return live
        new = LiveSession(cfg, device=self.device, idle_s=self.idle_s, take_worker=self._take_worker)
        if live is not None:
            new.adopt(live)
        with self._lock:
            self._sessions[sid] = new
            evicted = []
            while len(self._sessions) > MAX_SESSIONS:
                oldest = min(self._sessions, key=lambda k: self._sessions[k].last_seen)
                evicted.append(self._sessions.pop(oldest))
        for old in evicted:
            old.stop(wait=0)
        return new

    def peek(self, sid: str) -> LiveSession | None:
        with self._lock:
            live = self._sessions.get(sid)
        if live is not None:
            live.touch()
        return live

    def running(self) -> int:
        """Sessions training now."""
        with self._lock:
            return sum(t.running for t in self._sessions.values())

    def workers(self) -> int:
        """Worker processes held (training or paused), not counting those handing back."""
        with self._lock:
            return sum(t.worker is not None and not t.worker.stopping for t in self._sessions.values())

    def start(self, sid: str) -> str | None:
        """Start this session's training; a message instead when the process is at its cap (a
        paused session's worker gives its slot up first)."""
        with self._lock:
            live = self._sessions.get(sid)
            if live is None:
                return "nothing to train: reload the page"
            others = [t for k, t in self._sessions.items()
                      if k != sid and t.worker is not None and not t.worker.stopping]
        if live.worker is None and len(others) >= self.max_running:
            idle = sorted((t for t in others if not t.running), key=lambda t: t.last_seen)
            if not idle:
                return (f"Not started: {len(others)} Playground networks are training on this server, "
                        "the most it trains at once; press Start again in a moment")
            idle[0].stop(wait=5)
        live.start()
        return None

    def reap(self) -> None:
        """Drop sessions not seen for forget_s, with their workers."""
        now = time.monotonic()
        with self._lock:
            gone = [k for k, t in self._sessions.items() if now - t.last_seen > self.forget_s]
            dropped = [self._sessions.pop(k) for k in gone]
        for t in dropped:
            t.stop(wait=0)
        self._keep_spare()

    def shutdown(self, wait: float = 10.0) -> None:
        with self._lock:
            dropped, self._sessions = list(self._sessions.values()), {}
            spare, self._spare, self.spare = self._spare, None, False
        for t in dropped:
            t.stop(wait=0)
        if spare is not None:
            spare.discard(wait)
        for t in dropped:
            t.stop(wait=wait)
