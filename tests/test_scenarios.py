"""Each Home card demonstrates what it says: its trained run's diagnosis shows its `outcome`, and no
diagnosis shows 'healthy' beside a problem about the same signal."""
import pytest

from core.base.config import RunConfig
from core.engine.loop import train
from core.lab.diagnosis import DIVERGES, diagnose
from core.lab.scenarios import SCENARIOS, SCENARIOS_BY_KEY

_trained = {}


def trained(key):
    if key not in _trained:
        _trained[key] = train(SCENARIOS_BY_KEY[key].config)
    return _trained[key]


def _texts(findings, severity):
    return " ".join(f.text for f in findings if f.severity == severity)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.key for s in SCENARIOS])
def test_each_home_card_shows_what_it_claims(scenario):
    result = trained(scenario.key)
    findings = diagnose(result)
    problems = {f.kind for f in findings if f.severity == "problem"}
    oks = {f.kind for f in findings if f.severity == "ok"}
    if scenario.outcome == "healthy":
        assert not problems, [f.text for f in findings]
        assert "healthy" in oks
    elif scenario.outcome == "vanishing":
        assert "vanishing" in problems
    elif scenario.outcome == "exploding":
        assert problems & DIVERGES and not oks, [f.text for f in findings]
    elif scenario.outcome == "no gradient":
        assert "zero_gradient" in problems
        assert "exactly 0" in _texts(findings, "problem")
    # never "healthy" beside a problem about the same signal
    for ok in (f for f in findings if f.severity == "ok"):
        assert all(p.signal != ok.signal for p in findings if p.severity == "problem")
    # one button per distinct change
    run_ids = [r.config.run_id for f in findings for r in f.remedies]
    labels = [r.label for f in findings for r in f.remedies]
    assert len(run_ids) == len(set(run_ids)) and len(labels) == len(set(labels))
    assert all(len(label) <= 44 for label in labels), labels


def test_skips_give_the_sigmoid_net_more_gradient_than_without_them():
    with_skips, without = trained("residual"), trained("sigmoid-vanishes")
    assert with_skips.grad_ratio("init") > 30 * without.grad_ratio("init")
    assert with_skips.grad_ratio("final") > 30 * without.grad_ratio("final")


def test_a_finite_but_enormous_loss_is_called_an_explosion():
    # N(0,1) weights on a ReLU net: logits around 1e9, a tiny learning rate keeps them finite
    cfg = RunConfig(dataset="digits", activation="relu", init="normal", widths=(256,) * 4, lr=1e-7,
                    optimizer="sgd", epochs=1)
    result = train(cfg)
    assert result.status == "completed"
    findings = diagnose(result)
    problems = _texts(findings, "problem")
    assert "loss exploded" in problems, [f.text for f in findings]
    assert not [f for f in findings if f.severity == "ok" and f.signal == "gradient flow"]
    assert any(r.label == "He normal init" for f in findings for r in f.remedies)


def test_the_home_picture_caption_is_generated_from_its_numbers():
    from core.lab.scenarios import picture_caption

    text = picture_caption({"a": [1e-6, 1e-3, 1.0], "b": [0.9, 1.0], "c": [5.0, 1.0], "d": [1.0]})
    assert "a: layer 1's gradient is about 1,000,000 times smaller than" in text
    assert "about 15,000,000 times" in picture_caption({"e": [1 / 14_908_278, 1.0]})
    assert "b: layer 1's gradient is about as large as" in text and "c: layer 1's gradient is 5.0 times as large as" in text
    assert "d:" not in text  # one layer: no ratio to state
