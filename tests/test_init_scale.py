"""init_gain and bias_std: the weight scale of the theory as settings; stored run ids unchanged."""
import math

import pytest
import torch

from core.base.config import RunConfig
from core.base.datasets import DATASET_INFO
from core.engine.meanfield import config_sigmas, init_sigma_w2
from core.engine.models import build_model

# Run ids computed at HEAD b797ef2, before the two fields existed: defaults must keep them.
KNOWN_IDS = [
    ({}, "8fbd7460b4e114e3"),
    (dict(activation="tanh", widths=(64, 64, 64), init="orthogonal"), "a62bdff44b0651ec"),
    (dict(arch="vgg", bn="before", epochs=3), "928e5258b6f0fa32"),
    (dict(activation="relu", init="torch_default", dropout=0.2, seed=3), "2bc5c609be124fd3"),
    (dict(dataset="digits", widths=(16, 16), epochs=1, activation="tanh"), "fe8c0e21516f3742"),
]


@pytest.mark.parametrize("changes,run_id", KNOWN_IDS)
def test_run_ids_of_existing_configs_are_unchanged(changes, run_id):
    cfg = RunConfig(**changes)
    assert cfg.run_id == run_id
    assert cfg.replace(init_gain=1.0, bias_std=0.0).run_id == run_id
    assert "init_gain" not in cfg.key_dict() and "bias_std" not in cfg.key_dict()


def test_set_fields_enter_the_key():
    base = RunConfig()
    ids = {base.run_id, base.replace(init_gain=1.5).run_id, base.replace(bias_std=0.1).run_id}
    assert len(ids) == 3
    assert RunConfig(init="zeros", init_gain=2.0).run_id == RunConfig(init="zeros").run_id  # gain on 0 is 0


def _hidden(net):
    return [m for m in net.layers[1:-1]]


@pytest.mark.parametrize("init", ["he_normal", "glorot_uniform", "orthogonal", "torch_default"])
def test_gain_scales_the_measured_weight_std(init):
    info = DATASET_INFO["mnist-5k"]
    cfg = RunConfig(widths=(256, 256, 256), init=init, activation="tanh")
    plain = build_model(cfg, info)
    scaled = build_model(cfg.replace(init_gain=1.7), info)
    for a, b in zip(plain.layers, scaled.layers):  # same seed: the same draw, times the gain
        assert torch.allclose(b.weight, 1.7 * a.weight, rtol=1e-6, atol=1e-7)
    w = _hidden(scaled)[0].weight
    expected = math.sqrt(init_sigma_w2(init, 256, 256) / 256) * 1.7
    assert w.std().item() == pytest.approx(expected, rel=0.03)


def test_bias_std_is_measured_and_zero_by_default():
    info = DATASET_INFO["mnist-5k"]
    cfg = RunConfig(widths=(1024, 1024, 1024), activation="tanh")
    assert all(float(m.bias.detach().abs().max()) == 0 for m in build_model(cfg, info).layers)
    net = build_model(cfg.replace(bias_std=0.3), info)
    biases = torch.cat([m.bias.detach() for m in net.layers])
    assert biases.std().item() == pytest.approx(0.3, rel=0.05) and abs(biases.mean().item()) < 0.02
    own = build_model(RunConfig(widths=(512, 512), init="torch_default"), info).layers[0].bias
    assert own.abs().max().item() > 0 and own.abs().max().item() <= 1 / math.sqrt(784)  # its own U(+-1/sqrt(fan_in))


def test_default_initialization_is_bit_identical():
    """gain 1 and bias std 0 draw nothing extra: stored runs reproduce as before."""
    info = DATASET_INFO["digits"]
    cfg = RunConfig(dataset="digits", widths=(16, 16), activation="tanh")
    torch.manual_seed(cfg.seed)
    a = build_model(cfg, info).state_dict()
    b = build_model(cfg.replace(init_gain=1.0, bias_std=0.0), info).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_config_sigmas_follow_gain_and_bias():
    info = DATASET_INFO["mnist-5k"]
    cfg = RunConfig(widths=(128, 128), init="he_normal", activation="relu", init_gain=1.2, bias_std=0.2)
    sw, sb = config_sigmas(cfg, info)
    assert sw[1] == pytest.approx(2.0 * 1.44) and sb == pytest.approx([0.04, 0.04, 0.04])
    assert config_sigmas(RunConfig(init="torch_default", widths=(128,)), info)[1][1] == pytest.approx(1 / 384)


def test_fields_reach_cli_and_links():
    from core.cli import build_parser, config_from_args
    from core.views.links import config_from_query, config_to_query

    args = build_parser().parse_args(["train", "--init-gain", "1.25", "--bias-std", "0.05"])
    cfg = config_from_args(args)
    assert (cfg.init_gain, cfg.bias_std) == (1.25, 0.05)
    query = config_to_query(cfg)
    assert query == {"init_gain": "1.25", "bias_std": "0.05"}
    back, warnings = config_from_query(query)
    assert (back.init_gain, back.bias_std, warnings) == (1.25, 0.05, [])
