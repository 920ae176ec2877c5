"""The logged statistics against plain PyTorch: the same first step, recomputed by hand."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core.base.config import RunConfig
from core.engine.data import prepare_data
from core.engine.inits import expected_variance, fans, init_weight_, receptive_field_of
from core.engine.models import build_model
from core.engine.noise import noise_std
from core.engine.stats import GRAD_EDGE_VALUES, GRAD_EDGES, KEY_SHIFT
from core.engine.loop import batch_bounds, train


def first_step_by_hand(cfg):
    """Model, first mini-batch, loss and p.grad of step 0, written with plain PyTorch."""
    data = prepare_data(cfg)
    net = build_model(cfg, data.info)
    order = torch.randperm(len(data.y_train), generator=torch.Generator().manual_seed(cfg.seed))
    lo, hi = batch_bounds(len(data.y_train), cfg.batch_size)[0]
    x, y = data.x_train[order[lo:hi]], data.y_train[order[lo:hi]]
    net.train()
    loss = F.cross_entropy(net(x), y)
    loss.backward()
    return net, x, y


@pytest.mark.parametrize("kw", [
    dict(activation="logistic", widths=(32, 32, 32)),
    dict(activation="relu", init="he_normal", widths=(32, 16), bn="before"),
    dict(arch="vgg", vgg_filters=4, activation="leaky_relu", residual=True, vgg_blocks=1),
    # layers of 65,536 weights or more take the one-layer-at-a-time path of the summarizer
    dict(dataset="mnist-5k", activation="relu", init="he_normal", widths=(300, 300)),
])
def test_logged_gradient_stats_equal_those_of_p_grad(kw):
    cfg = RunConfig(epochs=1, batch_size=50, log_every=1, **({"dataset": "digits"} | kw))
    result = train(cfg)
    net, _, _ = first_step_by_hand(cfg)
    step0 = result.layer_stats[result.layer_stats.step == 0]
    for i, layer in enumerate(net.layers, start=1):
        g = layer.weight.grad.double()
        expect = {"grad_norm": g.norm().item(), "grad_mean_abs": g.abs().mean().item(),
                  "grad_max_abs": g.abs().max().item(), "grad_std": g.std().item(),
                  "weight_norm": layer.weight.detach().double().norm().item()}
        got = step0[step0.layer == i].set_index("stat")["value"]
        for stat, value in expect.items():
            assert got[stat] == pytest.approx(value, rel=1e-4, abs=1e-12), (i, stat)
        # histograms of |g| and of |w| (the step's weights, before its update) on the fixed bins
        for key, tensor in (("grad", layer.weight.grad), ("weight", layer.weight.detach())):
            assert_log_histogram(result.histograms[key][0, i - 1], tensor)


def assert_log_histogram(hist: np.ndarray, tensor: torch.Tensor) -> None:
    """The fixed bins of |x|: edges 10**GRAD_EDGES rounded to bfloat16 (GRAD_EDGE_VALUES),
    closed on the left; exact zeros counted apart; non-finite last."""
    flat = tensor.flatten().numpy()  # float32, compared with float32 edges
    nonzero = np.abs(flat[flat != 0])
    code = np.searchsorted(GRAD_EDGE_VALUES, nonzero, side="right")  # 0 below, 57 above
    counts = np.bincount(code, minlength=58)
    assert hist[0] == int((flat == 0).sum())
    np.testing.assert_array_equal(hist[1:59], counts)
    assert hist[59] == 0  # nonfinite
    assert hist.sum() == flat.size


def test_update_ratio_matches_the_first_sgd_step():
    cfg = RunConfig(dataset="digits", widths=(32, 32), epochs=1, batch_size=50, log_every=1,
                    optimizer="sgd", lr=0.05, activation="tanh")
    result = train(cfg)
    net, _, _ = first_step_by_hand(cfg)
    ratios = result.stat_matrix("update_ratio").loc[0]
    for i, layer in enumerate(net.layers, start=1):
        expect = 0.05 * layer.weight.grad.norm() / layer.weight.detach().norm()
        assert ratios[i] == pytest.approx(expect.item(), rel=1e-4)


def test_activation_stats_match_a_manual_forward():
    cfg = RunConfig(dataset="digits", widths=(24, 24), epochs=1, batch_size=64, log_every=1,
                    activation="logistic", init="normal")
    result = train(cfg)
    net, x, _ = first_step_by_hand(cfg)
    h = x.flatten(1)
    for i, unit in enumerate(net.body.parts, start=1):
        h = torch.sigmoid(unit.weight(h)).detach()
        stats = result.layer_stats.query("step == 0 and layer == @i").set_index("stat")["value"]
        assert stats["act_mean"] == pytest.approx(h.mean().item(), rel=1e-5)
        assert stats["act_std"] == pytest.approx(h.std().item(), rel=1e-5)
        saturated = ((h * (1 - h)) < 0.025).float().mean().item()  # derivative below 10% of 0.25
        assert stats["act_saturation"] == pytest.approx(saturated, abs=1e-6)


def test_dead_relu_fraction_matches_a_manual_count():
    cfg = RunConfig(dataset="digits", widths=(40, 40), epochs=1, batch_size=64, log_every=1,
                    activation="relu", init="normal", lr=0.001)
    result = train(cfg)
    net, x, _ = first_step_by_hand(cfg)
    h = torch.relu(net.body.parts[0].weight(x.flatten(1))).detach()
    dead = (h == 0).all(dim=0).float().mean().item()
    assert result.stat_matrix("act_dead").loc[0, 1] == pytest.approx(dead)


@pytest.mark.parametrize("name", ["normal", "random_normal", "glorot_uniform", "glorot_normal",
                                  "he_uniform", "he_normal", "lecun_normal", "lecun_uniform",
                                  "orthogonal", "torch_default"])
@pytest.mark.parametrize("shape", [(400, 600), (64, 32, 3, 3)])
def test_each_init_has_the_variance_of_its_formula(name, shape):
    torch.manual_seed(0)
    layer = torch.nn.Linear(shape[1], shape[0]) if len(shape) == 2 else torch.nn.Conv2d(shape[1], shape[0], 3)
    init_weight_(layer.weight, name)
    w = layer.weight.detach().double()
    fi, fo = fans(w)
    if name == "orthogonal":
        flat = w.reshape(shape[0], -1)
        rows, cols = flat.shape
        gram = flat @ flat.T if rows <= cols else flat.T @ flat
        assert torch.allclose(gram, torch.eye(min(rows, cols), dtype=w.dtype), atol=1e-6)
        expect = 1.0 / max(rows, cols)
    else:
        expect = expected_variance(name, fi, fo)
    assert w.var().item() == pytest.approx(expect, rel=0.05)
    assert abs(w.mean().item()) < 4 * math.sqrt(expect / w.numel()) + 1e-9


@pytest.mark.parametrize("shape", [(400, 600), (600, 400), (64, 32, 3, 3), (64, 4, 3, 3)])
def test_orthogonal_variance_is_that_of_torch_orthogonal(shape):
    # torch flattens a kernel (out, in, kh, kw) to rows=out, cols=in*kh*kw: each entry has
    # variance 1/max(rows, cols), not 1/max(fan_in, fan_out) (fan_out counts kh*kw too).
    torch.manual_seed(0)
    w = torch.nn.init.orthogonal_(torch.empty(shape, dtype=torch.float64))
    fi, fo = fans(w)
    expect = expected_variance("orthogonal", fi, fo, receptive_field_of(w))
    assert w.var().item() == pytest.approx(expect, rel=0.01)
    ours = torch.empty(shape, dtype=torch.float64)
    init_weight_(ours, "orthogonal")
    assert ours.var().item() == pytest.approx(w.var().item(), rel=0.01)


def test_zeros_init_is_all_zero_and_breaks_symmetry_never():
    cfg = RunConfig(dataset="digits", widths=(16, 16), init="zeros", epochs=1, log_every=1)
    result = train(cfg)
    # all hidden weights stay identical: the gradient of every hidden layer is exactly 0
    flow = result.grad_flow("init")
    assert flow[0] == 0 and flow[1] == 0 and flow[-1] > 0


def test_noise_schedule_matches_the_formula():
    assert noise_std(1.0, 0.55, 0) == 1.0
    assert noise_std(1.0, 0.55, 9) == pytest.approx(10 ** -0.55)
    assert noise_std(0.3, 1.0, 2) == pytest.approx(0.1)


def test_noisy_gradient_is_the_true_gradient_plus_the_scheduled_noise():
    cfg = RunConfig(dataset="digits", widths=(200, 200), epochs=3, batch_size=500, log_every=1,
                    grad_noise=0.5, noise_gamma=0.55, noise_unit="epoch", optimizer="sgd", lr=1e-4)
    result = train(cfg)
    stats = result.layer_stats
    epochs = result.epochs.set_index("epoch")["noise_std"]
    assert epochs[1] == pytest.approx(0.5) and epochs[3] == pytest.approx(0.5 / 3 ** 0.55)
    for step in stats.step.unique():
        s = stats[(stats.step == step) & (stats.layer == 2)].set_index("stat")["value"]
        epoch = int(stats[stats.step == step].epoch.iloc[0])
        sigma = 0.5 / epoch ** 0.55
        n = 200 * 200
        # ||g + e||^2 = ||g||^2 + n sigma^2 (+ a cross term of mean 0)
        expect = math.sqrt(s["grad_norm"] ** 2 + n * sigma ** 2)
        assert s["noisy_grad_norm"] == pytest.approx(expect, rel=0.02)
    assert "noisy" not in " ".join(train(cfg.replace(grad_noise=0.0)).layer_stats.stat.unique())
    assert "noisy_grad" in result.histograms


def test_histogram_edges_are_the_quarter_decades_rounded_to_bfloat16():
    nominal = 10.0 ** GRAD_EDGES
    assert np.all(np.abs(GRAD_EDGE_VALUES / nominal - 1) <= 2.0 ** -8)
    # each edge is a key boundary: its low 16 bits are zero, so whole keys fall in one bin
    assert np.all(GRAD_EDGE_VALUES.view(np.int32) % (1 << KEY_SHIFT) == 0)


def test_activation_histogram_counts_nan_and_infinities_instead_of_dropping_them():
    """torch.histc over the finite values in range, then below (with -inf), above (with +inf)
    and NaN: every entry of every layer is in exactly one column."""
    from core.engine.activations import ACTIVATION_SPECS
    from core.engine.stats import ACT_BINS, ACT_STATS, ActivationSummarizer

    spec = ACTIVATION_SPECS["tanh"]
    lo, hi = spec.hist_range
    g = torch.Generator().manual_seed(0)
    a = torch.randn(64, 32, generator=g) * 2
    a[0, :5] = float("nan")
    a[1, :3] = float("inf")
    a[2, :2] = -float("inf")
    b = torch.randn(64, 16, generator=g)
    rows = ActivationSummarizer(spec)([a, b]).numpy()
    hist = rows[:, len(ACT_STATS):]
    assert hist.shape == (2, ACT_BINS + 3)
    for out, row in ((a, hist[0]), (b, hist[1])):
        finite = out[torch.isfinite(out)]
        inside = finite[(finite >= lo) & (finite <= hi)]
        assert np.array_equal(row[1:1 + ACT_BINS], torch.histc(inside, ACT_BINS, lo, hi).numpy())
        assert row[0] == int((out < lo).sum()) and row[1 + ACT_BINS] == int((out > hi).sum())
        assert row[2 + ACT_BINS] == int(out.isnan().sum()) and row.sum() == out.numel()
    assert hist[0, 2 + ACT_BINS] == 5 and hist[1, 2 + ACT_BINS] == 0
