"""The Reproduce page through AppTest: renders, link round-trip, bad links, a tiny reproduction."""

from apptest_helpers import charts, fresh_app_caches, open_page, texts, wait_for_jobs  # noqa: F401 (autouse fixture)
from core.lab.presets import PRESETS
from core.views.markup import inert
from test_presets import tiny_preset


def _param(at, name):
    value = at.query_params[name]
    return value[-1] if isinstance(value, list) else value


def test_renders_with_plan_and_estimate_and_no_results_yet():
    at = open_page("pages/reproduce.py")
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Reproduce"
    assert at.session_state["reproduce-preset"] == "gna-bn" and at.session_state["reproduce-scale"] == "quick"
    shown = texts(at)
    assert "0 of 120 runs are stored" in shown and "min here" in shown  # 40 configurations x 3 seeds
    assert "Scale (quick)" in shown
    assert any(b.label == "Run the 120 missing runs" for b in at.button)
    at.number_input(key="reproduce-seeds-gna-bn-quick").set_value(1).run()
    assert "0 of 40 runs are stored" in texts(at) and "the default here is 3" in texts(at)
    assert not at.warning


def test_link_round_trip_and_dataset_substitution_is_said():
    at = open_page("pages/reproduce.py", {"preset": "vgg-bn-rc", "scale": "full"})
    assert not at.exception
    assert at.session_state["reproduce-preset"] == "vgg-bn-rc"
    assert at.session_state["reproduce-scale"] == "full"
    assert (_param(at, "preset"), _param(at, "scale")) == ("vgg-bn-rc", "full")
    assert any("cifar100 is not on this machine" in w.value for w in at.warning)
    at.selectbox(key="reproduce-preset").set_value("saturation").run()
    assert not at.exception
    assert (_param(at, "preset"), _param(at, "scale")) == ("saturation", "full")
    at.radio(key="reproduce-scale").set_value("quick").run()
    assert _param(at, "scale") == "quick"


def test_invalid_link_parameters_warn_and_fall_back():
    at = open_page("pages/reproduce.py", {"preset": "vgg-999", "scale": "huge"})
    assert not at.exception
    warning = " ".join(w.value for w in at.warning)  # link values come back escaped (inert)
    assert all(inert(part) in warning for part in ("preset:", "vgg-999", "scale:"))
    assert at.session_state["reproduce-preset"] == "gna-bn"
    assert at.session_state["reproduce-scale"] == "quick"
    assert _param(at, "preset") == "gna-bn"


def test_a_tiny_reproduction_trains_and_shows_the_table_and_charts(monkeypatch):
    monkeypatch.setitem(PRESETS, "init-act-bn", tiny_preset("init-act-bn"))
    at = open_page("pages/reproduce.py", {"preset": "init-act-bn", "scale": "quick"})
    assert not at.exception
    next(b for b in at.button if b.label == "Run the 6 missing runs").click().run()
    assert not at.exception
    wait_for_jobs()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = texts(at)
    assert "All 6 runs are stored" in shown
    # the findings panel: each claim with its verdict and the numbers behind it
    assert "inconclusive" in shown and "Every ReLU network beats its sigmoid twin" in shown
    assert "95% CI" in shown and "min–max over seeds" in shown
    table = at.dataframe[0].value
    assert list(table["Activation"]) == ["sigmoid", "sigmoid"] and list(table["seeds"]) == ["3", "3"]
    assert list(table["test acc % · published"]) == ["94.51", "95.50"]
    assert all(" ± " in v and "[" in v for v in table["test acc % · ours"])  # mean ± sd [95% CI]
    assert table["test acc % · Δ vs baseline"].iloc[1].startswith(("+", "-"))
    flow = at.dataframe[1].value
    assert list(flow.columns[:4]) == ["configuration", "dataset", "seeds", "status"]
    assert (flow["status"] == "completed").all() and (flow["seeds"] == 3).all()
    # ours vs published, gradient flow, two training curves, gradient histograms
    assert len(charts(at)) >= 5
    assert any(link.proto.page.endswith("explore") for link in at.get("page_link"))
