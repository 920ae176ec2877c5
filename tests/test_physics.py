"""Known results about gradient flow at initialization and in training, on real digits."""
import numpy as np
import pytest

from core.base.config import RunConfig
from core.engine.probe import probe_at_init
from core.engine.result import gradient_ratio
from core.engine.loop import train

DEEP = (128,) * 8


def hidden_ratio(flow):
    """First over last hidden layer (the output layer has no activation in front of it)."""
    g = flow["grad_mean_abs"].to_numpy()[:-1]
    return g[0] / g[-1]


def test_deep_logistic_glorot_gradients_shrink_toward_the_input():
    flow = probe_at_init(RunConfig(activation="logistic", init="glorot_uniform", widths=DEEP))
    g = flow["grad_mean_abs"].to_numpy()
    assert np.all(np.diff(g) > 0), g  # strictly growing from input to output
    assert gradient_ratio(flow["grad_mean_abs"]) < 1e-4
    # each logistic layer passes back at most 1/4 of the signal: about 4x per layer or worse
    assert hidden_ratio(flow) < 0.25 ** 5


def test_batch_norm_removes_most_of_the_vanishing():
    plain = probe_at_init(RunConfig(activation="logistic", widths=DEEP))
    bn = probe_at_init(RunConfig(activation="logistic", widths=DEEP, bn="before"))
    assert hidden_ratio(bn) > 0.2
    assert hidden_ratio(bn) > 1e4 * hidden_ratio(plain)


def test_residual_connections_shorten_the_path_of_the_gradient():
    # 20 logistic layers: the skips give the gradient a path past half of the layers
    plain = probe_at_init(RunConfig(activation="logistic", widths=(128,) * 20))
    res = probe_at_init(RunConfig(activation="logistic", widths=(128,) * 20, residual=True))
    assert hidden_ratio(plain) < 1e-10
    assert hidden_ratio(res) > 1e4 * hidden_ratio(plain)


def test_selu_lecun_normal_keeps_activations_near_unit_std_through_20_layers():
    flow = probe_at_init(RunConfig(activation="selu", init="lecun_normal", standardize=True,
                                   widths=(100,) * 20))
    std = flow["act_std"].dropna().to_numpy()
    assert len(std) == 20
    assert np.all((std > 0.75) & (std < 1.25)), std
    # the same network with tanh and N(0,1) weights saturates instead
    sat = probe_at_init(RunConfig(activation="tanh", init="normal", standardize=True, widths=(100,) * 20))
    assert sat["act_saturation"].dropna().mean() > 0.8


def test_relu_with_standard_normal_init_explodes():
    flow = probe_at_init(RunConfig(activation="relu", init="normal", widths=(256,) * 6))
    std = flow["act_std"].dropna().to_numpy()
    assert np.all(np.diff(std) > 0) and std[-1] / std[0] > 1e3
    assert flow["loss"].iloc[0] > 100  # the logits are huge before any training


def test_he_init_keeps_relu_signal_steady():
    std = probe_at_init(RunConfig(activation="relu", init="he_normal", widths=(256,) * 12))["act_std"].dropna()
    assert std.max() / std.min() < 3


def test_logistic_with_normal_init_saturates():
    flow = probe_at_init(RunConfig(activation="logistic", init="normal", widths=(256,) * 5))
    assert flow["act_saturation"].dropna().mean() > 0.5
    glorot = probe_at_init(RunConfig(activation="logistic", init="glorot_uniform", widths=(256,) * 5))
    assert glorot["act_saturation"].dropna().mean() < 0.01


def test_deep_sigmoid_net_barely_learns_where_relu_he_learns():
    common = dict(widths=(128,) * 6, epochs=3, batch_size=64, lr=0.01)
    sigmoid = train(RunConfig(activation="logistic", **common))
    relu = train(RunConfig(activation="relu", init="he_normal", **common))
    assert sigmoid.final_metrics()["test_acc"] < 0.3
    assert relu.final_metrics()["test_acc"] > 0.85


def test_exploding_run_ends_as_diverged_with_its_statistics_kept():
    cfg = RunConfig(activation="relu", init="normal", widths=(256,) * 6, lr=1.0, optimizer="sgd",
                    epochs=2, log_every=1)
    result = train(cfg)
    assert result.status == "diverged"
    step = result.diverged_step
    assert step is not None and step < 20
    assert "step" in result.meta["diverged_reason"]
    assert result.layer_stats.step.max() <= step
    assert not result.layer_stats.empty
