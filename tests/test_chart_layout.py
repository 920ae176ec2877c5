"""How charts are laid out (issue 23): plot areas that legends cannot squash, line labels that do
not overprint, one value axis for several layers' histograms, whole-number step axes, legends
that stay legible. Through chart.to_dict() and offline SVG; tests/test_browser.py measures the
same in a real browser."""
import json
import re

import altair as alt
import numpy as np
import pandas as pd
import pytest

from core.views import bands, charts, curves, histograms as hv
from core.views.style import FIT_WIDTH, HEIGHT, fit_width, step_x
from core.views.svg import to_svg


def _layers(spec):
    return spec.get("layer", [spec])


def _deep(n_layers=20, steps=(0, 16, 32, 48)):
    """Mean |gradient| of a vanishing network: layer k about 10^(0.7 k) times layer 1's."""
    rows = [{"step": s, "layer": k, "stat": "grad_mean_abs", "value": 1e-15 * 10 ** (0.7 * (k - 1)) * (1 + s / 100)}
            for s in steps for k in range(1, n_layers + 1)]
    layers = pd.DataFrame({"layer": range(1, n_layers + 1), "name": [f"fc{k}" for k in range(1, n_layers)] + ["out"]})
    return pd.DataFrame(rows), layers


def test_pages_draw_single_and_layered_charts_with_the_plot_as_tall_as_their_height():
    line = alt.Chart(pd.DataFrame({"x": [1, 2], "y": [1, 2]})).mark_line().encode(x="x", y="y")
    assert fit_width(line).to_dict()["autosize"] == FIT_WIDTH
    assert fit_width(alt.layer(line, line)).to_dict()["autosize"] == FIT_WIDTH
    assert "autosize" not in fit_width(alt.hconcat(line, line)).to_dict()  # left to Streamlit
    # the height is the plot's: a 20-layer legend adds to the SVG instead of taking the plot's room
    stats, layers = _deep()
    spec = charts.stat_over_steps(stats, layers, "grad_mean_abs").properties(width=300, autosize=FIT_WIDTH)
    svg = to_svg(spec.to_json())
    plot = re.search(r'<path class="background"[^>]*d="M[\d.]+,[\d.]+h([\d.]+)v([\d.]+)', svg)  # the root's
    assert float(plot.group(2)) == HEIGHT and float(plot.group(1)) < 300  # the labels' padding is within the width


def test_line_end_labels_keep_apart_and_always_name_the_first_and_last_layer():
    ends = pd.DataFrame({"name": [f"fc{k}" for k in range(1, 31)], "value": np.logspace(-15, -1, 30)})
    kept = charts.spaced_labels(ends, [1e-15, 1e-1], log=True, height=240, gap=12)
    px = (np.log10(kept["value"].to_numpy()) + 15) / 14 * 240
    assert kept["name"].iloc[0] == "fc1" and kept["name"].iloc[-1] == "fc30"
    assert (np.diff(np.sort(px)) >= 12 - 1e-9).all()
    assert 10 <= len(kept) < 30  # 8.3 px apart: about every other one
    assert len(charts.spaced_labels(ends.iloc[::2], [1e-15, 1e-1], log=True)) == 15  # 16.6 px apart: all
    bunched = ends.assign(value=np.linspace(0.10, 0.11, 30))
    assert list(charts.spaced_labels(bunched, [0.0, 1.0], log=False)["name"]) == ["fc1"]  # the rest overprint


def test_a_statistic_over_steps_names_its_lines_and_has_no_legend_to_squash_it():
    stats, layers = _deep()
    spec = charts.stat_over_steps(stats, layers, "grad_mean_abs").to_dict()
    lines, labels = _layers(spec)
    assert lines["encoding"]["color"]["legend"] is None and labels["encoding"]["color"]["legend"] is None
    assert spec["padding"]["right"] >= 30  # the labels right of the plot stay inside the chart
    assert lines["encoding"]["y"]["scale"]["domain"] == [1e-15, 1e-1]
    assert lines["encoding"]["x"]["axis"]["format"] == "d"
    # a diverged run that logged step 0 only: a unit-wide axis, not an empty one labelled 0.000000
    one = charts.stat_over_steps(stats[stats.step == 0], layers, "grad_mean_abs").to_dict()
    assert _layers(one)[0]["encoding"]["x"]["scale"]["domain"] == [0.0, 1.0]
    assert step_x([5, 5]).to_dict()["scale"]["domain"] == [5.0, 6.0]


def test_histograms_of_several_layers_share_one_value_axis():
    edges = np.linspace(-12, 2, 57)
    counts = []
    for centre in (22, 30, 40):  # three layers a few decades apart
        c = np.zeros((3, 60))
        c[:, 2 + centre - 2: 2 + centre + 2] = 10
        counts.append(c)
    splits = [hv.split(c, edges, hv.GRAD) for c in counts]
    steps = [0, 10, 20]
    own = [hv.value_range(h, steps) for h in splits]
    assert own[0][1] < own[2][0]  # each layer alone: ranges that do not even overlap
    domain = hv.shared(own)
    assert domain == [own[0][0], own[2][1]]
    for h in splits:
        for mode in ("offset", "overlay"):
            spec = hv.ridge(h, steps, steps, mode, domain=domain).to_dict()
            assert _layers(spec)[0]["encoding"]["x"]["scale"]["domain"] == domain
        assert _layers(hv.distribution(h, steps, domain=domain).to_dict())[0]["encoding"]["y"]["scale"]["domain"] == domain
    heat = [hv.heatmap_range(hv.heatmap_frame(c, steps, edges)) for c in counts]
    shared = hv.shared(heat)
    for c in counts:
        spec = hv.histogram_heatmap(c, steps, edges, "", domain=shared).to_dict()
        assert spec["encoding"]["y"]["scale"]["domain"] == shared
    lo, hi = hv.value_range(splits[1], steps, view="distribution")
    assert edges[0] < lo < hi < edges[-1]


def test_curves_put_their_legend_above_the_plot_and_band_swatches_at_full_opacity():
    epochs = pd.DataFrame({"epoch": [1, 2], "train_loss": [2.0, 1.0], "val_loss": [2.1, 1.2],
                           "test_loss": [2.2, 1.3], "train_acc": [0.5, 0.7], "val_acc": [0.4, 0.6],
                           "test_acc": [0.4, 0.6]})
    spec = charts.training_curves(epochs, "loss").to_dict()
    legend = spec["encoding"]["color"]["legend"]
    assert legend["orient"] == "top" and legend["symbolOpacity"] == 1
    band = bands.curve_band_chart({"a": [epochs, epochs.assign(test_acc=[0.5, 0.8])], "b": [epochs]}, "test_acc",
                                  "test accuracy").to_dict()
    for layer in band["layer"]:
        assert layer["encoding"]["color"]["legend"]["symbolOpacity"] == 1
    svg = to_svg(json.dumps(band))
    legend_svg = svg[svg.find("role-legend"):]
    assert 'opacity="0.2"' not in legend_svg[:4000]  # the band's 20% fill does not reach the swatches
    flow = pd.DataFrame({"series": "a", "layer": [1, 2], "name": ["fc1", "out"], "value": [1e-3, 1e-2]})
    for layer in bands.flow_band_chart(bands.band_frame(flow)).to_dict()["layer"]:
        assert layer["encoding"]["color"]["legend"]["symbolOpacity"] == 1


def test_one_curve_chart_draws_epochs_bands_and_the_step_loss():
    """The per-epoch curves, the seed bands and the per-step loss are all curves.curve_chart."""
    frame = pd.DataFrame({"x": [0, 1, 0, 1], "value": [2.0, 1.0, 2.0, 1.5], "series": ["a", "a", "b", "b"]})
    plain = curves.curve_chart(frame, step_x(frame["x"], "x"), "loss", ["a", "b"], legend=None,
                               colors=["#555555", "#e66101"]).to_dict()
    assert plain["encoding"]["color"]["scale"]["range"] == ["#555555", "#e66101"]
    assert plain["encoding"]["color"]["legend"] is None and plain["height"] == HEIGHT
    steps = pd.DataFrame({"step": [0, 1], "epoch": [1, 1], "loss": [2.3, float("nan")]})
    two = curves.step_loss(curves.step_loss_frame(steps, pd.DataFrame({"epoch": [1]}), "step"), "step").to_dict()
    x = two["encoding"]["x"]
    assert x["axis"]["format"] == "d" and x["scale"]["domain"] == [0.0, 1.0]  # a 2-step run: 0 and 1, not 0.00 ... 1.00


def test_no_finite_loss_draws_no_loss_chart():
    from pages.hist_views import _drawable

    epochs = pd.DataFrame({"epoch": [1], "train_loss": [float("nan")], "test_loss": [float("inf")],
                           "train_acc": [0.1], "test_acc": [0.09]})
    assert not _drawable(epochs, "loss") and _drawable(epochs, "acc")


def test_a_share_that_is_zero_in_every_layer_is_said_inside_the_plot():
    df = pd.DataFrame({"layer": [1, 2], "name": ["fc1", "fc2"], "value": [0.0, 0.0]})
    note = charts.layer_bars(df, "act_saturation").to_dict()["layer"][1]
    assert note["encoding"]["x"] == {"value": {"expr": "width / 2"}} and note["mark"]["align"] == "center"
    assert note["mark"]["lineBreak"] == "\n"
    assert "every layer" in to_svg(charts.layer_bars(df, "act_saturation").to_json())


@pytest.mark.parametrize("n", [1, 3, 20])
def test_layer_charts_of_any_depth_compile(n):
    stats, layers = _deep(n)
    for stat in ("grad_mean_abs",):
        assert "<svg" in to_svg(fit_width(charts.stat_over_steps(stats, layers, stat)).properties(width=200).to_json())
