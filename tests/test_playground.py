"""The Playground's live loop (start, pause, step, reset; bounded threads; nothing left running
when the page stops watching), its pictures, and the page itself."""
import threading
import time

import numpy as np
import pytest

from core.config import ConfigError, RunConfig
from core.runs import playground as pg
from core.runs.playground import LiveTrainer, PlaygroundHub, check_playground
from core.views.boundary import layers_chart, layers_frame, loss_chart, neurons_image, plane_image

CFG = RunConfig(dataset="circles", widths=(8, 8), activation="tanh", lr=0.03, batch_size=32)


def _wait(pred, timeout=30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    return False


def _threads():
    return [t for t in threading.enumerate() if t.name == "playground"]


def test_step_pause_reset():
    live = LiveTrainer(CFG)
    f0 = live.frame
    assert f0.step == 0 and not f0.running and f0.probs.shape == (pg.GRID, pg.GRID, 2)
    assert [row["name"] for row in f0.layers] == ["fc1", "fc2", "out"]
    assert all(row["grad_mean_abs"] > 0 for row in f0.layers)  # statistics at initialization
    assert len(f0.neurons) == 2 and f0.neurons[0].shape == (pg.NEURONS, pg.GRID, pg.GRID)
    w0 = live.net.layers[0].weight.detach().clone()
    live.step_once()
    assert live.frame.step == 1 and not live.running
    assert not np.array_equal(w0.numpy(), live.net.layers[0].weight.detach().numpy())
    live.start()
    assert _wait(lambda: live.frame.step > 20)
    live.pause()
    assert not live.running and not live.frame.running
    stopped_at = live.frame.step
    time.sleep(0.2)
    assert live.frame.step == stopped_at  # paused means no more steps
    live.reset()
    assert live.frame.step == 0
    assert np.array_equal(w0.numpy(), live.net.layers[0].weight.detach().numpy())  # same seed, same init


def test_thread_stops_when_the_page_stops_watching():
    hub = PlaygroundHub(idle_s=0.3)
    live = hub.get("s1", CFG)
    assert hub.start("s1") is None and live.running and len(_threads()) >= 1
    # nobody reads the frame any more (the session ended): the thread ends by itself
    assert _wait(lambda: not live.running, timeout=10)
    assert "stopped watching" in live.frame.note
    hub.shutdown()
    assert _wait(lambda: not _threads(), timeout=10)


def test_global_cap_one_thread_per_session_and_forgetting():
    hub = PlaygroundHub(max_running=1, idle_s=30, forget_s=600)
    a, b = hub.get("a", CFG), hub.get("b", CFG)
    assert hub.start("a") is None
    assert hub.start("a") is None and hub.running() == 1  # a second start keeps one thread
    refused = hub.start("b")
    assert refused and "training on this server" in refused and not b.running
    # a new config for a session replaces its trainer (and keeps it training)
    a2 = hub.get("a", CFG.replace(activation="relu", init="he_normal"))
    assert a2 is not a and not a.running and a2.running and hub.running() == 1
    hub.forget_s = 0.0
    time.sleep(0.05)
    hub.reap()  # not seen for forget_s: dropped and stopped
    assert hub.peek("a") is None and _wait(lambda: not a2.running, timeout=10)
    hub.shutdown()


def test_deep_sigmoid_stays_put_while_batch_norm_learns():
    deep = dict(dataset="circles", widths=(8,) * 8, lr=0.03, batch_size=32, activation="logistic")
    results = {}
    for label, extra in (("sigmoid", {}), ("bn", {"bn": "before"}), ("relu", {"activation": "relu", "init": "he_normal"})):
        live = LiveTrainer(RunConfig(**{**deep, **extra}))
        for _ in range(300):
            live._one_step(logged=False)
        live.pause()
        results[label] = (live.frame.train_acc, live.frame.layers[0]["grad_mean_abs"])
    assert results["sigmoid"][0] < 0.7  # the boundary has not moved: near chance
    assert results["bn"][0] > 0.85 and results["relu"][0] > 0.85
    assert results["sigmoid"][1] < results["bn"][1] / 100  # the first layer's gradient vanished


def test_limits_and_tabular_only():
    with pytest.raises(ConfigError, match="^dataset"):
        check_playground(RunConfig())
    with pytest.raises(ConfigError, match="^widths"):
        check_playground(CFG.replace(widths=(8,) * 20))
    with pytest.raises(ConfigError, match="^batch_size"):
        check_playground(CFG.replace(batch_size=1024))


def test_pictures():
    live = LiveTrainer(CFG)
    f, p = live.frame, live.points()
    img = plane_image(f.probs, f.plane, [(p["train_x"], p["train_y"], True), (p["test_x"], p["test_y"], False)])
    assert img.shape == (360, 360, 3) and img.dtype == np.uint8
    strip = neurons_image(f.neurons, [r["name"] for r in f.layers])
    assert strip.shape[0] == 2 * 48 and strip.dtype == np.uint8
    spec = layers_chart(layers_frame(f.layers)).to_dict()
    assert len(spec["hconcat"]) == 3
    assert loss_chart(f.history).to_dict()["mark"]["type"] == "line"


def test_page_renders_and_steps():
    from tests.apptest_helpers import open_page, texts

    import streamlit as st

    st.cache_resource.clear()
    at = open_page("pages/playground.py", {"dataset": "xor", "widths": "8 8", "activation": "relu"})
    assert not at.exception, at.exception
    body = texts(at)
    assert "step 0" in body and "train loss" in body
    assert at.selectbox(key="playground__activation").value == "relu"
    at.button(key="pg_step").click().run()
    assert "step 1" in texts(at)
    from pages.playground_ui import get_playground

    get_playground().shutdown()
    assert _wait(lambda: not _threads(), timeout=10)
    st.cache_resource.clear()


def test_page_link_without_2d_data_gets_defaults_but_keeps_given_settings():
    from tests.apptest_helpers import open_page

    import streamlit as st

    st.cache_resource.clear()
    at = open_page("pages/playground.py", {"activation": "logistic"})
    assert not at.exception, at.exception
    assert at.query_params["dataset"] == ["circles"] or at.query_params["dataset"] == "circles"
    assert at.selectbox(key="playground__activation").value == "logistic"
    from pages.playground_ui import get_playground

    get_playground().shutdown()
    st.cache_resource.clear()
