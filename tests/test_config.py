import json
import math

import pytest

from core.base.config import ConfigError, RunConfig, config_fields, field_spec
from core.base.cost import estimate
from core.engine.data import prepare_data
from core.engine.models import build_model


def test_defaults_are_valid_and_id_is_stable():
    a, b = RunConfig(), RunConfig()
    assert a == b and a.run_id == b.run_id
    assert len(a.run_id) == 16 and all(c in "0123456789abcdef" for c in a.run_id)


def test_relevant_change_changes_id_irrelevant_does_not():
    base = RunConfig(optimizer="adam")
    assert base.replace(lr=0.02).run_id != base.run_id
    # momentum only matters for sgd_momentum, noise_gamma only when noise is on
    assert base.replace(momentum=0.5).run_id == base.run_id
    assert base.replace(noise_gamma=0.9).run_id == base.run_id
    assert base.replace(grad_noise=1.0, noise_gamma=0.9).run_id != base.replace(grad_noise=1.0).run_id
    # where a run executes is not part of what it is
    assert base.replace(device="cpu").run_id == base.run_id
    # vgg settings do not matter for an mlp and widths do not matter for a vgg
    assert base.replace(vgg_filters=8).run_id == base.run_id
    vgg = RunConfig(arch="vgg", dataset="digits")
    assert vgg.replace(widths=(7,)).run_id == vgg.run_id


def test_canonical_json_round_trips():
    cfg = RunConfig(widths=(512, 256), activation="relu", bn="before", grad_noise=0.3)
    again = RunConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg and again.run_id == cfg.run_id


@pytest.mark.parametrize("field,value,fragment", [
    ("activation", "foo", "activation: got foo; expected one of logistic"),
    ("widths", [], "widths: needs at least one"),
    ("widths", [0], "width 0 out of range"),
    ("widths", [10] * 500, "500 hidden layers"),
    ("lr", float("nan"), "lr: got nan; expected a finite number"),
    ("lr", -1, "lr: got -1; must be"),
    ("epochs", 0, "epochs: got 0"),
    ("epochs", 10_000, "epochs: got 10000; at most"),
    ("batch_size", 2.5, "batch_size: got 2.5; expected a whole number"),
    ("standardize", "maybe", "standardize: got maybe; expected true or false"),
    ("dataset", "imagenet", "dataset: got imagenet"),
])
def test_bad_values_name_the_field(field, value, fragment):
    with pytest.raises(ConfigError) as info:
        RunConfig(**{field: value})
    assert fragment in str(info.value)
    assert info.value.field == field


def test_unknown_key_is_rejected_by_strict_parse():
    with pytest.raises(ConfigError, match="colour: unknown setting"):
        RunConfig.from_dict({"colour": "red"})


def test_strings_are_coerced_like_a_url_or_cli_gives_them():
    cfg = RunConfig.from_dict({"widths": "64, 32", "lr": "0.1", "epochs": "3", "residual": "true",
                               "activation": "Sigmoid", "init": "xavier_uniform"})
    assert cfg.widths == (64, 32) and cfg.lr == 0.1 and cfg.epochs == 3 and cfg.residual
    assert cfg.activation == "logistic" and cfg.init == "glorot_uniform"


def test_lenient_parse_keeps_good_values_and_warns_about_bad_ones():
    cfg, warnings = RunConfig.from_lenient({"lr": "oops", "epochs": "3", "bogus": "1", "bn": "sideways"})
    assert cfg.epochs == 3 and cfg.lr == RunConfig().lr and cfg.bn == "none"
    text = " ".join(warnings)
    assert "lr:" in text and "bogus: unknown setting" in text and "bn:" in text
    assert len(warnings) == 3


def test_combined_limits_are_enforced():
    # each value is allowed on its own, together they are far too much work
    with pytest.raises(ConfigError) as info:
        RunConfig(dataset="mnist", widths=(4096,) * 3, epochs=500)
    assert info.value.field in ("epochs", "widths")
    cfg, warnings = RunConfig.from_lenient({"dataset": "mnist", "widths": "4096 4096 4096", "epochs": "500"})
    assert warnings and cfg.epochs * estimate(cfg).params < 500 * 4096 * 4096 * 2


def test_public_demo_limits_are_lower(monkeypatch):
    RunConfig(widths=(2048, 2048))
    monkeypatch.setenv("VG_PUBLIC_DEMO", "1")
    with pytest.raises(ConfigError, match="widths"):
        RunConfig(widths=(2048, 2048))


@pytest.mark.parametrize("kw", [
    dict(),
    dict(widths=(64, 32, 32, 16), residual=True, residual_every=2, bn="before", activation="prelu"),
    dict(widths=(20, 20, 20), residual=True, residual_every=3, bn="last"),
    dict(arch="vgg", dataset="digits", vgg_filters=8, vgg_blocks=1, bn="before", residual=True),
    dict(arch="vgg", dataset="digits", vgg_filters=4, vgg_blocks=0, activation="prelu"),
])
def test_cost_estimate_counts_the_parameters_of_the_built_model(kw):
    cfg = RunConfig(dataset=kw.pop("dataset", "digits"), **kw)
    net = build_model(cfg, prepare_data(cfg).info)
    assert estimate(cfg).params == sum(p.numel() for p in net.parameters())


def test_vgg08_and_vgg38_have_the_published_sizes():
    # 001_* Table 1: VGG08 60 K, VGG38 336 K parameters (CIFAR-100, 32 filters)
    vgg08 = estimate(RunConfig(arch="vgg", dataset="cifar100", vgg_blocks=0, epochs=1))
    vgg38 = estimate(RunConfig(arch="vgg", dataset="cifar100", vgg_blocks=5, epochs=1))
    assert round(vgg08.params / 1000) == 60
    assert round(vgg38.params / 1000) == 336
    vgg38_bn = estimate(RunConfig(arch="vgg", dataset="cifar100", vgg_blocks=5, bn="before", epochs=1))
    assert 338_000 <= vgg38_bn.params <= 339_500  # published: 339 K
    assert RunConfig(arch="vgg", vgg_blocks=5).depth + 1 == 38


def test_every_field_has_help_and_a_group():
    for f in config_fields():
        assert f.metadata["help"] and f.metadata["group"]
        default = f.default if not callable(f.default_factory) else f.default_factory()
        assert not (isinstance(default, float) and math.isnan(default))


def test_true_and_false_are_parsed_by_one_function(monkeypatch):
    from core.base.config import DEFAULT_LIMITS, PUBLIC_DEMO_LIMITS, active_limits, parse_flag

    for raw in ("1", "true", " Yes ", "ON", "y", "t", True, 1, 1.0):
        assert parse_flag(raw) is True, raw
    for raw in ("0", "false", "No", "off ", "n", "f", False, 0):
        assert parse_flag(raw) is False, raw
    for raw in ("", "maybe", "2", 2, 0.5, None, [1]):
        assert parse_flag(raw) is None, raw
    assert RunConfig.from_dict({"residual": "ON", "augment": "no"}).residual
    for flag, limits in (("Yes", PUBLIC_DEMO_LIMITS), ("on", PUBLIC_DEMO_LIMITS), ("off", DEFAULT_LIMITS),
                         ("", DEFAULT_LIMITS), ("bogus", DEFAULT_LIMITS)):
        monkeypatch.setenv("VG_PUBLIC_DEMO", flag)
        assert active_limits() is limits, flag


def test_every_field_says_which_widget_draws_it():
    from core.base.config import WIDGETS, DEFAULT_LIMITS

    for f in config_fields():
        widget = f.metadata["widget"]
        assert widget["kind"] in WIDGETS, f.name
        if f.metadata["limit"]:
            assert hasattr(DEFAULT_LIMITS, f.metadata["limit"]), f.name
        options = widget.get("options")
        if options is not None and not callable(options):  # slider values: each one valid
            lo, hi = f.metadata["lo"], f.metadata["hi"]
            assert all((lo is None or o >= lo) and (hi is None or o <= hi) for o in options), f.name
    # the sliders offer up to the default limits
    assert max(field_spec("widths").metadata["widget"]["options"]) == DEFAULT_LIMITS.max_width
    assert max(field_spec("batch_size").metadata["widget"]["options"]) == DEFAULT_LIMITS.max_batch_size


def test_one_dataset_catalogue_describes_every_dataset():
    from core.base import cost
    from core.base.datasets import CATALOGUE, DATASET_INFO, OFFLINE

    assert field_spec("dataset").metadata["choices"] == tuple(CATALOGUE)
    assert cost.DATASET_INFO is DATASET_INFO
    for name, entry in CATALOGUE.items():
        assert entry.name == name and entry.info is DATASET_INFO[name]
        assert entry.label.startswith(name) and entry.description
        assert entry.info.n_train > entry.info.n_val > 0 and entry.info.n_test > 0
    from core.base.datasets import TOY

    assert OFFLINE == ("mnist-5k", "digits", *TOY)  # the image sets shipped here and the 2-D generators
    assert all(name in field_spec("dataset").metadata["help"] for name in OFFLINE)
