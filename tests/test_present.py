"""Presenter mode (pages/present.py): ?present=1, taller charts, one idea per screen, run ids
out of the way."""
import json

from core.views.style import HEIGHT, PRESENT_SCALE

from apptest_helpers import TINY, charts, fresh_app_caches, open_page, texts  # noqa: F401 (autouse fixture)


def _heights(at) -> list:
    return [json.loads(c.proto.spec).get("height") for c in charts(at)]


def test_home_presents_one_idea_per_screen_with_taller_charts():
    plain = open_page("pages/home.py")
    assert not plain.exception and HEIGHT in _heights(plain) and "Ready-made experiments" in texts(plain)
    at = open_page("pages/home.py", {"present": "1"})
    assert not at.exception and at.session_state["presenter"] is True and at.toggle(key="presenter-switch").value
    assert "present" not in at.query_params  # taken into the session, never a setting of a page
    assert round(HEIGHT * PRESENT_SCALE) in _heights(at) and HEIGHT not in _heights(at)
    assert "Ready-made experiments" not in texts(at)  # the first idea only
    at.button_group(key="home-idea").set_value("Ready-made experiments").run()
    assert not at.exception and not charts(at) and "Ready-made experiments" in texts(at)
    again = open_page("pages/home.py", {"present": "0"})  # and a link turns it off
    assert again.session_state["presenter"] is False and HEIGHT in _heights(again)


def test_explore_presenting_hides_the_run_id_and_shows_one_section():
    plain = open_page("pages/explore.py", TINY)
    cfg = plain.session_state["explore_cfg"]
    assert f"run `{cfg.run_id}`" in plain.markdown[0].value or any(cfg.run_id in m.value for m in plain.markdown)
    # A link with ?present=yes goes through app.py, which takes the parameter into the session before
    # the page reads its settings (AppTest runs a page without app.py: the session opens on Home).
    at = open_page("pages/home.py", {"present": "yes"})
    at.switch_page("pages/explore.py")
    for k, v in TINY.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception and at.session_state["explore_cfg"] == cfg and not at.warning
    head = next(m.value for m in at.markdown if cfg.describe() in m.value)
    assert cfg.run_id not in head and any(cfg.run_id in m.value for m in at.markdown)  # in the expander
    assert "Gradient flow at initialization" in texts(at) and "Predict before training" not in texts(at)
    at.button_group(key="explore-idea").set_value("Predict before training").run()
    assert not at.exception and "Gradient flow at initialization" not in texts(at)
    # plain words on the screen; χ₁ and the fixed point behind an expander
    [numbers] = [e for e in at.expander if e.label.startswith("The numbers")]
    assert any("χ₁" in m.value for m in numbers.markdown)
    shown = [m.value for m in at.markdown if m not in numbers.markdown and "theory predicts" in m.value]
    assert shown and not any("χ₁" in v or "fixed point" in v for v in shown), shown


def test_a_bad_present_value_is_named():
    at = open_page("pages/home.py", {"present": "maybe"})
    assert not at.exception and any("present" in w.value and "maybe" in w.value and "expected 1" in w.value
                                    for w in at.warning)
    assert not at.session_state["presenter"]
