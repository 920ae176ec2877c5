"""Quijas (2020): a self-normalizing network (SELU + LeCun normal) against a regular deep network."""
from __future__ import annotations

from ..findings import Better, Ref, Within
from .base import Cell, Preset, make_cell
from .sources import QUIJAS_2020

SNN = ("SNN: SELU + LeCun normal, standardized inputs",)
REGULAR = ("regular: ReLU + Glorot uniform",)
HE = ("control: ReLU + He normal (ours)",)
NETS = ((SNN[0], dict(activation="selu", init="lecun_normal", standardize=True)),
        (REGULAR[0], dict(activation="relu", init="glorot_uniform")),
        (HE[0], dict(activation="relu", init="he_normal")))


def _cells(scale: str) -> list[Cell]:
    if scale == "full":
        data = (("Fashion-MNIST", "fashion-mnist", dict(epochs=50)), ("CIFAR-10", "cifar10", dict(epochs=50)))
    elif scale == "standard":
        data = (("Fashion-MNIST", "fashion-mnist", dict(epochs=15, train_subset=20000)),)
    else:
        data = (("Fashion-MNIST", "fashion-mnist", dict(epochs=10, train_subset=4000)),)
    cells = []
    for column, dataset, extra in data:
        for label, net in NETS:
            # Fashion-MNIST falls back to mnist-5k; CIFAR-10 too (not to Fashion-MNIST, which
            # would only repeat the first column's runs).
            cells.append(make_cell((label,), column, dataset=dataset, widths=(100,) * 20,
                                   optimizer="nadam", lr=7e-4, batch_size=32, seed=0, **net, **extra))
    return cells


FM = "Fashion-MNIST"
_BEST = tuple(Ref(row, FM, "best_epoch") for row in (SNN, REGULAR))


def _faster(than: tuple, who: str) -> Better:
    # Both networks take the same steps per epoch, so epochs count iterations in the same unit. A
    # seed of the SNN that never reaches the target counts as one epoch past the run (the table
    # counts it the same way, core.lab.findings.censored_values).
    return Better(f"(ours) The SNN reaches {who}'s best validation accuracy in fewer epochs (our "
                  "measure of the article's 'fewer iterations')",
                  Ref(SNN, FM, "epochs_to_base_best", base_row=than), Ref(than, FM, "best_epoch"),
                  higher=False, smallest=1.0, basis="ours: one epoch",
                  capped=(Ref(than, FM, "best_epoch"),))


CLAIMS = (
    # the article's own measure: the relative change of the epoch of the best validation accuracy
    Within("The SNN reaches its best validation accuracy in fewer iterations than the regular "
           "network (the article: 28% fewer)", Ref(SNN, FM, "best_epoch_change"), hi=-14.0,
           basis="half the published -28%", capped=_BEST),
    _faster(REGULAR, "the regular network"),
    _faster(HE, "the ReLU + He control"),
)


SELU_SNN = Preset(
    name="selu-snn",
    title="Self-normalizing network (SELU) vs a regular deep network",
    source=QUIJAS_2020,
    short="Quijas 2020",
    description="20 hidden layers of 100: SELU + LeCun normal + standardized inputs vs ReLU "
                "(Glorot, and He as a fair control), Nadam 7e-4, Fashion-MNIST (and CIFAR-10 "
                "where available).",
    build=_cells,
    row_names=("Network",),
    columns=("Fashion-MNIST", "CIFAR-10"),
    metrics=("best_val_acc", "best_epoch", "best_epoch_change", "epochs_to_base_best", "test_acc"),
    published={(SNN, "Fashion-MNIST"): {"best_epoch_change": -28.0},
               (SNN, "CIFAR-10"): {"test_acc": "F1 +12% vs regular"}},
    units={"best_epoch_change": "%"},
    published_note="The article gives no accuracies, only comparisons: on Fashion-MNIST the SNN "
                   "reached its best validation accuracy in 28% fewer iterations than the regular "
                   "network; on CIFAR-10 its test F1 score was 12% better.",
    reading="The article's claim: the SNN keeps its activations near mean 0, std 1 through all "
            "20 layers, so its gradients neither vanish nor explode and it converges faster than "
            "the regular network. 'epochs to best val' is the epoch of the best validation "
            "accuracy; 'vs regular' compares it with the regular network's (the relative change "
            "in epochs equals that in iterations: both take the same steps per epoch); 'epochs "
            "to regular's best val' is when a network first matches the regular network's best "
            "validation accuracy. The article does not say what its regular network was; we use "
            "ReLU with Keras's default Glorot-uniform init on unstandardized inputs, and add "
            "ReLU with He-normal init (the initialization made for ReLU) as a fair control.",
    notes={"quick": "4,000 Fashion-MNIST training images instead of the full training set (our full "
                    "scale: 54,000, with 6,000 held out for validation; the article does not say "
                    "its split) and 10 epochs instead of 50; no CIFAR-10 column (quick scale stays "
                    "on offline data).",
           "standard": "20,000 Fashion-MNIST training images instead of the full training set and "
                       "15 epochs instead of 50; no CIFAR-10 column (offline data only).",
           "full": "Fashion-MNIST and CIFAR-10 with the article's 50 epochs; CIFAR-10 only when "
                   "its files are on this machine or can be downloaded, otherwise mnist-5k stands in."},
    differences=(
        "Batch size 32 (Keras's default; the article does not say).",
        "Nadam: PyTorch's eps 1e-8 (Keras's default, which the article used, is 1e-7).",
        "Below full scale the runs are short (10 or 15 epochs): a best epoch at the run's last "
        "means the network was still improving, so 'epochs to best' is capped by the run; the "
        "findings count such seeds.",
        "We report accuracy, not F1.",
        "The article's code adds the softmax output layer inside the loop over hidden layers (20 "
        "softmax layers as printed); we build the network it describes: 20 hidden layers, one "
        "softmax output.",
        "Below full scale: fewer training images and epochs (see the scale note); where "
        "Fashion-MNIST is not installed, mnist-5k stands in (said in the table).",
    ),
    claims=CLAIMS,
    baseline_row=REGULAR,
    charts=("grad_flow", "curves", "activation_std"),
)
