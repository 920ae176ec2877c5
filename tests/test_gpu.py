"""The CUDA path: training, statistics and the stacked engine on a GPU, against the CPU.

Every test here needs a CUDA GPU; without one they are reported as skipped (never as passed).
`bash bench/gpu_check.sh` runs them with the benchmarks on a GPU machine.
"""
import numpy as np
import pytest
import torch

from core.base.config import RunConfig
from core.engine.loop import PlainEngine, RunState, train, train_step
from core.engine.models import build_model
from core.engine.data import prepare_data
from core.engine.stacked import train_many
from core.engine.stats import GradientSummarizer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

BASE = RunConfig(dataset="digits", train_subset=640, widths=(64, 32), epochs=2, batch_size=64,
                 activation="tanh", log_every=4)


def test_a_run_trains_on_cuda_and_says_so():
    result = train(BASE.replace(device="cuda"))
    assert result.status == "completed" and result.meta["device"].startswith("cuda")
    assert result.epochs["test_acc"].iloc[-1] > 0.5


def test_gradient_statistics_on_the_gpu_equal_the_cpus():
    g = torch.Generator().manual_seed(0)
    grads = [torch.randn(s, generator=g) * 10.0 ** torch.empty(s).uniform_(-9, 1, generator=g)
             for s in [(300, 784), (100, 300), (10, 100)]]
    grads[1][0, :50] = 0.0
    cpu_stats, cpu_hist = GradientSummarizer([t.shape for t in grads], "cpu")(grads)
    gpu_stats, gpu_hist = GradientSummarizer([t.shape for t in grads], "cuda")([t.cuda() for t in grads])
    np.testing.assert_allclose(gpu_stats.cpu().numpy(), cpu_stats.numpy(), rtol=1e-5)
    # The same bit patterns go into the same bins on both devices: counts are equal.
    np.testing.assert_array_equal(gpu_hist.cpu().numpy(), cpu_hist.numpy())


def test_a_step_without_statistics_never_waits_for_the_gpu():
    cfg = BASE.replace(device="cuda")
    device = torch.device("cuda")
    data = prepare_data(cfg, device)
    engine = PlainEngine(build_model(cfg, data.info).to(device), data, cfg, device)
    run = RunState.create(0, cfg, engine, log_every=4, device=device, on_event=None)
    order = torch.arange(64, device=device).unsqueeze(0)
    train_step(engine, [run], order, 0, 1, logged=False)  # warm-up (allocations, kernels)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")  # any host synchronisation now raises
    try:
        for step in range(1, 4):
            train_step(engine, [run], order, step, 1, logged=False)
    finally:
        torch.cuda.set_sync_debug_mode("default")


def test_the_stacked_engine_on_the_gpu_gives_one_by_one_results():
    configs = [BASE.replace(device="cuda", seed=s) for s in (1, 2, 3)]
    for stacked, cfg in zip(train_many(configs), configs):
        alone = train(cfg)
        assert stacked.meta["trained_with"] == 3
        np.testing.assert_array_equal(stacked.steps["loss"].to_numpy(), alone.steps["loss"].to_numpy())
        np.testing.assert_array_equal(stacked.layer_stats["value"].to_numpy(),
                                      alone.layer_stats["value"].to_numpy())
