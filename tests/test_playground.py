"""The Playground's live loop (start, pause, step, reset in a worker process; bounded workers;
nothing left running when the page stops watching), its pictures, and the page itself."""
import multiprocessing as mp
import threading
import time

import numpy as np
import pytest

from core.base.config import ConfigError, RunConfig
from core.runs import playground as pg
from core.runs.playground import LiveSession, LiveTrainer, PlaygroundHub, check_playground
from core.views.boundary import layers_chart, layers_frame, loss_chart, neurons_image, plane_image

CFG = RunConfig(dataset="circles", widths=(8, 8), activation="tanh", lr=0.03, batch_size=32)
SPAWN_S = 90.0  # a fresh worker imports torch: seconds, many more on a loaded machine


def _wait(pred, timeout=30.0, touch=()):
    """Wait for `pred`; each of `touch` is read meanwhile, as the page does."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for live in touch:
            live.touch()
        if pred():
            return True
        time.sleep(0.02)
    return False


def _workers():
    """This process's live Playground worker processes and the threads reading them."""
    procs = [p for p in mp.active_children() if p.name == pg.WORKER_NAME]
    return procs + [t for t in threading.enumerate() if t.name == pg.READER_NAME]


def test_step_pause_reset():
    live = LiveSession(CFG)
    f0 = live.frame
    assert f0.step == 0 and not f0.running and f0.probs.shape == (pg.GRID, pg.GRID, 2)
    assert [row["name"] for row in f0.layers] == ["fc1", "fc2", "out"]
    assert all(row["grad_mean_abs"] > 0 for row in f0.layers)  # statistics at initialization
    assert len(f0.neurons) == 2 and f0.neurons[0].shape == (pg.NEURONS, pg.GRID, pg.GRID)
    w0 = live.local.net.layers[0].weight.detach().clone()
    live.step_once()  # before any Start: here, in this process
    assert live.frame.step == 1 and not live.running and live.worker is None
    assert not np.array_equal(w0.numpy(), live.local.net.layers[0].weight.detach().numpy())
    live.start()
    process = live.worker.process
    assert live.running and process.is_alive()
    assert _wait(lambda: live.frame.step > 20, SPAWN_S, touch=[live])  # trained in the worker
    assert live.frame.running and live.frame.steps_per_second > 0
    live.pause()
    assert not live.running and not live.frame.running
    stopped_at = live.frame.step
    time.sleep(0.3)
    assert live.frame.step == stopped_at  # paused means no more steps
    live.step_once()  # paused: the worker takes the step
    assert live.frame.step == stopped_at + 1 and live.worker is not None
    live.reset()
    assert live.frame.step == 0 and not live.running
    live.stop()  # the worker hands its state back and ends
    assert live.worker is None and not process.is_alive()
    assert live.local.step == 0  # the reset state came back: same seed, same init
    assert np.array_equal(w0.numpy(), live.local.net.layers[0].weight.detach().numpy())
    live.start()  # from the handed-back state, in a fresh worker
    assert _wait(lambda: live.frame.step > 5, SPAWN_S, touch=[live])
    live.stop()
    assert live.worker is None and live.local.step >= 5 and not _workers()


def test_worker_stops_when_the_page_stops_watching():
    hub = PlaygroundHub(idle_s=1.0)
    live = hub.get("s1", CFG)
    hub.get("s1", CFG)  # a page that reads keeps one spare worker warm
    assert hub._spare is not None and hub._spare.process.is_alive()
    assert hub.start("s1") is None and live.running and hub._spare is None  # it took the spare
    process = live.worker.process
    assert _wait(lambda: live.frame.step > 0, SPAWN_S, touch=[live])
    # nobody reads the frame any more (the session ended): the worker ends by itself
    assert _wait(lambda: not live.running and live.worker is None, timeout=20)
    assert "stopped watching" in live.frame.note and not process.is_alive()
    assert live.local.step == live.frame.step > 0  # the state was handed back
    hub.shutdown()
    assert _wait(lambda: not _workers(), timeout=10)


def test_global_cap_one_worker_per_session_and_forgetting():
    hub = PlaygroundHub(max_running=1, idle_s=30, forget_s=600)
    a, b = hub.get("a", CFG), hub.get("b", CFG)
    assert hub.start("a") is None
    assert hub.start("a") is None and hub.running() == 1 and hub.workers() == 1  # one worker
    refused = hub.start("b")
    assert refused and "training on this server" in refused and not b.running and b.worker is None
    assert _wait(lambda: a.frame.step > 0, SPAWN_S, touch=[a, b])
    # a new config for a session replaces its trainer (same worker, and it keeps training)
    process = a.worker.process
    a2 = hub.get("a", CFG.replace(activation="relu", init="he_normal"))
    assert a2 is not a and not a.running and a2.running and hub.running() == 1
    assert a2.worker.process is process
    assert _wait(lambda: a2.frame.running and a2.frame.step > 0, 30, touch=[a2, b])
    # a paused session gives its worker's slot up to another session's Start
    a2.pause()
    assert hub.start("b") is None and (a2.worker is None or a2.worker.stopping)
    assert hub.workers() == 1 and b.running
    assert _wait(lambda: a2.worker is None and not process.is_alive(), 20)  # it handed back and ended
    assert a2.local.step == a2.frame.step > 0
    hub.forget_s = 0.0
    time.sleep(0.05)
    hub.reap()  # not seen for forget_s: dropped and stopped
    assert hub.peek("a") is None and hub.peek("b") is None
    # b's worker was spawned for its Start just now: it may still be importing torch before it
    # reads the stop, hands back and ends (on a loaded machine, as long as a spawn takes)
    assert _wait(lambda: not b.running and not _workers(), timeout=SPAWN_S)
    hub.shutdown()


def test_deep_sigmoid_stays_put_while_batch_norm_learns():
    deep = dict(dataset="circles", widths=(8,) * 8, lr=0.03, batch_size=32, activation="logistic")
    results = {}
    for label, extra in (("sigmoid", {}), ("bn", {"bn": "before"}), ("relu", {"activation": "relu", "init": "he_normal"})):
        live = LiveTrainer(RunConfig(**{**deep, **extra}))
        for _ in range(300):
            live.one_step(logged=False)
        live.step_once()
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
    assert _wait(lambda: not _workers(), timeout=10)
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


def test_a_link_with_2d_data_alone_gets_a_small_network_and_a_given_big_one_is_named():
    """`?dataset=spiral` (the app's 5 x 128 would exceed the Playground's 64 units) opens with
    the Playground's network; a link that gives a too-big network keeps it and says why."""
    from tests.apptest_helpers import open_page, texts

    import streamlit as st

    st.cache_resource.clear()
    at = open_page("pages/playground.py", {"dataset": "spiral"})
    assert not at.exception, at.exception
    assert "cannot train live" not in texts(at) and "step 0" in texts(at)
    widths = at.query_params["widths"]
    assert (widths[0] if isinstance(widths, list) else widths) == "8-8-8-8"
    big = open_page("pages/playground.py", {"dataset": "spiral", "widths": "128-128"})
    assert not big.exception
    assert any("widths" in e.value and "at most" in e.value for e in big.error)
    from pages.playground_ui import get_playground

    get_playground().shutdown()
    st.cache_resource.clear()


LINKS = [  # issue 24 row 11: each refused or replaced value named, with what the Playground uses
    ({"dataset": "upload:0123456789abcdef"}, ["dataset: no uploaded data upload:0123456789abcdef",
                                              "(ignored, using circles, the Playground's)"], "circles"),
    ({"dataset": "/etc/passwd"}, ["dataset: got /etc/passwd", "(ignored, using circles, the Playground's)"],
     "circles"),
    ({"dataset": "spiral", "batch_size": "100000"}, ["batch_size: got 100000; at most 8192 allowed "
                                                     "(ignored, using 32, the Playground's)"], "spiral"),
    ({"dataset": "mnist-5k"}, ["dataset: the Playground trains the 2-D sets and uploaded tables, not mnist-5k",
                               "(ignored, using circles)"], "circles"),
    ({"dataset": "xor", "widths": "8-8", "batch_size": "100000"},  # no rewrite: the app's 64 stays
     ["batch_size: got 100000; at most 8192 allowed (ignored, using 64)"], "xor"),
]


@pytest.mark.parametrize("params, named, dataset", LINKS, ids=[str(p) for p, _, _ in LINKS])
def test_every_link_value_refused_or_replaced_is_a_warning_naming_it_until_a_setting_changes(params, named,
                                                                                            dataset):
    from tests.apptest_helpers import open_page

    import streamlit as st
    from core.views.markup import inert

    st.cache_resource.clear()
    try:
        at = open_page("pages/playground.py", params)
        assert not at.exception, at.exception
        query = at.query_params["dataset"]
        assert (query[0] if isinstance(query, list) else query) == dataset
        for _ in range(2):  # the warning stays over the page's redraws
            [shown] = [w.value for w in at.warning if w.value.startswith("Some link parameters were ignored")]
            for text in named:
                assert inert(text) in shown, (text, shown)  # escaped: the value as its characters
            at.run()
        at.selectbox(key="playground__activation").set_value("relu").run()  # the user acts: answered
        assert not at.exception and not [w for w in at.warning if "link parameters" in w.value]
    finally:
        from pages.playground_ui import get_playground

        get_playground().shutdown()
        st.cache_resource.clear()


def test_a_start_refused_at_the_cap_stays_until_the_user_acts():
    """Issue 24 row 10: the view redraws every 0.3 s; the refusal is kept until a button or a
    setting (it vanished within 2 s, leaving "paused")."""
    from tests.apptest_helpers import open_page, texts

    import streamlit as st
    from pages.playground_ui import get_playground

    st.cache_resource.clear()
    try:
        at = open_page("pages/playground.py", {"dataset": "xor", "widths": "8-8"})
        hub = get_playground()
        hub.max_running = 0  # the cap reached: every worker slot taken by other sessions
        at.button(key="pg_run").click().run()
        for _ in range(3):  # redraws, as the fragment's timer does
            assert not at.exception
            assert [w.value for w in at.warning if w.value.startswith("Not started")], texts(at)
            assert "the most it trains at once" in texts(at) and "not started (see above)" in texts(at)
            at.run()
        at.button(key="pg_step").click().run()  # a button: answered
        assert not [w for w in at.warning if "Not started" in w.value] and "step 1" in texts(at)
        at.button(key="pg_run").click().run()
        assert [w for w in at.warning if "Not started" in w.value]
        at.selectbox(key="playground__activation").set_value("relu").run()  # a setting: answered
        assert not [w for w in at.warning if "Not started" in w.value] and "paused" in texts(at)
        assert hub.workers() == 0
    finally:
        get_playground().shutdown()
        st.cache_resource.clear()
