"""Signal propagation for every network the app builds (core.engine.signalprop), checked against
closed forms and against random networks measured in plain PyTorch."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from core.base.config import ACTIVATIONS, RunConfig
from core.base.datasets import DATASET_INFO
from core.engine.signalprop import CLOSED_FORM_SLOPE, Site, _Walk, predict, unit_second_moment


def _moment(t: torch.Tensor) -> float:
    return float(t.double().pow(2).mean())


def test_the_closed_form_table_names_every_activation_of_the_config():
    assert set(CLOSED_FORM_SLOPE) == set(ACTIVATIONS)


@pytest.mark.parametrize("name,slope,expected", [("relu", 0.01, 0.5), ("leaky_relu", 0.2, 0.52),
                                                 ("leaky_relu", 0.01, 0.50005), ("prelu", 0.01, (1 + 0.25 ** 2) / 2)])
def test_leaky_relu_keeps_one_plus_a_squared_over_two_of_a_symmetric_input(name, slope, expected):
    assert unit_second_moment(name, slope) == pytest.approx(expected, rel=1e-12)
    z = torch.randn(2_000_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    a = 0.25 if name == "prelu" else 0.0 if name == "relu" else slope
    assert _moment(F.leaky_relu(z, a)) / _moment(z) == pytest.approx(expected, rel=0.01)


def test_a_smooth_activation_goes_by_quadrature_and_agrees_with_the_mean_field_maps():
    from core.engine.meanfield import theory_for_config

    cfg = RunConfig(dataset="digits", widths=(64,) * 5, activation="tanh", init="he_normal", bias_std=0.1)
    pred = predict(cfg, q0=1.0)
    q = theory_for_config(cfg, q0=1.0).per_layer_q
    assert pred.frame["pre_var"].iloc[:5].tolist() == pytest.approx(list(q), rel=1e-3)


def test_pytorch_default_init_has_variance_one_over_three_fan_in_and_a_conv_fan_in_of_nine_channels():
    torch.manual_seed(0)
    conv = nn.Conv2d(64, 64, 3, bias=False)  # PyTorch's default: kaiming_uniform(a = sqrt(5))
    assert float(conv.weight.detach().var()) == pytest.approx(1 / (3 * 9 * 64), rel=0.02)
    x = torch.randn(16, 64, 20, 20)
    y = conv(x)  # no padding: every output sees the full 3 x 3 x 64 fan-in
    cfg = RunConfig(arch="vgg", init="torch_default", activation="linear")
    walk = _Walk(cfg, {})
    out = walk.weight(conv, Site(var=1.0), True)
    assert out.second == pytest.approx(1 / 3)  # fan_in x Var(W) = 576 / (3 x 576)
    assert _moment(y) == pytest.approx(out.second, rel=0.05)


def test_average_pooling_of_independent_inputs_divides_their_variance_by_four_and_keeps_the_mean():
    x = 0.5 + 2.0 * torch.randn(8, 16, 64, 64, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    walk = _Walk(RunConfig(), {})
    out = walk.pool(Site(mean=0.5, spread=0.0, var=4.0, size=(64, 64)))
    assert (out.mean, out.var, out.size) == (0.5, 1.0, (32, 32))
    assert _moment(F.avg_pool2d(x, 2)) == pytest.approx(out.second, rel=0.01)


def _block_moments(cfg, x):
    """The second moment at every activation output of cfg's network, measured by plain hooks."""
    from core.engine.models import build_model

    net = build_model(cfg, DATASET_INFO[cfg.dataset])
    seen = []
    hooks = [a.register_forward_hook(lambda m, i, o: seen.append(_moment(o))) for a in net.activations]
    with torch.no_grad():
        net(x)
    for h in hooks:
        h.remove()
    return seen


@pytest.mark.parametrize("bn,expected", [("none", [1, 2, 4, 8, 16]), ("before", [1, 2, 3, 4, 5])])
def test_residual_variance_grows_exponentially_without_batch_norm_and_linearly_with_it(bn, expected):
    """Linear units of variance-preserving weights: a block adds its branch, of the input's own
    size (x2 per block) or, normalized, of size 1 (+1 per block: De & Smith 2020)."""
    cfg = RunConfig(dataset="digits", widths=(1024,) * 9, activation="linear", init="lecun_normal",
                    residual=True, residual_every=2, bn=bn)
    x = torch.randn(512, 64, generator=torch.Generator().manual_seed(2))
    pred = predict(cfg, x=x)
    predicted = pred.frame["second_moment"].iloc[[0, 2, 4, 6, 8]].to_numpy()
    assert predicted / predicted[0] == pytest.approx(expected, rel=1e-3 if bn == "none" else 1e-2)
    measured = _block_moments(cfg, x)
    measured = [measured[i] / measured[0] for i in (0, 2, 4, 6, 8)]
    assert measured == pytest.approx(expected, rel=0.15)


@pytest.mark.parametrize("filters", [16, 32])
def test_plain_vgg38s_predicted_collapse_is_within_a_decade_of_the_measured(filters):
    """One network's log10 collapse (the expected log: finite-width corrected) against the mean
    over three seeds of the measured one, on the preset's digits."""
    from core.engine.data import prepare_data

    cfg = RunConfig(arch="vgg", vgg_blocks=5, vgg_filters=filters, activation="leaky_relu", init="torch_default",
                    dataset="mnist-5k")
    x = prepare_data(cfg, "cpu", allow_download=False).x_train[:24]
    pred = predict(cfg, x=x)
    assert pred.mean_factor == pytest.approx(0.157, abs=0.002)  # ~1/6 with zero padding's border
    measured = []
    for seed in range(3):
        q = _block_moments(cfg.replace(seed=seed), x)
        measured.append(math.log10(q[-1] / q[0]))
    mean = sum(measured) / 3
    assert abs(pred.log10_typical_collapse - mean) < 1.0, (pred.log10_typical_collapse, measured)
    assert pred.log10_collapse > pred.log10_typical_collapse  # finite width lowers one network's log


def test_batch_norm_resets_the_variance_and_dropout_scales_it():
    cfg = RunConfig(dataset="digits", widths=(256,) * 4, activation="relu", init="he_normal", bn="before")
    pred = predict(cfg)
    assert pred.frame["second_moment"].iloc[:4].tolist() == pytest.approx([0.5] * 4, rel=1e-3)
    drop = predict(RunConfig(dataset="digits", widths=(256,) * 2, activation="relu", init="he_normal", dropout=0.5))
    plain = predict(RunConfig(dataset="digits", widths=(256,) * 2, activation="relu", init="he_normal"))
    assert drop.frame["pre_var"].iloc[1] == pytest.approx(2 * plain.frame["pre_var"].iloc[1], rel=1e-6)


def test_the_signal_propagation_plot_reads_blocks_and_residual_branches_without_changing_the_network():
    from core.engine.models import build_model
    from core.engine.spp import spp_at

    cfg = RunConfig(dataset="digits", arch="vgg", vgg_blocks=1, vgg_filters=4, vgg_stages=2, residual=True, bn="before")
    net = build_model(cfg, DATASET_INFO["digits"])
    before = {k: v.clone() for k, v in net.state_dict().items()}
    frame = spp_at(net, torch.randn(8, 1, 8, 8))
    assert list(dict.fromkeys(frame["name"])) == ["entry", "s1.b1", "s1.red", "s2.b1", "s2.red"]
    assert set(frame[frame["stat"] == "branch_var"]["name"]) == {"s1.b1", "s2.b1"}
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    entry = frame[(frame["name"] == "entry") & (frame["stat"] == "channel_var")]["value"].iloc[0]
    assert 0 < entry < 10


def test_words_say_where_the_forms_stop():
    from core.lab.signalprop import compare_flow, flow_sentences, gap_sentences

    cmp = compare_flow(RunConfig(dataset="digits", widths=(32,) * 4, activation="tanh"))
    words = " ".join(flow_sentences(cmp) + gap_sentences(cmp))
    assert "measured here" in words and "initialization only" in words
    fake = cmp.__class__(cmp.cfg, cmp.prediction, cmp.frame, cmp.prediction.log10_typical_collapse - 5, 0.1)
    assert "beyond" in " ".join(gap_sentences(fake)) and "units are far from the wide limit" in " ".join(gap_sentences(fake))
    exploding = compare_flow(RunConfig(dataset="digits", widths=(64,) * 4, activation="relu", init="normal"))
    assert exploding.measured_collapse > 0 and "The measured growth" in " ".join(gap_sentences(exploding))


def test_probe_spp_json(capsys):
    import json

    from core.cli import main

    assert main(["probe", "--dataset", "digits", "-n", "16", "16", "-a", "relu", "--spp", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)["spp"]
    assert {r["stat"] for r in out["plot"]} == {"sq_channel_mean", "channel_var"}
    assert [r["name"] for r in out["layers"]] == ["fc1", "fc2", "out"] and out["sentences"]
    assert main(["probe", "--spp", "--spp-steps", "-1"]) == 2
    assert "--spp-steps" in capsys.readouterr().err
