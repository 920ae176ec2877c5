"""core.lab.verdicts and the effect-size verdicts of core.lab.findings on synthetic intervals
whose answers are known; censoring counted alike in the tables and the findings."""
import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats

from core.lab import tables
from core.lab.findings import AllOf, Better, Ref, Same, Within, check_all
from core.lab.presets import PRESETS
from core.lab.verdicts import Estimate, Target, holm_levels, level_text
from fakes import FakeSamples


@pytest.mark.parametrize("lo, hi, verdict", [
    (2.5, 4.0, "reproduced"),     # wholly past the smallest effect that counts (2)
    (0.3, 1.8, "contradicted"),   # an effect, but wholly smaller than the smallest that counts
    (-3.0, -1.0, "contradicted"),  # the other direction
    (1.0, 3.0, "inconclusive"),   # straddles 2
    (None, None, "inconclusive"),  # no interval
])
def test_a_minimum_effect_claim_reads_the_whole_interval_against_its_size(lo, hi, verdict):
    assert Target(lo=2.0).verdict(lo, hi) == verdict


@pytest.mark.parametrize("lo, hi, verdict", [
    (-0.4, 0.6, "reproduced"),    # inside the margin ±1: equivalent
    (1.2, 2.0, "contradicted"),   # wholly beyond +1
    (-2.0, -1.5, "contradicted"),  # wholly beyond -1
    (-0.5, 1.5, "inconclusive"),  # crosses the margin
    (-1.5, 1.5, "inconclusive"),  # wider than the margin: no equivalence from too few seeds
])
def test_no_effect_claims_are_decided_by_equivalence_margins(lo, hi, verdict):
    assert Target(-1.0, 1.0).verdict(lo, hi) == verdict


def test_the_p_value_is_the_level_at_which_the_interval_touches_the_target():
    est = Estimate(mean=4.0, half95=1.5, df=4)
    for target in (Target(lo=2.0), Target(lo=5.0), Target(-1.0, 4.5), Target(hi=3.0)):
        p = target.p_value(est)
        ends, edges = est.interval(1 - p), [e for e in (target.lo, target.hi) if np.isfinite(e)]
        assert min(abs(x - e) for x in ends for e in edges) < 1e-9  # an end on an edge
        assert target.verdict(*est.interval(1 - p * 1.01)) != "inconclusive"  # decides just past it
        assert target.verdict(*est.interval(1 - p * 0.99)) == "inconclusive"
    # the standard error of a 95% half-width is half / t_0.975(df): scipy's quantile
    assert est.se == pytest.approx(1.5 / stats.t.ppf(0.975, 4))


def test_p_values_are_uniform_when_the_effect_sits_on_the_edge():
    rng = np.random.default_rng(5)
    hits = 0
    for _ in range(2000):
        d = rng.normal(2.0, 1.0, 5)  # true effect exactly the smallest that counts
        est = Estimate(d.mean(), stats.t.ppf(0.975, 4) * d.std(ddof=1) / np.sqrt(5), 4)
        hits += Target(lo=2.0).p_value(est) < 0.05
    assert 0.035 <= hits / 2000 <= 0.065


def test_holm_steps_down_and_stops_at_the_first_undecided_check():
    # the textbook case: sorted 0.005 <= .05/4, 0.01 <= .05/3, 0.03 > .05/2: stop; 0.04 not reached
    steps = holm_levels([0.01, 0.04, 0.03, 0.005])
    assert [s.rank for s in steps] == [1, 3, 2, 0]
    assert [s.level for s in steps] == pytest.approx([1 - 0.05 / 3, 0.95, 1 - 0.05 / 2, 1 - 0.05 / 4])
    assert [s.reached for s in steps] == [True, False, True, True]
    assert all(s.m == 4 for s in steps)
    assert [s.reached for s in holm_levels([0.001, 0.002])] == [True, True]
    assert level_text(0.95) == "95%" and level_text(1 - 0.05 / 12) == "99.58%"


A, B, C = ("a",), ("b",), ("c",)


def test_an_effect_smaller_than_the_smallest_that_counts_contradicts_the_claim():
    s = FakeSamples({(A, "test_acc"): [80.5, 80.7, 80.6, 80.4], (B, "test_acc"): [80.0, 80.1, 80.0, 79.9]})
    assert Better("a beats b", Ref(A), Ref(B)).check(s).verdict == "reproduced"  # sign only: +0.55
    found = Better("a beats b by 5", Ref(A), Ref(B), smallest=5.0, basis="half the published +10").check(s)
    assert found.verdict == "contradicted" and "half the published +10" in found.evidence
    assert found.to_dict()["effect"]["estimate"] == pytest.approx(0.55)
    assert {"claim", "verdict", "evidence", "check", "effect", "smallest_effect", "correction"} <= set(found.to_dict())


def test_equivalence_and_bounds_give_each_verdict():
    same = Same("a and b alike", Ref(A), Ref(B), margin=1.0)
    close = FakeSamples({(A, "test_acc"): [80.2, 80.0, 80.1, 79.9], (B, "test_acc"): [80.0, 80.1, 79.9, 80.0]})
    assert same.check(close).verdict == "reproduced"
    apart = FakeSamples({(A, "test_acc"): [85.2, 85.0, 85.1, 84.9], (B, "test_acc"): [80.0, 80.1, 79.9, 80.0]})
    assert same.check(apart).verdict == "contradicted"
    noisy = FakeSamples({(A, "test_acc"): [82.0, 78.0, 81.0, 79.0], (B, "test_acc"): [80.0, 80.1, 79.9, 80.0]})
    assert same.check(noisy).verdict == "inconclusive"
    chance = Within("b at chance", Ref(B), hi=15.0)
    assert chance.check(FakeSamples({(B, "test_acc"): [10.0, 10.5, 9.8]})).verdict == "reproduced"


def test_holm_keeps_a_five_part_claim_from_false_contradictions_under_the_null():
    """Five parts with no true effect (δ = 0): read one by one at 95% a claim is contradicted
    about 1 - 0.975^5 = 12% of the time; under Holm at most 5% (in fact about 2.5%)."""
    rng = np.random.default_rng(6)
    claim = AllOf("a beats b everywhere", tuple(Better(f"part {i}", Ref((f"a{i}",)), Ref((f"b{i}",)))
                                                for i in range(5)))
    alone = holm = 0
    sims = 400
    for _ in range(sims):
        data = {}
        for i in range(5):
            base = rng.normal(80, 1, 5)
            data[((f"a{i}",), "test_acc")] = list(base + rng.normal(0, 1, 5))
            data[((f"b{i}",), "test_acc")] = list(base)
        s = FakeSamples(data)
        holm += check_all([claim], s)[0].verdict == "contradicted"
        alone += any(p.check(s).verdict == "contradicted" for p in claim.parts)
    assert 0.07 <= alone / sims <= 0.18
    assert holm / sims <= 0.05
    found = check_all([claim], s)[0]
    assert found.correction == "Holm over 5 checks at 5% family-wise" and "Holm over 5 checks reads" in found.evidence


def test_ours_beside_published_and_our_control_enter_the_words():
    preset = SimpleNamespace(published={(A, ""): {"test_acc": 76.37}, (B, ""): {"test_acc": 65.12}})
    s = FakeSamples({(A, "test_acc"): [87.0, 88.0, 87.5], (B, "test_acc"): [28.0, 30.0, 29.0],
                     (C, "test_acc"): [88.0, 88.4, 87.9]}, preset=preset)
    found = Better("a beats b", Ref(A), Ref(B), smallest=5.6, control=Ref(C)).check(s)
    assert "published +11.25 points (76.37% vs 65.12%): same direction, ours larger than published" in found.evidence
    assert "our control c alone" in found.evidence and "a adds -0.60 points" in found.evidence
    assert "the control accounts for the effect" in found.evidence
    assert found.effect["published"] == pytest.approx(11.25) and found.effect["versus_published"] == "larger"


def test_censored_seeds_count_alike_in_the_table_and_the_findings():
    preset = PRESETS["selu-snn"]
    cells = [dataclasses.replace(c, seed_index=k) for c in preset.cells("quick") for k in range(4)]
    snn, regular = preset.cells("quick")[0].row, preset.cells("quick")[1].row
    per_seed = {(snn, "epochs_to_base_best"): [3.0, None, 4.0, None],  # two seeds never reach it
                (regular, "epochs_to_base_best"): [8.0, 9.0, 7.0, 9.0],
                (regular, "best_epoch"): [8.0, 9.0, 7.0, 9.0]}

    class Stub(tables.Samples):
        def result(self, row, column, k):
            return SimpleNamespace(status="completed", run_id=f"{row}-{k}")

        def values(self, row, column, metric, base_row=None):
            return list(per_seed.get((tuple(row), metric), [1.0, 2.0, 3.0, 4.0]))

        def correct(self, row, column, split):
            return None

    samples = Stub(preset, cells, {})
    rows = tables.uncertainty_rows(preset, cells, {}, samples)
    rec = next(r for r in rows if r["row"] == snn)
    entry = rec["metrics"][("Fashion-MNIST", "epochs_to_base_best")]
    assert entry["summary"]["values"] == [3.0, 11.0, 4.0, 11.0]  # 10 epochs at quick scale: 11
    assert any("2 seed(s) never reached it in 10 epochs, counted as 11" in n for n in rec["notes"])
    table_delta = entry["difference"]["mean"]
    found = check_all(preset.claims, samples)[1]  # the SNN against the regular network's best
    assert found.claim.startswith("(ours)")
    assert "2 seed(s) never reached it in 10 epochs, counted as 11" in found.evidence
    assert found.effect["estimate"] == pytest.approx(table_delta) == pytest.approx(-1.0)
    assert "best epoch is its run's last (10) in 0 of 4 seeds" in found.evidence
