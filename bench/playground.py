"""Playground speed: training steps per second of small networks on 2-D data, in this process
and in the worker process the page uses, what a redraw costs, and the time from a click on
Start to the first frame with a trained step.

    .venv/bin/python bench/playground.py --reps 3

In this process (one torch thread, as the worker uses), variants interleaved (bench/_common.py),
per network: plain steps (train_step without statistics), logged steps (with the
LayerStatsRecorder, as the live loop does about 5 times a second), one frame (evaluation on
train and test, softmax and neuron outputs over the 48 x 48 plane), and the pictures and charts
the page draws from a frame.

In worker processes (core.runs.playground), per repetition: a click on Start with a fresh
process (it imports torch), the same with the warm spare the hub keeps while a page watches,
each network's steps/s seen from the server over TRAIN_S seconds of frames (one worker, the
networks switched by a new config as the page does) and, right after, the same loop (steps
logged when due, a frame every FRAME_SECONDS) run here for as long, the time from Start to a new frame after
a pause, and the starvation that moved training out of the server: the 4x8 tanh network
trained in a thread of this process beside a busy Python thread, against the worker beside the
same busy thread.
"""
from __future__ import annotations

import os
import threading
import time

import torch

from _common import interleaved, markdown_table, median, save, start

from core.base.config import RunConfig
from core.runs.playground import LiveSession, LiveTrainer, PlaygroundHub
from core.runs.playground_worker import FRAME_SECONDS
from core.views.boundary import layers_chart, layers_frame, loss_chart, neurons_image, plane_image

NETWORKS = {
    "4x8 tanh": dict(widths=(8,) * 4, activation="tanh"),
    "8x8 sigmoid": dict(widths=(8,) * 8, activation="logistic"),
    "8x8 sigmoid + BN": dict(widths=(8,) * 8, activation="logistic", bn="before"),
    "8x8 relu + He": dict(widths=(8,) * 8, activation="relu", init="he_normal"),
}
STEPS = 200
TRAIN_S = 2.0
SPAWN_S = 120.0


def cfg_of(name: str, seed: int = 0) -> RunConfig:
    return RunConfig(dataset="spiral", lr=0.03, batch_size=32, seed=seed, **NETWORKS[name])


def wait(pred, touch, timeout=SPAWN_S) -> float:
    """Seconds until `pred()` (reading `touch` meanwhile, as the page does)."""
    t0 = time.perf_counter()
    while not pred():
        touch.touch()
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError("no frame from the worker")
        time.sleep(0.002)
    return time.perf_counter() - t0


def worker_rate(live, seconds: float = TRAIN_S) -> float:
    """Steps per second over the frames that arrive within `seconds`, seen from the server."""
    seen, t_end = [], time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        live.touch()
        f = live.frame
        if not seen or f is not seen[-1][1]:
            seen.append((time.perf_counter(), f))
        time.sleep(0.005)
    (t0, f0), (t1, f1) = seen[1], seen[-1]  # from the first frame that arrived in the window
    return (f1.step - f0.step) / max(t1 - t0, 1e-9)


def local_rate(live: LiveTrainer, seconds: float = TRAIN_S) -> float:
    """The worker's loop run here: steps (logged when due) and a frame every FRAME_SECONDS."""
    n, t0 = 0, time.perf_counter()
    last = t0
    while time.perf_counter() - t0 < seconds:
        live.one_step(logged=live.log_due())
        n += 1
        if time.perf_counter() - last >= FRAME_SECONDS:
            live.snapshot(True)
            last = time.perf_counter()
    return n / (time.perf_counter() - t0)


def busy(seconds: float) -> None:
    """A Python thread that holds the GIL, as the server's script threads do under load."""
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        sum(i * i for i in range(2000))


def thread_rate(seconds: float = TRAIN_S) -> float:
    live, n = LiveTrainer(cfg_of("4x8 tanh")), [0]

    def train():
        t_end = time.perf_counter() + seconds
        while time.perf_counter() < t_end:
            live.one_step(logged=False)
            n[0] += 1

    worker = threading.Thread(target=train)
    worker.start()
    busy(seconds)
    worker.join()
    return n[0] / seconds


def worker_round(rep: int) -> dict:
    out: dict = {"rate": {}, "local": {}}
    cold = LiveSession(cfg_of("4x8 tanh", seed=rep))
    cold.start()
    out["cold_click_s"] = wait(lambda: cold.frame.step >= 1, cold)
    cold.stop()
    hub = PlaygroundHub(max_running=2)
    names = list(NETWORKS)
    live = hub.get("s", cfg_of(names[0], seed=rep))
    hub.get("s", live.cfg)  # a watching page: the hub spawns its spare
    wait(lambda: hub._spare is not None and hub._spare.conn.poll(0), live)  # warmed up
    hub.start("s")
    out["warm_click_s"] = wait(lambda: live.frame.step >= 1, live)
    for name in names:
        live = hub.get("s", cfg_of(name, seed=rep))  # a new config: same worker
        hub.start("s")
        wait(lambda: live.frame.running and live.frame.step > 0, live)
        out["rate"][name] = worker_rate(live)
        live.pause()  # the worker waits while the same loop runs here
        out["local"][name] = local_rate(LiveTrainer(cfg_of(name, seed=rep)))
    live.start()
    wait(lambda: live.frame.running, live)
    live.pause()
    paused_at = live.frame.step
    live.start()
    out["resume_s"] = wait(lambda: live.frame.step > paused_at, live)
    threading.Thread(target=busy, args=(TRAIN_S + 1.0,), daemon=True).start()  # the main thread reads
    out["busy_worker"] = worker_rate(live)
    hub.shutdown()
    out["busy_thread"] = thread_rate()
    return out


def main() -> None:
    torch.set_num_threads(1)  # as in the worker
    args, _, info = start(__doc__, reps=3)
    trainers = {name: LiveTrainer(cfg_of(name)) for name in NETWORKS}

    def steps(live, logged):
        def run():
            for _ in range(STEPS if not logged else STEPS // 10):
                live.one_step(logged=logged)
        return run

    def draw(live):
        def run():
            f, p = live.frame, live.points()
            plane_image(f.probs, f.plane, [(p["train_x"], p["train_y"], True), (p["test_x"], p["test_y"], False)])
            neurons_image(f.neurons, [r["name"] for r in f.layers])
            loss_chart(f.history).to_dict()
        return run

    cases = {}
    for name, live in trainers.items():
        cases[f"{name}|step"] = steps(live, False)
        cases[f"{name}|logged"] = steps(live, True)
        cases[f"{name}|frame"] = lambda live=live: live.snapshot(True)
        cases[f"{name}|draw"] = draw(live)
        cases[f"{name}|instruments"] = lambda live=live: layers_chart(layers_frame(live.frame.layers)).to_dict()
    times = interleaved(cases, args.reps, torch.device("cpu"))
    rounds = [worker_round(rep) for rep in range(args.reps)]

    rows, payload = [], {"machine": info, "steps": STEPS, "train_s": TRAIN_S, "networks": {}, "worker": rounds}
    for name in NETWORKS:
        step = median(times[f"{name}|step"]) / STEPS
        logged = median(times[f"{name}|logged"]) / (STEPS // 10)
        row = dict(steps_per_s=1 / step, loop_steps_per_s=median([r["local"][name] for r in rounds]),
                   worker_steps_per_s=median([r["rate"][name] for r in rounds]),
                   logged_ms=logged * 1e3, logged_over_step=logged / step,
                   frame_ms=median(times[f"{name}|frame"]) * 1e3, draw_ms=median(times[f"{name}|draw"]) * 1e3,
                   instruments_ms=median(times[f"{name}|instruments"]) * 1e3)
        payload["networks"][name] = row
        rows.append([name, *row.values()])
    print(markdown_table(["network (spiral, batch 32)", "plain steps/s here", "live loop steps/s here",
                          "live loop steps/s in the worker",
                          "logged step ms", "logged / plain", "frame ms", "draw ms", "instruments chart ms"], rows))
    clicks = [["Start to first trained frame, fresh worker process", "s", *[r["cold_click_s"] for r in rounds]],
              ["Start to first trained frame, warm spare worker", "s", *[r["warm_click_s"] for r in rounds]],
              ["Start after a pause to the next frame", "s", *[r["resume_s"] for r in rounds]],
              ["4x8 tanh beside a busy Python thread: in a thread here", "steps/s", *[r["busy_thread"] for r in rounds]],
              ["4x8 tanh beside a busy Python thread: in the worker", "steps/s", *[r["busy_worker"] for r in rounds]]]
    print(markdown_table(["measure", "unit", *[f"rep {i + 1}" for i in range(args.reps)]], clicks))
    print(f"load average at end: {[round(v, 2) for v in os.getloadavg()]}")
    save("playground", payload)


if __name__ == "__main__":
    main()
