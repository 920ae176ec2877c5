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
