"""Ready-made experiments that open with one click (the Home page's buttons).

Each is small enough to train in seconds on a laptop CPU on the offline dataset. `outcome` is
what its blurb claims the diagnosis of the trained run shows (tests/test_scenarios.py trains each
card and checks it): "vanishing", "exploding" or "no gradient" (a problem of that kind), "healthy"
(no problem, a healthy gradient flow), or None (the card claims no outcome).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..base.config import RunConfig


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    blurb: str
    config: RunConfig
    outcome: str | None = None


def _deep_sigmoid(**changes) -> RunConfig:
    settings = dict(activation="logistic", init="glorot_uniform", widths=(128,) * 8, epochs=5,
                    optimizer="sgd_momentum", lr=0.01)
    return RunConfig(**(settings | changes))


SCENARIOS = [
    Scenario("sigmoid-vanishes", "Deep sigmoid net vanishes",
             "8 logistic layers, Glorot init: the gradient shrinks about 4x per layer on its way "
             "back, the first layers hardly learn.", _deep_sigmoid(), "vanishing"),
    Scenario("bn-fixes-it", "Batch norm fixes it",
             "The same network with batch norm before each activation: the gradient reaches the "
             "first layer almost undiminished.", _deep_sigmoid(bn="before"), "healthy"),
    Scenario("relu-he", "ReLU with He init learns",
             "The same depth with ReLU and He initialization: no saturation, steady gradients.",
             _deep_sigmoid(activation="relu", init="he_normal"), "healthy"),
    Scenario("residual", "Skips alone don't save sigmoids",
             "The deep sigmoid net with skips around pairs of layers: layer 1 gets about 70 times more "
             "gradient than without them, yet hundreds of times less than the last hidden layer. The skip is "
             "added before the activation, so every logistic unit still scales the gradient by at "
             "most 0.25.", _deep_sigmoid(residual=True), "vanishing"),
    Scenario("selu", "SELU self-normalizes",
             "20 layers of 100 SELU units, LeCun normal init, standardized inputs, Nadam: "
             "activations keep mean 0 and std 1 through the depth.",
             RunConfig(activation="selu", init="lecun_normal", standardize=True, widths=(100,) * 20,
                       optimizer="nadam", lr=7e-4, epochs=5), "healthy"),
    Scenario("relu-normal-explodes", "ReLU with N(0,1) explodes",
             "Standard normal weights double the signal's variance many times over: huge "
             "activations, huge gradients, a loss that blows up.",
             RunConfig(activation="relu", init="normal", widths=(256,) * 6, optimizer="sgd",
                       lr=0.01, epochs=3), "exploding"),
    Scenario("gradient-noise", "Gradient noise + batch norm (Agarap (2019))",
             "The 5-layer logistic MLP of Agarap (2019) with annealed gradient noise and one batch norm "
             "after the last hidden layer.",
             RunConfig(activation="logistic", widths=(512, 512, 256, 256, 128), grad_noise=1.0,
                       bn="last", input_noise=0.05, optimizer="sgd_momentum", lr=0.01, epochs=5)),
    Scenario("zeros", "Zero init never breaks symmetry",
             "All weights start at 0: every unit of a layer computes the same thing and the "
             "hidden layers get no gradient at all.",
             RunConfig(activation="tanh", init="zeros", widths=(128,) * 3, epochs=3), "no gradient"),
]

SCENARIOS_BY_KEY = {s.key: s for s in SCENARIOS}

# Home's first picture: three 10-layer networks on MNIST digits before training, named as drawn.
PICTURE = (
    ("logistic, Glorot init", RunConfig(activation="logistic", widths=(128,) * 10)),
    ("logistic + batch norm", RunConfig(activation="logistic", widths=(128,) * 10, bn="before")),
    ("ReLU, He init", RunConfig(activation="relu", init="he_normal", widths=(128,) * 10)),
)


def _two_digits(x: float) -> float:
    """x to two significant digits (14,908,278 -> 15,000,000): what a caption can claim."""
    return float(f"{x:.2g}")


def picture_caption(flows: dict[str, list[float]]) -> str:
    """The picture's caption from its numbers: per network (label -> mean |g| per weight layer,
    input to output), layer 1's mean |g| as a fraction of the output layer's."""
    parts = []
    for label, flow in flows.items():
        if len(flow) < 2 or not flow[-1] or not (math.isfinite(flow[0]) and math.isfinite(flow[-1])):
            continue
        ratio = flow[0] / flow[-1]
        size = (f"about {_two_digits(1 / ratio):,.0f} times smaller than" if ratio < 0.5 else
                f"{ratio:,.1f} times as large as" if ratio > 2 else "about as large as")
        parts.append(f"{label}: layer 1's gradient is {size} the output layer's")
    return ("Mean |gradient| of each layer's weights in three 10-layer networks on MNIST digits, before "
            "training (log scale). " + "; ".join(parts) + "." if parts else "")
