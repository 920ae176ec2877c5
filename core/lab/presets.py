"""The source documents' experiments as named presets, each runnable at two scales.

    preset = PRESETS["gna-bn"]
    cells = resolve(preset, "quick")        # [Cell(row, column, config, requested), ...]
    preset.published[(("Baseline", "logistic"), "5-layer")]   # {"test_acc": 10.28}

A preset is a grid of RunConfigs laid out like the document's table: every cell has a row key
(e.g. ("GNA + BatchNorm", "swish")) and a column (e.g. "5-layer", or "" when the table has one
column group), and the published numbers are keyed the same way. Two scales:

- full: the document's settings and dataset (mnist, cifar100, cifar10, fashion-mnist);
- quick: the same design scaled down (subset, fewer epochs, smaller widths where the finding
  survives) so that all presets together finish in about 20 minutes on a 2-core laptop CPU;
  what was scaled down is stated in `quick_note`.

A dataset that is not on this machine (core.engine.data raises DatasetUnavailable) is replaced by an
offline one, and the cell records it (`Cell.substitution`), so every surface can say so.
Running presets and building their tables lives in core.lab.reproduce and core.lab.tables; this module is data only.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable

from ..config import ConfigError, RunConfig, active_limits
from ..cost import estimate

SCALES = ("quick", "full")


@dataclass(frozen=True)
class Cell:
    """One configuration of a preset, placed in the document's table."""

    row: tuple[str, ...]  # row key, one entry per Preset.row_names
    column: str  # column group ("" when the table has a single one)
    config: RunConfig
    requested: str = ""  # the dataset the preset asked for ("" = the config's own)
    fallbacks: tuple[str, ...] = ("mnist-5k",)  # tried in order when `requested` is unavailable
    wanted_epochs: int = 0  # the document's epochs when this installation's limits capped them

    @property
    def label(self) -> str:
        """A short human label, e.g. 'GNA + BatchNorm · swish · 5-layer'."""
        parts = [p for p in self.row if p] + ([self.column] if self.column else [])
        return " · ".join(parts)

    @property
    def note(self) -> str:
        """What differs from the preset's own settings on this machine (empty when nothing)."""
        if self.wanted_epochs and self.wanted_epochs != self.config.epochs:
            return (f"{self.wanted_epochs} epochs exceed this installation's work limit; "
                    f"capped at {self.config.epochs}")
        return ""

    @property
    def substitution(self) -> str | None:
        """'cifar100 -> mnist-5k' when the requested dataset was replaced, else None."""
        if self.requested and self.requested != self.config.dataset:
            return f"{self.requested} -> {self.config.dataset}"
        return None


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    source: str  # which document, e.g. "000_* (README of a TensorFlow 2 study)"
    description: str  # one line for `reproduce --list`
    build: Callable[[str], list[Cell]]  # scale -> cells with the document's datasets
    row_names: tuple[str, ...]  # headers of the row key parts, e.g. ("Model", "Activation")
    columns: tuple[str, ...]  # column groups in table order, ("",) for a single group
    metrics: tuple[str, ...]  # core.lab.metrics.METRICS names shown per column group
    published: dict = field(default_factory=dict)  # (row, column) -> {metric: float | str}
    units: dict = field(default_factory=dict)  # metric -> unit of the published numbers
    published_note: str = ""  # where the published numbers come from, what they mean
    reading: str = ""  # how to read the result: what the document found
    quick_note: str = ""  # what the quick scale scales down
    full_note: str = ""  # how full scale differs from the document, if at all
    baseline_row: tuple[str, ...] | None = None  # reference row for relative metrics
    charts: tuple[str, ...] = ("grad_flow", "curves", "histograms")

    def cells(self, scale: str) -> list[Cell]:
        """The cells at `scale` with the document's datasets (no availability check)."""
        return self.build(check_scale(scale))


def fit_config(settings: dict) -> tuple[RunConfig, int]:
    """RunConfig(**settings), or, when the installation's limits forbid that many epochs (the
    work budget of core.config.Limits), the most epochs they allow. Returns the config and
    the epochs asked for when they were capped (else 0)."""
    try:
        return RunConfig(**settings), 0
    except ConfigError as exc:
        if exc.field != "epochs":
            raise
        limits = active_limits()
        per_epoch = estimate(RunConfig(**{**settings, "epochs": 1})).work
        allowed = min(int(limits.max_work // max(per_epoch, 1.0)), limits.max_epochs)
        if allowed < 1:
            raise
        return RunConfig(**{**settings, "epochs": allowed}), int(settings["epochs"])


def _cell(row: tuple[str, ...], column: str, **settings) -> Cell:
    cfg, wanted = fit_config(settings)
    return Cell(row, column, cfg, requested=cfg.dataset, wanted_epochs=wanted)


def check_scale(scale: str) -> str:
    if scale not in SCALES:
        raise ConfigError("scale", f"got {str(scale)[:40]!r}; expected one of {', '.join(SCALES)}")
    return scale


# ---------------------------------------------------------------------- dataset availability
def dataset_available(name: str, allow_download: bool = False) -> bool:
    """Whether core.engine.data can load `name` here (a download is tried only when allowed)."""
    from ..engine.data import DatasetUnavailable, load_raw

    try:
        load_raw(name, allow_download=allow_download)
    except DatasetUnavailable:
        return False
    return True


def resolve(preset: Preset, scale: str, allow_download: bool = False,
            available: Callable[[str, bool], bool] | None = None) -> list[Cell]:
    """The preset's cells at `scale`, each on its requested dataset when that can be loaded,
    else on its first available fallback (recorded in `Cell.substitution`).

    Pages and listings keep allow_download False (they must answer at once); the CLI asks
    for downloads so that full scale uses the real dataset wherever the network allows.
    """
    available = available or dataset_available
    known: dict[str, bool] = {}

    def ok(name: str) -> bool:
        if name not in known:
            known[name] = available(name, allow_download)
        return known[name]

    out = []
    for cell in preset.cells(scale):
        wanted = cell.requested or cell.config.dataset
        chosen = next((d for d in (wanted, *cell.fallbacks) if ok(d)), None)
        if chosen is None:
            raise ConfigError("dataset", f"neither {wanted} nor its fallbacks "
                              f"({', '.join(cell.fallbacks)}) can be loaded here")
        settings = {**cell.config.to_dict(), "dataset": chosen}
        if cell.wanted_epochs:
            settings["epochs"] = cell.wanted_epochs  # the other dataset may allow them all
        cfg, capped = fit_config(settings)
        out.append(dataclasses.replace(cell, requested=wanted, config=cfg,
                                       wanted_epochs=capped or cell.wanted_epochs))
    return out


def substitutions(cells: list[Cell]) -> list[str]:
    """Distinct 'X -> Y' dataset substitutions of resolved cells, in order."""
    return list(dict.fromkeys(c.substitution for c in cells if c.substitution))


# ---------------------------------------------------------------------- 000_*: GNA + BN
GNA = dict(grad_noise=1.0, noise_gamma=0.55, noise_unit="epoch")
# The last row is ours, not the paper's: batch norm without the noise, to tell the two apart.
_000_MODELS = (("Baseline", {}), ("GNA", GNA), ("GNA + BatchNorm", {**GNA, "bn": "last"}),
               ("BatchNorm only (ours)", {"bn": "last"}))
_000_ACTS = (("Logistic", "logistic"), ("TanH", "tanh"), ("ReLU", "relu"),
             ("Leaky ReLU", "leaky_relu"), ("Swish", "swish"))


def _gna_cells(scale: str) -> list[Cell]:
    if scale == "full":
        nets = {"2-layer": ((512, 512), 1024), "5-layer": ((512, 512, 256, 256, 128), 512)}
        common = dict(dataset="mnist", epochs=100)
    else:
        # Widths / 4 and batch sizes / 4: on 3,600 examples 50 epochs give 750 and 1,450 SGD
        # steps (the paper had 5,900 and 11,800), enough for lr 3e-4 to move the weights.
        nets = {"2-layer": ((128, 128), 256), "5-layer": ((128, 128, 64, 64, 32), 128)}
        common = dict(dataset="mnist-5k", epochs=50)
    cells = []
    for act_label, act in _000_ACTS:
        for model, extra in _000_MODELS:
            for column, (widths, batch) in nets.items():
                cells.append(_cell((model, act_label), column, widths=widths, batch_size=batch,
                                   activation=act, leaky_slope=0.2, init="glorot_uniform",
                                   optimizer="sgd_momentum", lr=3e-4, momentum=0.9,
                                   input_noise=0.05, seed=42, **common, **extra))
    return cells


_000_TABLE = {  # Table 1 of 000_*: test accuracy (%) on the 2-layer and 5-layer networks
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

GNA_BN = Preset(
    name="gna-bn",
    title="Gradient noise addition + batch norm",
    source="000_* (README of a TensorFlow 2 study, Table 1)",
    description="MLPs 2 and 5 layers deep x 5 activations x {baseline, GNA, GNA + BN, BN} on noisy MNIST.",
    build=_gna_cells,
    row_names=("Model", "Activation"),
    columns=("2-layer", "5-layer"),
    metrics=("test_acc",),
    published={(row, col): {"test_acc": v} for row, vals in _000_TABLE.items()
               for col, v in zip(("2-layer", "5-layer"), vals)},
    units={"test_acc": "%"},
    published_note="Table 1 of 000_*: test accuracy after 100 epochs on MNIST (60,000 training "
                   "images, Gaussian input noise std 0.05), seed 42.",
    reading="The document finds that annealed gradient noise (std 1/(1+epoch)^0.55 on every "
            "gradient) and one batch norm after the last hidden layer raise test accuracy, most "
            "for the saturating logistic network (2-layer: 65% -> 76%) and for the 5-layer swish "
            "network (37% -> 92%); the 5-layer logistic network stays at chance whatever is done, "
            "and GNA hurts the 5-layer ReLU networks. The 'BatchNorm only' rows are ours (the "
            "paper has none): they tell how much of GNA + BN's gain is batch norm's. The paper's "
            "gradient histograms were of the noisy gradient (logged after the noise was added): "
            "we log both, see the histograms.",
    quick_note="mnist-5k (3,600 training images) instead of MNIST; 50 epochs instead of 100 (the "
               "noise still anneals per epoch, to 1/51^0.55 = 0.11 instead of 0.08); widths / 4 "
               "(128-128 and 128-128-64-64-32); batch sizes / 4 (256 and 128), so the networks get "
               "750 and 1,450 SGD steps at lr 3e-4 (the paper's got 5,900 and 11,800) and 15 and "
               "29 noisy steps per epoch (the paper's 59 and 118).",
    full_note="MNIST with 54,000 training images (6,000 are held out for validation); leaky ReLU "
              "slope 0.2 (tf.nn.leaky_relu's default; the README does not say).",
    charts=("grad_flow", "curves", "histograms"),
)


# ---------------------------------------------------------------------- 001_*: VGG08 vs VGG38
_001_ROWS = (  # (model, LR, changes) in the order of 001_*'s Table 1
    ("VGG08", "1e-3", dict(vgg_blocks=0, lr=1e-3)),
    ("VGG38", "1e-3", dict(vgg_blocks=5, lr=1e-3)),
    ("VGG38 BN", "1e-2", dict(vgg_blocks=5, lr=1e-2, bn="before")),
    ("VGG38 BN", "1e-3", dict(vgg_blocks=5, lr=1e-3, bn="before")),
    ("VGG38 RC", "1e-3", dict(vgg_blocks=5, lr=1e-3, residual=True)),
    ("VGG38 BN + RC", "1e-3", dict(vgg_blocks=5, lr=1e-3, bn="before", residual=True)),
    ("VGG38 BN + RC", "1e-2", dict(vgg_blocks=5, lr=1e-2, bn="before", residual=True)),
)


def _vgg_cells(scale: str) -> list[Cell]:
    if scale == "full":
        common = dict(dataset="cifar100", epochs=100, vgg_filters=32)
    else:
        # 16 filters instead of 32 on 1,000 digits for 3 epochs: 30 steps of batch 100, since a
        # VGG38 step takes seconds on a laptop CPU. Statistics at every 3rd step (36 conv layers).
        common = dict(dataset="mnist-5k", epochs=3, vgg_filters=16, train_subset=1000, log_every=3)
    cells = []
    for model, lr_label, changes in _001_ROWS:
        cells.append(_cell((model, lr_label), "", arch="vgg", vgg_stages=3, activation="leaky_relu",
                           leaky_slope=0.01, init="torch_default", optimizer="adam",
                           schedule="cosine", batch_size=100, augment=True, seed=0, **common,
                           **changes))
    return cells


_001_TABLE = {  # Table 1 of 001_*: # params (K), train loss, train acc (%), val loss, val acc (%)
    ("VGG08", "1e-3"): (60, 1.74, 51.59, 1.95, 46.84),
    ("VGG38", "1e-3"): (336, 4.61, 0.01, 4.61, 0.01),
    ("VGG38 BN", "1e-2"): (339, 1.70, 52.28, 1.99, 46.72),
    ("VGG38 BN", "1e-3"): (339, 1.82, 49.39, 2.12, 43.92),
    ("VGG38 RC", "1e-3"): (336, 1.33, 61.52, 1.84, 52.32),
    ("VGG38 BN + RC", "1e-3"): (339, 0.626, 80.43, 1.661, 59.0),
    ("VGG38 BN + RC", "1e-2"): (339, 0.524, 83.22, 1.85, 61.36),
}
_001_METRICS = ("params_k", "train_loss", "train_acc", "val_loss", "val_acc")

VGG_BN_RC = Preset(
    name="vgg-bn-rc",
    title="VGG08 vs VGG38 with batch norm and residual connections",
    source="001_* (coursework report on CIFAR-100, Table 1 and gradient-flow figures)",
    description="VGG08 and VGG38 (plain, BN, RC, BN + RC) with Adam + cosine annealing; "
                "CIFAR-100 where available.",
    build=_vgg_cells,
    row_names=("Model", "LR"),
    columns=("",),
    metrics=_001_METRICS,
    published={((m, lr), ""): dict(zip(_001_METRICS, vals)) for (m, lr), vals in _001_TABLE.items()},
    units={"params_k": "K", "train_loss": "", "train_acc": "%", "val_loss": "", "val_acc": "%"},
    published_note="Table 1 of 001_*: CIFAR-100 (47,500 train / 2,500 validation images), 100 "
                   "epochs, final training and validation loss and accuracy. VGG38's 0.01% is "
                   "below chance (1%) as printed; it means the network learned nothing.",
    reading="The document finds VGG38 broken: its loss stays at ln(100) = 4.61 and the mean "
            "|gradient| collapses toward the input (from the second reduction block on), while "
            "VGG08 learns. Batch norm or residual connections each let VGG38 train; both together "
            "train best (61% validation accuracy at lr 1e-2), although that model overfits. Look "
            "for the same ordering and for VGG38's gradient flow falling by orders of magnitude.",
    quick_note="mnist-5k (1,000 training images of 28x28x1, 10 classes) instead of CIFAR-100 "
               "(45,000 of 32x32x3, 100 classes): chance is 10%, not 1%; 16 filters instead of 32 "
               "(parameter counts are about a quarter of the published ones); 3 epochs (30 steps) "
               "instead of 100 (the cosine schedule is compressed to them); statistics logged "
               "every 3rd step.",
    full_note="CIFAR-100 when its files are on this machine (or can be downloaded), otherwise "
              "mnist-5k with the same architectures, said in the table. Our cosine schedule ends "
              "at lr/50 (2e-5 for lr 1e-3, as in the coursework; 2e-4 for lr 1e-2). Layers use "
              "PyTorch's default initialization; the report does not name one. BN sits in every "
              "conv unit, also in the reduction blocks (the report's BN-only runs left those out).",
    charts=("grad_flow", "curves", "histograms"),
)


# ---------------------------------------------------------------------- 002_*: init x act x BN
def _init_act_bn_cells(scale: str) -> list[Cell]:
    dataset = "mnist" if scale == "full" else "mnist-5k"
    cells = []
    for act_label, act in (("sigmoid", "logistic"), ("relu", "relu")):
        for init in ("random_normal", "glorot_uniform"):
            for bn in (False, True):
                # Dense(activation) then BatchNormalization(): BN normalizes the activations.
                cells.append(_cell((act_label, init, "yes" if bn else "no"), "", dataset=dataset,
                                   widths=(512,), activation=act, init=init,
                                   bn="after" if bn else "none", optimizer="rmsprop", lr=1e-4,
                                   batch_size=32, epochs=10, seed=0))
    return cells


_002_OUTPUT = (0.9451000094413757, 0.9549999833106995, 0.9435999989509583, 0.9496999979019165,
               0.9746999740600586, 0.9814000129699707, 0.9746999740600586, 0.9840999841690063)
_002_KEYS = [(a, i, b) for a in ("sigmoid", "relu") for i in ("random_normal", "glorot_uniform")
             for b in ("no", "yes")]

INIT_ACT_BN = Preset(
    name="init-act-bn",
    title="Initialization x activation x batch norm on MNIST",
    source="002_* (lecture slides, 'Exploring Vanishing Gradient with MNIST')",
    description="One hidden layer of 512: sigmoid/relu x random_normal/glorot_uniform x BN, "
                "RMSprop 1e-4, 10 epochs.",
    build=_init_act_bn_cells,
    row_names=("Activation", "Initializer", "BN"),
    columns=("",),
    metrics=("test_acc",),
    published={(key, ""): {"test_acc": round(100 * v, 2)} for key, v in zip(_002_KEYS, _002_OUTPUT)},
    units={"test_acc": "%"},
    published_note="The eight printed test accuracies of 002_* (Keras, MNIST 60,000/10,000, "
                   "10 epochs, batch 32, RMSprop lr 1e-4).",
    reading="In the published numbers ReLU networks beat sigmoid ones by about 3 points, batch "
            "norm adds 0.5 to 1 point to each, and the initializer barely matters for one hidden "
            "layer (vanishing gradients need depth). Look for the same ordering rather than the "
            "same decimals.",
    quick_note="mnist-5k (3,600 training images, 1,000 test images) instead of MNIST; everything "
               "else as published (10 epochs, batch 32, width 512).",
    full_note="MNIST with 54,000 training images (6,000 held out for validation) instead of "
              "60,000. RMSprop uses Keras's rho 0.9 and eps 1e-7; batch norm uses PyTorch's "
              "momentum 0.1 and eps 1e-5 (Keras: 0.99 and 1e-3), so its running statistics "
              "adapt faster.",
    charts=("grad_flow", "curves", "histograms"),
)


# ---------------------------------------------------------------------- 003_*: self-normalizing
def _snn_cells(scale: str) -> list[Cell]:
    nets = (("SNN: SELU + LeCun normal, standardized inputs",
             dict(activation="selu", init="lecun_normal", standardize=True)),
            ("regular: ReLU + Glorot uniform", dict(activation="relu", init="glorot_uniform")))
    if scale == "full":
        data = (("Fashion-MNIST", "fashion-mnist", dict(epochs=50)), ("CIFAR-10", "cifar10", dict(epochs=50)))
    else:
        data = (("Fashion-MNIST", "fashion-mnist", dict(epochs=10, train_subset=4000)),)
    cells = []
    for column, dataset, extra in data:
        for label, net in nets:
            # Fashion-MNIST falls back to mnist-5k; CIFAR-10 too (not to Fashion-MNIST, which
            # would only repeat the first column's runs).
            cells.append(_cell((label,), column, dataset=dataset, widths=(100,) * 20,
                               optimizer="nadam", lr=7e-4, batch_size=32, seed=0, **net, **extra))
    return cells


SELU_SNN = Preset(
    name="selu-snn",
    title="Self-normalizing network (SELU) vs a regular deep network",
    source="003_* (article: self-normalizing networks with Keras)",
    description="20 hidden layers of 100: SELU + LeCun normal + standardized inputs vs ReLU, "
                "Nadam 7e-4, Fashion-MNIST (and CIFAR-10 where available).",
    build=_snn_cells,
    row_names=("Network",),
    columns=("Fashion-MNIST", "CIFAR-10"),
    metrics=("best_val_acc", "best_epoch", "best_epoch_change", "epochs_to_base_best", "test_acc"),
    published={(("SNN: SELU + LeCun normal, standardized inputs",), "Fashion-MNIST"):
               {"best_epoch_change": -28.0},
               (("SNN: SELU + LeCun normal, standardized inputs",), "CIFAR-10"):
               {"test_acc": "F1 +12% vs regular"}},
    units={"best_epoch_change": "%"},
    published_note="003_* gives no accuracies, only comparisons: on Fashion-MNIST the SNN "
                   "reached its best validation accuracy in 28% fewer epochs than the regular "
                   "network; on CIFAR-10 its test F1 score was 12% better.",
    reading="The article's claim: the SNN keeps its activations near mean 0, std 1 through all "
            "20 layers, so its gradients neither vanish nor explode and it converges faster than "
            "the regular network. "
            "'epochs to best val' is the epoch of the best validation accuracy; 'vs regular' "
            "compares it with the regular network's; 'epochs to regular's best val' is when a "
            "network first matches the regular network's best validation accuracy (which still "
            "rises at the end of a short run). We report accuracy, not F1. The article "
            "does not say what its regular network was; we use ReLU with Keras's default "
            "Glorot-uniform init on unstandardized inputs. Its code also adds the softmax output "
            "layer inside the loop over hidden layers (20 softmax layers as printed); we build "
            "the network it describes: 20 hidden layers, one softmax output.",
    quick_note="4,000 Fashion-MNIST training images instead of 54,000 and 10 epochs instead of "
               "50; no CIFAR-10 column (quick scale stays on offline data). Where Fashion-MNIST "
               "is not installed, mnist-5k stands in (said in the table).",
    full_note="Batch size 32 (Keras's default; the article does not say). CIFAR-10 only when its "
              "files are on this machine or can be downloaded; otherwise mnist-5k stands in.",
    baseline_row=("regular: ReLU + Glorot uniform",),
    charts=("grad_flow", "curves", "activation_std"),
)


# ---------------------------------------------------------------------- 004_*: deep sigmoid
def _deep_sigmoid_cells(scale: str) -> list[Cell]:
    dataset = "mnist" if scale == "full" else "mnist-5k"
    widths = (1000,) * 5 if scale == "full" else (500,) * 5
    cells = []
    for label, act in (("sigmoid (the post's network)", "logistic"),
                       ("ReLU, same setup (our contrast)", "relu")):
        cells.append(_cell((label,), "", dataset=dataset, widths=widths, activation=act,
                           init="torch_default", optimizer="sgd_momentum", lr=0.01, momentum=0.9,
                           batch_size=100, epochs=10, seed=0))
    return cells


DEEP_SIGMOID = Preset(
    name="deep-sigmoid",
    title="The deep sigmoid network and its gradient histogram",
    source="004_* (blog post: demonstrating the vanishing gradient in PyTorch)",
    description="5 hidden layers of 1000 sigmoid units, SGD lr 0.01 momentum 0.9, batch 100, "
                "10 epochs; the histogram of gradient values.",
    build=_deep_sigmoid_cells,
    row_names=("Network",),
    columns=("",),
    metrics=("test_acc", "train_loss", "ratio_init", "ratio_end", "tiny_grad_share"),
    published={},
    units={},
    published_note="004_* prints no accuracy; it shows a histogram of all gradient values after "
                   "training with 'a large number of very small gradient values'.",
    reading="The post's claim: with sigmoid units the gradient shrinks on its way back (the "
            "derivative is at most 0.25), so the first layers' gradients are tiny and the "
            "histogram piles up near zero. The ReLU row (not in the post) shows what a non-vanishing network looks "
            "like with the same initialization and optimizer. 'layer 1 nonzero gradients below 1e-4' "
            "is the share of layer 1's nonzero weight gradients smaller than 1e-4 at the last "
            "logged step (exact zeros belong to always-blank border pixels).",
    quick_note="mnist-5k (3,600 training images) instead of MNIST; widths 500 instead of 1000.",
    full_note="Inputs are scaled to [0, 1]; the post normalized them to [-1, 1] "
              "(Normalize((0.5,), (0.5,))). PyTorch's default initialization, as in the post.",
    charts=("grad_flow", "curves", "grad_histogram", "histograms"),
)


# ---------------------------------------------------------------------- Glorot & Bengio
def _saturation_cells(scale: str) -> list[Cell]:
    dataset = "mnist" if scale == "full" else "mnist-5k"
    widths = (1000,) * 5 if scale == "full" else (256,) * 5
    epochs = 10
    cells = []
    for label, init in (("N(0, 1)", "normal"),
                        ("standard U(±1/√fan_in)", "torch_default"),
                        ("Glorot uniform (normalized)", "glorot_uniform")):
        cells.append(_cell((label,), "", dataset=dataset, widths=widths, activation="logistic",
                           init=init, optimizer="sgd_momentum", lr=0.01, momentum=0.9,
                           batch_size=100, epochs=epochs, seed=0))
    return cells


SATURATION = Preset(
    name="saturation",
    title="Glorot & Bengio: logistic saturation under three initializations",
    source="002_* and 003_* (their account of Glorot & Bengio, 2010)",
    description="5 hidden logistic layers: N(0,1) vs standard vs Glorot init; saturation per "
                "layer and gradient flow.",
    build=_saturation_cells,
    row_names=("Initialization",),
    columns=("",),
    metrics=("test_acc", "sat_first_init", "sat_top_init", "sat_top_end", "ratio_init", "ratio_end"),
    published={},
    units={},
    published_note="The slides and the article state the finding without numbers: with N(0,1) "
                   "weights and the logistic function the variance grows layer by layer until "
                   "the top layers saturate.",
    reading="The documents' account of Glorot & Bengio: with N(0,1) weights the variance of "
            "each layer's output grows layer by layer until the logistic units of the top layers "
            "saturate (sit in the flat tails, derivative near 0), so little gradient flows back; "
            "Glorot initialization keeps the variance, and the gradient, steady across layers. "
            "The 'standard' init is Glorot & Bengio's name for U(±1/√fan_in), also PyTorch's "
            "default. Saturated = derivative below 10% of its maximum; compare the saturation "
            "per layer and the gradient ratio of the three rows.",
    quick_note="mnist-5k (3,600 training images) instead of MNIST; widths 256 instead of 1000.",
    full_note="5 hidden layers of 1000 units as in Glorot & Bengio's experiments, trained with "
              "004_*'s optimizer (SGD, lr 0.01, momentum 0.9, batch 100): the documents give no "
              "training setup for this experiment.",
    charts=("grad_flow", "saturation", "curves", "histograms"),
)


PRESETS: dict[str, Preset] = {p.name: p for p in (GNA_BN, VGG_BN_RC, INIT_ACT_BN, SELU_SNN,
                                                  DEEP_SIGMOID, SATURATION)}


def get_preset(name: str) -> Preset:
    """The preset called `name`, or ConfigError naming the known ones."""
    if name not in PRESETS:
        raise ConfigError("preset", f"got {str(name)[:40]!r}; expected one of {', '.join(PRESETS)}")
    return PRESETS[name]
