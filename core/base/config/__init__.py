"""The experiment configuration: one frozen dataclass of plain values.

`RunConfig` is the single source of truth for an experiment. The trainer takes
it, the run store keys on it (`run_id`), the CLI builds its flags from it, and
the app maps it to widgets and share links. Every field carries its metadata
(help text, allowed values or range, CLI flags, group), so those surfaces are
generated from one table instead of being written four times.

Strict inside, lenient at the edges:

    cfg = RunConfig(activation="tanh", widths=(256, 256))   # raises ConfigError on bad input
    cfg = RunConfig.from_dict({"lr": "0.1"})                 # strict parse of plain values
    cfg, warnings = RunConfig.from_lenient({"lr": "oops"})   # bad values -> defaults + warnings

Parsing and checking single values (coercion, true/false flags, limits) lives in
core.base.config.values; this module declares the fields and the dataclass.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field

from ..catalogue import ACTIVATION_TABLE, INIT_TABLE, OPTIMIZER_TABLE
from ..datasets import DATASETS, OFFLINE, TOY, dataset_label, is_upload
from .values import (DEFAULT_LIMITS, PUBLIC_DEMO_LIMITS, STORED_LIMITS, ConfigError, Limits, active_limits,  # noqa: F401
                     check_limits, coerce, default_of, display_name, field_applies, parse_flag,
                     limits_in_force, plain, plain_str, public_demo)

# Bump when the meaning of stored results changes (trainer, statistics or file
# layout), so the store never serves results computed by older code.
FORMAT_VERSION = 1

ARCHS = ("mlp", "vgg")
ACTIVATIONS = tuple(ACTIVATION_TABLE)  # the catalogues' names (core.base.catalogue)
INITS = tuple(INIT_TABLE)
BN_PLACEMENTS = ("none", "before", "after", "last")
BN_BLOCKS = ("all", "processing")
OPTIMIZERS = tuple(OPTIMIZER_TABLE)
SCHEDULES = ("constant", "cosine")
NOISE_UNITS = ("epoch", "step")
DROPOUT_KINDS = ("standard", "alpha")
DEVICES = ("auto", "cpu", "cuda", "mps")


# Values offered by the app's sliders (a UI choice; any value in range is valid).
LR_CHOICES = (1e-5, 3e-5, 1e-4, 3e-4, 7e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0)
BATCH_CHOICES = (16, 32, 50, 64, 100, 128, 256, 512, 1024, 2048, 4096, 8192)
WIDTH_CHOICES = (8, 16, 32, 64, 100, 128, 256, 512, 1000, 1024, 2048, 4096)
FILTER_CHOICES = (4, 8, 16, 32, 64, 128, 256)
WIDGETS = ("select", "radio", "toggle", "slider", "number", "select_slider", "widths")


def _f(default, help, *, group, choices=None, lo=None, hi=None, limit=None, cli=None, key=True,
       applies=None, widget=None, label=None, **ui):
    """A config field with the metadata every surface needs.

    limit names the Limits attribute that caps the value (each width, for widths) where it applies.
    key=False keeps a field out of the store key (where a run executes does not change what it is);
    key="set" keeps it out while it has its default, so adding the field kept every stored run id.
    applies(cfg) -> bool says when the field matters; irrelevant fields are reset to defaults in the
    key, and the app hides their widgets. widget (one of WIDGETS; by default toggle for a bool,
    select with choices, number otherwise) and a short label say how the app draws the field; `ui`
    holds the widget's options (values of a select_slider, capped by the limit, or cfg -> the
    choices offered), step, format ("%.3f") and show (a value's text).
    """
    if widget is None:
        widget = "toggle" if isinstance(default, bool) else "select" if choices else "number"
    if widget not in WIDGETS:
        raise ValueError(f"unknown widget {widget!r}; expected one of {', '.join(WIDGETS)}")
    meta = dict(help=help, group=group, choices=choices, lo=lo, hi=hi, limit=limit, cli=cli or [],
                key=key, applies=applies, widget=dict(ui, kind=widget, label=label))
    if isinstance(default, (list, tuple)):
        return field(default_factory=lambda: tuple(default), metadata=meta)
    return field(default=default, metadata=meta)


def _is_mlp(c): return c.arch == "mlp"
def _is_vgg(c): return c.arch == "vgg"
def _vgg_bn(c): return c.arch == "vgg" and c.bn != "none"
def _noise_on(c): return c.grad_noise > 0
def _uses_momentum(c): return c.optimizer in ("sgd_momentum",)
def _leaky(c): return c.activation == "leaky_relu"
def _dropout_on(c): return c.dropout > 0
def _residual_mlp(c): return c.residual and c.arch == "mlp"
def _bn_choices(c): return [b for b in BN_PLACEMENTS if b != "last" or c.arch == "mlp"]
def _g(x): return f"{x:g}"
def _init_random(c): return c.init != "zeros"
def _is_toy(c): return c.dataset in TOY
def _dataset_options(c): return list(DATASETS) + ([c.dataset] if is_upload(c.dataset) else [])


@dataclass(frozen=True)
class RunConfig:
    """One experiment. Defaults finish in seconds on a laptop CPU and show vanishing gradients."""

    # --- data
    dataset: str = _f("mnist-5k", f"Training data. {', '.join(n for n in OFFLINE if n not in TOY)} and "
                      f"the 2-D sets ({', '.join(TOY)}) work offline; the others load from a local "
                      "folder or download. upload:<hash> names data you uploaded.", group="data",
                      choices=DATASETS, show=dataset_label, options=_dataset_options)
    train_subset: int = _f(0, "Use only this many training samples (0 = all).", group="data",
                           lo=0, hi=10_000_000, label="training samples (0 = all)", step=500)
    standardize: bool = _f(False, "Standardize inputs to mean 0, std 1 per feature "
                           "(needed for self-normalizing SELU networks).", group="data",
                           label="standardize inputs")
    input_noise: float = _f(0.0, "Std of Gaussian noise added once to the inputs "
                            "(Agarap (2019) perturbs MNIST with 0.05).", group="data", lo=0.0, hi=10.0,
                            label="input noise std", step=0.01, format="%.3f")
    data_noise: float = _f(0.1, "Noise of the generated 2-D sets (spiral, circles, ...): std of "
                           "the Gaussian jitter of each point, in units of the data's radius.",
                           group="data", lo=0.0, hi=1.0, key="set", applies=_is_toy,
                           label="noise of the 2-D data", step=0.05, format="%.2f")
    augment: bool = _f(False, "Random crop (pad 4) and horizontal flip of training images each "
                       "batch, as in the VGG experiments.", group="data", label="augment (crop + flip)")
    # --- architecture
    arch: str = _f("mlp", "mlp: fully connected layers; vgg: the VGG-style CNN of the VGG coursework report.",
                   group="architecture", choices=ARCHS, widget="radio", label="architecture")
    widths: tuple = _f((128, 128, 128, 128, 128), "Hidden layer widths of the MLP, input to "
                       "output; the depth is their number.", group="architecture", lo=1,
                       cli=["-n", "--neurons", "--widths"], applies=_is_mlp, widget="widths",
                       label="hidden layers", options=WIDTH_CHOICES, limit="max_width")
    vgg_filters: int = _f(32, "Filters of every VGG conv layer.", group="architecture", lo=1,
                          applies=_is_vgg, widget="select_slider", label="filters",
                          options=FILTER_CHOICES, limit="max_vgg_filters")
    vgg_blocks: int = _f(0, "Processing blocks (two 3x3 convs) per VGG stage: 0 gives VGG08, "
                         "5 gives VGG38.", group="architecture", lo=0, applies=_is_vgg,
                         widget="slider", label="processing blocks per stage", limit="max_vgg_blocks")
    vgg_stages: int = _f(3, "VGG stages, each ending in a reduction block that halves the "
                         "image size.", group="architecture", lo=1, hi=4, applies=_is_vgg,
                         widget="slider", label="stages")
    activation: str = _f("logistic", "Hidden-layer activation function.", group="architecture",
                         choices=ACTIVATIONS, cli=["-a", "--activation"])
    leaky_slope: float = _f(0.01, "Negative slope of leaky_relu.", group="architecture",
                            lo=0.0, hi=1.0, applies=_leaky, label="leaky slope", step=0.01)
    init: str = _f("glorot_uniform", "Weight initialization of every layer (biases start at 0, "
                   "except with torch_default).", group="architecture", choices=INITS,
                   label="weight initialization")
    init_gain: float = _f(1.0, "Gain on the initialization: every weight's std is multiplied by it "
                          "(sigma_w^2 of the signal-propagation theory scales by its square).",
                          group="architecture", lo=0.0, hi=10.0, key="set", applies=_init_random,
                          label="weight gain (std x)", step=0.05, format="%.3f")
    bias_std: float = _f(0.0, "Std of Gaussian initial biases (sigma_b = the theory's sqrt(sigma_b^2)); "
                         "0 = zero biases, and torch_default keeps its own.", group="architecture",
                         lo=0.0, hi=10.0, key="set", label="bias std", step=0.01, format="%.3f")
    bn: str = _f("none", "Batch norm: none, before or after every activation, or one layer "
                 "after the last hidden layer (last, as Agarap (2019) did).", group="architecture",
                 choices=BN_PLACEMENTS, label="batch norm", options=_bn_choices)
    bn_blocks: str = _f("all", "VGG: which conv units get batch norm: all, or the entry and "
                        "processing blocks only (the coursework's BN-only runs kept it out of the "
                        "reduction blocks).", group="architecture", choices=BN_BLOCKS, key="set",
                        applies=_vgg_bn, widget="radio", label="batch norm in")
    residual: bool = _f(False, "Identity skip connections around blocks of layers (VGG: around "
                        "every processing block).", group="architecture", label="residual connections")
    residual_every: int = _f(2, "MLP: layers per residual block.", group="architecture",
                             lo=1, hi=16, applies=_residual_mlp, widget="slider",
                             label="layers per residual block")
    dropout: float = _f(0.0, "Dropout rate after every hidden activation.", group="architecture",
                        lo=0.0, hi=0.9, widget="slider", step=0.05)
    dropout_kind: str = _f("standard", "standard dropout, or alpha dropout (keeps SELU's "
                           "self-normalization).", group="architecture", choices=DROPOUT_KINDS,
                           applies=_dropout_on, widget="radio", label="dropout kind")
    # --- gradient noise
    grad_noise: float = _f(0.0, "eta of gradient noise addition: Gaussian noise with std "
                           "eta / (1 + t)^gamma added to every gradient; 0 = off.",
                           group="noise", lo=0.0, hi=100.0, label="eta (0 = off)", step=0.1,
                           format="%.3f")
    noise_gamma: float = _f(0.55, "gamma: how fast the gradient noise anneals.", group="noise",
                            lo=0.0, hi=10.0, applies=_noise_on, label="gamma", step=0.05)
    noise_unit: str = _f("epoch", "What t counts in the noise schedule: epochs (as Agarap (2019) did) "
                         "or steps (as Neelakantan et al. 2015).", group="noise",
                         choices=NOISE_UNITS, applies=_noise_on, widget="radio", label="t counts")
    # --- optimization
    optimizer: str = _f("sgd_momentum", "Optimizer.", group="optimization", choices=OPTIMIZERS)
    lr: float = _f(0.01, "Learning rate.", group="optimization", lo=1e-7, hi=10.0,
                   widget="select_slider", label="learning rate", options=LR_CHOICES, show=_g)
    momentum: float = _f(0.9, "Momentum of sgd_momentum.", group="optimization", lo=0.0,
                         hi=0.999, applies=_uses_momentum, step=0.05)
    schedule: str = _f("constant", "Learning-rate schedule: constant, or cosine annealing to "
                       "lr/50 over the run.", group="optimization", choices=SCHEDULES, widget="radio")
    weight_decay: float = _f(0.0, "L2 weight decay.", group="optimization", lo=0.0, hi=1.0,
                             step=1e-4, format="%.5f")
    batch_size: int = _f(64, "Examples per mini-batch.", group="optimization", lo=1,
                         cli=["-b", "--batch-size"], widget="select_slider",
                         options=BATCH_CHOICES, limit="max_batch_size")
    epochs: int = _f(5, "Passes through the training data.", group="optimization", lo=1,
                     cli=["-e", "--epochs"], limit="max_epochs")
    seed: int = _f(42, "Random seed of initialization, shuffling and noise.",
                   group="optimization", lo=0, hi=2**31 - 1)
    # --- instrumentation and execution
    log_every: int = _f(0, "Log per-layer statistics every k steps (0 = automatic: about 100 "
                        "points over the run, at most one step in 16).", group="instrumentation",
                        lo=0, hi=1_000_000, label="log statistics every k steps (0 = auto)")
    device: str = _f("auto", "Where to train: auto picks cuda, then mps, then cpu.",
                     group="instrumentation", choices=DEVICES, key=False)

    # ------------------------------------------------------------------ validation
    def __post_init__(self):
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, coerce(f, getattr(self, f.name)))
        check_limits(self, active_limits())

    # ------------------------------------------------------------------ identity
    def to_dict(self) -> dict:
        """Plain JSON-ready values (tuples become lists)."""
        return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def key_dict(self) -> dict:
        """What identifies the experiment: irrelevant fields reset, execution-only fields dropped."""
        out = {}
        for f in dataclasses.fields(self):
            if not f.metadata["key"]:
                continue
            value = getattr(self, f.name) if field_applies(f, self) else default_of(f)
            if f.metadata["key"] == "set" and value == default_of(f):
                continue
            out[f.name] = plain(value)
        return out

    def canonical_json(self) -> str:
        return json.dumps(self.key_dict(), sort_keys=True, separators=(",", ":"))

    @property
    def run_id(self) -> str:
        """16 hex digits naming this experiment in the store (config + code-format version)."""
        payload = f"v{FORMAT_VERSION}:{self.canonical_json()}".encode()
        return hashlib.sha256(payload).hexdigest()[:16]

    def replace(self, **changes) -> "RunConfig":
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ parsing
    @classmethod
    def from_dict(cls, data: dict) -> "RunConfig":
        """Strict: unknown keys and bad values raise ConfigError."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted((str(k) for k in set(data) - names))
        if unknown:
            raise ConfigError(display_name(unknown[0]),
                              f"unknown setting; known settings are {', '.join(sorted(names))}")
        return cls(**data)

    @classmethod
    def from_lenient(cls, data: dict, base: "RunConfig | None" = None) -> tuple["RunConfig", list[str]]:
        """Lenient: each bad or unknown value is dropped with a warning naming it.

        Values are applied on top of `base` (the defaults when None). If the surviving values
        together break a limit, the offending fields fall back to the base one at a time.
        """
        base = base or cls()
        fields_by_name = {f.name: f for f in dataclasses.fields(cls)}
        warnings, good = [], {}
        for name, raw in data.items():
            f = fields_by_name.get(name)
            if f is None:
                warnings.append(f"{display_name(name)}: unknown setting, ignored")
                continue
            try:
                good[name] = coerce(f, raw)
            except ConfigError as exc:
                warnings.append(f"{exc} (ignored, using {plain_str(getattr(base, name))})")
        while True:
            try:
                return dataclasses.replace(base, **good), warnings
            except ConfigError as exc:
                if exc.field in good:
                    warnings.append(f"{exc} (ignored, using {plain_str(getattr(base, exc.field))})")
                    del good[exc.field]
                elif good:  # a combined limit: drop the most recently given value
                    dropped = list(good)[-1]
                    warnings.append(f"{exc} (ignored {dropped}, using {plain_str(getattr(base, dropped))})")
                    del good[dropped]
                else:
                    raise

    # ------------------------------------------------------------------ derived facts
    @property
    def depth(self) -> int:
        """Number of hidden weight layers."""
        if self.arch == "mlp":
            return len(self.widths)
        return 1 + self.vgg_stages * (2 * self.vgg_blocks + 2)

    def describe(self) -> str:
        """A one-line human label, e.g. 'mlp 5x128 logistic glorot_uniform'."""
        if self.arch == "mlp":
            w = self.widths
            shape = f"{len(w)}x{w[0]}" if len(set(w)) == 1 else "-".join(map(str, w))
            net = f"mlp {shape}"
        else:
            net = f"vgg{self.depth + 1:02d} f{self.vgg_filters}"
        parts = [net, self.activation, self.init]
        if self.bn != "none":
            parts.append(f"bn-{self.bn}")
        if self.residual:
            parts.append("residual")
        if self.grad_noise > 0:
            parts.append(f"noise {self.grad_noise:g}")
        parts.append(f"{self.optimizer} lr {self.lr:g}")
        return " ".join(parts)


# ---------------------------------------------------------------------- helpers
def config_fields() -> list[dataclasses.Field]:
    """The fields in declaration order, with their metadata (help, group, choices, lo, hi, cli)."""
    return list(dataclasses.fields(RunConfig))


def field_spec(name: str) -> dataclasses.Field:
    for f in dataclasses.fields(RunConfig):
        if f.name == name:
            return f
    raise KeyError(name)


