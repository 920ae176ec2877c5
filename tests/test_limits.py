"""Every cost of a run is bounded: optimizer steps, what logging keeps, the time by the pages' own
estimator, evaluation memory, and the preview a link computes without a click."""
from pathlib import Path

import pytest

from core.base import cost
from core.base.config import DEFAULT_LIMITS, PUBLIC_DEMO_LIMITS, ConfigError, RunConfig
from core.base.cost import estimate, reference_seconds

# The biggest VGG a public-demo link can ask for on mnist-5k (a few images, one epoch).
DEMO_VGG = dict(arch="vgg", vgg_filters=64, vgg_blocks=8, vgg_stages=3, dataset="mnist-5k", batch_size=8,
                bn="before", train_subset=256, epochs=1)


def refused(monkeypatch, demo: bool, **settings) -> ConfigError:
    monkeypatch.setenv("VG_PUBLIC_DEMO", "1" if demo else "0")
    with pytest.raises(ConfigError) as info:
        RunConfig(**settings)
    return info.value


def test_the_loop_and_the_estimate_share_their_rules():
    from core.engine import loop, stats, step

    assert loop.auto_log_every is cost.auto_log_every  # one rule, imported by the engine
    assert "EVAL_BATCH =" not in Path(step.__file__).read_text()  # one chunk size: the cost model's
    assert cost.GRAD_HIST_COLUMNS == len(stats.GRAD_COLUMNS) and cost.ACT_HIST_COLUMNS == stats.ACT_BINS + 3


@pytest.mark.parametrize("noise", [0.0, 0.5])
def test_logged_steps_and_values_are_what_training_keeps(noise):
    from core.engine.loop import train

    cfg = RunConfig(dataset="digits", widths=(16, 16, 16), epochs=2, batch_size=64, log_every=3,
                    activation="relu", grad_noise=noise)
    result, est = train(cfg), estimate(cfg)
    assert result.layer_stats["step"].nunique() == est.logged_steps == len(result.histograms["steps"])
    kept = len(result.layer_stats) + sum(result.histograms[k].size for k in ("grad", "noisy_grad", "weight", "act")
                                         if k in result.histograms)
    assert kept <= est.logged_values <= 1.05 * kept  # the bound counts what is really kept


def test_a_batch_of_one_for_fifty_epochs_is_too_many_steps_for_the_demo(monkeypatch):
    exc = refused(monkeypatch, True, batch_size=1, epochs=50)  # 180,000 steps on 3,600 images
    assert exc.field == "epochs" and "180,000 optimizer steps" in str(exc) and "batch_size" in str(exc)
    assert f"at most {PUBLIC_DEMO_LIMITS.max_steps:,}" in str(exc)
    monkeypatch.setenv("VG_PUBLIC_DEMO", "0")
    RunConfig(batch_size=1, epochs=50)  # within the default limits
    # one epoch alone over the limit (54,000 steps): the remedy is the batch size
    exc = refused(monkeypatch, True, dataset="mnist", batch_size=1, epochs=1, widths=(8,))
    assert exc.field == "batch_size" and "54,000 optimizer steps" in str(exc)


def test_logging_every_step_of_a_deep_network_is_refused_naming_log_every(monkeypatch):
    deep = dict(widths=(128,) * 40, epochs=50, batch_size=16, log_every=1)
    for demo, limits in ((True, PUBLIC_DEMO_LIMITS), (False, DEFAULT_LIMITS)):
        exc = refused(monkeypatch, demo, **deep)
        assert exc.field == "log_every" and "logged steps x 41 layers" in str(exc)
        assert f"at most {limits.max_logged_values:,}" in str(exc) and "MiB" in str(exc)
    monkeypatch.setenv("VG_PUBLIC_DEMO", "0")
    RunConfig(**{**deep, "log_every": 0})  # automatic logging keeps about 100 steps


def test_the_time_limit_uses_the_pages_estimator_and_counts_evaluation(monkeypatch):
    # 4 training images but 1,400 evaluated every epoch: little work, hours of evaluation
    settings = {**DEMO_VGG, "train_subset": 4, "epochs": 50}
    monkeypatch.setenv("VG_PUBLIC_DEMO", "0")
    cfg = RunConfig(**settings)
    seconds = reference_seconds(cfg)
    assert seconds == cost.training_seconds(cfg, cost.REFERENCE_RATES, cost.log_interval(cfg))
    assert estimate(cfg).work <= PUBLIC_DEMO_LIMITS.max_work and seconds > PUBLIC_DEMO_LIMITS.max_seconds
    exc = refused(monkeypatch, True, **settings)
    assert exc.field == "epochs" and "reference 2-core CPU" in str(exc) and "training_seconds" in str(exc)
    assert "at most 5 min allowed" in str(exc)


def test_evaluation_memory_is_bounded(monkeypatch):
    # a batch of 2 trains in little memory, but evaluation goes 2,048 cifar images at a time
    exc = refused(monkeypatch, True, arch="vgg", vgg_filters=64, dataset="cifar10", batch_size=2, epochs=1,
                  train_subset=4)
    assert exc.field == "vgg_filters" and "evaluating in batches of 2048" in str(exc)
    monkeypatch.setenv("VG_PUBLIC_DEMO", "0")
    wide = RunConfig(arch="vgg", vgg_filters=64, dataset="cifar10", batch_size=2, epochs=1, train_subset=4)
    assert estimate(wide).eval_memory_bytes > 4 * 2048 * 3 * 64 * 32 * 32 > estimate(wide).memory_bytes


def test_every_preset_fits_the_default_limits_and_caps_epochs_in_the_demo(monkeypatch):
    from core.lab.presets import PRESETS

    for demo in ("0", "1"):
        monkeypatch.setenv("VG_PUBLIC_DEMO", demo)
        for preset in PRESETS.values():
            try:
                cells = preset.cells("full")
            except ConfigError as exc:  # beyond the demo in something else than epochs
                assert demo == "1" and exc.field != "epochs" or "at most 50 allowed" in str(exc)
                continue
            for cell in cells:
                if demo == "0":
                    assert not cell.wanted_epochs or cell.config.epochs < cell.wanted_epochs
                else:
                    assert cell.config.epochs >= 1


# ------------------------------------------------------------------ the preview at initialization


def test_the_preview_batch_fits_its_memory_and_time_budget(monkeypatch):
    from core.engine.probe import PROBE_BATCH, PROBE_MACS, PROBE_MEMORY_BYTES, probe_batch

    monkeypatch.setenv("VG_PUBLIC_DEMO", "1")
    small = RunConfig(dataset="digits", widths=(16, 16))
    assert probe_batch(small) == PROBE_BATCH  # a small network keeps the full batch
    cfg = RunConfig(**DEMO_VGG)
    batch, est = probe_batch(cfg), estimate(cfg)
    assert 2 <= batch < PROBE_BATCH
    assert 20 * est.params + batch * est.per_sample_bytes <= PROBE_MEMORY_BYTES
    assert batch * est.macs_per_sample <= PROBE_MACS


def test_a_preview_too_big_for_even_two_examples_is_refused_with_a_message(monkeypatch):
    from core.engine import probe

    monkeypatch.setattr(probe, "PROBE_MACS", 1e3)
    with pytest.raises(probe.ProbeRefused, match="preview's budget"):
        probe.probe_at_init(RunConfig(dataset="digits", widths=(16, 16)))
    from core.engine.data import DatasetUnavailable

    assert issubclass(probe.ProbeRefused, DatasetUnavailable)  # the pages' "no preview" path


def test_the_preview_of_the_demo_vgg_link_uses_the_bounded_batch(monkeypatch):
    from core.engine.probe import probe_at_init, probe_batch

    monkeypatch.setenv("VG_PUBLIC_DEMO", "1")
    cfg = RunConfig(**DEMO_VGG)
    flow = probe_at_init(cfg)
    assert flow.attrs["batch"] == probe_batch(cfg) and len(flow) == cfg.depth + 1


def test_a_stored_run_is_read_without_the_bounds_on_what_its_training_cost():
    """The store checks a stored config against STORED_LIMITS: a later, stricter estimate of the
    statistics it keeps (or of its time) must not make it look damaged and be deleted; what the
    run is (its size, memory) stays bounded."""
    from core.base.config import DEFAULT_LIMITS, STORED_LIMITS, ConfigError, RunConfig, limits_in_force

    spec = dict(dataset="digits", widths=(16,) * 64, log_every=1, epochs=150, batch_size=32)
    with limits_in_force(DEFAULT_LIMITS):
        with pytest.raises(ConfigError) as exc:
            RunConfig(**spec)
    assert exc.value.field == "log_every"
    with limits_in_force(STORED_LIMITS):
        RunConfig(**spec)
        with pytest.raises(ConfigError):
            RunConfig(dataset="digits", widths=(4096,) * 8)  # 134 M parameters: still refused
