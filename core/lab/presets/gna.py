"""Agarap (2019): gradient noise addition (GNA) and batch norm on noisy MNIST MLPs."""
from __future__ import annotations

from ..findings import AllOf, Better, Ref, Within
from .base import Cell, Preset, half_of, make_cell
from .sources import AGARAP_2019

GNA = dict(grad_noise=1.0, noise_gamma=0.55, noise_unit="epoch")
# The last row is ours, not the paper's: batch norm without the noise, to tell the two apart.
MODELS = (("Baseline", {}), ("GNA", GNA), ("GNA + BatchNorm", {**GNA, "bn": "last"}),
          ("BatchNorm only (ours)", {"bn": "last"}))
ACTS = (("Logistic", "logistic"), ("TanH", "tanh"), ("ReLU", "relu"),
        ("Leaky ReLU", "leaky_relu"), ("Swish", "swish"))
# standard scale: only the cells the claims below need ((model, activation) per column)
STANDARD = {"2-layer": {(m, a) for m in ("Baseline", "GNA") for a, _ in ACTS}
            | {("GNA + BatchNorm", "Logistic"), ("BatchNorm only (ours)", "Logistic")},
            "5-layer": {(m, "Logistic") for m in ("Baseline", "GNA", "GNA + BatchNorm")}
            | {("Baseline", "Swish"), ("GNA + BatchNorm", "Swish"), ("Baseline", "ReLU"), ("GNA", "ReLU")}}


def _cells(scale: str) -> list[Cell]:
    if scale == "full":
        nets = {"2-layer": ((512, 512), 1024), "5-layer": ((512, 512, 256, 256, 128), 512)}
        common = dict(dataset="mnist", epochs=100)
    else:
        # Widths / 4 and batch sizes / 4: on 3,600 examples 50 epochs give 750 and 1,450 SGD
        # steps (the paper had 5,900 and 11,800), enough for lr 3e-4 to move the weights.
        nets = {"2-layer": ((128, 128), 256), "5-layer": ((128, 128, 64, 64, 32), 128)}
        common = dict(dataset="mnist-5k", epochs=100 if scale == "standard" else 50)
    cells = []
    for act_label, act in ACTS:
        for model, extra in MODELS:
            for column, (widths, batch) in nets.items():
                if scale == "standard" and (model, act_label) not in STANDARD[column]:
                    continue
                cells.append(make_cell((model, act_label), column, widths=widths, batch_size=batch,
                                       activation=act, leaky_slope=0.2, init="glorot_uniform",
                                       optimizer="sgd_momentum", lr=3e-4, momentum=0.9,
                                       input_noise=0.05, seed=42, **common, **extra))
    return cells


TABLE = {  # Table 1 of Agarap (2019): test accuracy (%) on the 2-layer and 5-layer networks
    ("Baseline", "Logistic"): (65.12, 10.28), ("GNA", "Logistic"): (75.05, 11.35),
    ("GNA + BatchNorm", "Logistic"): (76.37, 11.35),
    ("Baseline", "TanH"): (91.12, 91.27), ("GNA", "TanH"): (91.61, 91.78),
    ("GNA + BatchNorm", "TanH"): (91.81, 92.15),
    ("Baseline", "ReLU"): (91.62, 88.65), ("GNA", "ReLU"): (92.37, 83.62),
    ("GNA + BatchNorm", "ReLU"): (92.49, 84.40),
    ("Baseline", "Leaky ReLU"): (91.38, 90.43), ("GNA", "Leaky ReLU"): (92.02, 83.34),
    ("GNA + BatchNorm", "Leaky ReLU"): (92.12, 92.39),
    ("Baseline", "Swish"): (89.95, 37.18), ("GNA", "Swish"): (90.92, 83.10),
    ("GNA + BatchNorm", "Swish"): (91.03, 91.65),
}


def _r(model, act, column):
    return Ref((model, act), column, "test_acc")


def _gain(better, worse, act, column):
    """half_of the published difference better - worse of one Table 1 cell pair."""
    i = 0 if column == "2-layer" else 1
    return half_of(TABLE[(better, act)][i] - TABLE[(worse, act)][i])


CLAIMS = (
    # beside our BN-only control, so the words say how much of the effect is batch norm's
    Better("GNA + BN beats the baseline for the 2-layer logistic network",
           _r("GNA + BatchNorm", "Logistic", "2-layer"), _r("Baseline", "Logistic", "2-layer"),
           control=_r("BatchNorm only (ours)", "Logistic", "2-layer"),
           **_gain("GNA + BatchNorm", "Baseline", "Logistic", "2-layer")),
    AllOf("GNA alone beats the baseline (every 2-layer network)",
          tuple(Better(f"GNA > baseline, {a}", _r("GNA", a, "2-layer"), _r("Baseline", a, "2-layer"),
                       **_gain("GNA", "Baseline", a, "2-layer")) for a, _ in ACTS)),
    Better("GNA + BN beats the baseline for the 5-layer swish network",
           _r("GNA + BatchNorm", "Swish", "5-layer"), _r("Baseline", "Swish", "5-layer"),
           **_gain("GNA + BatchNorm", "Baseline", "Swish", "5-layer")),
    AllOf("The 5-layer logistic network stays near chance whatever is done (at most 15%)",
          tuple(Within(f"{m} at chance", _r(m, "Logistic", "5-layer"), hi=15.0,
                       basis="chance, 10% on 10 digits, + 5 points")
                for m in ("Baseline", "GNA", "GNA + BatchNorm"))),
    Better("GNA hurts the 5-layer ReLU network", _r("Baseline", "ReLU", "5-layer"),
           _r("GNA", "ReLU", "5-layer"), **_gain("Baseline", "GNA", "ReLU", "5-layer")),
)

GNA_BN = Preset(
    name="gna-bn",
    title="Gradient noise addition + batch norm",
    source=AGARAP_2019 + ", Table 1",
    short="Agarap 2019",
    description="MLPs 2 and 5 layers deep x 5 activations x {baseline, GNA, GNA + BN, BN} on noisy MNIST.",
    build=_cells,
    row_names=("Model", "Activation"),
    columns=("2-layer", "5-layer"),
    metrics=("test_acc",),
    published={(row, col): {"test_acc": v} for row, vals in TABLE.items()
               for col, v in zip(("2-layer", "5-layer"), vals)},
    units={"test_acc": "%"},
    published_note="Table 1 of Agarap (2019): test accuracy after 100 epochs on MNIST (60,000 "
                   "training images, Gaussian input noise std 0.05), one run with seed 42.",
    reading="The paper finds that annealed gradient noise (std 1/(1+epoch)^0.55 on every "
            "gradient) and one batch norm after the last hidden layer raise test accuracy, most "
            "for the saturating logistic network (2-layer: 65% -> 76%) and for the 5-layer swish "
            "network (37% -> 92%); the 5-layer logistic network stays at chance whatever is done, "
            "and GNA hurts the 5-layer ReLU networks. The 'BatchNorm only' rows are ours (the "
            "paper has none): the first finding's words say how much of GNA + BN's effect is batch norm's. The paper's "
            "gradient histograms were of the noisy gradient (logged after the noise was added): "
            "we log both.",
    notes={"quick": "mnist-5k (3,600 training images) instead of MNIST; 50 epochs instead of 100 "
                    "(the noise still anneals per epoch, to 1/51^0.55 = 0.11 instead of 0.08); widths "
                    "/ 4 (128-128 and 128-128-64-64-32); batch sizes / 4 (256 and 128), so the "
                    "networks get 750 and 1,450 SGD steps at lr 3e-4 (the paper's got 5,900 and "
                    "11,800) and 15 and 29 noisy steps per epoch (the paper's 59 and 118).",
           "standard": "the quick design with the paper's 100 epochs (1,500 and 2,900 SGD steps), "
                       "only the cells the claims need (all 2-layer baseline and GNA networks, the "
                       "2-layer logistic GNA + BN and BN-only networks, and the 5-layer logistic, "
                       "swish and ReLU cells the paper's claims name).",
           "full": "MNIST with 54,000 training images (6,000 are held out for validation); leaky "
                   "ReLU slope 0.2 (tf.nn.leaky_relu's default; the README does not say)."},
    differences=(
        "Framework: PyTorch instead of TensorFlow 2; initializers matched by name (glorot_uniform); "
        "batch norm keeps PyTorch's momentum 0.1 and eps 1e-5 (Keras: 0.99 and 1e-3).",
        "Training length: below full scale the networks get fewer SGD steps on fewer images than the "
        "paper's (see the scale note), so accuracies that are still rising at the end are lower.",
        "The paper's 5-layer logistic accuracies (10.28%, 11.35%) are the shares of the digits 7 "
        "and 1 in MNIST's test set: constant predictions. A constant prediction scores the share of "
        "the digit it predicts: on our mnist-5k test split from 8.40% (digit 5, the rarest there) "
        "to 11.80% (digit 8, the most frequent).",
        "Seeds: the paper reports one run (seed 42); ours are seeds 42, 43, ... with their spread.",
    ),
    claims=CLAIMS,
    baseline_of=lambda row: ("Baseline", row[1]),
)
