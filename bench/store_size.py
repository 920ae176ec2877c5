"""Benchmark 5: bytes on disk per stored run.

    python bench/store_size.py

The default 5-layer network trained for 100 epochs at the default logging frequency (the run of
bench/app_latency.py), saved by core.runs.store: the size of every file of its folder, and the total
without the weights. Target: under 5 MB, with histograms that stay useful (every gradient entry
counted at every logged step, 0.25-decade bins from 1e-12 to 1e2, plus exact zeros).
"""
from __future__ import annotations

import _common as C
from _stored_run import LONG_RUN, stored_long_run


def main(argv=None) -> None:
    _, device, info = C.start(__doc__, argv, reps=None)
    store, result = stored_long_run()
    folder = store.run_dir(LONG_RUN.run_id)
    sizes = {p.name: p.stat().st_size for p in sorted(folder.iterdir())}
    without_weights = sum(v for k, v in sizes.items() if k != "weights.pt")
    hist = result.histograms
    rows = [[name, f"{size:,}"] for name, size in sizes.items()]
    rows.append(["total without weights.pt", f"{without_weights:,}"])
    print(f"run {LONG_RUN.run_id}: {LONG_RUN.describe()}, {LONG_RUN.epochs} epochs, "
          f"{result.meta['total_steps']:,} steps, logged every {result.meta['log_every']} "
          f"({len(hist['steps'])} logged steps)")
    print(f"histograms: gradients {hist['grad'].shape} (logged steps x layers x bins), activations "
          f"{hist['act'].shape}; {len(result.layer_stats):,} statistics rows; {len(result.steps):,} step losses")
    print()
    print(C.markdown_table(["file", "bytes"], rows))
    print(f"\nbytes per stored run without weights: {without_weights / 1e6:.2f} MB (target: under 5 MB)")
    C.save("store_size", {"machine": info, "run_id": LONG_RUN.run_id, "sizes": sizes,
                          "without_weights": without_weights})


if __name__ == "__main__":
    main()
