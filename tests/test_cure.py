"""Explore's "Compare with the cure": a problem and its cure on shared axes (core.lab.cures,
pages/cure_views.py)."""
import json

from core.base.config import RunConfig
from core.engine.loop import train
from core.lab.cures import CARD_CURES, cure_pairs, flow_pair, flow_sentence
from core.lab.diagnosis import diagnose
from core.lab.scenarios import SCENARIOS, SCENARIOS_BY_KEY
from core.runs.store import RunStore
from core.views.links import config_to_query

from apptest_helpers import charts, fresh_app_caches, open_page, texts, wait_for_jobs  # noqa: F401

import pandas as pd

ZEROS = RunConfig(dataset="digits", widths=(16, 16), epochs=2, batch_size=64, activation="tanh", init="zeros")


def _series(at) -> list[set]:
    """Per chart on the page: the values of its 'series' field, from the data the chart carries."""
    out = []
    for c in charts(at):
        rows = [row for d in json.loads(c.proto.spec).get("datasets", {}).values() for row in d]
        rows += [row for d in c.proto.datasets for row in _arrow_rows(d)]
        out.append({r["series"] for r in rows if isinstance(r, dict) and "series" in r})
    return out


def _arrow_rows(named) -> list[dict]:
    import pyarrow as pa

    return pa.ipc.open_stream(named.data.data).read_all().to_pylist()


def test_every_problem_card_has_a_cure_and_the_cure_cards_point_back():
    for s in SCENARIOS:
        pairs = cure_pairs(s.config)
        if s.key in CARD_CURES:
            assert pairs and all(p.problem == s.config and p.source == "card" for p in pairs), s.key
            assert all(p.cure.run_id != s.config.run_id for p in pairs)
    [bn] = cure_pairs(SCENARIOS_BY_KEY["bn-fixes-it"].config)  # a cure card: the problem it fixes
    assert bn.problem == SCENARIOS_BY_KEY["sigmoid-vanishes"].config and bn.cure_label == "Batch norm fixes it"
    assert cure_pairs(SCENARIOS_BY_KEY["selu"].config) == []  # healthy, no card to pair with


def test_any_network_with_a_remedy_pairs_with_it(isolated_cache):
    result = train(ZEROS)
    pairs = cure_pairs(ZEROS, diagnose(result))
    assert [p.cure_label for p in pairs][:1] == ["Glorot uniform init"]
    assert pairs[0].cure == ZEROS.replace(init="glorot_uniform") and pairs[0].problem_label == "this network"
    flow = lambda v: pd.DataFrame({"layer": [1, 2, 3], "name": ["fc1", "fc2", "out"], "value": v})  # noqa: E731
    frame = flow_pair(pairs[0], flow([1e-6, 1e-2, 1.0]), flow([0.5, 1.0, 1.0]))
    sentence = flow_sentence(frame, "at initialization")
    assert sentence.startswith("At initialization, layer 1's mean |gradient|")
    assert "1.0e-04 for the problem (this network)" in sentence and "0.5 for the cure (Glorot uniform init)" in sentence
    assert "sizes differ" not in sentence  # last hidden layers 1e-2 and 1.0: within 100x
    # N(0,1) in a ReLU network: an even ratio, at a size 20 million times the cure's
    loud = flow_sentence(flow_pair(pairs[0], flow([1e4, 2e4, 5e4]), flow([5e-4, 1e-3, 2e-3])), "at initialization")
    assert "0.5 for the problem" in loud and ("the problem's mean |gradient| is 2.0e+04 and the cure's 0.001, "
                                              "about 20,000,000 times apart.") in loud


def test_a_home_card_and_its_cure_share_one_gradient_flow_chart_before_training():
    card = SCENARIOS_BY_KEY["sigmoid-vanishes"]
    at = open_page("pages/explore.py", config_to_query(card.config))
    assert not at.exception
    before = len(charts(at))
    at.toggle(key="cure-on").set_value(True).run()
    assert not at.exception
    flows = [s for s in _series(at) if any(v.startswith("problem: ") for v in s)]
    assert flows == [{"problem: Deep sigmoid net vanishes", "cure: Batch norm fixes it"}]
    assert len(charts(at)) == before + 1  # before training: the flow at initialization only
    assert "for the problem (Deep sigmoid net vanishes)" in texts(at)
    assert any(b.label == "Train the problem and the cure" for b in at.button)
    at.selectbox(key="cure-pair").set_value(cure_pairs(card.config)[1]).run()  # the other cure of the card
    assert {"cure: ReLU with He init learns"} <= set().union(*_series(at))


def test_stored_problem_and_cure_share_flow_curves_and_one_histogram_axis(isolated_cache):
    RunStore(isolated_cache).save(train(ZEROS))
    at = open_page("pages/explore.py", config_to_query(ZEROS))
    at.toggle(key="cure-on").set_value(True).run()
    assert not at.exception
    train_cure = next(b for b in at.button if b.label == "Train the cure")  # the queue path of the page
    train_cure.click().run()
    assert not at.exception
    wait_for_jobs()
    at.run()
    assert not at.exception and RunStore(isolated_cache).has(ZEROS.replace(init="glorot_uniform").run_id)
    both = {"problem: this network", "cure: Glorot uniform init"}
    paired = [s for s in _series(at) if s == both]
    assert len(paired) >= 3  # gradient flow, training loss, test accuracy: one chart each, both series
    at.radio(key="cure-when").set_value("init").run()
    assert not at.exception and sum(s == both for s in _series(at)) >= 3
    specs = [json.loads(c.proto.spec) for c in charts(at)]
    ridges = [s for s in specs if (s.get("title") or {}).get("text") in ("problem", "cure")]  # side by side
    domains = {json.dumps(_x_domain(s)) for s in ridges if _x_domain(s)}
    assert len([s for s in ridges if _x_domain(s)]) == 6 and len(domains) == 1  # 3 layers x 2 runs, one axis


def _x_domain(spec: dict):
    for layer in spec.get("layer", [spec]):
        x = layer.get("encoding", {}).get("x", {})
        if x.get("field") == "center":
            return x.get("scale", {}).get("domain")
    return None
