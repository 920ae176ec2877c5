"""The catalogues of the things a run is built from, one table per kind, keyed by the names a
RunConfig holds: activations, weight initializations and optimizers. No torch here: the engine
keeps the constructors keyed by the same names (core.engine.activations, .inits, .step), and
tests/test_catalogues.py holds the keys equal, so a name is added in one table and one
constructor.

    ACTIVATION_TABLE["tanh"].suited_init         # 'glorot': the init family that keeps its variance
    suited_init("relu")                          # 'he_normal': the init the app offers for it
    INIT_TABLE["he_uniform"].variance(784, 512)  # 2 / 784
    OPTIMIZER_TABLE["adam"].eps                  # 1e-08: the floor of its per-weight rescaling

The config's choices (core.base.config.ACTIVATIONS, INITS, OPTIMIZERS), the widgets and the
CLI flags made from them, the diagnosis and its remedies all read these tables.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

# ---------------------------------------------------------------------- activations
# logistic: s(1-s) < 0.1 * 0.25  <=>  |s - 0.5| > sqrt(0.25 - 0.025) = 0.4743
# tanh:     1 - t^2 < 0.1        <=>  |t| > sqrt(0.9) = 0.9487
_LOGISTIC_SAT = math.sqrt(0.25 - 0.025)
_TANH_SAT = math.sqrt(0.9)


@dataclass(frozen=True)
class Activation:
    """What the statistics, the diagnosis and the Theory page know of an activation.

    saturation_threshold: |output - saturation_centre| above it is a saturated unit (its
    derivative below 10% of its maximum), None where nothing saturates; can_die: a unit can
    output exactly 0 for every input of a batch; hist_range: the activation histogram's range;
    suited_init: the init family that keeps its variance (glorot, he, lecun)."""
    name: str
    suited_init: str
    hist_range: tuple[float, float]
    saturation_threshold: float | None = None
    saturation_centre: float = 0.0
    can_die: bool = False


ACTIVATION_TABLE: dict[str, Activation] = {a.name: a for a in (
    Activation("logistic", "glorot", (0.0, 1.0), _LOGISTIC_SAT, 0.5),
    Activation("tanh", "glorot", (-1.0, 1.0), _TANH_SAT),
    Activation("relu", "he", (-0.5, 4.5), can_die=True),
    Activation("leaky_relu", "he", (-2.5, 4.5)),
    Activation("prelu", "he", (-2.5, 4.5)),
    Activation("elu", "he", (-1.5, 4.5)),
    Activation("selu", "lecun", (-2.0, 4.0)),
    Activation("swish", "he", (-0.5, 4.5)),
    Activation("softplus", "he", (0.0, 5.0)),
    Activation("gelu", "he", (-0.5, 4.5)),
    Activation("linear", "glorot", (-4.0, 4.0)),
)}

# ---------------------------------------------------------------------- initializations
NORMAL, UNIFORM, ORTHOGONAL, ZEROS, LAYER_DEFAULT = "normal", "uniform", "orthogonal", "zeros", "layer default"


@dataclass(frozen=True)
class Init:
    """A weight initialization: how it draws (NORMAL, UNIFORM with the same variance, ORTHOGONAL,
    ZEROS, or the layer's own LAYER_DEFAULT) and the variance of each entry as a function of
    (fan_in, fan_out); None where it is not a function of the fans alone (orthogonal: see
    core.engine.inits.expected_variance). family: the family whose suited activations it serves."""
    name: str
    draw: str
    variance: Callable[[int, int], float] | None
    family: str = ""


INIT_TABLE: dict[str, Init] = {i.name: i for i in (
    Init("normal", NORMAL, lambda fi, fo: 1.0),
    Init("random_normal", NORMAL, lambda fi, fo: 0.05 ** 2),
    Init("glorot_uniform", UNIFORM, lambda fi, fo: 2.0 / (fi + fo), "glorot"),
    Init("glorot_normal", NORMAL, lambda fi, fo: 2.0 / (fi + fo), "glorot"),
    Init("he_uniform", UNIFORM, lambda fi, fo: 2.0 / fi, "he"),
    Init("he_normal", NORMAL, lambda fi, fo: 2.0 / fi, "he"),
    Init("lecun_normal", NORMAL, lambda fi, fo: 1.0 / fi, "lecun"),
    Init("lecun_uniform", UNIFORM, lambda fi, fo: 1.0 / fi, "lecun"),
    Init("orthogonal", ORTHOGONAL, None),
    Init("zeros", ZEROS, lambda fi, fo: 0.0),
    # PyTorch's Linear/Conv default: kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    Init("torch_default", LAYER_DEFAULT, lambda fi, fo: 1.0 / (3.0 * fi)),
)}

# The init the app offers for each family (a remedy, the suited choice of a card).
FAMILY_INIT = {"glorot": "glorot_uniform", "he": "he_normal", "lecun": "lecun_normal"}
# The Theory page's table: (initialization, activations it suits, variance of the normal form).
FAMILY_TABLE = [
    ("Glorot (Xavier)", "none, tanh, logistic, softmax", "1 / fan_avg"),
    ("He (Kaiming)", "ReLU and its variants (leaky ReLU, PReLU, ELU, GELU, swish)", "2 / fan_in"),
    ("LeCun", "SELU", "1 / fan_in"),
]


def suited_init(activation: str) -> str:
    """The initialization the app suggests for `activation` (its family's usual member)."""
    return FAMILY_INIT[ACTIVATION_TABLE[activation].suited_init]


# ---------------------------------------------------------------------- optimizers
@dataclass(frozen=True)
class Optimizer:
    """An optimizer as the text names it; eps: the floor of an adaptive optimizer's per-weight
    rescaling (a step is lr * a / (a + eps) for a gradient of size a), None for SGD."""
    name: str
    label: str
    eps: float | None = None
    momentum: bool = False

    @property
    def adaptive(self) -> bool:
        return self.eps is not None


OPTIMIZER_TABLE: dict[str, Optimizer] = {o.name: o for o in (
    Optimizer("sgd", "SGD"),
    Optimizer("sgd_momentum", "SGD with momentum", momentum=True),
    Optimizer("adam", "Adam", 1e-8),
    # Keras's defaults (rho 0.9, eps 1e-7), which the lecture notes' experiments used.
    Optimizer("rmsprop", "RMSprop", 1e-7),
    Optimizer("nadam", "NAdam", 1e-8),
)}
