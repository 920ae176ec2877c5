"""The Playground's live training: one small network per browser session, trained by a bounded
background thread and read by the page a few times per second.

    hub = PlaygroundHub()                      # one per server process (the page caches it)
    live = hub.get(session_id, cfg)            # this session's trainer; a new cfg resets it
    hub.start(session_id)                      # None, or why not (the global cap is reached)
    live.pause(); live.step_once(); live.reset()
    frame = live.frame                         # the latest picture (a Frame), never half-written

It trains with the one training step of core.engine.loop (`train_step`, and the run's
LayerStatsRecorder at logged steps), so what the Playground shows per layer is what a stored
run records. Differences from `train`: no end (it trains until paused, for at most
MAX_RUN_SECONDS and MAX_STEPS per start), a constant learning rate, statistics logged about
LOG_SECONDS apart instead of every k steps, and nothing is stored.

Bounds: at most one thread per session (a session has one trainer); at most `max_running`
threads in the process (start refuses with a message beyond it); a thread stops when the page
has not read its frame for `idle_s` (the tab was closed or the session ended), and a session
not seen for `forget_s` is dropped, as are the oldest beyond MAX_SESSIONS.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from ..config import ConfigError, RunConfig
from ..datasets import DATASET_INFO, is_tabular
from ..engine.data import prepare_data
from ..engine.loop import PlainEngine, RunState, batch_bounds, evaluate, train_step
from ..engine.models import build_model

GRID = 48  # the input plane is drawn on GRID x GRID points
NEURONS = 4  # neuron pictures per hidden layer
SLICE_SECONDS = 0.05  # training between two published frames
LOG_SECONDS = 0.2  # statistics are logged about this often while training
MAX_RUN_SECONDS = 300.0
MAX_STEPS = 100_000
MAX_SESSIONS = 64
SWITCH_INTERVAL = 0.001  # seconds (sys.setswitchinterval), see LiveTrainer.start
HISTORY = 300  # loss points kept (thinned by half when full)
MAX_DEPTH, MAX_WIDTH, MAX_BATCH = 16, 64, 512
LAYER_STATS = ("grad_mean_abs", "act_saturation", "act_dead", "update_ratio")


def default_max_running() -> int:
    """Concurrent Playground threads in this process: VG_PLAYGROUND_THREADS, else the cores."""
    try:
        return max(1, int(os.environ.get("VG_PLAYGROUND_THREADS", "")))
    except ValueError:
        return max(2, os.cpu_count() or 2)


def check_playground(cfg: RunConfig) -> None:
    """ConfigError naming the field when `cfg` is not a small network on tabular data."""
    if not is_tabular(cfg.dataset):
        raise ConfigError("dataset", f"the Playground trains the 2-D sets and uploaded tables, not "
                          f"{cfg.dataset}; open it in Explore")
    if cfg.arch != "mlp":
        raise ConfigError("arch", "the Playground trains fully connected networks (mlp)")
    if len(cfg.widths) > MAX_DEPTH or max(cfg.widths) > MAX_WIDTH:
        raise ConfigError("widths", f"the Playground trains at most {MAX_DEPTH} hidden layers of at "
                          f"most {MAX_WIDTH} units live; use Explore for bigger networks")
    if cfg.batch_size > MAX_BATCH:
        raise ConfigError("batch_size", f"at most {MAX_BATCH} in the Playground")


@dataclass
class Frame:
    """What the page draws, published whole after each slice of training."""

    step: int
    epoch: int
    running: bool
    train_loss: float
    train_acc: float
    test_loss: float
    test_acc: float
    history: list  # (step, train_loss, test_loss)
    layers: list  # per weight layer: dict(layer, name, grad_mean_abs, act_saturation, ...)
    plane: tuple | None = None  # (x0, x1, y0, y1) of the grid, when the data has 2 features
    probs: np.ndarray | None = None  # (GRID, GRID, classes) softmax over the plane (row = y)
    neurons: list = field(default_factory=list)  # per hidden layer: (k, GRID, GRID) outputs
    note: str = ""  # why training stopped, when it stopped by itself
    steps_per_second: float = 0.0


class LiveTrainer:
    """One session's network, data and optimizer, trained live. Thread-safe."""

    def __init__(self, cfg: RunConfig, device: str = "cpu"):
        check_playground(cfg)
        self.cfg, self.device = cfg, torch.device(device)
        self._lock = threading.RLock()  # the network and counters
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_seen = time.monotonic()
        self.started_at: float | None = None
        self._build()

    # ------------------------------------------------------------------ state
    def _build(self) -> None:
        cfg = self.cfg
        self.data = prepare_data(cfg, self.device, allow_download=False)
        net = build_model(cfg, self.data.info).to(self.device)
        self.net, self.engine = net, PlainEngine(net, self.data, cfg, self.device)
        self.run = RunState.create(0, cfg, self.engine, 1, self.device, None)
        self.bounds = batch_bounds(len(self.data.y_train), cfg.batch_size)
        self.step, self.epoch, self._pos = 0, 1, 0
        self._order = torch.randperm(len(self.data.y_train), generator=self.run.shuffle)
        self._history: list = []
        self._layers: list = []
        self._last_log = -1e9
        self._rate = 0.0
        self.note = ""
        self.grid, self.plane = _plane(self.data)
        self._log_step()  # statistics at initialization, before any update
        self.frame = self._snapshot()

    def touch(self) -> None:
        self.last_seen = time.monotonic()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ------------------------------------------------------------------ control
    def start(self) -> None:
        # A training step releases and retakes the GIL at every torch op; at Python's default
        # 5 ms switch interval a busy page thread then makes each retake wait up to 5 ms (a
        # step took ~1 s inside the server). 1 ms keeps the live loop near its own speed.
        if sys.getswitchinterval() > SWITCH_INTERVAL:
            sys.setswitchinterval(SWITCH_INTERVAL)
        with self._lock:
            if self.running:
                return
            self.touch()
            self._stop.clear()
            self.note = ""
            self._thread = threading.Thread(target=self._loop, name="playground", daemon=True)
            self._thread.start()

    def pause(self, wait: float = 5.0) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(wait)
        with self._lock:
            self.frame = self._snapshot()

    def step_once(self) -> None:
        """One logged step (when paused: while training, the thread owns the steps)."""
        if self.running:
            return
        with self._lock:
            self._one_step(logged=True)
            self.frame = self._snapshot()

    def reset(self) -> None:
        self.pause()
        with self._lock:
            self._build()

    # ------------------------------------------------------------------ training
    def _loop(self, idle_s: float | None = None) -> None:
        t_end = time.monotonic() + MAX_RUN_SECONDS
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if now - self.last_seen > self.idle_s:
                    self.note = "paused: the page stopped watching"
                    break
                if now > t_end or self.step >= MAX_STEPS:
                    self.note = f"paused after {MAX_RUN_SECONDS / 60:.0f} minutes of training (press start to go on)"
                    break
                with self._lock:
                    t0, n0 = time.perf_counter(), self.step
                    while time.perf_counter() - t0 < SLICE_SECONDS and not self._stop.is_set():
                        self._one_step(logged=time.perf_counter() - self._last_log > LOG_SECONDS)
                        if self.note:
                            break
                    self._rate = (self.step - n0) / max(time.perf_counter() - t0, 1e-9)
                    self.frame = self._snapshot(running=True)
                if self.note:
                    break
                time.sleep(0.003)  # let the page's reads and other sessions in
        finally:
            with self._lock:
                self._stop.set()
                self.frame = self._snapshot(running=False)

    idle_s = 20.0

    def _one_step(self, logged: bool) -> None:
        lo, hi = self.bounds[self._pos]
        order = self._order[lo:hi].unsqueeze(0).to(self.device)
        loss, _, _ = train_step(self.engine, [self.run], order, self.step, self.epoch, logged)
        value = float(loss[0])
        if logged:
            self._log_step()
        if not np.isfinite(value):
            self.note = f"diverged at step {self.step}: the loss is not finite (lower the learning rate, then reset)"
        self.step += 1
        self._pos += 1
        if self._pos == len(self.bounds):
            self._pos, self.epoch = 0, self.epoch + 1
            self._order = torch.randperm(len(self.data.y_train), generator=self.run.shuffle)

    def _log_step(self) -> None:
        """Per-layer statistics of this step (at init: of a forward/backward without update)."""
        rec = self.run.recorder
        if self.step == 0 and not self._layers:
            with torch.enable_grad():
                x, y, _ = self.engine.batch(self._order[: self.bounds[0][1]].unsqueeze(0))
                with rec.capture_activations(True):
                    loss = torch.nn.functional.cross_entropy(self.net(x), y)
                self.engine.backward([loss])
            rec.record_gradients("true")
            rec.before_update()
        rec.after_update(self.step, self.epoch)
        table = rec.table()
        rec.truncate_after(-1)  # keep nothing: the frame holds the latest numbers
        wide = table.pivot_table(index="layer", columns="stat", values="value", aggfunc="last")
        names = self.engine.layer_names
        self._layers = [{"layer": int(i), "name": names[int(i) - 1],
                         **{s: float(wide.at[i, s]) if s in wide.columns and np.isfinite(wide.at[i, s])
                            else None for s in LAYER_STATS}} for i in wide.index]
        self._last_log = time.perf_counter()

    # ------------------------------------------------------------------ pictures
    @torch.no_grad()
    def _snapshot(self, running: bool | None = None) -> Frame:
        d, net = self.data, self.net
        train_loss, train_acc = evaluate(net, d.x_train, d.y_train)
        test_loss, test_acc = evaluate(net, d.x_test, d.y_test)
        if not self._history or self._history[-1][0] != self.step:
            self._history.append((self.step, train_loss, test_loss))
            if len(self._history) > HISTORY:
                self._history = self._history[::2] if self._history[-1] != self._history[0] else self._history
        probs, neurons = None, []
        if self.grid is not None:
            probs, neurons = _plane_outputs(net, self.grid)
        return Frame(step=self.step, epoch=self.epoch, running=self.running if running is None else running,
                     train_loss=train_loss, train_acc=train_acc, test_loss=test_loss, test_acc=test_acc,
                     history=list(self._history), layers=list(self._layers), plane=self.plane,
                     probs=probs, neurons=neurons, note=self.note,
                     steps_per_second=self._rate if running else 0.0)

    def points(self) -> dict[str, np.ndarray]:
        """The training and test points (for the scatter over the boundary): x (N, F), y (N,)."""
        d = self.data
        return {"train_x": d.x_train.flatten(1).cpu().numpy(), "train_y": d.y_train.cpu().numpy(),
                "test_x": d.x_test.flatten(1).cpu().numpy(), "test_y": d.y_test.cpu().numpy()}


def _plane(data) -> tuple[torch.Tensor | None, tuple | None]:
    """A GRID x GRID lattice over the data's two features (10% margin), rows from low y up."""
    if data.info.features != 2:
        return None, None
    pts = torch.cat([data.x_train, data.x_val, data.x_test]).flatten(1).float().cpu()
    lo, hi = pts.min(0).values, pts.max(0).values
    pad = (hi - lo).clamp_min(1e-3) * 0.1
    lo, hi = lo - pad, hi + pad
    xs = torch.linspace(float(lo[0]), float(hi[0]), GRID)
    ys = torch.linspace(float(lo[1]), float(hi[1]), GRID)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    grid = torch.stack([gx.reshape(-1), gy.reshape(-1)], 1).reshape(-1, 1, 1, 2)
    return grid.to(data.x_train.device), (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]))


def _plane_outputs(net, grid: torch.Tensor) -> tuple[np.ndarray, list[np.ndarray]]:
    """Softmax over the plane and the first NEURONS outputs of every hidden layer, in eval mode."""
    outs: list[torch.Tensor] = []
    hooks = [m.register_forward_hook(lambda mod, i, o: outs.append(o[:, :NEURONS].detach()))
             for m in net.activations]
    was = net.training
    net.eval()
    try:
        probs = torch.softmax(net(grid), dim=1)
    finally:
        net.train(was)
        for h in hooks:
            h.remove()
    shape = (GRID, GRID)
    neurons = [o.T.reshape(-1, *shape).cpu().numpy() for o in outs]
    return probs.reshape(*shape, -1).cpu().numpy(), neurons


class PlaygroundHub:
    """Every session's LiveTrainer in this process, with the caps on threads and sessions."""

    def __init__(self, max_running: int | None = None, idle_s: float = 20.0, forget_s: float = 900.0,
                 device: str = "cpu"):
        self.max_running = max_running or default_max_running()
        self.idle_s, self.forget_s, self.device = idle_s, forget_s, device
        self._sessions: dict[str, LiveTrainer] = {}
        self._lock = threading.Lock()

    def get(self, sid: str, cfg: RunConfig) -> LiveTrainer:
        """This session's trainer for `cfg` (a changed cfg replaces it, still training if it was)."""
        self.reap()
        with self._lock:
            live = self._sessions.get(sid)
        if live is not None and live.cfg == cfg:
            live.touch()
            return live
        was_running = live is not None and live.running
        if live is not None:
            live.pause()
        new = LiveTrainer(cfg, device=self.device)
        new.idle_s = self.idle_s
        with self._lock:
            self._sessions[sid] = new
            while len(self._sessions) > MAX_SESSIONS:
                oldest = min(self._sessions, key=lambda k: self._sessions[k].last_seen)
                self._sessions.pop(oldest).pause(wait=0)
        if was_running:
            self.start(sid)
        return new

    def peek(self, sid: str) -> LiveTrainer | None:
        with self._lock:
            live = self._sessions.get(sid)
        if live is not None:
            live.touch()
        return live

    def running(self) -> int:
        with self._lock:
            return sum(t.running for t in self._sessions.values())

    def start(self, sid: str) -> str | None:
        """Start this session's training; a message instead when the process is at its cap."""
        with self._lock:
            live = self._sessions.get(sid)
            if live is None:
                return "nothing to train: reload the page"
            busy = sum(t.running for k, t in self._sessions.items() if k != sid)
            if not live.running and busy >= self.max_running:
                return (f"{busy} Playground networks are training on this server, the most it "
                        "trains at once; try again in a moment")
            live.start()
        return None

    def reap(self) -> None:
        """Drop sessions not seen for forget_s (their threads stop on their own after idle_s)."""
        now = time.monotonic()
        with self._lock:
            gone = [k for k, t in self._sessions.items() if now - t.last_seen > self.forget_s]
            dropped = [self._sessions.pop(k) for k in gone]
        for t in dropped:
            t.pause(wait=0)

    def shutdown(self) -> None:
        with self._lock:
            dropped, self._sessions = list(self._sessions.values()), {}
        for t in dropped:
            t.pause()
