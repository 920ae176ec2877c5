"""The generated 2-D sets: shapes, seeds, balance, noise, splits, and the config around them."""
import numpy as np
import pytest

from core.base.config import ConfigError, RunConfig
from core.base.datasets import DATASET_INFO, TOY
from core.engine.data import prepare_data
from core.engine.toydata import GENERATORS, N_POINTS, generate


@pytest.mark.parametrize("name", GENERATORS)
def test_shapes_balance_and_determinism(name):
    x, y = generate(name, 0.1)
    assert x.shape == (N_POINTS, 2) and x.dtype == np.float32
    assert y.shape == (N_POINTS,) and y.dtype == np.int64
    assert np.bincount(y).tolist() == [N_POINTS // 2, N_POINTS // 2]
    assert np.isfinite(x).all() and np.abs(x).max() < 2.5
    x2, y2 = generate(name, 0.1)
    assert np.array_equal(x, x2) and np.array_equal(y, y2)  # seeded: the same points every time


@pytest.mark.parametrize("name", GENERATORS)
def test_noise_only_jitters(name):
    clean, y0 = generate(name, 0.0)
    noisy, y1 = generate(name, 0.5)
    assert np.array_equal(y0, y1)
    moved = np.linalg.norm(noisy - clean, axis=1)
    assert 0.3 < moved.mean() < 0.9  # about 0.5 * sqrt(pi/2)


def test_sets_differ_and_labels_follow_their_rule():
    xs = {n: generate(n, 0.0)[0] for n in GENERATORS}
    assert len({x.tobytes() for x in xs.values()}) == len(GENERATORS)
    x, y = generate("xor", 0.0)
    assert np.array_equal(y, (x[:, 0] * x[:, 1] >= 0).astype(np.int64))
    x, y = generate("circles", 0.0)
    r = np.linalg.norm(x, axis=1)
    assert r[y == 0].max() <= 0.5 + 1e-6 and r[y == 1].min() >= 0.7 - 1e-6


def test_bad_arguments_name_the_field():
    with pytest.raises(ValueError, match="dataset"):
        generate("mnist")
    with pytest.raises(ValueError, match="data_noise"):
        generate("spiral", 3.0)


@pytest.mark.parametrize("name", TOY)
def test_bundle_matches_the_catalogue(name):
    cfg = RunConfig(dataset=name, widths=(8,))
    d = prepare_data(cfg)
    info = DATASET_INFO[name]
    assert (len(d.y_train), len(d.y_val), len(d.y_test)) == (info.n_train, info.n_val, info.n_test)
    assert d.x_train.shape[1:] == (1, 1, 2) and d.info.features == 2
    for y in (d.y_train, d.y_test):  # the fixed split keeps both classes well represented
        share = float(y.float().mean())
        assert 0.4 < share < 0.6


def test_noise_field_keeps_existing_run_ids():
    # Ids of existing configs, computed by the code before data_noise existed.
    assert RunConfig().run_id == "8fbd7460b4e114e3"
    assert RunConfig(dataset="digits", activation="relu", init="he_normal", widths=(16, 16)).run_id == "5dee37b19c058738"
    assert RunConfig(input_noise=0.05, standardize=True).run_id == "624b93c4cc04a1a2"
    # data_noise applies only to the 2-D sets: elsewhere it never changes the id.
    assert RunConfig(data_noise=0.7).run_id == RunConfig().run_id
    spiral = RunConfig(dataset="spiral")
    assert "data_noise" not in spiral.key_dict()  # at its default
    assert RunConfig(dataset="spiral", data_noise=0.3).run_id != spiral.run_id


def test_noise_changes_the_data_and_vgg_is_refused():
    a = prepare_data(RunConfig(dataset="moons", data_noise=0.0, widths=(8,)))
    b = prepare_data(RunConfig(dataset="moons", data_noise=0.4, widths=(8,)))
    assert not np.array_equal(a.x_train.numpy(), b.x_train.numpy())
    with pytest.raises(ConfigError, match="^arch"):
        RunConfig(dataset="spiral", arch="vgg")
    with pytest.raises(ConfigError, match="^data_noise"):
        RunConfig(dataset="spiral", data_noise=2.0)


def test_cli_trains_a_2d_set(capsys):
    import json

    from core.cli import main

    rc = main(["train", "--dataset", "xor", "-a", "relu", "--init", "he_normal", "-n", "8", "8",
               "-e", "2", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["config"]["dataset"] == "xor" and out["status"] == "completed"


def test_share_link_round_trip():
    from core.views.links import config_from_query, config_to_query

    cfg = RunConfig(dataset="spiral", data_noise=0.25, activation="logistic", widths=(8,) * 6, seed=7)
    back, warnings = config_from_query(config_to_query(cfg))
    assert back == cfg and not warnings
