"""The sidebar is generated from the config's field table: a widget for every field, exactly
where the field's `applies` holds, in one section per field group."""
import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Widget

from core.base.config import DEFAULT_LIMITS, PUBLIC_DEMO_LIMITS, RunConfig, config_fields
from core.base.datasets import DATASETS, dataset_label
from core.views.links import config_to_query
from pages.config_ui import widget_key

PAGE = "side"
WIDTHS_PARTS = {f"{PAGE}__{n}" for n in ("widths_mode", "depth", "width", "widths_text")}


def _sidebar_script():
    from pages.config_ui import config_sidebar, write_url

    cfg = config_sidebar("side")
    if cfg is not None:
        write_url("side", cfg)


def open_sidebar(cfg: RunConfig | None = None) -> AppTest:
    at = AppTest.from_function(_sidebar_script, default_timeout=30)
    for k, v in config_to_query(cfg or RunConfig()).items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def drawn_keys(at: AppTest) -> set[str]:
    keys, stack = set(), [at.sidebar]
    while stack:
        node = stack.pop()
        if isinstance(node, Widget) and node.key:
            keys.add(node.key)
        stack.extend(getattr(node, "children", {}).values())
    return keys


def assert_widgets_follow_applies(at: AppTest, cfg: RunConfig) -> None:
    keys = drawn_keys(at)
    for f in config_fields():
        applies = f.metadata["applies"]
        wanted = applies is None or applies(cfg)
        assert (widget_key(PAGE, f.name) in keys) == wanted, (f.name, wanted)
    fields = {f"{PAGE}__{f.name}" for f in config_fields()}
    assert keys <= fields | WIDTHS_PARTS, keys - fields - WIDTHS_PARTS  # nothing drawn by hand


@pytest.mark.parametrize("cfg", [
    RunConfig(),  # mlp, sgd_momentum, no noise, no dropout
    RunConfig(arch="vgg", dataset="digits", optimizer="adam", grad_noise=0.5, dropout=0.2,
              activation="leaky_relu", residual=True, epochs=1),
    RunConfig(widths=(32, 16), residual=True, optimizer="sgd", dropout=0.1, dropout_kind="alpha"),
], ids=["defaults", "vgg-noise-dropout-leaky", "mlp-residual-sgd"])
def test_every_field_has_a_widget_exactly_where_it_applies(cfg):
    at = open_sidebar(cfg)
    assert_widgets_follow_applies(at, cfg)
    assert not at.warning and not at.error


def test_a_widget_change_shows_and_hides_dependent_fields_in_the_same_run():
    at = open_sidebar(RunConfig(dataset="digits", bn="last"))
    assert "last" in at.selectbox(key=f"{PAGE}__bn").options
    at.radio(key=f"{PAGE}__arch").set_value("vgg").run()
    at.selectbox(key=f"{PAGE}__optimizer").set_value("adam").run()
    assert not at.exception
    cfg = RunConfig(dataset="digits", arch="vgg", optimizer="adam")
    assert_widgets_follow_applies(at, cfg)
    bn = at.selectbox(key=f"{PAGE}__bn")
    assert "last" not in bn.options and bn.value == "none"  # 'last' is for mlp only
    assert at.query_params["arch"] in ("vgg", ["vgg"])  # the link follows the widgets


def test_sections_are_the_field_groups_in_order():
    at = open_sidebar()
    assert [e.label for e in at.sidebar.expander] == ["Data", "Network", "Gradient noise",
                                                     "Training", "Advanced"]


def test_dataset_picker_shows_the_catalogue_labels():
    at = open_sidebar()
    assert at.selectbox(key=f"{PAGE}__dataset").options == [dataset_label(n) for n in DATASETS]


@pytest.mark.parametrize("demo,limits", [("0", DEFAULT_LIMITS), ("1", PUBLIC_DEMO_LIMITS)])
def test_sliders_reach_the_active_limits(monkeypatch, demo, limits):
    monkeypatch.setenv("VG_PUBLIC_DEMO", demo)
    at = open_sidebar()
    assert at.select_slider(key=f"{PAGE}__width").options[-1] == str(limits.max_width)
    assert at.slider(key=f"{PAGE}__depth").max == limits.max_hidden_layers
    assert at.select_slider(key=f"{PAGE}__batch_size").options[-1] == str(limits.max_batch_size)
    assert at.number_input(key=f"{PAGE}__epochs").max == limits.max_epochs
    at.radio(key=f"{PAGE}__arch").set_value("vgg").run()
    at.selectbox(key=f"{PAGE}__dataset").set_value("digits").run()
    assert at.slider(key=f"{PAGE}__vgg_blocks").max == limits.max_vgg_blocks
    assert at.select_slider(key=f"{PAGE}__vgg_filters").options[-1] == str(limits.max_vgg_filters)


def test_the_widest_layers_the_limit_allows_can_be_chosen():
    at = open_sidebar(RunConfig(dataset="digits", widths=(16,), epochs=1))
    at.select_slider(key=f"{PAGE}__width").set_value(DEFAULT_LIMITS.max_width).run()
    assert not at.exception and not at.error
    assert at.query_params["widths"] in (str(DEFAULT_LIMITS.max_width), [str(DEFAULT_LIMITS.max_width)])


def test_an_invalid_setting_is_shown_as_an_error():
    at = open_sidebar()
    at.radio(key=f"{PAGE}__widths_mode").set_value("list").run()
    at.text_input(key=f"{PAGE}__widths_text").input("64 0").run()
    assert not at.exception
    assert any("width 0 out of range" in e.value for e in at.sidebar.error)
    assert any("cannot run" in e.value for e in at.main.error)


# ---------------------------------------------------------------------- training in the sidebar
def _status_script():
    import streamlit as st

    from core.base.config import RunConfig
    from core.runs.jobs import RUNNING, Job
    from pages.train_panel import show_summary

    base = RunConfig(dataset="digits", widths=(16,), epochs=1, activation="tanh")
    jobs = [Job(base.replace(seed=s), "cpu", state=RUNNING if s < 3 else "queued") for s in range(9)]
    jobs[0].progress.update(step=4, total_steps=10)
    with st.sidebar:
        show_summary(jobs, lambda j: jobs.index(j) - 2, held=2)
        st.text_input("a setting below it")


def test_a_sweep_is_one_summary_line_in_the_sidebar_with_the_runs_by_name_behind_an_expander():
    at = AppTest.from_function(_status_script, default_timeout=30).run()
    assert not at.exception, [e.value for e in at.exception]
    captions = [c.value for c in at.sidebar.caption]
    assert captions == [":material/model_training: 11 runs: 1 training (40%), 2 waiting in the worker, "
                        "6 queued, 2 to queue when room frees"]  # one line, not nine bars
    assert len(at.sidebar.get("progress")) == 1 and [e.label for e in at.sidebar.expander] == ["Details"]
    table = at.sidebar.dataframe[0].value
    assert list(table.columns) == ["state", "run"] and len(table) == 9
    assert table["run"][0].endswith("· seed 0") and "tanh" in table["run"][0]  # names, not hashes
    assert list(table["state"][:5]) == ["training 40%", "waiting", "waiting", "queued, next",
                                        "queued, 2nd in line"]  # never "position 0"


def _confirm_script():
    import streamlit as st

    from core.views.progress import TimeEstimate
    from pages.train_panel import start_button

    seconds = float(st.session_state.get("seconds", 1200.0))  # on a quiet machine; the load doubles it
    if start_button("Train", "go", TimeEstimate(2 * seconds, busy=2.0), ("run-a",)):
        st.write("started")


@pytest.mark.parametrize("seconds,asks", [(1200.0, True), (500.0, False)])  # 16 min under load: its size counts
def test_an_action_over_ten_minutes_asks_before_it_starts(seconds, asks):
    at = AppTest.from_function(_confirm_script, default_timeout=30)
    at.session_state["seconds"] = seconds
    at.run()
    at.button(key="go").click().run()
    started = lambda: any(m.value == "started" for m in at.markdown)  # noqa: E731
    assert not at.exception and started() is not asks
    if asks:
        assert "about 40 min on this machine as busy as it is now (20 min on a quiet one)" in at.warning[0].value
        assert "Start it?" in at.warning[0].value
        at.button(key="go-no").click().run()
        assert not started() and not at.warning  # not now: back to the button
        at.button(key="go").click().run()
        at.button(key="go-yes").click().run()
        assert started()


def test_the_default_presets_own_button_starts_it_in_batches():
    """Reproduce opens on gna-bn at quick scale: 120 runs, more than one request takes. Its
    button queues a batch now and holds the rest for when room frees ("120 runs to train at
    once; at most 64 per request" was the answer). (AppTest runs a page without app.py, so the
    sidebar's line is checked above, by show_summary.)"""
    from apptest_helpers import fresh_app_caches, open_page  # noqa: F401 (autouse: a store of its own)
    from core.runs.jobs import MAX_BATCH_RUNS
    from pages.services import get_jobs
    from pages.train_panel import HELD

    at = open_page("pages/reproduce.py")
    assert not at.exception
    at.button(key="reproduce-train").click().run()
    if any(b.key == "reproduce-train-yes" for b in at.button):  # a busy machine: over 10 minutes, it asks
        at.button(key="reproduce-train-yes").click().run()
    try:
        assert not at.exception and not at.error, [e.value for e in at.error]
        queued = len(get_jobs().active())
        assert 0 < queued <= MAX_BATCH_RUNS
        assert sum(len(batch) for batch in at.session_state[HELD]) == 120 - queued
        table = at.dataframe[0].value
        assert len(table) == 120 and list(table.columns) == ["run", "seed", "state", "in line"]
        assert (table["state"] == "to queue when room frees").sum() == 120 - queued
        assert set(table["seed"]) == {42, 43, 44} and not table["in line"].isin(["0", 0]).any()
        assert any(b.label == "Cancel the remaining runs" for b in at.button)
    finally:
        for job in get_jobs().active():
            get_jobs().cancel(job.run_id)
