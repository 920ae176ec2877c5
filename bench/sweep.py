"""Benchmark 3: eight configurations trained together as one stacked model vs one after another.

    python bench/sweep.py            # 3 interleaved repetitions
    python bench/sweep.py --reps 5

Eight variants of Quijas (2020)'s self-normalizing network (20 x 100 SELU, LeCun normal init,
standardized inputs, Nadam 7e-4, batch 128), one epoch of Fashion-MNIST, default logging,
differing in seed, initialization, learning rate and gradient noise: core.engine.stacked.train_many
(stacked) against core.engine.loop.train for each in turn. Then the same for the app's default
network (5 x 128 logistic, SGD with momentum, 5 epochs of mnist-5k), a typical Compare-page
sweep. Each time the per-config results are checked to be identical. Target: at least 3x
faster on the CPU.
"""
from __future__ import annotations


import numpy as np
import pandas as pd
import torch

import _common as C
from core.base.config import RunConfig
from core.engine.data import DatasetUnavailable, load_raw
from core.engine.stacked import train_many
from core.engine.loop import train


def variants(base: RunConfig) -> list[RunConfig]:
    return [base, base.replace(seed=1), base.replace(seed=2),
            base.replace(init="lecun_uniform"), base.replace(init="glorot_normal"),
            base.replace(lr=base.lr / 2), base.replace(lr=base.lr * 2),
            base.replace(grad_noise=0.01)]


def identical(a, b) -> bool:
    """The same RunResult apart from timings (exactly; tests/test_sweep.py checks more)."""
    try:
        pd.testing.assert_frame_equal(a.epochs.drop(columns="seconds"), b.epochs.drop(columns="seconds"))
        pd.testing.assert_frame_equal(a.layer_stats, b.layer_stats)
        pd.testing.assert_frame_equal(a.steps, b.steps)
    except AssertionError:
        return False
    return (all(np.array_equal(a.histograms[k], b.histograms[k]) for k in b.histograms)
            and all(torch.equal(a.state_dict[k], b.state_dict[k]) for k in b.state_dict))


def compare(title: str, configs: list[RunConfig], reps: int, device) -> dict:
    print(f"\n{title}")
    last = {}

    def one_by_one():
        last["alone"] = [train(cfg) for cfg in configs]

    def stacked():
        last["stacked"] = train_many(configs)

    times = C.interleaved({"one by one": one_by_one, "stacked": stacked}, reps, device)
    med = {k: C.median(v) for k, v in times.items()}
    same = all(identical(a, b) for a, b in zip(last["stacked"], last["alone"]))
    rows = [["one after another (core.engine.loop.train)", med["one by one"], 1.0],
            ["stacked (core.engine.stacked.train_many)", med["stacked"], med["one by one"] / med["stacked"]]]
    print(C.markdown_table([f"{len(configs)} configs", "seconds (median)", "speed-up"], rows))
    print(f"identical per-config results: {'yes' if same else 'NO'}; "
          f"logged every {last['stacked'][0].meta['log_every']} steps")
    return {"times": times, "median": med, "identical": same}


def main(argv=None) -> None:
    args, device, info = C.start(__doc__, argv, reps=3)
    try:
        load_raw("fashion-mnist")
        dataset, note = "fashion-mnist", "one epoch of Fashion-MNIST (54,000 training images)"
    except DatasetUnavailable:
        dataset, note = "mnist-5k", "Fashion-MNIST not available: fell back to 5 epochs of mnist-5k"
    snn = RunConfig(dataset=dataset, widths=(100,) * 20, activation="selu", init="lecun_normal",
                    standardize=True, optimizer="nadam", lr=7e-4, batch_size=128,
                    epochs=1 if dataset == "fashion-mnist" else 5, device=device.type)
    results = {"snn": compare(f"1) Quijas (2020)'s 20 x 100 SELU network, batch 128, {note}",
                              variants(snn), args.reps, device)}
    app = RunConfig(device=device.type)
    results["app_default"] = compare("2) the app's default network (5 x 128 logistic), 5 epochs of mnist-5k",
                                     variants(app), args.reps, device)
    speedup = results["snn"]["median"]["one by one"] / results["snn"]["median"]["stacked"]
    print(f"\nstacked speed-up on the SELU sweep: {speedup:.2f}x (target: at least 3x on the CPU)")
    C.save("sweep", {"machine": info, "data": note, **results})


if __name__ == "__main__":
    main()
