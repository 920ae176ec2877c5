"""The stacked trainer against core.engine.loop.train: the same RunResult, bit for bit, per config."""
import numpy as np
import pandas as pd
import pytest
import torch

import core.engine.exact as exact
import core.engine.stacked as sweep
from core.base.config import RunConfig
from core.runs.store import RunStore
from core.engine.stacked import plan_stacks, stack_key, train_many
from core.runs.runner import get_or_train
from core.engine.loop import train

TIMING_META = ("seconds", "finished_at", "trained_with")


def assert_same_run(stacked, alone):
    """Everything but timings is equal: exactly, not approximately."""
    assert stacked.config == alone.config and stacked.status == alone.status
    pd.testing.assert_frame_equal(stacked.epochs.drop(columns="seconds"), alone.epochs.drop(columns="seconds"))
    for table in ("steps", "layer_stats", "layers"):
        pd.testing.assert_frame_equal(getattr(stacked, table), getattr(alone, table))
    assert stacked.histograms.keys() == alone.histograms.keys()
    for k, v in alone.histograms.items():
        np.testing.assert_array_equal(stacked.histograms[k], v, err_msg=k)
    assert stacked.state_dict.keys() == alone.state_dict.keys()
    for k, v in alone.state_dict.items():  # exact; NaN (a diverged run) equals NaN
        torch.testing.assert_close(stacked.state_dict[k], v, rtol=0, atol=0, equal_nan=True, msg=k)
    strip = lambda meta: {k: v for k, v in meta.items() if k not in TIMING_META}  # noqa: E731
    assert strip(stacked.meta) == strip(alone.meta)


# Small on purpose: 400 of the 8x8 digits, 7 steps per epoch.
BASE = RunConfig(dataset="digits", train_subset=400, widths=(24, 12), epochs=2, batch_size=64,
                 activation="selu", init="lecun_normal", standardize=True, log_every=3)


def test_configs_differing_in_seed_init_lr_and_noise_give_one_by_one_results():
    configs = [BASE, BASE.replace(seed=7), BASE.replace(init="he_uniform"), BASE.replace(lr=0.05),
               BASE.replace(grad_noise=0.5, noise_unit="step"),
               BASE.replace(optimizer="nadam", lr=2e-3, schedule="cosine", weight_decay=1e-3)]
    assert [len(g) for g in plan_stacks(configs)] == [len(configs)]
    events = []
    stacked = train_many(configs, on_event=events.append)
    for cfg, result in zip(configs, stacked):
        assert result.meta["trained_with"] == len(configs)
        assert_same_run(result, train(cfg))
    # every run reports its own progress, tagged with its run id
    ends = [e for e in events if e["kind"] == "end"]
    assert sorted(e["run_id"] for e in ends) == sorted(c.run_id for c in configs)


@pytest.mark.parametrize("activation", ["logistic", "relu", "gelu", "linear"])
def test_stackable_activations_give_one_by_one_results(activation):
    # widths below 16, odd sizes and a short last batch: where batched products differ
    base = RunConfig(dataset="digits", train_subset=450, widths=(9, 33), epochs=1, batch_size=100,
                     activation=activation, log_every=2)
    configs = [base, base.replace(seed=3), base.replace(lr=0.1)]
    for cfg, result in zip(configs, train_many(configs)):
        assert_same_run(result, train(cfg))


def test_a_run_that_diverges_in_a_stack_ends_as_it_would_alone():
    base = RunConfig(dataset="digits", train_subset=640, widths=(128,) * 4, activation="relu",
                     init="normal", optimizer="sgd", epochs=2, log_every=5)
    configs = [base.replace(lr=0.001), base.replace(lr=1.0), base.replace(lr=0.001, seed=5)]
    results = train_many(configs)
    assert [r.status for r in results] == ["completed", "diverged", "completed"]
    for cfg, result in zip(configs, results):
        assert_same_run(result, train(cfg))


def test_cancelling_stops_every_run_at_the_same_step():
    def stop_after(n):
        calls = []
        return lambda: calls.append(1) or len(calls) >= n

    configs = [BASE.replace(epochs=3), BASE.replace(epochs=3, seed=2)]
    results = train_many(configs, should_stop=stop_after(4))
    assert [r.status for r in results] == ["cancelled", "cancelled"]
    for cfg, result in zip(configs, results):
        assert len(result.steps) == 4
        assert_same_run(result, train(cfg, should_stop=stop_after(4)))


def test_configs_that_cannot_stack_are_trained_one_by_one(monkeypatch):
    base = BASE.replace(epochs=1, train_subset=200)
    odd = [base.replace(bn="before"), base.replace(arch="vgg", vgg_filters=2),
           base.replace(dropout=0.2), base.replace(residual=True), base.replace(activation="prelu"),
           base.replace(input_noise=0.05)]
    assert all(stack_key(c) is None for c in odd)
    other_shape = [base.replace(widths=(16, 16)), base.replace(batch_size=32), base.replace(epochs=2)]
    configs = [base, *odd, base.replace(seed=9), *other_shape]
    groups = plan_stacks(configs)
    assert [len(g) for g in groups] == [2] + [1] * (len(odd) + len(other_shape))
    stacked_groups = []
    real = sweep._train_stacked
    monkeypatch.setattr(sweep, "_train_stacked", lambda g, *a: stacked_groups.append(g) or real(g, *a))
    results = train_many(configs)
    assert stacked_groups == [[base, base.replace(seed=9)]]
    for cfg, result in zip(configs, results):
        assert result.config == cfg and result.status == "completed"
        assert ("trained_with" in result.meta) == (cfg in stacked_groups[0])
    assert_same_run(results[1], train(odd[0]))


def test_a_batched_product_that_disagrees_with_the_loop_is_not_used(monkeypatch):
    monkeypatch.setattr(exact, "_VERDICTS", {})
    wrong = lambda g, out: out.copy_(torch.sum(g, dim=1) + 1)  # noqa: E731
    g = torch.randn(3, 5, 4)
    out = exact.exact("bgrad", wrong, exact._bgrad_looped, g, out=torch.empty(3, 4))
    for c in range(3):
        assert torch.equal(out[c], g[c].sum(0))
    assert list(exact._VERDICTS.values()) == [False]


def test_stacks_are_split_to_fit_the_memory_limit(monkeypatch):
    monkeypatch.setattr(sweep, "max_stack", lambda cfg: 3)
    groups = plan_stacks([BASE.replace(seed=s) for s in range(7)])
    assert [len(g) for g in groups] == [3, 3, 1]


def test_get_or_train_loads_stored_runs_and_trains_the_rest_once(isolated_cache):
    store = RunStore(isolated_cache)
    configs = [BASE.replace(seed=s) for s in range(3)]
    get_or_train(store, [configs[1]])
    trained = []
    counting = lambda cs, *a: trained.append(cs) or train_many(cs, *a)  # noqa: E731
    wanted = [configs[0], configs[1], configs[2], configs[0]]
    results = get_or_train(store, wanted, trainer=counting)
    assert [r.config for r in results] == wanted
    assert [r.cached for r in results] == [False, True, False, False]
    assert trained == [[configs[0], configs[2]]]
    assert set(store.list_ids()) == {c.run_id for c in configs}
    again = get_or_train(store, wanted, trainer=counting)
    assert all(r.cached for r in again) and len(trained) == 1
    assert_same_run(results[2], train(configs[2]))
