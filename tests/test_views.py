"""Charts and texts of core.views, through chart.to_dict() and plain values."""
import json

import numpy as np
import pandas as pd
import pytest

from core.base.config import RunConfig
from core.engine.loop import train
from core.views import charts, curves, histograms as hv
from core.views.progress import RateTracker, batch_note, progress_text, runs_trained_text


def _flow(names, series):
    return pd.DataFrame({"layer": range(1, len(names) + 1), "name": names,
                         "value": np.logspace(-3, 0, len(names)), "series": series})


def _layers(spec):
    return spec.get("layer", [spec])


def test_gradient_flow_of_runs_of_different_depths_is_aligned_by_layer_index():
    df = pd.concat([_flow(["fc1", "fc2", "fc3", "fc4", "fc5", "out"], "5 layers"),
                    _flow([f"fc{i}" for i in range(1, 9)] + ["out"], "8 layers")])
    spec = charts.grad_flow(df).to_dict()
    x = _layers(spec)[0]["encoding"]["x"]
    assert x["field"] == "layer" and x["type"] == "ordinal"  # 1, 2, ... from the input, in order
    assert "output layer" in x["title"] and "from the input" in x["title"]
    shapes = [layer["encoding"].get("shape") for layer in _layers(spec)]
    assert any(s and s["field"] == "layer_kind" for s in shapes)
    # the same depth keeps the layer names, in input-to-output order
    same = charts.grad_flow(pd.concat([_flow(["fc1", "fc2", "out"], "a"), _flow(["fc1", "fc2", "out"], "b")]))
    x = _layers(same.to_dict())[0]["encoding"]["x"]
    assert x["field"] == "name" and x["sort"] == ["fc1", "fc2", "out"]


def test_zero_gradients_are_marked_not_dropped_and_one_series_has_no_legend():
    df = _flow(["fc1", "fc2", "out"], "at initialization").assign(value=[0.0, 0.0, 1e-3])
    spec = charts.grad_flow(df).to_dict()
    marks = [layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"] for layer in _layers(spec)]
    assert "text" in marks  # the "0" marks at the bottom edge
    assert _layers(spec)[0]["encoding"]["color"]["legend"] is None
    json.dumps(spec, allow_nan=False)


def test_log_axes_label_ticks_in_one_exponent_format():
    df = _flow(["fc1", "fc2", "out"], "s")
    axis = _layers(charts.grad_flow(df).to_dict())[0]["encoding"]["y"]["axis"]
    assert "'.0e'" in axis["labelExpr"] and "e+" in axis["labelExpr"]
    assert axis["values"] == [1e-3, 1e-2, 1e-1, 1e0]  # powers of ten only: no 4e-2 beside 5e-3
    from core.views.style import log_ticks
    assert log_ticks([0.3, 0.9]) == [0.3, 0.5, 0.7] and log_ticks([1e-12, 1e2])[:2] == [1e-12, 1e-10]


def test_all_zero_shares_say_so_instead_of_an_empty_chart():
    df = pd.DataFrame({"layer": [1, 2], "name": ["fc1", "fc2"], "value": [0.0, 0.0]})
    spec = charts.layer_bars(df, "act_saturation").to_dict()
    texts = list(spec.get("datasets", {}).values())
    assert any("0 in every layer" in str(v) for v in texts)


def test_stat_over_steps_labels_each_line_at_its_end():
    stats = pd.DataFrame({"step": [0, 10] * 9, "layer": np.repeat(range(1, 10), 2), "stat": "weight_norm",
                          "value": np.linspace(1, 2, 18)})
    layers = pd.DataFrame({"layer": range(1, 10), "name": [f"fc{i}" for i in range(1, 10)]})
    spec = charts.stat_over_steps(stats, layers, "weight_norm").to_dict()
    assert any(layer["encoding"].get("text", {}).get("field") == "name" for layer in _layers(spec))


@pytest.fixture(scope="module")
def run():
    return train(RunConfig(dataset="digits", widths=(16, 16), epochs=2, activation="tanh"))


def test_histogram_views_of_a_run(run):
    hist = run.histograms
    h = hv.split(hist["grad"][:, 0], hist["grad_edges"], hv.GRAD)
    assert np.allclose(h.totals, hist["grad"][:, 0].sum(axis=1))  # nothing dropped
    steps = hist["steps"]
    for mode in ("offset", "overlay"):
        spec = hv.ridge(h, steps, hv.pick_steps(steps), mode).to_dict()
        json.dumps(spec, allow_nan=False)
        # the bins outside the occupied x range are not drawn past the axes
        first = spec["layer"][0] if "layer" in spec else spec
        assert first["mark"]["clip"] is True
    json.dumps(hv.distribution(h, steps).to_dict(), allow_nan=False)
    p = hv.percentiles(h)
    assert (np.diff(p[np.isfinite(p).all(axis=1)], axis=1) >= -1e-9).all()  # percentiles increase
    out = hv.outside_frame(h, steps)
    assert set(out["what"]) == {"exactly 0", "below 1e-12", "above 1e2", "NaN or inf"}
    a = hv.split(hist["act"][:, 0], hist["act_edges"], hv.ACT)
    assert np.allclose(a.totals, hist["act"][:, 0].sum(axis=1))
    json.dumps(hv.ridge(a, steps, [int(steps[0]), int(steps[-1])], "overlay").to_dict(), allow_nan=False)


def test_percentiles_of_a_known_histogram():
    counts = np.zeros((1, 60))
    counts[0, 2 + 20] = 50  # bin [-7, -6.75)
    counts[0, 2 + 24] = 50  # bin [-6, -5.75)
    counts[0, 0] = 100  # zeros are counted outside, not in the percentiles
    h = hv.split(counts, np.linspace(-12, 2, 57), hv.GRAD)
    p = hv.percentiles(h, (0, 50, 100))[0]
    assert p[0] == pytest.approx(-7.0) and p[2] == pytest.approx(-5.75)
    assert -6.75 <= p[1] <= -6.0
    assert "exactly 0: all" not in hv.outside_summary(h, [0])


def test_step_loss_smoothing_and_x_axes(run):
    assert curves.ema([1.0, 1.0, 1.0], 0.9) == pytest.approx([1.0, 1.0, 1.0])  # debiased
    for x in curves.X_AXES:
        frame = curves.step_loss_frame(run.steps, run.epochs, x, 0.6)
        assert len(frame) == len(run.steps) and frame["x"].is_monotonic_increasing
        json.dumps(curves.step_loss(frame, x).to_dict(), allow_nan=False)
    epoch = curves.step_loss_frame(run.steps, run.epochs, "epoch")
    assert epoch["x"].iloc[-1] == pytest.approx(2.0)
    seconds = curves.step_loss_frame(run.steps, run.epochs, "seconds")
    assert seconds["x"].iloc[-1] == pytest.approx(run.epochs["seconds"].sum())


def test_progress_texts_say_what_is_known():
    assert "?" not in progress_text({}, "cpu") and "Starting" in progress_text({}, "cpu")
    text = progress_text({"total_steps": 210, "epochs": 5, "epoch": 0, "step": 1, "elapsed": 2.0}, "cpu")
    assert "epoch 1 of 5" in text and "step 1 of 210" in text and "estimating" in text
    # one step after a slow start gives no estimate; steady steps afterwards do
    t = RateTracker()
    t.observe(1, 20.0)
    assert t.seconds_left(100) is None
    t.observe(11, 22.0)
    assert t.seconds_left(100) == pytest.approx(0.2 * 89)
    assert batch_note([("waiting", None)]) == ""  # a single run that has not started
    assert batch_note([("training", 3), ("waiting", 3), ("waiting", 3)]) == "2 more runs of this batch to follow"
    assert runs_trained_text(0.0, 3) == "0 of 3 runs trained"
    assert runs_trained_text(1.4, 3) == "1 of 3 runs trained, the next at 40%"


def test_labels_of_arbitrary_runs_show_only_what_differs():
    from core.views.labels import distinct_labels

    a = RunConfig(dataset="digits", widths=(32,) * 5, activation="tanh")
    b = RunConfig(dataset="digits", widths=(32,) * 8, activation="tanh")
    c = RunConfig(dataset="digits", widths=(32,) * 8, activation="relu", seed=3)
    labels = distinct_labels({a.run_id: a, b.run_id: b, c.run_id: c})
    assert labels[a.run_id] == "activation tanh · seed 42 · depth 5"
    assert labels[c.run_id] == "activation relu · seed 3 · depth 8"
    assert len(set(labels.values())) == 3


def test_live_frames_from_a_job_fed_by_the_trainers_events():
    """A job's rows of every logged step (as the worker's events fill them) make the live loss
    curve and gradient-histogram heatmap: one point per logged step, the stored columns."""
    from core.engine.stats import GRAD_COLUMNS, GRAD_EDGES
    from core.runs.jobs import Job
    from core.views import live

    cfg = RunConfig(dataset="digits", widths=(16, 16), epochs=2, activation="tanh", log_every=5)
    job = Job(config=cfg, device="cpu")
    result = train(cfg, on_event=job.on_event)
    logged = [int(s) for s in result.histograms["steps"]]
    assert [r.step for r in job.records] == logged

    frame = live.loss_frame(job.records, smoothing=0.6)
    assert list(frame["step"]) == logged
    by_step = result.steps.set_index("step")["loss"]
    assert frame["loss"].tolist() == pytest.approx([by_step[s] for s in logged])
    spec = curves.step_loss(frame, "step").to_dict()
    assert spec["mark"]["type"] == "line"

    steps, counts = live.hist_counts(job.records, 0)
    assert list(steps) == logged and counts.shape == (len(logged), len(GRAD_COLUMNS))
    assert np.array_equal(counts, result.histograms["grad"][:, 0])  # the stored histogram, live
    heat = hv.histogram_heatmap(counts, steps, GRAD_EDGES, "").to_dict()
    assert heat["mark"]["type"] == "rect"

    stats, layers = live.flow_frames(job.records, job.layers)
    assert list(layers["name"]) == list(result.layers["name"]) and stats["step"].nunique() == len(logged)
    # every declared statistic reaches the live view, equal to the stored table's
    for stat in ("act_mean", "act_std", "update_ratio", "weight_norm"):
        live_rows, _ = live.flow_frames(job.records, job.layers, stat)
        stored = result.layer_stats[result.layer_stats.stat == stat].sort_values(["step", "layer"])
        assert live_rows.sort_values(["step", "layer"])["value"].tolist() == pytest.approx(stored["value"].tolist(), nan_ok=True)


def test_live_frames_skip_missing_and_non_finite_values():
    from core.views import live

    from core.engine.record import StepRecord

    records = [StepRecord(s, 1, {}, v) for s, v in ((0, 2.3), (5, None), (10, float("nan")), (15, 1.9))]
    frame = live.loss_frame(records)
    assert list(frame["step"]) == [0, 15] and frame["smoothed"].notna().all()
    assert live.loss_frame([]).empty
    steps, counts = live.hist_counts(records[:1], 0)
    assert len(steps) == 0 and counts.shape[0] == 0
    stats, _ = live.flow_frames(records, ["fc1"])  # no statistic logged: no rows
    assert stats.empty
    stats, layers = live.flow_frames([], ["fc1"])
    assert stats.empty and layers.empty


def test_charts_save_as_svg_offline():
    """core.views.svg draws a chart's Vega-Lite spec to SVG in process, and refuses a huge one."""
    import pandas as pd
    import pytest

    from core.views import charts as ch
    from core.views.svg import MAX_SPEC_CHARS, to_svg

    c = ch.grad_flow(pd.DataFrame({"series": "a", "layer": [1, 2, 3], "name": ["fc1", "fc2", "out"],
                                   "value": [1e-4, 1e-3, 1e-2]}), series="series")
    svg = to_svg(c.to_json())
    assert svg.lstrip().startswith("<svg") and "fc1" in svg and "</svg>" in svg.rstrip()[-10:]
    with pytest.raises(ValueError, match="chart"):
        to_svg("x" * (MAX_SPEC_CHARS + 1))


def test_the_svg_button_takes_charts_of_any_size_and_draws_only_when_clicked():
    """Altair refuses to serialize more than 5,000 rows unless told: the button must not
    crash a page whose chart the page itself draws fine; its SVG is a deferred callable."""
    from streamlit.testing.v1 import AppTest

    def page():
        import altair as alt
        import pandas as pd
        import streamlit as st

        from pages.draw import chart

        st.session_state["svg_downloads"] = True
        chart(alt.Chart(pd.DataFrame({"x": range(6000), "y": range(6000)})).mark_line().encode(x="x", y="y"))

    at = AppTest.from_function(page, default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.get("download_button")) == 1
