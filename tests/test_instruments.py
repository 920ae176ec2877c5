"""The per-layer instruments, declared once in core.base.instruments, drive the stored columns, the
run views and the diagnosis thresholds."""
import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from apptest_helpers import charts, fresh_app_caches, open_page, texts  # noqa: F401 (autouse fixture)
from core.base.config import RunConfig
from core.engine.loop import train
from core.engine.stats import ACT_STATS, GRAD_STATS, WEIGHT_STATS
from core.base.instruments import (ACTIVATION, BARS, BLOCKS, GRADIENT, INSTRUMENT_LIST, INSTRUMENTS, NOISY_GRADIENT,
                              STEPS, WEIGHT, Healthy, block_stats, instrument)
from core.lab import diagnosis
from core.runs.store import RunStore
from core.views.links import config_to_query


def test_every_instrument_is_declared_once_with_what_its_views_need():
    assert len(INSTRUMENTS) == len(INSTRUMENT_LIST)
    for ins in INSTRUMENT_LIST:
        assert ins.block in BLOCKS and ins.title and ins.caption.endswith(".")
        assert not (ins.log and ins.percent), ins.stat  # a share is drawn from 0 to 100%
    assert GRAD_STATS == block_stats(GRADIENT) == ("grad_norm", "grad_mean_abs", "grad_max_abs", "grad_std")
    assert block_stats(NOISY_GRADIENT) == tuple("noisy_" + s for s in GRAD_STATS)
    assert WEIGHT_STATS == block_stats(WEIGHT) == ("weight_norm", "update_ratio")
    assert ACT_STATS == block_stats(ACTIVATION) == ("act_mean", "act_std", "act_saturation", "act_dead")
    assert instrument("something_else").title == "something_else"  # undeclared: drawn plainly


def test_the_stored_table_follows_the_declared_order():
    cfg = RunConfig(dataset="digits", widths=(16, 16), epochs=1, batch_size=256, log_every=2,
                    activation="relu", grad_noise=0.3)
    stats = train(cfg).layer_stats
    declared = list(INSTRUMENTS)
    for _, at_step in stats.groupby("step", sort=False):
        names = list(dict.fromkeys(at_step["stat"]))
        assert names == [s for s in declared if s in set(names)]  # blocks and stats in declared order
        assert set(names) == set(declared) - {"act_saturation"}  # relu: dead units, no saturation


def test_diagnosis_thresholds_are_the_declared_healthy_ranges():
    flow = INSTRUMENTS["grad_mean_abs"].healthy
    assert diagnosis.FLOW is flow
    assert [flow.verdict(r) for r in (0.009, 0.01, 0.09, 0.1, 10.0, 11.0, 100.0, 101.0)] == [
        ("problem", "low"), ("warning", "low"), ("warning", "low"), ("ok", None), ("ok", None),
        ("warning", "high"), ("warning", "high"), ("problem", "high")]
    for stat in ("act_saturation", "act_dead"):
        healthy = INSTRUMENTS[stat].healthy
        assert healthy.verdict(0.3) == ("ok", None) and healthy.verdict(0.31) == ("warning", "high")
        assert healthy.verdict(float("nan")) == ("ok", None)
    assert INSTRUMENTS["update_ratio"].healthy.verdict(0.9e-5) == ("warning", "low")


def test_a_layer_past_its_declared_threshold_is_reported(monkeypatch):
    cfg = RunConfig(dataset="digits", widths=(16, 16), activation="relu")
    sat, dead = _series([0.0, 0.0]), _series([0.1, 0.35])
    assert ["dead" in f.text for f in diagnosis._activation_findings(cfg, sat, dead, "now")] == [True]
    monkeypatch.setattr(diagnosis, "DEAD", Healthy(high=0.5))  # the range, not a copy of it, decides
    assert diagnosis._activation_findings(cfg, sat, dead, "now") == []


def _series(values):
    return pd.Series(values, index=range(1, len(values) + 1))


def test_the_run_view_draws_the_declared_instruments_with_their_captions(isolated_cache):
    cfg = RunConfig(dataset="digits", widths=(16, 16), epochs=1, activation="gelu")
    RunStore(isolated_cache).save(train(cfg))
    at = open_page("pages/explore.py", config_to_query(cfg))
    assert not at.exception, [e.value for e in at.exception]
    shown = texts(at)
    for ins in INSTRUMENT_LIST:
        if ins.view == STEPS:
            assert ins.caption in shown and ins.title in shown, ins.stat
    # gelu neither saturates nor dies: the bars' instruments say where they apply
    info = " ".join(i.value for i in at.info)
    assert all(ins.applies in info for ins in INSTRUMENT_LIST if ins.view == BARS)


# A page that shows a running job's live view; the probe (a whole pass at initialization) is
# replaced by one that fails, so the view must take the layer names from the job.
LIVE_JOB = """
import numpy as np

import pages.run_views as views
from core.base.config import RunConfig
from core.engine.record import StepRecord
from core.engine.stats import GRAD_STATS
from core.runs.jobs import RUNNING, Job


def no_probe(cfg):
    raise AssertionError("the live view must not run a probe")


real_probe, views.probe = views.probe, no_probe
try:  # the module is shared by every test of this process: put the real probe back
    job = Job(RunConfig(dataset="digits", widths=(16, 16), epochs=1), "cpu", state=RUNNING)
    job.on_event({"kind": "start", "total_steps": 10, "epochs": 1, "layers": LAYERS})
    host = {"true": np.array([[v if s == "grad_mean_abs" else 1.0 for s in GRAD_STATS] for v in (1e-3, 2e-3, 3e-3)])}
    job.on_event({"kind": "log", "step": 0, "elapsed": 0.1, "loss": 2.3, "record": StepRecord(0, 1, host, 2.3)})
    views.show_job(job, "live")
finally:
    views.probe = real_probe
"""


@pytest.mark.parametrize("layers, expect", [(["dense 1", "dense 2", "output"], {"dense 1", "dense 2", "output"}),
                                            ([], {"layer 1", "layer 2", "layer 3"})])  # no names yet: numbered
def test_the_live_view_names_layers_from_the_job_without_a_probe(layers, expect):
    at = AppTest.from_string(LIVE_JOB.replace("LAYERS", repr(layers)), default_timeout=30)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    flows = [rows for c in charts(at) if (rows := _chart_rows(c)) and "name" in rows[0]]
    assert flows, "the live view draws the gradient flow"
    assert {row["name"] for row in flows[0]} == expect


def _chart_rows(element) -> list[dict]:
    """The rows of a chart's data, as Streamlit sends them (Arrow IPC streams)."""
    frames = [pa.ipc.open_stream(d.data.data).read_pandas() for d in element.proto.datasets]
    return [row for frame in frames for row in frame.to_dict("records")]

