"""The stored run of benchmarks 4 and 5: the default 5-layer network trained for 100 epochs at
the default logging frequency, in a store of the benchmarks' own (bench/out/store), trained
once and then opened from there."""
from __future__ import annotations

import os
import time

from _common import OUT

STORE_DIR = OUT / "store"
# Set before the app's modules create their RunStore (they read it at construction).
os.environ.setdefault("VG_CACHE_DIR", str(STORE_DIR))

from core.base.config import RunConfig  # noqa: E402
from core.runs.runner import get_or_train  # noqa: E402
from core.runs.store import RunStore  # noqa: E402

LONG_RUN = RunConfig(epochs=100)  # 5 x 128 logistic on mnist-5k, ~100 logged steps


def stored_long_run(store: RunStore | None = None):
    """(store, result): the 100-epoch run, trained now if this store does not hold it yet."""
    store = store or RunStore(os.environ["VG_CACHE_DIR"])
    if not store.has(LONG_RUN.run_id):
        print(f"training the stored run once ({LONG_RUN.describe()}, 100 epochs) ...", flush=True)
        t0 = time.perf_counter()
        get_or_train(store, [LONG_RUN])
        print(f"  trained in {time.perf_counter() - t0:.0f} s", flush=True)
    return store, store.load(LONG_RUN.run_id)
