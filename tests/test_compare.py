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


# ---------------------------------------------------------------------- bounded intervals, words
from core.lab.compare import Comparison, comparisons, differences, sentence, shown_table  # noqa: E402
from core.lab.uncertainty import clip_interval  # noqa: E402


def test_an_accuracy_interval_never_leaves_0_to_100_percent():
    assert clip_interval([-3.51, 72.71], 0, 100) == [0, 72.71]
    assert clip_interval([40.0, 130.0], 0, 100) == [40.0, 100]
    assert clip_interval(None, 0, 100) is None
    low = [run(s, a) for s, a in zip((0, 1, 2), (0.01, 0.40, 0.02))]  # t-interval: about [-40, 69]%
    assert summary([1.0, 40.0, 2.0])["ci95"][0] < 0
    t = runs_table({"low": low, "other": [run(s, 0.5) for s in (0, 1, 2)]}, baseline="other").set_index("run")
    lo, hi = (float(x) for x in t.loc["low", "test acc % 95% CI"].strip("[]").split(", "))
    assert lo == 0.0 and 0 < hi <= 100
    d_lo = float(t.loc["low", "Δ test acc % 95% CI"].split(",")[0].strip("["))
    assert d_lo >= -100


def _c(mean, lo, hi, pairs=3, agree=3, seeds=(3, 3)):
    return Comparison("he_normal", "glorot_uniform", mean, lo, hi, pairs, agree, seeds)


def test_a_sentence_says_who_wins_by_how_much_and_whether_the_seeds_agree():
    assert sentence(_c(35.2, 10.4, 60.1)) == ("he_normal beats glorot_uniform by 35 points of test accuracy "
                                              "(95% interval 10 to 60); the 3 seeds agree.")
    assert sentence(_c(-3.5, -5.2, -1.8, agree=2)) == (
        "he_normal trails glorot_uniform by 3.5 points of test accuracy (95% interval 1.8 to 5.2); "
        "2 of 3 seeds agree.")
    assert "both seeds agree" in sentence(_c(0.4, 0.1, 0.7, pairs=2, agree=2, seeds=(2, 2)))


def test_an_interval_holding_zero_does_not_show_a_difference():
    text = sentence(_c(12.0, -3.0, 27.0, agree=2))
    assert "holds 0: this does not show a difference" in text and "beats" not in text
    assert "−3.0 to 27" in text or "−3 to 27" in text
    # the edges: an interval that just leaves 0 decides, one that touches it does not
    assert "beats" in sentence(_c(5.0, 0.01, 9.99))
    assert "does not show" in sentence(_c(5.0, 0.0, 10.0))
    assert "trails" in sentence(_c(-5.0, -9.99, -0.01))


def test_one_seed_is_said_to_be_one_seed_and_rows_without_a_common_seed_say_so():
    text = sentence(_c(12.0, None, None, pairs=1, agree=1, seeds=(1, 1)))
    assert "on one seed" in text and "does not show a difference" in text and "beats" not in text
    assert "below" in sentence(_c(-2.0, None, None, pairs=1, agree=1, seeds=(1, 1)))
    assert "share no seed (3 and 2 seeds" in sentence(_c(8.0, 2.0, 14.0, pairs=0, agree=0, seeds=(3, 2)))
    assert "cannot be compared" in sentence(_c(None, None, None))


def test_sentences_come_from_the_same_numbers_as_the_table():
    base = [run(s, a) for s, a in zip((0, 1, 2), (0.50, 0.55, 0.45))]
    he = [run(s, a) for s, a in zip((0, 1, 2), (0.85, 0.88, 0.83))]
    same = [run(s, a) for s, a in zip((0, 1, 2), (0.52, 0.50, 0.49))]
    groups = {"glorot_uniform": base, "he_normal": he, "lecun": same}
    diffs = differences(groups, "glorot_uniform")
    t = runs_table(groups, baseline="glorot_uniform", diffs=diffs).set_index("run")
    [c_he, c_same] = comparisons(groups, "glorot_uniform", diffs)
    assert c_he.mean == pytest.approx(t.loc["he_normal", "Δ test acc %"]) == pytest.approx(35.333, abs=1e-3)
    assert c_he.agree == 3 and sentence(c_he).startswith("he_normal beats glorot_uniform by 35 points")
    assert c_same.agree == 2 and "does not show a difference" in sentence(c_same)


def test_the_shown_table_puts_the_differences_first_and_names_the_baseline_row():
    base = [run(s, a) for s, a in zip((0, 1, 2), (0.50, 0.55, 0.45))]
    he = [run(s, a) for s, a in zip((0, 1, 2), (0.85, 0.90, 0.80))]
    shown = shown_table(runs_table({"g": base, "h": he}, baseline="g"), "g").set_index("run")
    assert list(shown.columns[:4]) == ["Δ test acc %", "Δ test acc % 95% CI", "test acc %", "test acc % 95% CI"]
    assert shown.columns[-1] == "run_id"
    assert shown.loc["g", "Δ test acc %"] == "baseline" and shown.loc["g", "Δ test loss"] == "—"
    assert shown.loc["h", "Δ test acc %"] == "+35.00" and "None" not in shown.astype(str).to_string()
    assert shown.loc["g", "Δ test acc % 95% CI"] == "—" and shown.loc["g", "test acc % 95% CI"].startswith("[")
