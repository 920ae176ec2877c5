"""How good the time estimate is: core.base.cost.training_seconds with this machine's rates
(core.engine.speed, core.runs.calibration) against the measured training time of 24 cases, MLP
and VGG, from 0.02 s to about a minute, single runs and stacks.

    python bench/estimates.py --measurements 3                  # wall time, as the app trains
    python bench/estimates.py --measurements 3 --clock thread   # processor time on one thread
    python bench/estimates.py --measurements 1 --spin 1         # beside a process spinning on one core
    python bench/estimates.py --measurements 1 --cards          # and the Home page's cards

First the rates are measured `--measurements` times (as fresh servers on an empty store would):
the spread of each case's estimate between measurements is the stability. Then every case is
trained once (in a temporary store; cache/ is not touched) and estimated two ways:

- fresh: the first measurement alone (a fresh clone, nothing stored), times the load factor of
  the moment (core.runs.load.Busy: the last seconds, less this process's own CPU time);
- calibrated: rescaled by the other cases as stored runs (calibration.calibrated), each
  less the load it met (core.runs.load.busy_while), as the app does once runs are stored, times
  the load factor of the moment.

It prints every case's estimate / measured and their median, min and max; docs/PERFORMANCE.md
keeps a run of it. Run it alone: the load before and after each case is printed. On a machine
that other programs keep busy the wall clock measures the load more than the model (two threads
that wait for each other lose far more than their share of the cores); `--clock thread` times
the processor time of training on one thread instead, which the load does not stretch, against
the same single-thread rates: the model's own error.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from _common import ROOT  # noqa: F401  (puts the project on sys.path)

os.environ.setdefault("VG_CACHE_DIR", tempfile.mkdtemp(prefix="vg-bench-estimates-"))

from core.base.config import RunConfig  # noqa: E402
from core.engine.speed import measure_rates  # noqa: E402
from core.engine.stacked import train_many  # noqa: E402
from core.runs import calibration  # noqa: E402
from core.runs.load import Busy, busy_while, read_stat  # noqa: E402

import torch  # noqa: E402

V = dict(arch="vgg", train_subset=1000, batch_size=100, optimizer="adam", lr=1e-3, activation="leaky_relu",
         init="torch_default")
GNA = dict(widths=(128, 128, 64, 64, 32), activation="leaky_relu", epochs=10)
CASES = {
    "mlp digits 16-16, 1 epoch": [RunConfig(dataset="digits", widths=(16, 16), epochs=1)],
    "mlp digits 64x3, 5 epochs": [RunConfig(dataset="digits", widths=(64,) * 3, epochs=5)],
    "mlp digits 16, batch 8, 3 epochs": [RunConfig(dataset="digits", widths=(16,), batch_size=8, epochs=3)],
    "RunConfig() (128x5 logistic, 5 epochs)": [RunConfig()],
    "mlp 256x5 logistic, 10 epochs": [RunConfig(widths=(256,) * 5, epochs=10)],
    "mlp 500x5, 3 epochs": [RunConfig(widths=(500,) * 5, epochs=3)],
    "mlp 100x20 selu nadam, 3 epochs": [RunConfig(widths=(100,) * 20, activation="selu", init="lecun_normal",
                                                  optimizer="nadam", lr=7e-4, epochs=3)],
    "mlp 1024x2, batch 128, 3 epochs": [RunConfig(widths=(1024, 1024), batch_size=128, epochs=3)],
    "mlp 1024x3, 5 epochs": [RunConfig(widths=(1024,) * 3, activation="relu", epochs=5)],
    "mlp 32x10, batch 16, 2 epochs": [RunConfig(widths=(32,) * 10, batch_size=16, epochs=2)],
    "mlp 128-128-64-64-32 bn-last, 10 epochs": [RunConfig(**GNA, bn="last")],
    "8 seeds of 128-128-64-64-32, one stack": [RunConfig(**GNA, seed=s) for s in range(8)],
    "3 seeds of RunConfig(), one stack": [RunConfig(seed=s) for s in range(3)],
    "mlp 128x5 gradient noise, 5 epochs": [RunConfig(grad_noise=1.0)],
    "mlp 128x5 bn-before, 5 epochs": [RunConfig(bn="before")],
    "mlp 128x6 residual, 3 epochs": [RunConfig(widths=(128,) * 6, residual=True, activation="relu", epochs=3)],
    "mlp 256x3 dropout, 3 epochs": [RunConfig(widths=(256,) * 3, dropout=0.2, activation="relu", epochs=3)],
    "mlp 512x3 adam, logged every step, 2 epochs": [RunConfig(widths=(512,) * 3, optimizer="adam", lr=1e-3,
                                                              log_every=1, epochs=2)],
    "vgg digits 4 filters, 1 epoch": [RunConfig(arch="vgg", dataset="digits", vgg_filters=4, epochs=1)],
    "vgg digits 16 filters, 3 epochs": [RunConfig(arch="vgg", dataset="digits", vgg_filters=16, epochs=3)],
    "vgg08 8 filters, 1000 images, 1 epoch": [RunConfig(**V, vgg_filters=8, epochs=1)],
    "vgg08 16 filters, 1000 images, 3 epochs": [RunConfig(**V, vgg_filters=16, epochs=3)],
    "vgg38 16 filters bn residual, 1000 images, 1 epoch": [RunConfig(**V, vgg_filters=16, vgg_blocks=5, bn="before",
                                                                     residual=True, epochs=1)],
    "vgg14 32 filters, 2000 images, 1 epoch": [RunConfig(**{**V, "train_subset": 2000}, vgg_filters=32, vgg_blocks=1,
                                                         epochs=1)],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measurements", type=int, default=3, help="fresh measurements of the rates")
    parser.add_argument("--clock", choices=("wall", "thread"), default="wall",
                        help="wall: the wall time of training as the app trains (its threads, the load of the "
                             "moment); thread: the processor time of training on one thread, which other "
                             "programs on the cores do not stretch: the model itself, whatever the load")
    parser.add_argument("--cards", action="store_true",
                        help="the Home page's cards as further cases (the audit timed four of them)")
    parser.add_argument("--spin", type=int, default=0,
                        help="processes that spin on a core from before the first measurement to the end: "
                             "a known load, which the fresh and calibrated estimates must count")
    args = parser.parse_args()
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.spin)]
    try:
        run(args)
    finally:
        for p in spinners:
            p.kill()
            p.wait()


def run(args) -> None:
    cases = dict(CASES)
    if args.cards:
        from core.lab.scenarios import SCENARIOS

        cases.update({f"Home card: {s.title}": [s.config] for s in SCENARIOS})
    one_thread = args.clock == "thread"
    if one_thread:
        torch.set_num_threads(1)
    clock = time.thread_time if one_thread else time.time
    print(f"load before: {os.getloadavg()[0]:.2f} (1 min), {os.getloadavg()[1]:.2f} (5 min) on {os.cpu_count()} cores")
    measured_rates = []
    for k in range(args.measurements):
        t0 = time.time()
        measured_rates.append(calibration.with_thread_gain(measure_rates("cpu"), "cpu")[0])  # as machine_rates
        print(f"measurement {k + 1}: {time.time() - t0:.2f} s, load {os.getloadavg()[0]:.2f}")
    spread = {name: max(s) / min(s) for name, configs in cases.items()
              if (s := [calibration.estimated_seconds(configs, r) for r in measured_rates])}
    print(f"stability: the largest ratio between two measurements' estimates of one case is "
          f"{max(spread.values()):.2f} ({max(spread, key=spread.get)})")
    for dataset in ("digits", "mnist-5k"):  # first-call costs: reading each dataset once
        train_many([RunConfig(dataset=dataset, widths=(8,), epochs=1, train_subset=64)])
    rows = []
    for name, configs in cases.items():
        busy = Busy(0.0, os.cpu_count() or 1, 1.0) if one_thread else Busy.now()  # trained in-process: ours
        load, t0, c0, first = os.getloadavg()[0], time.time(), clock(), read_stat()
        results = train_many(configs)
        took = clock() - c0
        met = 1.0 if one_thread else (busy_while(first, read_stat()) or 1.0)  # as get_or_train stores it
        # every case is one run or one stack: it is stored with the time its stack took
        timings = [(r.config, took / met, int(r.meta.get("trained_with") or 1)) for r in results]
        rows.append((name, configs, took, timings, busy, load, os.getloadavg()[0]))
        print(f"  {name:52s} {took:7.2f} s  (load {load:.2f} -> {os.getloadavg()[0]:.2f}, busy x{busy.factor:.2f} before, x{met:.2f} during)",
              flush=True)
    base = measured_rates[0]
    fresh, calibrated = [], []
    print("\n| case | measured s | load | fresh estimate s | ratio | calibrated estimate s | ratio |")
    print("|---|---|---|---|---|---|---|")
    for name, configs, took, _, busy, load, after in rows:
        others = [t for other, *rest in rows if other != name for t in rest[2]]
        cal = calibration.calibrated(base, others)
        f = calibration.estimated_seconds(configs, base) * busy.factor
        c = calibration.estimated_seconds(configs, cal.rates) * busy.factor
        fresh.append(f / took)
        calibrated.append(c / took)
        print(f"| {name} | {took:.2f} | {load:.1f}→{after:.1f} | {f:.2f} | {f / took:.2f} | {c:.2f} | {c / took:.2f} |")
    print("\nestimate / measured over the cases (median; min to max; cases off by more than 2x):")
    long = [k for k, row in enumerate(rows) if row[2] >= 0.5]  # the app says "1 s" for anything shorter
    for label, ratios in (("fresh (machine rates only)", fresh), ("calibrated by the other cases", calibrated)):
        off = sum(1 for r in ratios if r > 2 or r < 0.5)
        off_long = sum(1 for k in long if ratios[k] > 2 or ratios[k] < 0.5)
        print(f"  {label:32s} {statistics.median(ratios):.2f}; {min(ratios):.2f} to {max(ratios):.2f}; {off} of {len(ratios)}"
              f" ({off_long} of the {len(long)} that took 0.5 s or more)")
    print(f"load after: {os.getloadavg()[0]:.2f} (1 min), {os.getloadavg()[1]:.2f} (5 min)")


if __name__ == "__main__":
    main()
