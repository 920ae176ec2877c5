"""The Jacobian and its spectrum (core.engine.jacobian): exact against autograd, mean squared
singular value against the theory's product of chi_1 (Poole et al. 2016; Schoenholz et al. 2017),
and the spread of orthogonal vs Gaussian tanh networks at criticality (dynamical isometry,
Pennington, Schoenholz & Ganguli 2017)."""
import numpy as np
import pytest
import torch

from core.base.config import RunConfig
from core.base.datasets import DatasetInfo
from core.engine import jacobian as jac
from core.engine import meanfield as mf
from core.engine.models import build_model

DIGITS = DatasetInfo(1, 8, 8, 10, 1294, 143, 360)


def _small(**change):
    cfg = RunConfig(dataset="digits", activation="tanh", init="he_normal", widths=(24, 20, 16), **change)
    return build_model(cfg, DIGITS)


def test_input_output_jacobian_is_exact():
    net = _small()
    x = torch.randn(5, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    got = jac.input_output_jacobian(net, x)
    want = torch.stack([torch.autograd.functional.jacobian(lambda v: net(v[None])[0], xi.flatten())
                        for xi in x.flatten(1)])
    assert got.shape == (5, 10, 64)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_hidden_jacobian_is_the_derivative_of_the_last_over_the_first_preactivation():
    net = _small()
    x = torch.randn(4, 64, generator=torch.Generator().manual_seed(1))
    fc1, fc2, fc3 = net.layers[:3]
    chain = lambda h1: fc3(torch.tanh(fc2(torch.tanh(h1))))  # noqa: E731
    h1 = fc1(x).detach()
    want = torch.stack([torch.autograd.functional.jacobian(chain, h) for h in h1])
    got = jac.hidden_jacobian(net, x)
    assert got.shape == (4, 16, 24)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("change", [dict(bn="before"), dict(bn="after"), dict(residual=True, residual_every=1)])
def test_hidden_jacobian_refuses_networks_that_are_not_plain_mlps(change):
    with pytest.raises(ValueError, match="plain MLP"):
        jac.hidden_jacobian(_small(**change), torch.randn(4, 64))


def test_cost_limits_are_named(monkeypatch):
    with pytest.raises(ValueError, match="MAX_BATCH"):
        jac.jacobian_spectrum(_small(), torch.randn(jac.MAX_BATCH + 1, 64))
    with pytest.raises(ValueError, match="MAX_INPUT"):
        jac.input_output_jacobian(_small(), torch.randn(2, jac.MAX_INPUT + 1))
    monkeypatch.setattr(jac, "MAX_WORK", 1e3)
    for kind in jac.KINDS:
        with pytest.raises(ValueError, match="MAX_WORK"):
            jac.jacobian_spectrum(_small(), torch.randn(2, 64), kind)
    with pytest.raises(ValueError, match="unknown Jacobian"):
        jac.jacobian_spectrum(_small(), torch.randn(2, 64), "full")


def test_spectrum_summaries():
    spec = jac.spectrum_of(torch.diag_embed(torch.tensor([[1.0, 2.0, 4.0], [0.5, 1.0, 2.0]])), "hidden")
    assert spec.singular_values.shape == (2, 3)
    assert spec.mean_sq == pytest.approx(np.mean(np.array([1, 2, 4, 0.5, 1, 2]) ** 2))
    assert spec.condition == pytest.approx(8.0)
    assert spec.pooled.tolist() == [0.5, 1.0, 1.0, 2.0, 2.0, 4.0]


SQUARE = DatasetInfo(1, 1, 300, 10, 3600, 400, 1000)  # input as wide as the hidden layers
SEEDS = (0, 1, 2)  # one network's mean s^2 fluctuates by ~5% at width 300: average three


def _mean_sq(cfg, q0, kind, batch=4):
    spectra = [jac.config_spectrum(cfg.replace(seed=s), SQUARE, batch, q0, kind) for s in SEEDS]
    rows = 300 if kind == "hidden" else 10
    assert all(spec.singular_values.shape == (batch, rows) for spec in spectra)
    return float(np.mean([spec.mean_sq for spec in spectra]))


@pytest.mark.parametrize("activation,init,q0", [("tanh", "glorot_normal", 1.0), ("tanh", "he_normal", 1.0),
                                                 ("logistic", "he_normal", 1.0), ("logistic", "glorot_normal", 2.0)])
def test_hidden_mean_squared_singular_value_is_the_product_of_chi1(activation, init, q0):
    cfg = RunConfig(activation=activation, init=init, widths=(300,) * 6)
    theory = mf.theory_for_config(cfg, SQUARE, q0=q0)
    assert _mean_sq(cfg, q0, "hidden") == pytest.approx(theory.grad_growth, rel=0.1)


def test_at_the_fixed_point_the_mean_squared_singular_value_is_chi1_to_the_depth():
    sw = 2.0  # tanh, He: chaotic, chi_1 > 1
    point = mf.signal_propagation("tanh", sw, 0.0)
    cfg = RunConfig(activation="tanh", init="he_normal", widths=(300,) * 6)
    assert point.chi1 > 1.05
    assert _mean_sq(cfg, point.q_star / sw, "hidden") == pytest.approx(point.chi1 ** 5, rel=0.1)  # 5 steps


def test_input_output_mean_squared_singular_value_matches_the_theory():
    cfg = RunConfig(activation="tanh", init="glorot_normal", widths=(300,) * 5)
    theory = mf.theory_for_config(cfg, SQUARE, q0=1.0)
    sw, _ = mf.config_sigmas(cfg, SQUARE)
    predicted = jac.predicted_input_output_mean_sq(theory, sw[0], sw[-1])
    assert _mean_sq(cfg, 1.0, "input_output") == pytest.approx(predicted, rel=0.1)


def test_orthogonal_tanh_at_criticality_has_a_narrower_spectrum_than_gaussian():
    spreads = {}
    for init in ("orthogonal", "glorot_normal"):  # both sigma_w2 = 1: critical for tanh
        cfg = RunConfig(activation="tanh", init=init, widths=(200,) * 16, seed=14)
        info = DatasetInfo(1, 1, 200, 10, 3600, 400, 1000)
        spec = jac.config_spectrum(cfg, info, batch=4, q0=0.1, kind="hidden")
        spreads[init] = spec
        assert spec.mean_sq == pytest.approx(mf.theory_for_config(cfg, info, q0=0.1).grad_growth, rel=0.15)
    orth, gauss = spreads["orthogonal"], spreads["glorot_normal"]
    assert orth.quantile_ratio < 0.2 * gauss.quantile_ratio
    assert orth.condition < 0.1 * gauss.condition


def test_mean_sq_without_the_svd_is_the_spectrums():
    j = torch.randn(5, 7, 3, dtype=torch.float64)
    assert jac.mean_sq(j) == pytest.approx(jac.spectrum_of(j, "hidden").mean_sq, rel=1e-12)


def test_a_jacobian_that_is_not_finite_is_refused_in_words_not_by_lapack():
    j = torch.ones(2, 3, 3)
    j[1, 0, 0] = float("inf")
    for compute in (lambda: jac.spectrum_of(j, "hidden"), lambda: jac.mean_sq(j)):
        with pytest.raises(ValueError, match="not finite"):
            compute()


def test_the_jacobian_of_a_config_with_stored_weights_is_that_networks():
    """config_spectrum(..., state_dict=) is the spectrum of cfg's network with those weights (not
    the fresh one's), and weights that are not finite (a diverged run's) are refused in words."""
    cfg = RunConfig(activation="tanh", widths=(32, 32))
    info = DatasetInfo(1, 1, 40, 10, 3600, 400, 1000)
    x = torch.randn(4, 40)
    weights = {k: v * 1.5 for k, v in build_model(cfg.replace(seed=9), info).state_dict().items()}
    net = build_model(cfg, info)
    net.load_state_dict(weights)
    stored = jac.config_spectrum(cfg, info, x=x, state_dict=weights)
    assert stored.mean_sq == pytest.approx(jac.jacobian_spectrum(net, x).mean_sq, rel=1e-6)
    assert stored.mean_sq != pytest.approx(jac.config_spectrum(cfg, info, x=x).mean_sq, rel=1e-3)
    next(iter(weights.values()))[0, 0] = float("nan")
    with pytest.raises(ValueError, match="stored weights are not finite"):
        jac.config_spectrum(cfg, info, x=x, state_dict=weights)
