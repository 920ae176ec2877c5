"""Presets of the source documents' experiments and their reproduction (core.lab.presets, core.lab.reproduce,
core.lab.metrics, core.lab.tables, core.views.frames, core.cli.report)."""
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from core import cli
from core.cli import report
from core.lab import metrics, reproduce, tables
from core.views import bands, charts, frames
from core.base.config import ConfigError, RunConfig
from core.lab.presets import PRESETS, SCALES, Cell, get_preset, resolve, substitutions
from core.engine.result import RunResult
from core.engine.loop import train
from core.runs.calibration import device_of, predicted_seconds
from core.engine.speed import machine_rates
from core.runs.runner import get_or_train
from core.runs.store import RunStore

ROOT = Path(__file__).resolve().parent.parent
DOCUMENT_DATA = {"gna-bn": {"mnist"}, "vgg-bn-rc": {"cifar100"}, "init-act-bn": {"mnist"},
                 "selu-snn": {"fashion-mnist", "cifar10"}, "deep-sigmoid": {"mnist"},
                 "saturation": {"mnist"}}


def tiny_cells(name: str, n: int = 2) -> list[Cell]:
    """The first `n` cells of a preset at quick scale, shrunk to train in a second on 8x8 digits
    (row keys kept, so the published numbers still attach)."""
    out = []
    for c in PRESETS[name].cells("quick")[:n]:
        cfg = c.config.replace(dataset="digits", epochs=1, train_subset=256, batch_size=64,
                               widths=tuple(16 for _ in c.config.widths))
        out.append(dataclasses.replace(c, config=cfg, requested="digits"))
    return out


def tiny_preset(name: str, n: int = 2):
    cells = tiny_cells(name, n)
    return dataclasses.replace(PRESETS[name], build=lambda scale: list(cells))


@pytest.mark.parametrize("name", list(PRESETS))
@pytest.mark.parametrize("scale", SCALES)
def test_every_preset_builds_valid_configs_laid_out_like_its_table(name, scale):
    preset = PRESETS[name]
    assert preset.title and preset.source and preset.description and preset.reading
    assert preset.quick_note and preset.full_note and preset.published_note
    cells = preset.cells(scale)
    assert cells
    keys = [(c.row, c.column) for c in cells]
    assert len(set(keys)) == len(keys), "each table position holds one configuration"
    assert len({c.config.run_id for c in cells}) == len(cells)
    for c in cells:
        assert isinstance(c.config, RunConfig)
        assert RunConfig.from_dict(c.config.to_dict()) == c.config  # valid and round-trips
        assert len(c.row) == len(preset.row_names) and c.column in preset.columns
    for m in preset.metrics:
        assert m in metrics.METRICS
    requested = {c.requested for c in cells}
    if scale == "full":
        assert requested == DOCUMENT_DATA[name]
    else:
        assert requested <= {"mnist-5k", "fashion-mnist"}, "quick scale stays on offline data"


def test_full_scale_uses_the_documents_settings():
    gna = {(c.row, c.column): c.config for c in PRESETS["gna-bn"].cells("full")}
    five = gna[(("GNA + BatchNorm", "Swish"), "5-layer")]
    assert five.widths == (512, 512, 256, 256, 128) and five.batch_size == 512 and five.epochs == 100
    assert (five.grad_noise, five.noise_gamma, five.noise_unit, five.bn) == (1.0, 0.55, "epoch", "last")
    assert (five.optimizer, five.lr, five.momentum, five.init, five.input_noise, five.seed) == \
        ("sgd_momentum", 3e-4, 0.9, "glorot_uniform", 0.05, 42)
    two = gna[(("Baseline", "Logistic"), "2-layer")]
    assert two.widths == (512, 512) and two.batch_size == 1024 and two.grad_noise == 0 and two.bn == "none"

    vgg = {c.row: c for c in PRESETS["vgg-bn-rc"].cells("full")}
    assert vgg[("VGG08", "1e-3")].config.vgg_blocks == 0
    best = vgg[("VGG38 BN + RC", "1e-2")].config
    assert (best.vgg_blocks, best.vgg_filters, best.bn, best.residual, best.lr) == (5, 32, "before", True, 1e-2)
    assert (best.optimizer, best.schedule, best.batch_size, best.augment) == ("adam", "cosine", 100, True)
    assert vgg[("VGG38 BN + RC", "1e-2")].wanted_epochs in (0, 100)

    snn = PRESETS["selu-snn"].cells("full")[0].config
    assert (snn.widths, snn.activation, snn.init, snn.standardize, snn.optimizer, snn.lr) == \
        ((100,) * 20, "selu", "lecun_normal", True, "nadam", 7e-4)
    deep = PRESETS["deep-sigmoid"].cells("full")[0].config
    assert (deep.widths, deep.activation, deep.lr, deep.batch_size, deep.epochs) == \
        ((1000,) * 5, "logistic", 0.01, 100, 10)
    inits = {c.config.init for c in PRESETS["saturation"].cells("full")}
    assert {"normal", "glorot_uniform"} <= inits


def test_published_numbers_are_attached_where_the_cells_are():
    for preset in PRESETS.values():
        positions = {(c.row, c.column) for c in preset.cells("full")}
        for key, values in preset.published.items():
            assert key in positions, (preset.name, key)
            for metric, value in values.items():
                assert metric in preset.metrics
                if isinstance(value, float):
                    assert metric in preset.units
    gna = PRESETS["gna-bn"].published
    assert gna[(("Baseline", "Logistic"), "5-layer")] == {"test_acc": 10.28}
    assert gna[(("Baseline", "Swish"), "5-layer")] == {"test_acc": 37.18}
    assert gna[(("GNA + BatchNorm", "Swish"), "5-layer")] == {"test_acc": 91.65}
    vgg = PRESETS["vgg-bn-rc"].published
    assert vgg[(("VGG38 BN + RC", "1e-2"), "")]["val_acc"] == 61.36
    assert vgg[(("VGG08", "1e-3"), "")]["params_k"] == 60
    assert len(PRESETS["init-act-bn"].published) == 8
    assert PRESETS["init-act-bn"].published[(("relu", "glorot_uniform", "yes"), "")] == {"test_acc": 98.41}


def test_empty_tables_have_the_documents_layout_with_published_numbers():
    gna = PRESETS["gna-bn"]
    table = tables.ours_vs_published_table(gna, gna.cells("quick"), {})
    assert list(table.columns[:2]) == ["Model", "Activation"]
    assert [c for c in table.columns if "·" in c] == [
        "2-layer · test acc % · ours", "2-layer · test acc % · published",
        "5-layer · test acc % · ours", "5-layer · test acc % · published"]
    assert len(table) == 20 and tuple(table.iloc[0, :2]) == ("Baseline", "Logistic")
    assert table["5-layer · test acc % · published"].iloc[0] == 10.28
    assert table["2-layer · test acc % · ours"].isna().all()
    assert (table["notes"] != "").all()

    vgg = PRESETS["vgg-bn-rc"]
    table = tables.ours_vs_published_table(vgg, vgg.cells("quick"), {})
    assert list(table.columns[:2]) == ["Model", "LR"]
    assert "val acc % · published" in table.columns and "# params K · ours" in table.columns
    assert list(table["Model"]) == ["VGG08", "VGG38", "VGG38 BN", "VGG38 BN", "VGG38 RC",
                                    "VGG38 BN + RC", "VGG38 BN + RC"]
    text = report.format_table(table)
    assert "— / 61.36" in text and "val acc %" in text


def test_an_unavailable_dataset_falls_back_and_says_so():
    only_offline = lambda name, allow_download: name in ("mnist-5k", "digits")  # noqa: E731
    cells = resolve(PRESETS["vgg-bn-rc"], "full", available=only_offline)
    assert {c.config.dataset for c in cells} == {"mnist-5k"}
    assert substitutions(cells) == ["cifar100 -> mnist-5k"]
    snn = resolve(PRESETS["selu-snn"], "quick", available=only_offline)
    assert substitutions(snn) == ["fashion-mnist -> mnist-5k"]
    table = tables.ours_vs_published_table(PRESETS["selu-snn"], snn, {})
    assert len(table) == 3 and list(table["seeds"]) == [0, 0, 0]  # SNN, regular, the He control
    assert "3 run(s) not trained yet" in table["notes"].iloc[0]
    with_fashion = resolve(PRESETS["selu-snn"], "quick",
                           available=lambda name, dl: name in ("mnist-5k", "fashion-mnist"))
    assert substitutions(with_fashion) == []


def test_the_real_loader_decides_availability_without_downloading(isolated_cache):
    # conftest sets VG_OFFLINE and an empty cache: CIFAR-100 cannot be here.
    cells = resolve(PRESETS["vgg-bn-rc"], "full")
    assert substitutions(cells) == ["cifar100 -> mnist-5k"]
    for c in cells:
        # On mnist-5k the work limit still caps VGG38's 100 epochs; the cell says so.
        assert c.config.epochs == 100 or c.note.startswith("100 epochs exceed")


def test_bad_names_and_scales_are_config_errors():
    with pytest.raises(ConfigError, match="preset"):
        get_preset("vgg-999")
    with pytest.raises(ConfigError, match="scale"):
        PRESETS["gna-bn"].cells("medium")


def run_cli(*args, cache):
    env = dict(os.environ, VG_CACHE_DIR=str(cache), VG_OFFLINE="1")
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_cli_lists_presets_one_line_each(isolated_cache):
    out = run_cli("reproduce", "--list", cache=isolated_cache)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines] == list(PRESETS)


@pytest.mark.parametrize("args,needle", [
    (["reproduce", "vgg-999"], "preset"),
    (["reproduce", "gna-bn", "--scale", "huge"], "scale"),
    (["reproduce", "gna-bn", "--format", "pdf"], "--format"),
    (["reproduce"], "preset"),
])
def test_cli_bad_input_exits_2_with_one_line(capsys, args, needle):
    # In-process (cli.main is what `python -m core` runs; test_cli.py covers the subprocess).
    assert cli.main(args) == 2
    out = capsys.readouterr()
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], out.err
    assert out.out == ""


def test_tiny_reproduction_end_to_end_through_the_cli(monkeypatch, capsys, isolated_cache):
    monkeypatch.setitem(PRESETS, "init-act-bn", tiny_preset("init-act-bn"))
    assert cli.main(["reproduce", "init-act-bn", "--scale", "quick"]) == 0
    first = capsys.readouterr()
    assert "6 of them trained now" in first.out  # 2 configurations x the 3 default seeds
    assert "/ 94.51" in first.out and "/ 95.50" in first.out  # ours / published
    assert "Gradient flow" in first.out and "Findings of the document" in first.out
    # The store keeps them: a second call trains nothing.
    assert cli.main(["reproduce", "init-act-bn", "--format", "json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["trained"] == [] and again["runs"] == 6 and again["seeds"] == 3
    assert [r["Activation"] for r in again["table"]] == ["sigmoid", "sigmoid"]
    row = again["table"][0]
    assert row["test acc % · published"] == 94.51 and row["seeds"] == 3
    assert isinstance(row["test acc % · ours"], float)  # the keys of before: the seed mean
    stats = row["test acc %"]
    assert set(stats) >= {"mean", "sd", "ci95", "values"} and len(stats["values"]) == 3
    assert stats["mean"] == pytest.approx(row["test acc % · ours"])
    assert stats["ci95"][0] <= stats["mean"] <= stats["ci95"][1]
    assert again["table"][1]["test acc %"]["difference"]["vs"] == ["sigmoid", "random_normal", "no"]
    # Two of the eight networks cannot decide "every ReLU network beats its sigmoid twin".
    assert [set(f) >= {"claim", "verdict", "evidence", "effect", "smallest_effect", "correction"}
            for f in again["findings"]] == [True] * 3
    assert again["methods"]["correction"].startswith("Holm over")
    assert {f["verdict"] for f in again["findings"]} <= {"reproduced", "contradicted", "inconclusive"}
    assert again["findings"][0]["verdict"] == "inconclusive"
    assert len(again["gradient_flow"]) == 2 and again["gradient_flow"][0]["ratio init"] > 0
    markdown = report.render(reproduce.run_preset(PRESETS["init-act-bn"], "quick", RunStore(isolated_cache),
                                                     train_missing=False), "markdown")
    assert "| Activation | Initializer | BN | seeds | test acc % |" in markdown
    assert cli.main(["reproduce", "init-act-bn", "--seeds", "2", "--stored-only", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["table"][0]["seeds"] == 2  # seeds 0 and 1 of the three


def test_one_by_one_and_stacked_training_give_the_same_tables(tmp_path):
    preset = tiny_preset("saturation", n=3)
    announced = []
    stacked = reproduce.run_preset(preset, "quick", RunStore(tmp_path / "a"),
                                   on_run=lambda i, n, c: announced.append((i, n, c.label)))
    # 3 configurations x 3 seeds: the seeds (and inits) of one MLP differ only in stackable
    # settings, so all nine train as one stack, each stored as its own run
    assert [a[:2] for a in announced] == [(i, 9) for i in range(1, 10)]
    cells = reproduce.resolve(preset, "quick")
    assert [c.seed_index for c in cells] == [0, 1, 2] * 3 and len({c.config.run_id for c in cells}) == 9
    alone = RunStore(tmp_path / "b")
    for cell in cells:
        alone.save(train(cell.config))  # each run trained by itself, one after the other
    single = reproduce.run_preset(preset, "quick", alone, train_missing=False)
    assert len(single.results) == 9 and len(stacked.trained) == 9
    for run_id, r in single.results.items():  # every seed equals its stacked twin
        pd.testing.assert_frame_equal(r.epochs.drop(columns="seconds"),
                                      stacked.results[run_id].epochs.drop(columns="seconds"))
        assert r.meta["threads"] == stacked.results[run_id].meta["threads"]
    seeds = single.table()
    assert list(seeds["seeds"]) == [3, 3, 3]
    pd.testing.assert_frame_equal(seeds, stacked.table())
    assert json.dumps(report.json_report(single)["table"]) == json.dumps(report.json_report(stacked)["table"])
    values = single.rows()[0]["metrics"][("RMSprop (lecture notes)", "test_acc")]["summary"]["values"]
    assert len(values) == 3
    table = single.table()
    assert list(table["Initialization"]) == ["N(0, 1)", "standard U(±1/√fan_in)", "Glorot uniform (normalized)"]
    sat = table["RMSprop (lecture notes) · layer 1 saturated at init % · ours"]  # the first 3 cells
    assert sat.iloc[0] > sat.iloc[2]


def test_plan_counts_stored_runs_and_rescales_the_estimate(tmp_path):
    preset = tiny_preset("deep-sigmoid")
    store = RunStore(tmp_path)
    cells = preset.cells("quick")
    before = reproduce.plan(cells, store)
    assert (len(before.stored), len(before.missing)) == (0, 2) and before.seconds_left > 0
    [first] = get_or_train(store, [cells[0].config])
    after = reproduce.plan(cells, store)
    assert (len(after.stored), len(after.missing)) == (1, 1)
    rates = machine_rates(device_of(cells[0].config))
    factor = first.meta["seconds"] / first.meta["busy"] / predicted_seconds(cells[0].config, rates)
    assert after.seconds_left == pytest.approx(factor * predicted_seconds(cells[1].config, rates))


def test_chart_data_and_charts_of_a_reproduction(tmp_path):
    preset = tiny_preset("deep-sigmoid")
    rep = reproduce.run_preset(preset, "quick", RunStore(tmp_path))
    cells = rep.cells
    flow = frames.grad_flow_frame(tables.labelled(cells, rep.results))
    assert set(flow["series"]) == {c.label for c in cells} and (flow["value"] > 0).all()
    assert charts.grad_flow(flow, series="series").to_dict()["mark"]["type"] == "line"
    hist = frames.grad_value_histogram_frame(rep.results[cells[0].config.run_id])
    assert hist.groupby("layer")["share"].sum().round(6).eq(1).all()
    assert charts.grad_value_histogram(hist).to_dict()["encoding"]["y"]["scale"]["type"] == "log"
    std = frames.layer_stat_frame(tables.labelled(cells, rep.results), "act_std", "init")
    assert len(cells) == 6 and len(std) == 6 * len(cells[0].config.widths)  # 2 networks x 3 seeds
    band = bands.band_frame(flow)  # one band per network: seed mean, min and max per layer
    assert set(band["series"]) == {c.label for c in cells} and (band["n"] == 3).all()
    assert ((band["lo"] <= band["mean"]) & (band["mean"] <= band["hi"])).all()
    assert len(bands.flow_band_chart(band).to_dict()["layer"]) == 2
    epochs = {label: [r.epochs for r in runs] for label, runs in tables.grouped(cells, rep.results)}
    curve = bands.curve_frame(epochs, "test_acc")
    assert len(curve) == 2 and (curve["n"] == 3).all()
    assert bands.curve_band_chart(epochs, "test_acc", "test accuracy").to_dict()
    # per-example correctness, rebuilt from the stored weights, matches each run's test accuracy
    reopened = reproduce.run_preset(preset, "quick", RunStore(tmp_path), train_missing=False)
    hits = reopened.samples().correct(cells[0].row, "", "test")
    accs = reopened.samples().values(cells[0].row, "", "test_acc")
    assert hits.shape[0] == 3 and list(100 * hits.mean(axis=1)) == pytest.approx(accs)
    assert charts.layer_profile(std, "activation std", percent=False, log=True).to_dict()
    share = metrics.metric_value("tiny_grad_share", rep.results[cells[0].config.run_id])
    assert 0 <= share <= 100
    points = tables.ours_vs_published_frame(PRESETS["gna-bn"], [], {})
    assert points.empty
    scatter = charts.ours_vs_published(pd.DataFrame({"configuration": ["a"], "metric": ["test acc"],
                                                     "published": [91.0], "ours": [88.0]}))
    assert len(scatter.to_dict()["layer"]) == 2


def test_relative_metric_compares_with_the_baseline_row():
    def run(val_accs):
        cfg = RunConfig(dataset="digits", widths=(4,), epochs=len(val_accs))
        epochs = pd.DataFrame({"epoch": range(1, len(val_accs) + 1), "val_acc": val_accs})
        return RunResult(config=cfg, status="completed", epochs=epochs, steps=pd.DataFrame(),
                                   layer_stats=pd.DataFrame(columns=["step", "epoch", "layer", "stat", "value"]),
                                   layers=pd.DataFrame(), histograms={}, meta={})
    fast, slow = run([0.5, 0.9, 0.8, 0.7]), run([0.5, 0.6, 0.7, 0.9, 0.8])
    assert metrics.metric_value("best_epoch", fast) == 2
    assert metrics.metric_value("best_epoch_change", fast, slow) == pytest.approx(-50.0)
    assert metrics.metric_value("best_epoch_change", slow, slow) is None
    assert metrics.metric_value("best_val_acc", slow) == pytest.approx(90.0)


def test_a_vgg_presets_report_has_the_collapse_at_init_predicted_beside_measured(tmp_path):
    cells = [dataclasses.replace(c, requested="digits", config=c.config.replace(
        dataset="digits", epochs=1, train_subset=128, batch_size=64, vgg_filters=4))
        for c in PRESETS["vgg-bn-rc"].cells("quick")[:2]]  # VGG08 and VGG38, seed 0
    preset = dataclasses.replace(PRESETS["vgg-bn-rc"], build=lambda scale: list(cells))
    rep = reproduce.run_preset(preset, "quick", RunStore(tmp_path), seeds=1)
    markdown = report.render(rep, "markdown")
    head = ("| network | convolutions | predicted log10 collapse (average over networks) | predicted log10 "
            "collapse (one network ± sd) | measured log10 collapse | factor per layer, predicted / measured |")
    assert "Collapse at initialization, predicted vs measured" in markdown and head in markdown
    section = markdown[markdown.index(head):markdown.index("What the document found")]
    rows = {line.split(" | ")[0].strip("| "): line.split(" | ")[1:] for line in section.splitlines()[2:]
            if line.startswith("| ")}
    assert list(rows) == ["VGG08", "VGG38", "VGG38 BN", "VGG38 RC", "VGG38 BN + RC"]  # all five, not the 2 trained
    average, one, measured = (float(rows["VGG38"][i].split(" ± ")[0]) for i in (1, 2, 3))
    sd = float(rows["VGG38"][2].split(" ± ")[1])
    assert measured < -5 and abs(one - measured) < 3 * sd and average > one  # plain VGG38 collapses, as predicted
    assert float(rows["VGG38 BN"][3]) > measured + 3  # batch norm restores it
    assert "- Plain VGG38 stacks" in section and "- Batch norm resets" in section  # the generated sentences
    assert "as this preset builds them (digits, 4 filters, torch_default, leaky_relu, seed 0)" in markdown
    assert [r["network"] for r in report.json_report(rep)["collapse_at_init"]["table"]] == list(rows)
    other = tiny_preset("deep-sigmoid", n=1)
    assert "Collapse at initialization" not in report.render(reproduce.run_preset(
        other, "quick", RunStore(tmp_path), seeds=1), "markdown")
