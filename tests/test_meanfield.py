"""Signal-propagation theory (core.engine.meanfield) against known results and measurement.

Known results: ReLU is critical exactly at He initialization (sigma_w2 = 2, sigma_b2 = 0; Poole
et al. 2016), a linear network has chi_1 = sigma_w2, tanh without bias is critical at sigma_w2 = 1
and with bias above 1 (Schoenholz et al. 2017, Fig. 1: about 1.76 at sigma_b2 = 0.05), SELU at
LeCun initialization has the fixed point q* = 1 with mean 0 (Klambauer et al. 2017). Quadrature
is checked against scipy's adaptive integration; the predicted per-layer variances against the
pre-activations of wide random networks built by the app.
"""
import math
import time

import numpy as np
import pytest
import torch
from scipy import integrate, optimize

from core.base.config import RunConfig
from core.base.datasets import DatasetInfo
from core.engine import meanfield as mf
from core.engine.activations import ACTIVATION_SPECS
from core.engine.jacobian import gaussian_inputs, hidden_preactivations
from core.engine.models import build_model


def _gauss(f, q):
    """E[f(sqrt(q) z)] by adaptive quadrature, split at the kink z = 0."""
    g = lambda z: f(math.sqrt(q) * z) * math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    return sum(integrate.quad(g, a, b, limit=400, epsabs=1e-13, epsrel=1e-11)[0]
               for a, b in [(-np.inf, -1), (-1, 0), (0, 1), (1, np.inf)])


@pytest.mark.parametrize("name", list(ACTIVATION_SPECS))
def test_quadrature_matches_adaptive_integration_for_every_activation(name):
    phi = lambda x: float(mf.phi_and_derivative(name, np.array([x]))[0][0])  # noqa: E731
    dphi = lambda x: float(mf.phi_and_derivative(name, np.array([x]))[1][0])  # noqa: E731
    for q in (0.3, 4.0, 200.0):
        mean, second, slope = mf.activation_moments(name, q)
        assert second == pytest.approx(_gauss(lambda x: phi(x) ** 2, q), rel=1e-7, abs=1e-12)
        assert slope == pytest.approx(_gauss(lambda x: dphi(x) ** 2, q), rel=1e-7, abs=1e-12)
        assert mean == pytest.approx(_gauss(phi, q), rel=1e-7, abs=1e-10)


def test_relu_is_critical_exactly_at_he_initialization():
    he = mf.signal_propagation("relu", 2.0, 0.0, depth=5, q0=0.7)
    assert he.chi1 == pytest.approx(1.0, abs=1e-12) and he.phase == "critical"
    assert he.q_star == pytest.approx(1.4, rel=1e-9)  # every q is a fixed point: q* = q_1
    assert he.xi_c is None and he.grad_growth == pytest.approx(1.0, abs=1e-9)
    for sw in (2.2, 3.0):  # the length map diverges and gradients explode by sigma_w2 / 2
        p = mf.signal_propagation("relu", sw, 0.0)
        assert p.q_star == math.inf and p.chi1 == pytest.approx(sw / 2) and p.phase == "chaotic"
    for sw, sb in ((1.0, 0.0), (1.5, 0.0)):  # signals collapse to q* = 0
        p = mf.signal_propagation("relu", sw, sb)
        assert p.q_star < 1e-10 and p.chi1 == pytest.approx(sw / 2) and p.phase == "ordered"
    assert mf.signal_propagation("relu", 2.0, 0.1).q_star == math.inf  # with bias even at 2
    assert mf.critical_sigma_w2("relu", 0.0) == pytest.approx(2.0, rel=1e-9)
    assert mf.critical_sigma_w2("relu", 0.1) is None


@pytest.mark.parametrize("sw", [0.5, 1.0, 1.3])
def test_linear_network_has_chi1_equal_to_sigma_w2(sw):
    p = mf.signal_propagation("linear", sw, 0.0, depth=4, q0=2.0)
    assert p.chi1 == pytest.approx(sw, rel=1e-12)
    assert p.per_layer_q == pytest.approx([2.0 * sw ** k for k in range(1, 5)], rel=1e-10)
    assert p.grad_growth == pytest.approx(sw ** 3, rel=1e-10)


def test_tanh_without_bias_is_critical_at_one_ordered_below_chaotic_above():
    assert mf.signal_propagation("tanh", 1.0, 0.0).chi1 == pytest.approx(1.0, abs=1e-6)
    assert mf.critical_sigma_w2("tanh", 0.0) == pytest.approx(1.0, abs=1e-6)
    below, above = mf.signal_propagation("tanh", 0.8, 0.0), mf.signal_propagation("tanh", 1.5, 0.0)
    assert below.phase == "ordered" and below.chi1 == pytest.approx(0.8) and below.c_star == 1.0
    assert below.xi_c == pytest.approx(-1 / math.log(0.8), rel=1e-6)
    assert above.phase == "chaotic" and above.q_star > 0.1
    assert above.c_star == pytest.approx(0.0, abs=1e-9)  # odd phi without bias: c* = 0
    assert 0 < above.chi_c < 1 and above.xi_c > 0


def _independent_chi1(sw, sb):
    """chi_1 of tanh from scipy alone: q* by brentq, the integrals by adaptive quadrature."""
    length = lambda q: sw * _gauss(lambda x: math.tanh(x) ** 2, q) + sb - q  # noqa: E731
    q_star = optimize.brentq(length, 1e-6, 50.0, xtol=1e-13)
    return sw * _gauss(lambda x: (1.0 - math.tanh(x) ** 2) ** 2, q_star)


def test_tanh_with_bias_is_critical_above_one_and_rising_with_the_bias():
    biases = [0.01, 0.05, 0.1, 0.3, 1.0]
    crit = [mf.critical_sigma_w2("tanh", sb) for sb in biases]
    assert all(c > 1 for c in crit) and np.all(np.diff(crit) > 0)
    assert crit[1] == pytest.approx(1.76, abs=0.005)  # Schoenholz et al. 2017, Fig. 1
    for sb, sw in zip(biases, crit):
        assert _independent_chi1(sw, sb) == pytest.approx(1.0, abs=1e-6)
        assert mf.signal_propagation("tanh", sw, sb).phase == "critical"


def test_selu_fixed_point_is_one_with_mean_zero():
    mean, second, _ = mf.activation_moments("selu", 1.0)
    assert mean == pytest.approx(0.0, abs=1e-6) and second == pytest.approx(1.0, abs=1e-6)
    assert mf.signal_propagation("selu", 1.0, 0.0, q0=3.0).q_star == pytest.approx(1.0, abs=1e-6)


def test_relu_correlation_map_is_the_arccosine_kernel():
    step = mf.correlation_map("relu", 2.0, 0.0, q=1.0)
    for c in (-0.5, 0.0, 0.5, 0.9, 0.999):
        theta = math.acos(c)
        value, slope = step(c)
        assert value == pytest.approx((math.sin(theta) + (math.pi - theta) * c) / math.pi, abs=1e-8)
        assert slope == pytest.approx((math.pi - theta) / math.pi, abs=1e-8)


def test_chaotic_fixed_point_of_the_correlation_map():
    p = mf.signal_propagation("tanh", 3.0, 0.3)
    assert p.phase == "chaotic" and 0 < p.c_star < 1
    value, slope = mf.correlation_map("tanh", 3.0, 0.3, p.q_star)(p.c_star)
    assert value == pytest.approx(p.c_star, abs=1e-9)
    assert slope == pytest.approx(p.chi_c, rel=1e-6) and p.chi_c < 1
    assert p.xi_c == pytest.approx(-1 / math.log(p.chi_c)) and p.xi_q == pytest.approx(-1 / math.log(p.chi_q))


def test_phase_diagram_is_fast_and_agrees_with_the_pointwise_theory():
    sw, sb = np.linspace(0.5, 4.0, 60), np.linspace(0.0, 0.5, 60)
    start = time.perf_counter()
    grid = mf.phase_diagram("tanh", sw, sb)
    assert time.perf_counter() - start < 2.0  # well under a second on an idle machine
    assert grid.chi1.shape == grid.q_star.shape == (60, 60) and grid.critical_sigma_w2.shape == (60,)
    for i, j in [(0, 5), (10, 20), (30, 45), (59, 59), (45, 2)]:
        p = mf.signal_propagation("tanh", sw[j], sb[i])
        assert grid.chi1[i, j] == pytest.approx(p.chi1, rel=1e-3, abs=1e-6)
    for i in (0, 6, 20, 59):
        assert grid.critical_sigma_w2[i] == pytest.approx(mf.critical_sigma_w2("tanh", sb[i]), rel=1e-3)
    relu = mf.phase_diagram("relu", [1.0, 2.0, 3.0], [0.0, 0.2])
    assert relu.q_star[0, 2] == math.inf and relu.q_star[1, 1] == math.inf
    assert relu.chi1[0] == pytest.approx([0.5, 1.0, 1.5])
    assert relu.critical_sigma_w2[0] == pytest.approx(2.0) and np.isnan(relu.critical_sigma_w2[1])


def test_init_sigma_w2_of_the_app_inits():
    assert mf.init_sigma_w2("he_normal", 256) == pytest.approx(2.0)
    assert mf.init_sigma_w2("he_uniform", 100) == pytest.approx(2.0)
    assert mf.init_sigma_w2("glorot_uniform", 300, 300) == pytest.approx(1.0)
    assert mf.init_sigma_w2("glorot_normal", 784, 256) == pytest.approx(2 * 784 / 1040)
    assert mf.init_sigma_w2("lecun_normal", 64) == pytest.approx(1.0)
    assert mf.init_sigma_w2("orthogonal", 128, 128) == pytest.approx(1.0)
    assert mf.init_sigma_w2("normal", 500) == pytest.approx(500.0)
    assert mf.init_sigma_w2("torch_default", 500) == pytest.approx(1 / 3)
    assert mf.init_sigma_b2("torch_default", 500) == pytest.approx(1 / 1500)
    assert mf.init_sigma_b2("he_normal", 500) == 0.0


def test_applies_only_to_plain_fully_connected_networks():
    assert mf.applies(RunConfig())[0]
    for change, word in [(dict(bn="before"), "batch norm"), (dict(residual=True), "residual"),
                         (dict(arch="vgg"), "VGG"), (dict(dropout=0.2), "dropout")]:
        ok, reason = mf.applies(RunConfig(**change))
        assert not ok and word in reason


def _measured_q(net, x):
    return [float((h.double() ** 2).mean()) for h in hidden_preactivations(net, x)]


def _redraw(net, sigma_w2, sigma_b2, seed):
    """Weights N(0, sigma_w2 / fan_in) and biases N(0, sigma_b2) for a point of the theory."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in net.layers:
            layer.weight.normal_(0.0, math.sqrt(sigma_w2 / layer.weight.shape[1]), generator=g)
            layer.bias.normal_(0.0, math.sqrt(sigma_b2), generator=g)


INFO = DatasetInfo(1, 28, 28, 10, 3600, 400, 1000)
NETS = 6  # a finite layer's variance fluctuates by ~sqrt(2 / width) (common-mode terms): average


def _average_measured(make_net, q0):
    """Mean over NETS networks of width 1000 of the measured Var(h_l) (inputs ~ N(0, q0))."""
    runs = [_measured_q(make_net(s), gaussian_inputs(INFO.features, 64, q0, seed=1000 + s)) for s in range(NETS)]
    return list(np.mean(runs, axis=0))


@pytest.mark.parametrize("activation,init,q0", [("tanh", "glorot_normal", 1.0), ("tanh", "he_normal", 0.5),
                                                 ("logistic", "glorot_uniform", 2.0), ("logistic", "he_normal", 1.0)])
def test_predicted_variances_match_wide_networks_of_the_app(activation, init, q0):
    cfg = RunConfig(activation=activation, init=init, widths=(1000,) * 8)
    measured = _average_measured(lambda s: build_model(cfg.replace(seed=s), INFO), q0)
    predicted = mf.theory_for_config(cfg, INFO, q0=q0).per_layer_q  # depths 1..8
    assert measured == pytest.approx(list(predicted), rel=0.05)


@pytest.mark.parametrize("activation,sw,sb", [("tanh", 1.5, 0.1), ("tanh", 3.0, 0.3), ("logistic", 4.0, 0.2)])
def test_predicted_variances_with_biases(activation, sw, sb):
    cfg = RunConfig(activation=activation, widths=(1000,) * 8)

    def make(s):
        net = build_model(cfg.replace(seed=s), INFO)
        _redraw(net, sw, sb, seed=100 + s)
        return net
    predicted = mf.signal_propagation(activation, sw, sb, depth=8, q0=1.0).per_layer_q
    assert _average_measured(make, 1.0) == pytest.approx(list(predicted), rel=0.05)
