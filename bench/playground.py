"""Playground speed: training steps per second of small networks on 2-D data, what a redraw
costs, and the time from a click on Start to the first frame with a trained step.

    .venv/bin/python bench/playground.py --reps 5

Variants run interleaved in one process (bench/_common.py). Per network: plain steps
(train_step without statistics), logged steps (with the LayerStatsRecorder, as the live loop
does about 5 times a second), one frame (evaluation on train and test, softmax and neuron
outputs over the 48 x 48 plane), and the pictures and charts the page draws from a frame.
"Click to first frame" builds a LiveTrainer (data, network, statistics at initialization),
starts its thread and waits until a frame with step >= 1 is published.
"""
from __future__ import annotations

import time

from _common import interleaved, machine, markdown_table, median, print_machine, save, start

from core.config import RunConfig
from core.runs.playground import LiveTrainer
from core.views.boundary import layers_chart, layers_frame, loss_chart, neurons_image, plane_image

NETWORKS = {
    "4x8 tanh": dict(widths=(8,) * 4, activation="tanh"),
    "8x8 sigmoid": dict(widths=(8,) * 8, activation="logistic"),
    "8x8 sigmoid + BN": dict(widths=(8,) * 8, activation="logistic", bn="before"),
    "8x8 relu + He": dict(widths=(8,) * 8, activation="relu", init="he_normal"),
}
STEPS = 200


def main() -> None:
    args, _, info = start(__doc__, reps=5)
    print_machine(info)
    trainers = {name: LiveTrainer(RunConfig(dataset="spiral", lr=0.03, batch_size=32, **kw))
                for name, kw in NETWORKS.items()}

    def steps(live, logged):
        def run():
            for _ in range(STEPS if not logged else STEPS // 10):
                live._one_step(logged=logged)
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
        cases[f"{name}|frame"] = live._snapshot
        cases[f"{name}|draw"] = draw(live)
        cases[f"{name}|instruments"] = lambda live=live: layers_chart(layers_frame(live.frame.layers)).to_dict()
    times = interleaved(cases, args.reps, __import__("torch").device("cpu"))

    def click(name):
        t0 = time.perf_counter()
        live = LiveTrainer(RunConfig(dataset="spiral", lr=0.03, batch_size=32, seed=int(t0 * 1e6) % 10000,
                                     **NETWORKS[name]))
        live.start()
        while live.frame.step < 1:
            time.sleep(0.001)
        seconds = time.perf_counter() - t0
        live.pause()
        return seconds

    rows, payload = [], {"machine": info, "steps": STEPS, "networks": {}}
    for name in NETWORKS:
        step = median(times[f"{name}|step"]) / STEPS
        logged = median(times[f"{name}|logged"]) / (STEPS // 10)
        first = median([click(name) for _ in range(args.reps)])
        row = dict(steps_per_s=1 / step, logged_ms=logged * 1e3, logged_over_step=logged / step,
                   frame_ms=median(times[f"{name}|frame"]) * 1e3, draw_ms=median(times[f"{name}|draw"]) * 1e3,
                   instruments_ms=median(times[f"{name}|instruments"]) * 1e3, click_to_first_frame_s=first)
        payload["networks"][name] = row
        rows.append([name, *row.values()])
    print(markdown_table(["network (spiral, batch 32)", "steps/s", "logged step ms", "logged / plain",
                          "frame ms", "draw ms", "instruments chart ms", "click to first frame s"], rows))
    print(f"load average at end: {[round(v, 2) for v in __import__('os').getloadavg()]}")
    save("playground", payload)


if __name__ == "__main__":
    main()
