"""A chart as a standalone SVG file, rendered offline (vl-convert compiles and draws the
Vega-Lite spec in process; no browser, no network).

    svg = to_svg(chart.to_json())     # str: <svg ...>...</svg>

Charts are drawn in Vega-Lite's default light theme (the app's theme is the browser's).
"""
from __future__ import annotations

MAX_SPEC_CHARS = 20_000_000  # a spec this big would take the server long to draw: refused


def to_svg(spec_json: str) -> str:
    """The SVG of a Vega-Lite spec (JSON text, as altair's Chart.to_json gives)."""
    if len(spec_json) > MAX_SPEC_CHARS:
        raise ValueError(f"chart: its spec has {len(spec_json):,} characters; at most "
                         f"{MAX_SPEC_CHARS:,} are drawn as SVG")
    import vl_convert  # a 30 MB extension: loaded on the first export only

    return vl_convert.vegalite_to_svg(spec_json)
