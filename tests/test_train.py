import threading

import numpy as np
import pandas as pd
import pytest
import torch

from core.base.config import RunConfig
from core.engine.data import augment_batch
from core.engine.loop import batch_bounds, train


def test_same_config_same_numbers(tiny):
    a, b = train(tiny.replace(log_every=2)), train(tiny.replace(log_every=2))
    pd.testing.assert_frame_equal(a.epochs.drop(columns="seconds"), b.epochs.drop(columns="seconds"))
    pd.testing.assert_frame_equal(a.layer_stats, b.layer_stats)
    for k in a.histograms:
        np.testing.assert_array_equal(a.histograms[k], b.histograms[k])
    for k in a.state_dict:
        assert torch.equal(a.state_dict[k], b.state_dict[k])
    c = train(tiny.replace(log_every=2, seed=7))
    assert not a.epochs["train_loss"].equals(c.epochs["train_loss"])


def test_events_report_progress(tiny):
    events = []
    train(tiny.replace(epochs=2), on_event=events.append)
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "end"
    assert kinds.count("epoch") == 2 and "log" in kinds
    epoch = [e for e in events if e["kind"] == "epoch"][-1]
    assert {"train_loss", "test_acc", "elapsed", "eta"} <= set(epoch)


def test_cancel_stops_the_run(tiny):
    calls = []

    def stop():
        calls.append(1)
        return len(calls) >= 3

    result = train(tiny.replace(epochs=5), should_stop=stop)
    assert result.status == "cancelled"
    assert len(result.steps) == 3


def test_step_zero_is_logged_and_auto_log_every_gives_about_100_points():
    # digits: 1,294 training images, batch 8 -> 162 steps per epoch, 1,944 steps in 12 epochs.
    result = train(RunConfig(dataset="digits", widths=(16,), epochs=12, batch_size=8))
    steps = sorted(result.layer_stats.step.unique())
    assert steps[0] == 0
    assert 90 <= len(steps) <= 110
    assert result.histograms["grad"].shape[0] == len(steps)


def test_auto_logging_never_logs_more_than_one_step_in_16():
    result = train(RunConfig(dataset="digits", widths=(16,), epochs=3, batch_size=32))
    steps = sorted(result.layer_stats.step.unique())
    assert result.meta["log_every"] == 16
    assert steps == list(range(0, result.meta["total_steps"], 16))


@pytest.mark.parametrize("kw", [
    dict(arch="vgg", dataset="digits", vgg_filters=4, vgg_blocks=1, bn="before", residual=True),
    dict(arch="vgg", dataset="mnist-5k", train_subset=200, vgg_filters=4, vgg_blocks=0, augment=True),
    dict(widths=(32, 32, 32), bn="last", dropout=0.2, activation="selu", init="lecun_normal",
         dropout_kind="alpha", standardize=True),
    dict(widths=(32, 16), optimizer="nadam", schedule="cosine", weight_decay=1e-4, activation="prelu"),
    dict(widths=(32,), optimizer="rmsprop", activation="gelu", grad_noise=0.1, noise_unit="step"),
    dict(widths=(32,), optimizer="adam", activation="softplus", input_noise=0.05),
])
def test_architectures_and_options_train(kw):
    cfg = RunConfig(epochs=2, batch_size=64, **({"dataset": "digits"} | kw))
    result = train(cfg)
    assert result.status == "completed"
    assert len(result.epochs) == 2 and result.epochs["train_loss"].notna().all()
    names = list(result.layers["name"])
    assert names[-1] == "out" and len(names) == cfg.depth + 1
    if cfg.schedule == "cosine":
        assert result.epochs["lr"].iloc[1] < result.epochs["lr"].iloc[0]


def test_vgg_works_on_three_channel_32x32_images():
    from core.engine.models import build_model
    from core.base.datasets import DATASET_INFO

    cfg = RunConfig(arch="vgg", dataset="cifar100", vgg_blocks=1, vgg_filters=8, epochs=1)
    net = build_model(cfg, DATASET_INFO["cifar100"])
    out = net(torch.randn(4, 3, 32, 32))
    assert out.shape == (4, 100)


def test_batches_cover_the_data_and_never_leave_a_single_example():
    assert batch_bounds(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert batch_bounds(9, 4) == [(0, 4), (4, 8)]
    assert batch_bounds(1, 4) == [(0, 1)]


def test_augmentation_crops_and_flips_on_the_device():
    x = torch.arange(2 * 1 * 6 * 6, dtype=torch.float32).reshape(2, 1, 6, 6)
    out = augment_batch(x, torch.Generator().manual_seed(0), pad=0)
    for i in range(2):
        assert torch.equal(out[i], x[i]) or torch.equal(out[i], x[i].flip(-1))
    padded = augment_batch(x, torch.Generator().manual_seed(1), pad=2)
    assert padded.shape == x.shape


def test_bad_device_is_a_clear_error(tiny):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(RuntimeError, match="device: cuda"):
        train(tiny.replace(device="cuda"))
