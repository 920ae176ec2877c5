"""The Theory page in a real browser (issue 23 items 1 and 9): the f(z)/f'(z) panels at least
200 px of plot at 1280 px (light) and 800 px (dark), nothing wider than the window, and a σ_w²
slider move that redraws the map's prediction in its own words. Server and browser as in
tests/test_browser.py."""
import time

from test_browser import ARTIFACTS, CHARTS_PROBE, browser, no_exceptions, server  # noqa: F401

PANEL_PX = 200


def _open_theory(page, url: str) -> dict:
    page.goto(url)
    page.locator("h1").first.wait_for(timeout=180_000)  # a fresh server's first page imports torch
    page.wait_for_function("document.querySelectorAll('[data-testid=stMain] .vega-embed').length >= 7",
                           timeout=180_000)
    page.wait_for_load_state("networkidle")
    time.sleep(1.0)
    no_exceptions(page)
    return page.evaluate(CHARTS_PROBE)


def test_theory_panels_are_tall_and_a_slider_move_redraws_the_prediction(server, browser):  # noqa: F811
    for width, scheme in ((1280, "light"), (800, "dark")):
        context = browser.new_context(viewport={"width": width, "height": 3000}, color_scheme=scheme)
        page = context.new_page()
        where = f"Theory at {width} px, {scheme}"
        seen = _open_theory(page, f"{server}/theory")
        panels = [c for c in seen["charts"] if any("'input z'" in a for a in c["axes"])]
        assert len(panels) == 2, f"{where}: the f(z) and f'(z) panels: {seen['charts']}"
        assert all(min(c["plots"]) >= PANEL_PX for c in panels), f"{where}: {[c['plots'] for c in panels]}"
        assert not seen["wide"], f"{where}: wider than the viewport: {seen['wide']}"
        main = page.locator("[data-testid=stMain]")
        assert "Critical phase, the edge of chaos" in main.inner_text()
        page.get_by_text("What do these words mean?").click()
        page.get_by_text("Fixed point q*", exact=False).wait_for(timeout=30_000)
        thumb = page.get_by_role("slider", name="σ_w² (weight variance × fan-in)")
        thumb.focus()
        for _ in range(10):  # 1.0 -> 1.5 in steps of 0.05
            thumb.press("ArrowRight")
        page.get_by_text("(gain 1.2247 on glorot_uniform", exact=False).wait_for(timeout=60_000)
        page.get_by_text("Chaotic phase", exact=False).first.wait_for(timeout=60_000)
        no_exceptions(page)
        page.screenshot(path=str(ARTIFACTS / f"theory-{width}-{scheme}.png"))
        context.close()
