"""core.lab.uncertainty and core.lab.findings on synthetic data with known answers."""
import math

import numpy as np
import pytest

from core.lab.findings import AllOf, Better, Ref, Within
from core.lab.uncertainty import mean_interval, paired_difference, summary, t975
from fakes import FakeSamples


def test_t_quantiles_match_known_values():
    assert t975(1) == pytest.approx(12.706, abs=1e-3) and t975(4) == pytest.approx(2.776, abs=1e-3)
    assert t975(40) == pytest.approx(2.021, abs=2e-3) and t975(1000) == pytest.approx(1.962, abs=2e-3)


@pytest.mark.parametrize("n", [3, 5])
def test_mean_intervals_cover_the_true_mean_95_percent_of_the_time(n):
    rng = np.random.default_rng(1)
    draws = rng.normal(80.0, 2.0, size=(2000, n))
    covered = 0
    for row in draws:
        lo, hi = summary(row)["ci95"]
        covered += lo <= 80.0 <= hi
    assert 0.93 <= covered / 2000 <= 0.97  # binomial sd of the share: 0.5%


def test_summary_of_few_values():
    assert summary([]) == {"n": 0, "mean": None, "sd": None, "ci95": None, "values": []}
    one = summary([3.0, None])
    assert one["n"] == 1 and one["mean"] == 3.0 and one["ci95"] is None
    s = summary([1.0, 2.0, 3.0])
    assert s["mean"] == 2.0 and s["sd"] == pytest.approx(1.0)
    assert s["ci95"] == pytest.approx([2 - 4.303 / math.sqrt(3), 2 + 4.303 / math.sqrt(3)], abs=1e-3)


def test_paired_bootstrap_finds_a_known_difference_and_covers_it():
    """Two models on the same test examples: A is right on 85% of them, B on 80%, their errors
    overlap (B is wrong wherever A is, and on 5% more). Seeds add a small paired variation."""
    rng = np.random.default_rng(2)
    n_examples, seeds, covered, sims = 400, 3, 0, 300
    for _ in range(sims):
        hard = rng.random(n_examples)  # each example's difficulty, drawn anew: a new test set
        a = np.stack([(hard + rng.normal(0, 0.01, n_examples) < 0.85) for _ in range(seeds)]).astype(np.int8)
        b = np.stack([(hard + rng.normal(0, 0.01, n_examples) < 0.80) for _ in range(seeds)]).astype(np.int8)
        d = paired_difference(100 * a.mean(1), 100 * b.mean(1), a, b)
        covered += d.lo <= 5.0 <= d.hi
        assert d.example_half is not None and d.seed_half is not None
    assert covered / sims >= 0.92
    # Pairing matters: an unpaired binomial interval would be about twice as wide.
    unpaired = 1.96 * math.sqrt(0.85 * 0.15 / n_examples + 0.8 * 0.2 / n_examples) * 100
    assert d.example_half < 0.8 * unpaired


def test_paired_difference_needs_two_seed_pairs_for_an_interval():
    d = paired_difference([80.0], [70.0])
    assert d.mean == 10.0 and d.ci95 is None
    d = paired_difference([80.0, 81.0, None], [70.0, 70.5, 69.0])
    assert d.n == 2 and d.mean == pytest.approx(10.25)


def test_mean_interval_widens_with_test_examples():
    correct = (np.random.default_rng(3).random((3, 500)) < 0.7).astype(np.int8)
    values = 100 * correct.mean(1)
    mean, lo, hi = mean_interval(values)
    mean2, lo2, hi2 = mean_interval(values, correct)
    assert mean == mean2 and lo2 < lo and hi2 > hi


A, B = ("a",), ("b",)


@pytest.mark.parametrize("a, b, verdict", [
    ([90.0, 91.0, 90.5], [80.0, 81.0, 79.5], "reproduced"),
    ([70.0, 71.0, 70.5], [80.0, 81.0, 79.5], "contradicted"),
    ([80.0, 90.0, 70.0], [80.0, 81.0, 79.5], "inconclusive"),
    ([90.0], [80.0], "inconclusive"),  # one seed: no interval, no verdict either way
])
def test_better_gives_each_verdict(a, b, verdict):
    claim = Better("a beats b", Ref(A), Ref(B))
    found = claim.check(FakeSamples({(A, "test_acc"): a, (B, "test_acc"): b}))
    assert found.verdict == verdict
    assert "difference" in found.evidence and "95% CI" in found.evidence


def test_lower_is_better_and_log_scales_and_censoring():
    fewer = Better("a needs fewer epochs", Ref(A, "", "best_epoch"), Ref(B, "", "best_epoch"),
                   higher=False, censor=True)
    s = FakeSamples({(A, "best_epoch"): [3.0, 4.0, 3.0], (B, "best_epoch"): [8.0, 9.0, 9.0]})
    assert fewer.check(s).verdict == "reproduced"
    never = FakeSamples({(A, "best_epoch"): [None, None, None], (B, "best_epoch"): [8.0, 9.0, 7.0]})
    found = fewer.check(never)  # never reached within 10 epochs: counted as 11, slower than b
    assert found.verdict == "contradicted" and "never reached it in 10 epochs" in found.evidence
    tiny = Within("a vanishes", Ref(A, "", "ratio_end"), hi=-2.0, log=True)
    assert tiny.check(FakeSamples({(A, "ratio_end"): [1e-4, 2e-4, 1.5e-4]})).verdict == "reproduced"
    assert tiny.check(FakeSamples({(A, "ratio_end"): [0.5, 0.7, 0.6]})).verdict == "contradicted"
    assert tiny.check(FakeSamples({(A, "ratio_end"): [1e-4, 1.0, 1e-2]})).verdict == "inconclusive"


def test_all_of_is_reproduced_only_when_every_part_is():
    s = FakeSamples({(A, "test_acc"): [90.0, 91.0, 90.5], (B, "test_acc"): [10.0, 11.0, 10.5]})
    up, chance = Better("a > b", Ref(A), Ref(B)), Within("b at chance", Ref(B), hi=15.0)
    assert AllOf("both", (up, chance)).check(s).verdict == "reproduced"
    down = Better("b > a", Ref(B), Ref(A))
    found = AllOf("mixed", (up, down)).check(s)
    assert found.verdict == "contradicted" and "1 reproduced, 1 contradicted of 2 checks" in found.evidence
    wide = FakeSamples({(A, "test_acc"): [90.0, 91.0, 90.5], (B, "test_acc"): [10.0, 40.0, 25.0]})
    assert AllOf("unsure", (up, chance)).check(wide).verdict == "inconclusive"


def test_welch_interval_of_two_independent_samples_covers_the_true_difference():
    from core.lab.uncertainty import unpaired_difference

    rng = np.random.default_rng(4)
    covered, sims = 0, 2000
    for _ in range(sims):
        d = unpaired_difference(rng.normal(80.0, 1.0, 4), rng.normal(78.0, 3.0, 6))
        covered += d.lo <= 2.0 <= d.hi
    assert 0.93 <= covered / sims <= 0.975  # Welch is nearly exact here
    one = unpaired_difference([80.0], [78.0, 79.0])
    assert one.mean == pytest.approx(1.5) and one.ci95 is None and one.n == 0
