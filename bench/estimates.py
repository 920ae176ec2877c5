"""How good the time estimate is: core.base.cost.training_seconds with this machine's measured rates
(core.engine.speed) against the measured training time of a handful of configurations.

    python bench/estimates.py --reps 3

Each round measures the rates afresh (as a new process would), then trains every case. The
`calibrated` column is what core.runs.calibration gives once the other cases of the round are
stored: the ratio divided by the median ratio of the other cases.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

from _common import ROOT  # noqa: F401  (puts the project on sys.path)

from core.base.config import RunConfig
from core.engine.speed import machine_rates
from core.engine.stacked import train_many
from core.runs.calibration import estimated_seconds

CASES = {
    "RunConfig() (the app's default)": [RunConfig()],
    "deep sigmoid 5 x 256, mnist-5k, 10 epochs": [RunConfig(activation="logistic", widths=(256,) * 5, epochs=10)],
    "VGG08, 16 filters, digits, 3 epochs": [RunConfig(arch="vgg", dataset="digits", vgg_filters=16, epochs=3)],
    "3 seeds of RunConfig(), one stack": [RunConfig(seed=s) for s in range(3)],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    train_many([RunConfig(dataset="digits", widths=(8,), epochs=1)])  # first-call costs
    ratios: dict[str, list[float]] = {name: [] for name in CASES}
    calibrated: dict[str, list[float]] = {name: [] for name in CASES}
    for rep in range(args.reps):
        machine_rates.cache_clear()
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        rates = machine_rates("cpu")
        print(f"round {rep + 1}: load {load:.2f}; measuring the rates took {time.perf_counter() - t0:.2f} s")
        this_round = {}
        for name, configs in CASES.items():
            predicted = estimated_seconds(configs, rates)
            took = max(r.meta["seconds"] for r in train_many(configs))
            this_round[name] = took / predicted
            print(f"  {name:44s} measured {took:6.2f} s, estimated {predicted:6.2f} s, ratio {took / predicted:.2f}")
        for name, ratio in this_round.items():
            ratios[name].append(ratio)
            calibrated[name].append(ratio / statistics.median(v for k, v in this_round.items() if k != name))
        print(f"  load after the round: {os.getloadavg()[0]:.2f}")
    print("\n| configuration | measured / estimated (median; range) | calibrated by the other cases |")
    print("|---|---|---|")
    for name in CASES:
        r, c = ratios[name], calibrated[name]
        print(f"| {name} | {statistics.median(r):.2f} ({min(r):.2f} to {max(r):.2f}) | "
              f"{statistics.median(c):.2f} ({min(c):.2f} to {max(c):.2f}) |")


if __name__ == "__main__":
    main()
