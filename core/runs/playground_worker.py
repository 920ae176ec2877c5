"""What a Playground session's worker process runs: the live network (LiveTrainer) and the loop
that trains it on command and sends its frames back (core.runs.playground is the server side).

    live = LiveTrainer(cfg)                    # data, network, optimizer; the step-0 frame
    live.one_step(logged=True); live.snapshot() # one step; the picture of now (a Frame)
    blob = live.state(); live.load_state(blob) # the training state as bytes, to hand over

It trains with the engine's one loop, an endless core.engine.loop.Trainer, and draws each
layer from the StepRecord of the latest logged step (at initialization: the trainer's step 0
without an update, as the probe), so what the Playground shows per layer is what a stored run
records. Differences from `train`: no end (it trains until paused, for at most MAX_RUN_SECONDS
and MAX_STEPS per start), a constant learning rate, statistics logged about LOG_SECONDS apart
instead of every k steps, and nothing is stored. This module keeps only the clock and the pipe.

The worker (`worker_main`, a spawned process) uses one torch thread (tiny networks: one is
fastest and leaves the other cores to other sessions) and answers messages (command, seq, ...):
start, pause, step, reset, config (a new RunConfig; keeps training if it was), stop (hand back
the state and exit). It sends ("frame", seq, Frame) after each command and at most
1 / FRAME_SECONDS times a second while training, and ("state", seq, bytes, Frame) as its last
message: on stop, after MAX_RUN_SECONDS or MAX_STEPS of training, or after LINGER_SECONDS paused.
"""
from __future__ import annotations

import io
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from ..base.config import ConfigError, RunConfig
from ..base.datasets import is_tabular
from ..engine.data import prepare_data
from ..engine.loop import DIVERGED, PlainEngine, Trainer, evaluate
from ..engine.models import build_model
from ..engine.record import StepRecord

GRID = 48  # the input plane is drawn on GRID x GRID points
NEURONS = 4  # neuron pictures per hidden layer
FRAME_SECONDS = 0.25  # a frame sent at most this often while training
LOG_SECONDS = 0.2  # statistics are logged about this often while training
POLL_SECONDS = 0.01  # the pipe is looked at this often while training
LINGER_SECONDS = 60.0  # a paused worker hands its state back and exits after this
MAX_RUN_SECONDS = 300.0
MAX_STEPS = 100_000
HISTORY = 300  # loss points kept (thinned by half when full)
MAX_DEPTH, MAX_WIDTH, MAX_BATCH = 16, 64, 512


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
    """What the page draws, sent whole (a few tens of kB: the plane pictures as float16)."""

    step: int
    epoch: int
    running: bool
    train_loss: float
    train_acc: float
    test_loss: float
    test_acc: float
    history: list  # (step, train_loss, test_loss)
    layers: list  # per weight layer: dict(layer, name, every declared statistic of the latest logged step)
    plane: tuple | None = None  # (x0, x1, y0, y1) of the grid, when the data has 2 features
    probs: np.ndarray | None = None  # (GRID, GRID, classes) softmax over the plane (row = y)
    neurons: list = field(default_factory=list)  # per hidden layer: (k, GRID, GRID) outputs
    note: str = ""  # why training stopped, when it stopped by itself
    steps_per_second: float = 0.0  # measured in the worker between two frames


class LiveTrainer:
    """One session's network, data and optimizer (no threads: the worker loop drives it)."""

    def __init__(self, cfg: RunConfig, device: str = "cpu"):
        check_playground(cfg)
        self.cfg, self.device = cfg, torch.device(device)
        self._build()

    def _build(self) -> None:
        cfg = self.cfg
        self.data = prepare_data(cfg, self.device, allow_download=False)
        self.net = build_model(cfg, self.data.info).to(self.device)
        self.trainer = Trainer(PlainEngine(self.net, self.data, cfg, self.device), [cfg], self.data,
                               self.device, endless=True)
        self.run = self.trainer.runs[0]
        self._history: list = []
        self.note = ""
        self.grid, self.plane = _plane(self.data)
        self._show(self.trainer.measure()[0])  # statistics at initialization, before any update
        self.frame = self.snapshot(running=False)

    def reset(self) -> None:
        self._build()

    @property
    def step(self) -> int:
        return self.trainer.step

    @property
    def epoch(self) -> int:
        return self.trainer.epoch_number

    # ------------------------------------------------------------------ hand-over
    def state(self) -> bytes:
        """Everything training changes (weights, optimizer, generators, position, curves)."""
        run = self.run
        buf = io.BytesIO()
        torch.save({"net": self.net.state_dict(), "opt": run.opt.state_dict(),
                    "shuffle": run.shuffle.get_state(),
                    "noise": run.noise.generator.get_state() if run.noise else None,
                    "position": self.trainer.position(), "history": self._history,
                    "layers": self._layers, "note": self.note}, buf)
        return buf.getvalue()

    def load_state(self, blob: bytes, frame: Frame | None = None) -> None:
        s = torch.load(io.BytesIO(blob), weights_only=True)
        self.net.load_state_dict(s["net"])
        self.run.opt.load_state_dict(s["opt"])
        self.run.shuffle.set_state(s["shuffle"])
        if self.run.noise and s["noise"] is not None:
            self.run.noise.generator.set_state(s["noise"])
        self.trainer.resume(s["position"])
        self._history, self._layers, self.note = s["history"], s["layers"], s["note"]
        self.frame = frame if frame is not None else self.snapshot(running=False)

    # ------------------------------------------------------------------ training
    def step_once(self) -> None:
        """One logged step and its frame."""
        self.one_step(logged=True)
        self.frame = self.snapshot(running=False)

    def one_step(self, logged: bool) -> None:
        for record in self.trainer.advance(logged=logged):
            self._show(record)
        if self.run.status == DIVERGED:
            self.note = (f"diverged at step {self.run.diverged_at}: the loss is not finite (lower the "
                         "learning rate, then reset)")

    def log_due(self) -> bool:
        return time.perf_counter() - self._last_log > LOG_SECONDS

    def _show(self, record: StepRecord) -> None:
        """The per-layer numbers the frames carry: every statistic of `record` (None if not finite)."""
        wide = record.wide(self.trainer.engine.layer_names)
        self._layers = [{k: (v if isinstance(v, str) else int(v) if k == "layer" else
                             float(v) if np.isfinite(v) else None) for k, v in row.items()}
                        for row in wide.to_dict("records")]
        self._last_log = time.perf_counter()

    # ------------------------------------------------------------------ pictures
    @torch.no_grad()
    def snapshot(self, running: bool, rate: float = 0.0) -> Frame:
        d, net = self.data, self.net
        train_loss, train_acc = evaluate(net, d.x_train, d.y_train)
        test_loss, test_acc = evaluate(net, d.x_test, d.y_test)
        if not self._history or self._history[-1][0] != self.step:
            self._history.append((self.step, train_loss, test_loss))
            if len(self._history) > HISTORY:
                self._history = self._history[::2]
        probs, neurons = None, []
        if self.grid is not None:
            probs, neurons = _plane_outputs(net, self.grid)
        return Frame(step=self.step, epoch=self.epoch, running=running, train_loss=train_loss,
                     train_acc=train_acc, test_loss=test_loss, test_acc=test_acc,
                     history=list(self._history), layers=list(self._layers), plane=self.plane,
                     probs=probs, neurons=neurons, note=self.note, steps_per_second=rate)

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
    """Softmax over the plane and the first NEURONS outputs of every hidden layer, in eval mode
    (float16: what a picture needs, half the bytes through the pipe)."""
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
    neurons = [o.T.reshape(-1, *shape).half().cpu().numpy() for o in outs]
    return probs.reshape(*shape, -1).half().cpu().numpy(), neurons


# ---------------------------------------------------------------------- the worker process
def worker_main(conn, cfg: dict | None = None, blob: bytes | None = None, device: str = "cpu",
                idle_s: float = 20.0) -> None:
    """Child process: build the trainer (from the server's state when given), then obey. Without
    `cfg` it is a spare: warmed up, it says ("ready", 0), waits for ("init", seq, cfg, blob), and exits when it
    has heard nothing from the server for `idle_s` (the server pings it while a page watches)."""
    torch.set_num_threads(1)
    if cfg is None:
        try:
            _warm_up(device)
            conn.send(("ready", 0))
            while True:
                if not conn.poll(idle_s):
                    return
                message = conn.recv()
                if message[0] == "init":
                    cfg, blob = message[2:]
                    break
                if message[0] == "stop":
                    return
        except (EOFError, OSError):
            return
    try:
        live = LiveTrainer(RunConfig.from_dict(cfg), device)
        if blob is not None:
            live.load_state(blob)
    except Exception as exc:  # the data could not be loaded here: reported, nothing runs
        conn.send(("error", 0, f"{type(exc).__name__}: {exc}"))
        return
    loop = _Loop(conn, live, device)
    try:
        loop.run()
    except (EOFError, OSError, BrokenPipeError):
        return  # the server went away


def _warm_up(device: str) -> None:
    """A few steps of a small network: the first kernels and lazy imports, before a page waits."""
    try:
        live = LiveTrainer(RunConfig(dataset="circles", widths=(8, 8), batch_size=32), device)
        for _ in range(3):
            live.one_step(logged=True)
        live.snapshot(True)
    except Exception:
        pass


class _Loop:
    def __init__(self, conn, live: LiveTrainer, device: str):
        self.conn, self.live, self.device = conn, live, device
        self.training, self.ack = False, 0
        self.paused_at = time.monotonic()
        self.t_end = self.steps_end = 0.0
        self.last_frame, self.frame_step = time.perf_counter(), live.step

    def send(self, rate: float = 0.0) -> None:
        live = self.live
        live.frame = live.snapshot(self.training, rate)
        self.conn.send(("frame", self.ack, live.frame))
        self.last_frame, self.frame_step = time.perf_counter(), live.step

    def hand_back(self, note: str = "") -> None:
        live, self.training = self.live, False
        live.note = note or live.note
        live.frame = live.snapshot(False)
        self.conn.send(("state", self.ack, live.state(), live.frame))

    def obey(self, message) -> bool:
        """Carry out one command; False when the worker is to end."""
        kind, self.ack, *args = message
        live = self.live
        if kind == "stop":
            self.hand_back(*args)
            return False
        if kind == "start" and not self.training:
            self.training, live.note = True, ""
            self.t_end, self.steps_end = time.monotonic() + MAX_RUN_SECONDS, live.step + MAX_STEPS
        elif kind == "pause":
            self.training = False
        elif kind == "step" and not self.training:
            live.one_step(logged=True)
        elif kind == "reset":
            self.training = False
            live.reset()
        elif kind == "config":  # a new network or data for this session, from its first step
            self.live = LiveTrainer(RunConfig.from_dict(args[0]), self.device)
            if self.training:
                self.steps_end = MAX_STEPS
        if not self.training:
            self.paused_at = time.monotonic()
        self.send()
        return True

    def run(self) -> None:
        conn = self.conn
        while True:
            if not self.training:
                if conn.poll(0.5) and not self.obey(conn.recv()):
                    return
                if not self.training and time.monotonic() - self.paused_at > LINGER_SECONDS:
                    return self.hand_back()
                continue
            self._train_until_poll()
            while conn.poll(0):
                if not self.obey(conn.recv()):
                    return
            if self.training and (time.monotonic() > self.t_end or self.live.step >= self.steps_end):
                return self.hand_back(f"paused after {MAX_RUN_SECONDS / 60:.0f} minutes or "
                                      f"{MAX_STEPS:,} steps of training (press start to go on)")

    def _train_until_poll(self) -> None:
        live, t0 = self.live, time.perf_counter()
        while time.perf_counter() - t0 < POLL_SECONDS:
            live.one_step(logged=live.log_due())
            if live.note:  # diverged: stop training, stay for the page's next command
                self.training, self.paused_at = False, time.monotonic()
                break
        now = time.perf_counter()
        if not self.training or now - self.last_frame >= FRAME_SECONDS:
            self.send((live.step - self.frame_step) / max(now - self.last_frame, 1e-9) if self.training else 0.0)
