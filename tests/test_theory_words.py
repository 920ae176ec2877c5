"""The theory's sentences (core.lab.theory) never contradict its numbers: ordered, critical and
chaotic cases, the transient towards the fixed point, and a measurement away from the prediction."""
import dataclasses
import math
import re

import pandas as pd
import pytest

from core.engine import meanfield as mf
from core.engine.prediction import Comparison
from core.lab import theory as words


def _comparison(p, measured: float, note: str = "") -> Comparison:
    return Comparison(p, pd.DataFrame(), math.nan, math.nan, math.nan, math.nan, 1.0, measured, note)


def _point(chi_star: float, per_layer: tuple, q: tuple, q_star: float = 1.0, phase: str | None = None):
    """A Propagation with chosen numbers (the words must follow whatever the numbers say)."""
    base = mf.signal_propagation("tanh", 1.5, 0.05, depth=len(q))
    phase = phase or ("ordered" if chi_star < 0.99 else "chaotic" if chi_star > 1.01 else "critical")
    return dataclasses.replace(base, chi1=chi_star, phase=phase, q_star=q_star, per_layer_q=q,
                               per_layer_chi1=per_layer, grad_growth=math.prod(per_layer))


def test_critical_exactly_neither_grows_nor_shrinks_and_a_transient_shrink_says_why():
    """chi_1 = 1 at the fixed point but each layer on the way multiplies by less than 1: the
    sentence names the phase, the predicted shrink and why it is not chi_1^(L-1) = 1."""
    p = _point(1.0, (0.8,) * 9, tuple(0.2 / (1 + k) for k in range(10)), q_star=2e-16)
    phase, predicted = words.phase_sentence(p), words.prediction_sentence(p)
    assert phase.startswith("critical phase") and "neither grows nor shrinks" in phase
    assert f"shrinks by about {1 / 0.8 ** 9:.3g}x" in predicted
    assert "At the fixed point it would stay the same (χ₁⁹ = 1)" in predicted
    assert "have not reached it" in predicted and "falls from 0.2 to 0.02 on its way to q* = 0" in predicted
    assert "below 1 (0.8 to 0.8)" in predicted
    assert "neither grows nor shrinks" in words.plain_phase_sentence(p)
    near = _point(1.008, (1.008,) * 4, (1.0,) * 5)  # critical within 1%: the plain words say how near
    assert words.plain_phase_sentence(near).endswith("a layer changes the gradient by under 0.8%.")


def test_ordered_and_chaotic_say_the_direction_of_their_numbers():
    ordered = _point(0.5, (0.5,) * 4, (1.0,) * 5)
    chaotic = _point(1.5, (1.5,) * 4, (1.0,) * 5)
    assert words.phase_sentence(ordered).startswith("ordered phase (χ₁ = 0.5 < 1 at the fixed point)")
    assert "so it vanishes with depth" in words.phase_sentence(ordered)
    assert "shrinks by about 16x." in words.prediction_sentence(ordered)
    plain = words.plain_phase_sentence(ordered) + words.prediction_sentence(ordered, plain=True)
    assert "vanishes with depth" in plain and "shrinks about 16 times." in plain and "χ₁" not in plain
    assert [words._change(r, plain=True) for r in (1 / 5.8e8, 3.04e9, 1 / 12345, 1 / 2e20)] == [
        "shrinks about 580 million times", "grows about 3 billion times", "shrinks about 12,000 times",
        "shrinks about 10²⁰ times"]
    assert words.phase_sentence(chaotic).startswith("chaotic phase (χ₁ = 1.5 > 1")
    assert "grows by about 5.06x." in words.prediction_sentence(chaotic)
    for p in (ordered, chaotic):  # at the fixed point already: nothing to explain
        assert "have not reached" not in words.prediction_sentence(p)


def test_a_measurement_near_the_prediction_agrees_and_one_far_away_is_named_finite_width():
    from core.base.config import RunConfig

    p = _point(1.2, (1.2,) * 9, (1.0,) * 10)
    near = words.measured_sentence(_comparison(p, p.grad_growth * 1.2))
    assert "grows by about" in near and "as predicted (within a factor of 1.2)" in near
    cfg = RunConfig(widths=(16,) * 10, activation="tanh")
    far = words.measured_sentence(_comparison(p, p.grad_growth / 3), cfg)
    assert "ending 3x lower than predicted" in far and "infinitely wide" in far and "width 16" in far
    opposite = words.measured_sentence(_comparison(p, 0.5), cfg)
    assert "it shrinks by about 2x" in opposite and "lower than predicted" in opposite
    assert "Not measured on this network (too big)" in words.measured_sentence(_comparison(p, math.nan, "too big"))


def _verbs(text: str) -> list[str]:
    return re.findall(r"\b(grows|shrinks|stays|explodes|vanishes)\b", text)


@pytest.mark.parametrize("activation", ["tanh", "logistic", "relu", "selu", "erf" if "erf" in mf.ACTIVATION_SPECS else "elu"])
@pytest.mark.parametrize("sigma_w2", [0.5, 1.0, 1.5, 2.0, 3.0])
@pytest.mark.parametrize("sigma_b2", [0.0, 0.05])
def test_on_real_points_the_words_follow_the_numbers(activation, sigma_w2, sigma_b2):
    """Over a grid of real mean-field points: the phase word is chi_1's side of 1, the predicted
    verb is the predicted product's direction, and where the phase's own direction differs from
    it the sentence explains the difference."""
    p = mf.signal_propagation(activation, sigma_w2, sigma_b2, depth=12, q0=0.1)
    phase, predicted = words.phase_sentence(p), words.prediction_sentence(p)
    assert phase.startswith(p.phase)
    said = _verbs(predicted)[0]
    assert said == words._direction(p.grad_growth)
    promised = {"ordered": "shrinks", "chaotic": "grows"}.get(p.phase)
    if "neither grows nor shrinks" in phase:
        promised = "stays"
    if promised and said != promised and math.isfinite(p.q_star):
        assert "have not reached it" in predicted, (phase, predicted)


def test_the_glossary_explains_every_word_the_sentences_use():
    for term in ("σ_w²", "σ_b²", "Length map", "Fixed point q\\*", "χ₁", "Ordered / critical / chaotic",
                 "Wide-network limit"):
        assert term in words.GLOSSARY


def test_a_small_gap_on_a_huge_change_agrees_and_large_changes_read_in_words():
    p = _point(0.06, (0.06,) * 49, (0.5,) * 50)  # shrinks by about 1e60x
    deep = words.measured_sentence(_comparison(p, p.grad_growth / 2.6))
    assert "as predicted (within a factor of 2.6)" in deep and "infinitely wide" not in deep
    assert words._change(1003.0) == "grows by about 1,003x" and words._change(1 / 2.5e7) == "shrinks by about 2.5e+07x"
    assert words._change(1.003) == "stays the same" and words._change(0.97) == "stays about the same (within a factor of 1.03)"
