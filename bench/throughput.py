"""Benchmark 1: training throughput against the loop a user would write (Kakujo (2022)'s).

    python bench/throughput.py            # 3 interleaved repetitions (about 5 minutes on 2 cores)
    python bench/throughput.py --reps 5

One epoch of the deep sigmoid network (5 x 1000 logistic units) on Fashion-MNIST's 60,000
training images, batch 100, SGD with momentum, three ways, interleaved: the baseline loop
(torchvision dataset + DataLoader with 2 workers, no instrumentation), ours (core.engine.loop.train
with statistics at the default logging frequency), and the matrix multiplications alone (the
limit). Also ours as the app runs it: core's own split (54,000 training images) plus its
per-epoch evaluation of 16,000 validation and test images. Prints median times and ratios.
Targets: CPU, ours at most 0.8x the baseline's time (aim 0.7x); GPU, at least 5x faster.
"""
from __future__ import annotations


import _common as C
from _deep_sigmoid import load_workload, make_baseline, make_matmuls, make_ours, ours_config
from core.engine.loop import train


def main(argv=None) -> None:
    args, device, info = C.start(__doc__, argv, reps=3)
    w = load_workload()
    print(f"data: {w.note}")
    n = len(w.y)
    cfg = ours_config(w).replace(device=device.type)
    cases = {
        "baseline": make_baseline(w, device),
        "ours": make_ours(w, device),
        "ours_app": lambda: train(cfg),
        "matmuls": make_matmuls(n, device),
    }
    # The baseline starts its DataLoader workers every epoch anyway: no untimed warm-up for it.
    times = C.interleaved(cases, args.reps, device, warmup=["ours", "matmuls"])
    med = {k: C.median(v) for k, v in times.items()}
    log_every = make_ours(w, device)().meta["log_every"]

    rows = [
        ["baseline: Kakujo (2022) loop (DataLoader, 2 workers, no statistics)", med["baseline"], n / med["baseline"], 1.0],
        [f"ours: core.engine.loop, statistics every {log_every} steps (default)", med["ours"], n / med["ours"],
         med["ours"] / med["baseline"]],
        ["matrix multiplications alone (the limit)", med["matmuls"], n / med["matmuls"],
         med["matmuls"] / med["baseline"]],
    ]
    print()
    print(C.markdown_table(["one epoch, same 60,000 images" if n == 60000 else f"one epoch, {n} images",
                            "seconds (median)", "images/s", "time / baseline"], rows))
    print()
    print(f"ours / baseline = {med['ours'] / med['baseline']:.2f}  "
          f"(target on a CPU: <= 0.8, aim 0.7; on a GPU: <= 0.2)")
    print(f"ours / matmul limit = {med['ours'] / med['matmuls']:.2f}; "
          f"baseline / matmul limit = {med['baseline'] / med['matmuls']:.2f}")
    print(f"ours as the app runs it (core's split: 54,000 training images, then evaluation of "
          f"16,000): {med['ours_app']:.3g} s = {med['ours_app'] / med['baseline']:.2f} x the baseline")
    C.save("throughput", {"machine": info, "data": w.note, "images": n, "times": times,
                          "median": med, "log_every": log_every})


if __name__ == "__main__":
    main()
