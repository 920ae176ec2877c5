"""The app through Streamlit's AppTest: every page renders, links round-trip, training works."""
import json
import pandas as pd
import pytest
import streamlit as st

from apptest_helpers import TINY, charts, fresh_app_caches, open_page, texts, wait_for_jobs  # noqa: F401 (autouse fixture)
from core.base.config import RunConfig
from core.runs.store import RunStore
from core.engine.loop import train
from core.views.links import config_from_query, config_to_query


@pytest.mark.parametrize("page", ["pages/home.py", "pages/explore.py", "pages/compare.py",
                                  "pages/theory.py", "pages/runs.py"])
def test_every_page_renders_without_exceptions(page):
    at = open_page(page)
    assert not at.exception, [e.value for e in at.exception]
    assert at.title


def test_the_sidebar_switch_puts_an_svg_download_under_every_chart():
    from streamlit.testing.v1 import AppTest

    from apptest_helpers import APP

    off = open_page("pages/theory.py")
    assert charts(off) and not off.get("download_button")
    assert open_page("pages/home.py").toggle(key="svg_downloads").value is False
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["svg_downloads"] = True  # the switch on (AppTest keeps no sidebar after a rerun)
    at.run()
    at.switch_page("pages/theory.py").run()
    assert not at.exception, [e.value for e in at.exception]
    buttons = at.get("download_button")
    assert len(buttons) == len(charts(at)) >= 4


def test_home_has_a_picture_and_opens_ready_made_experiments():
    at = open_page("pages/home.py")
    assert len(charts(at)) == 1
    links = list(at.get("page_link"))
    assert len(links) >= 4
    from urllib.parse import parse_qsl

    from core.lab.scenarios import SCENARIOS

    first = links[0].proto
    assert first.page.endswith("explore")
    explore = open_page("pages/explore.py", dict(parse_qsl(first.query_string)))
    assert not explore.exception and not explore.warning
    assert explore.session_state["explore_cfg"] == SCENARIOS[0].config


def test_explore_has_every_control_and_shows_the_initial_gradient_flow():
    at = open_page("pages/explore.py", TINY)
    assert not at.exception
    for name in ("dataset", "arch", "activation", "init", "bn", "residual", "grad_noise", "optimizer",
                 "lr", "batch_size", "epochs", "seed", "input_noise", "standardize", "dropout"):
        assert at.session_state[f"explore__{name}"] is not None, name
    assert charts(at), "the gradient flow at initialization is drawn before any training"
    assert "at initialization" in texts(at)
    assert any(b.label == "Train this network" for b in at.button)


def test_share_link_round_trips():
    cfg = RunConfig(dataset="digits", activation="relu", init="he_normal", widths=(32, 16), bn="before",
                    grad_noise=0.5, noise_gamma=0.7, lr=0.003, epochs=2, seed=7, optimizer="adam")
    params = config_to_query(cfg)
    at = open_page("pages/explore.py", params)
    assert not at.exception and not at.warning
    assert at.session_state["explore_cfg"] == cfg
    assert at.session_state["explore__activation"] == "relu"
    assert at.session_state["explore__widths_text"] == "32 16"
    assert at.session_state["explore__lr"] == 0.003
    # the page writes the same link back
    written, _ = config_from_query(at.query_params.to_dict() if hasattr(at.query_params, "to_dict")
                                   else dict(at.query_params))
    assert written == cfg
    # a widget change updates the link
    at.selectbox(key="explore__activation").set_value("elu").run()
    assert at.query_params["activation"] in ("elu", ["elu"])


def test_invalid_link_parameters_warn_and_fall_back_to_defaults():
    at = open_page("pages/explore.py", {"activation": "sigmoidal", "lr": "-3", "epochs": "7",
                                        "bogus": "1", "widths": "0-5"})
    assert not at.exception
    warning = " ".join(w.value for w in at.warning)
    for name in ("activation", "lr", "bogus", "widths"):
        assert name in warning
    cfg = at.session_state["explore_cfg"]
    assert cfg.epochs == 7 and cfg.activation == RunConfig().activation and cfg.lr == RunConfig().lr


def test_tiny_training_run_produces_the_charts():
    at = open_page("pages/explore.py", TINY)
    next(b for b in at.button if b.label == "Train this network").click().run()
    assert not at.exception
    wait_for_jobs()
    at.run()
    assert not at.exception
    assert "Stored run" in texts(at)
    assert len(charts(at)) >= 4  # curves, gradient flow, flow over time, ...
    assert at.tabs and [t.label for t in at.tabs][:2] == ["Gradient flow", "Histograms"]


def test_a_stored_run_opens_at_once_from_a_link(isolated_cache):
    cfg = RunConfig.from_dict({**TINY, "widths": "16 16"})
    RunStore(isolated_cache).save(train(cfg))
    at = open_page("pages/explore.py", config_to_query(cfg))
    assert not at.exception and "Stored run" in texts(at)
    assert not any(b.label == "Train this network" for b in at.button)


def test_a_diverged_run_is_shown_as_diverged(isolated_cache):
    cfg = RunConfig(dataset="digits", activation="relu", init="normal", widths=(256,) * 5, lr=2.0,
                    optimizer="sgd", epochs=2)
    RunStore(isolated_cache).save(train(cfg))
    at = open_page("pages/explore.py", config_to_query(cfg))
    assert not at.exception
    step = RunStore(isolated_cache).load(cfg.run_id).diverged_step
    assert sum(f"at step {step}" in e.value for e in at.error) == 1  # once, by the diagnosis
    assert charts(at)


def test_compare_sweep_trains_missing_runs_and_shows_the_table():
    params = {**TINY, "mode": "sweep", "vary": "activation", "values": "tanh,relu", "seeds": "1"}
    at = open_page("pages/compare.py", params)
    assert not at.exception
    train_button = next(b for b in at.button if b.label.startswith("Train 2 missing"))
    train_button.click().run()
    wait_for_jobs()
    at.run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["run"]) == ["activation=tanh", "activation=relu"]
    assert list(table.columns[:2]) == ["run", "Δ test acc %"]  # the answer first, not off-screen
    assert table["Δ test acc %"].iloc[0] == "baseline" and table["Δ test acc %"].iloc[1] not in ("—", None)
    assert "one seed does not show a difference (add seeds)" in texts(at).replace("\\", "")  # in words
    assert "test acc % 95% CI" not in table.columns and "one seed per row: no intervals" in texts(at).lower()
    assert len(charts(at)) >= 3


def test_compare_sweep_with_seeds_gives_seed_means_intervals_and_paired_differences(isolated_cache):
    from core.lab.uncertainty import paired_difference, summary

    params = {**TINY, "mode": "sweep", "vary": "activation", "values": "tanh,relu", "seeds": "3"}
    at = open_page("pages/compare.py", params)
    assert not at.exception
    next(b for b in at.button if b.label.startswith("Train 6 missing")).click().run()
    wait_for_jobs()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[0].value.set_index("run")
    assert list(table["seeds"]) == [3, 3]
    store = RunStore(isolated_cache)
    base, _ = config_from_query(TINY)
    acc = {a: [100 * store.load(base.replace(activation=a, seed=base.seed + k).run_id).final_metrics()["test_acc"]
               for k in range(3)] for a in ("tanh", "relu")}
    relu = summary(acc["relu"])
    assert table.loc["activation=relu", "test acc %"] == pytest.approx(relu["mean"])
    assert table.loc["activation=relu", "test acc % sd"] == pytest.approx(relu["sd"])
    assert table.loc["activation=relu", "test acc % 95% CI"] == f"[{relu['ci95'][0]:.2f}, {relu['ci95'][1]:.2f}]"
    d = paired_difference(acc["relu"], acc["tanh"])  # the seeds' part: the examples' only widens it
    interval, covers = table.loc["activation=relu", "Δ test acc % 95% CI"].split("] (")
    lo, hi = (float(x) for x in interval.strip("[").split(","))
    assert covers == "seeds + test examples)"  # the paired bootstrap over test examples applied
    assert float(table.loc["activation=relu", "Δ test acc %"]) == pytest.approx(d.mean, abs=0.006)
    assert lo <= d.lo + 0.01 and hi >= d.hi - 0.01
    assert table.loc["activation=tanh", "Δ test acc %"] == "baseline"  # the baseline row: no Δ with itself
    words = next(t for m in at.markdown if "95% interval" in (t := m.value.replace("\\", "")))  # in words
    assert words.startswith("- activation=relu ") and "seeds agree" in words
    assert "mean over seeds" in texts(at) and "min–max over seeds" in texts(at)
    assert at.query_params["baseline"] in ("activation=tanh", ["activation=tanh"])  # in the share link
    # a link's baseline is the table's baseline, and stays in the link
    linked = open_page("pages/compare.py", {**params, "baseline": "activation=relu"})
    assert not linked.exception and linked.selectbox(key="compare-baseline").value == "activation=relu"
    assert linked.query_params["baseline"] in ("activation=relu", ["activation=relu"])
    assert linked.dataframe[0].value.set_index("run").loc["activation=relu", "Δ test acc %"] == "baseline"
    # a bad seeds value in a link is named and replaced
    bad = open_page("pages/compare.py", {**params, "seeds": "lots"})
    assert not bad.exception and any("seeds" in w.value for w in bad.warning)


def test_compare_stored_runs_from_a_link_and_runs_page_lists_them(isolated_cache):
    store = RunStore(isolated_cache)
    a = RunConfig.from_dict({**TINY, "widths": "16 16"})
    b = a.replace(seed=3)
    c = a.replace(activation="relu")
    for cfg in (a, b, c):
        store.save(train(cfg))
    at = open_page("pages/compare.py", {"runs": f"{a.run_id},{b.run_id},{c.run_id},ffffffffffffffff"})
    assert not at.exception
    assert any("not stored here" in w.value for w in at.warning)
    table = at.dataframe[0].value
    # a and b differ only in seed: one row of 2 seeds; c its own row
    assert list(table["seeds"]) == [2, 1] and list(table["run"]) == ["activation tanh · 2 seeds", "activation relu"]
    runs = open_page("pages/runs.py")
    assert not runs.exception
    assert set(runs.dataframe[0].value["run_id"]) == {a.run_id, b.run_id, c.run_id}


def test_theory_signal_propagation_reacts_to_its_controls():
    at = open_page("pages/theory.py")
    assert not at.exception
    before = len(charts(at))
    at.selectbox(key="theory-act").set_value("selu").run()
    at.selectbox(key="theory-init").set_value("lecun_normal").run()
    assert not at.exception and len(charts(at)) == before
    assert "selu" in texts(at)


def test_a_dataset_missing_here_is_explained_not_downloaded_by_the_preview():
    at = open_page("pages/explore.py", {"dataset": "cifar10", "arch": "vgg", "epochs": "1"})
    assert not at.exception
    info = " ".join(i.value for i in at.info)
    assert "cifar10" in info and "not on this machine" in info
    assert any(b.label == "Train this network" for b in at.button)


@pytest.mark.parametrize("secret,max_width", [("on", 1024), ("off", 4096)])
def test_the_public_demo_secret_is_read_as_a_true_false_flag(monkeypatch, secret, max_width):
    monkeypatch.setenv("VG_PUBLIC_DEMO", "0")  # restored (removed) after the test
    from streamlit.testing.v1 import AppTest

    from apptest_helpers import APP

    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["public_demo"] = secret
    at.run()
    at.switch_page("pages/explore.py").run()
    assert not at.exception
    assert at.select_slider(key="explore__width").options[-1] == str(max_width)


def test_every_histogram_view_of_a_stored_run_renders(isolated_cache):
    cfg = RunConfig.from_dict({**TINY, "widths": "16 16", "epochs": "2"})
    RunStore(isolated_cache).save(train(cfg))
    at = open_page("pages/explore.py", config_to_query(cfg))
    assert not at.exception
    assert at.selectbox(key="explore-hist-kind").options == ["weight gradient", "weight", "activation"]
    for kind in at.selectbox(key="explore-hist-kind").options:
        at.selectbox(key="explore-hist-kind").set_value(kind).run()
        if kind == "weight":
            assert any("log10 |weight|" in str(c.spec) for c in charts(at))
        for view in ("heatmap", "offset", "overlay", "vs0", "distribution"):
            at.selectbox(key="explore-hist-view").set_value(view).run()
            assert not at.exception, (kind, view, [e.value for e in at.exception])
    assert "NaN or inf" in texts(at) or "below" in texts(at)
    # per-step loss with smoothing and every x-axis
    for x in ("step", "epoch", "seconds"):
        at.radio(key="explore-loss-x").set_value(x).run()
        assert not at.exception


def test_after_cancel_the_network_can_be_trained_again():
    big = {**TINY, "widths": "256-256-256", "epochs": "40", "dataset": "digits"}
    at = open_page("pages/explore.py", big)
    next(b for b in at.button if b.label == "Train this network").click().run()
    assert any(b.label == "Cancel training" for b in at.button)
    next(b for b in at.button if b.label == "Cancel training").click().run()
    wait_for_jobs()
    for _ in range(3):  # the fragment sees the job finished and reruns the page
        at.run()
    assert not at.exception
    assert any(b.label == "Train this network" for b in at.button), [b.label for b in at.button]


def test_zero_initialization_says_the_gradients_are_exactly_zero():
    at = open_page("pages/explore.py", {**TINY, "init": "zeros"})
    assert not at.exception
    assert "Gradients exactly zero" in texts(at) and "exactly 0" in texts(at)


def test_runs_page_lists_dates_and_offers_bundles(isolated_cache, monkeypatch):
    cfg = RunConfig.from_dict({**TINY, "widths": "16 16"})
    RunStore(isolated_cache).save(train(cfg))
    at = open_page("pages/runs.py")
    assert not at.exception
    table = at.dataframe[0]
    assert list(table.value.columns)[0] == "created"  # shown as "date", first
    assert "date = when training finished" in texts(at)
    assert "Uploads are off" not in texts(at)
    monkeypatch.setenv("VG_PUBLIC_DEMO", "1")
    at = open_page("pages/runs.py")
    assert "Uploads are off in the public demo" in texts(at)


def test_compare_runs_of_different_depths_in_layer_order_with_short_labels(isolated_cache):
    import json as _json

    store = RunStore(isolated_cache)
    cfgs = [RunConfig(dataset="digits", widths=(16,) * d, epochs=1, activation="tanh") for d in (5, 8)]
    for cfg in cfgs:
        store.save(train(cfg))
    at = open_page("pages/compare.py", {"runs": ",".join(c.run_id for c in cfgs)})
    assert not at.exception, [e.value for e in at.exception]
    specs = [_json.loads(c.proto.spec) for c in charts(at)]
    flows = [s for s in specs if "layer from the input" in _json.dumps(s)]
    assert flows, "the gradient flow aligns runs of different depths by layer index"
    assert "output layer is drawn as a square" in texts(at)
    table = at.dataframe[0].value
    assert list(table["run"]) == ["depth 5", "depth 8"]
    # the run explorer: a checkbox per run, a step slider, histograms across runs
    assert len([c for c in at.checkbox if c.key.startswith("compare-explore-on-")]) == 2
    at.slider(key="compare-explore-fraction").set_value(0.0).run()
    assert not at.exception
    at.checkbox(key=f"compare-explore-on-{cfgs[0].run_id}").uncheck().run()
    assert not at.exception


def test_live_view_draws_loss_and_gradient_histogram_of_every_logged_step():
    import time

    from pages.services import get_jobs

    big = {**TINY, "widths": "256-256-256", "epochs": "40", "dataset": "digits", "log_every": "2"}
    at = open_page("pages/explore.py", big)
    next(b for b in at.button if b.label == "Train this network").click().run()
    job = next(iter(get_jobs().active()))
    end = time.time() + 60
    while len(job.records) < 3 and time.time() < end:
        time.sleep(0.1)
    at.run()
    assert not at.exception
    marks = [json.loads(c.proto.spec).get("mark") for c in charts(at)]
    kinds = [m.get("type") if isinstance(m, dict) else m for m in marks]
    assert "rect" in kinds and "line" in kinds, kinds  # the histogram heatmap and the loss curve
    assert "gradient histogram of" in [s.label for s in at.selectbox]
    assert "Training loss of the mini-batch at every logged step" in texts(at)
    next(b for b in at.button if b.label == "Cancel training").click().run()


def test_runs_page_shows_a_dash_and_says_why_where_the_grad_ratio_is_undefined(isolated_cache):
    cfg = RunConfig.from_dict({**TINY, "widths": "16 16", "init": "zeros"})
    RunStore(isolated_cache).save(train(cfg))
    at = open_page("pages/runs.py")
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table.columns)[:2] == ["created", "label"]  # the network beside the date, visible at 800 px
    assert list(table["grad_ratio"]) == ["—"]
    assert "a dash where it is not defined" in texts(at)
