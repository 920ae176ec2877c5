"""core.lab.compare: seed means, intervals and differences of Compare's table, on runs with
known numbers (stand-ins with the attributes runs_table reads)."""
from types import SimpleNamespace

import pytest

from core.base.config import RunConfig
from core.lab.compare import MAX_VALUES, runs_table, sweep_configs
from core.lab.uncertainty import paired_difference, summary, unpaired_difference


def run(seed, acc, loss=0.5, status="completed", seconds=3.0, stack=1):
    finals = {"test_acc": acc, "train_acc": acc, "test_loss": loss, "train_loss": loss}
    return SimpleNamespace(run_id=f"r{seed}-{acc}", status=status, config=SimpleNamespace(seed=seed),
                           meta={"params": 10, "seconds": seconds, "trained_with": stack},
                           final_metrics=lambda: finals, grad_ratio=lambda which: 0.1)


def test_rows_are_seed_means_and_differences_pair_by_seed():
    base = [run(s, a) for s, a in zip((0, 1, 2), (0.80, 0.82, 0.78))]
    other = [run(s, a) for s, a in zip((0, 1, 2), (0.85, 0.88, 0.83))]
    t = runs_table({"base": base, "other": other}, baseline="base").set_index("run")
    s = summary([85.0, 88.0, 83.0])
    assert t.loc["other", "test acc %"] == pytest.approx(s["mean"]) and t.loc["other", "seeds"] == 3
    assert t.loc["other", "test acc % sd"] == pytest.approx(s["sd"])
    d = paired_difference([85.0, 88.0, 83.0], [80.0, 82.0, 78.0])
    assert t.loc["other", "Δ test acc %"] == pytest.approx(d.mean)
    assert t.loc["other", "Δ test acc % 95% CI"] == f"[{d.lo:.2f}, {d.hi:.2f}] (seeds)"
    assert t.loc["other", "Δ seed pairs"] == 3
    base_row = t.loc["base", ["Δ seed pairs", "Δ test acc %", "Δ test acc % 95% CI"]]
    assert base_row.isna().all()  # the baseline's own row: no difference with itself, not "[0.00, 0.00]"


def test_rows_without_a_common_seed_get_welchs_unpaired_difference():
    a = [run(s, v) for s, v in zip((0, 1, 2), (0.80, 0.82, 0.78))]
    b = [run(s, v) for s, v in zip((5, 6), (0.90, 0.86))]
    t = runs_table({"a": a, "b": b}, baseline="a").set_index("run")
    d = unpaired_difference([90.0, 86.0], [80.0, 82.0, 78.0])
    assert t.loc["b", "Δ seed pairs"] == 0 and t.loc["b", "Δ test acc %"] == pytest.approx(d.mean)
    assert t.loc["b", "Δ test acc % 95% CI"] == f"[{d.lo:.2f}, {d.hi:.2f}] (unpaired)"


def test_a_diverged_seed_leaves_no_mean_of_the_loss_it_lacks():
    ok = [run(s, 0.8) for s in (0, 1, 2)]
    bad = [run(0, 0.85), run(1, 0.10, loss=None, status="diverged"), run(2, 0.11, loss=None, status="diverged")]
    t = runs_table({"ok": ok, "bad": bad}, baseline="ok").set_index("run")
    assert t.loc["bad", "test loss"] is None or t.loc["bad", "test loss"] != t.loc["bad", "test loss"]  # None/NaN
    assert t.loc["bad", "Δ test loss"] is None or t.loc["bad", "Δ test loss"] != t.loc["bad", "Δ test loss"]
    assert t.loc["bad", "test acc %"] == pytest.approx((85 + 10 + 11) / 3)  # accuracy of every seed
    assert t.loc["bad", "status"] == "completed, diverged"


def test_a_stacked_runs_time_is_its_share_of_the_stack():
    t = runs_table({"x": [run(s, 0.8, seconds=9.0, stack=3) for s in range(3)]})
    assert t["seconds"].iloc[0] == pytest.approx(9.0)  # three runs of one 9 s stack


def test_sweep_values_are_bounded_and_a_sweep_over_seed_takes_one_seed():
    base = RunConfig(dataset="digits", widths=(8,), epochs=1)
    groups, problems = sweep_configs(base, "lr", ["0.1", "0.2"], seeds=3)
    assert [len(g) for _, g in groups] == [3, 3] and not problems
    assert [c.seed for c in groups[0][1]] == [base.seed, base.seed + 1, base.seed + 2]
    _, problems = sweep_configs(base, "lr", [str(i / 1000) for i in range(1, MAX_VALUES + 2)])
    assert problems and problems[0].startswith("values:")
    _, problems = sweep_configs(base, "seed", ["1", "2"], seeds=3)
    assert problems and problems[0].startswith("seeds:")
