"""Benchmark 2: what the per-layer statistics cost.

    python bench/instrumentation.py            # 3 interleaved repetitions
    python bench/instrumentation.py --reps 5

The same training three ways, interleaved: logging off (only step 0 is logged), default logging
(about 100 logged steps per run) and logging every step. Two networks: Kakujo (2022)'s deep sigmoid net
(4.8 M weights, one epoch of 60,000 images, batch 100; the workload of bench/throughput.py) and
the app's default configuration (5 x 128 logistic, 5 epochs of mnist-5k, batch 64). Then the
cost of one logged step of the big network, part by part. Target: default logging costs at
most 5%.
"""
from __future__ import annotations

import time

import torch

import _common as C
from _deep_sigmoid import load_workload, make_ours, one_run
from core.base.config import RunConfig
from core.engine.loop import train, train_step

OFF = 1_000_000  # log_every beyond the run's length: only step 0 is logged


def overhead_table(times: dict, logged: dict) -> tuple[list, dict]:
    med = {k: C.median(v) for k, v in times.items()}
    rows = []
    for name, label in (("off", "off (step 0 only)"), ("default", "default"), ("every", "every step")):
        extra = med[name] / med["off"] - 1
        rows.append([label, logged[name], med[name], f"{100 * extra:+.1f}%"])
    return rows, med


def parts_of_a_logged_step(w, device, reps: int) -> list:
    """Milliseconds of a training step and of each part of the statistics of one logged step."""
    engine, run, order = one_run(w, device)
    net, rec = engine.net, run.recorder
    x = engine.data.x_train[order[0]]

    def step():
        train_step(engine, [run], order, 0, 1, logged=False)

    def forward_with_hooks():
        with torch.no_grad(), rec.capture_activations(True):
            net(x)

    def forward_plain():
        with torch.no_grad():
            net(x)

    with torch.no_grad(), rec.capture_activations(True):
        net(x)
    outputs = list(rec._act_outs)  # one logged step's activation outputs, summarized below
    n_layers = len(net.layers)

    def weight_snapshot_and_ratio():
        rec.before_update()
        rec._pending.update({"true": torch.zeros(n_layers, 4, dtype=torch.float64),  # keeps before_update's w_hist
                             "true_hist": torch.zeros(n_layers, 60, dtype=torch.int64)})
        rec._act_outs = []
        rec.after_update(0, 1)  # weight norms, update ratios, the transfer to the host
        rec._logged.clear()

    step()
    cases = {"training step (no statistics)": step,
             "gradient stats + histogram (record_gradients)": lambda: rec.record_gradients("true"),
             "weight snapshot, norms, update ratio": weight_snapshot_and_ratio,
             "activation statistics": lambda: rec.summarize_activations(outputs),
             "forward with activation hooks": forward_with_hooks,
             "forward without hooks": forward_plain}
    inner = 10

    def repeat(fn):
        return lambda: [fn() for _ in range(inner)]

    times = C.interleaved({k: repeat(fn) for k, fn in cases.items()}, reps, device)
    ms = {k: 1e3 * C.median(v) / inner for k, v in times.items()}
    hooks = ms.pop("forward with activation hooks") - ms.pop("forward without hooks")
    return [[k, v] for k, v in ms.items()] + [["forward hooks (keeping the outputs)", hooks]]


def main(argv=None) -> None:
    args, device, info = C.start(__doc__, argv, reps=3)
    w = load_workload()
    print(f"data: {w.note}")

    print("\n1) Kakujo (2022)'s deep sigmoid network, one epoch of the same images as the baseline")
    big = {"off": make_ours(w, device, OFF), "default": make_ours(w, device, 0),
           "every": make_ours(w, device, 1)}
    logged = {k: len(fn().histograms["steps"]) for k, fn in big.items()}
    times_big = C.interleaved(big, args.reps, device, warmup=False)
    rows_big, med_big = overhead_table(times_big, logged)
    print(C.markdown_table(["logging", "logged steps", "seconds (median)", "extra time"], rows_big))

    print("\n2) the app's default configuration (5 x 128 logistic, 5 epochs of mnist-5k)")
    small_cfg = RunConfig(device=device.type)
    small = {"off": lambda: train(small_cfg.replace(log_every=OFF)),
             "default": lambda: train(small_cfg),
             "every": lambda: train(small_cfg.replace(log_every=1))}
    logged_small = {k: len(fn().histograms["steps"]) for k, fn in small.items()}
    times_small = C.interleaved(small, args.reps, device, warmup=False)
    rows_small, med_small = overhead_table(times_small, logged_small)
    print(C.markdown_table(["logging", "logged steps", "seconds (median)", "extra time"], rows_small))

    print("\n3) one logged step of the deep sigmoid network, part by part")
    t0 = time.perf_counter()
    parts = parts_of_a_logged_step(w, device, args.reps)
    print(C.markdown_table(["part", "ms (median)"], parts))
    per_log = (med_big["default"] - med_big["off"]) / max(logged["default"] - logged["off"], 1)
    print(f"\nextra time per logged step, from the epoch times: {1e3 * per_log:.1f} ms "
          f"({time.perf_counter() - t0:.0f} s for the parts)")
    print(f"default logging costs {100 * (med_big['default'] / med_big['off'] - 1):+.1f}% on the big "
          f"network and {100 * (med_small['default'] / med_small['off'] - 1):+.1f}% on the app's "
          f"default (target: at most 5%)")
    C.save("instrumentation", {"machine": info, "data": w.note, "big": times_big, "big_logged": logged,
                               "small": times_small, "small_logged": logged_small, "parts_ms": parts})


if __name__ == "__main__":
    main()
