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
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

from .datasets import DATASETS, OFFLINE, dataset_label

# Bump when the meaning of stored results changes (trainer, statistics or file
# layout), so the store never serves results computed by older code.
FORMAT_VERSION = 1

ARCHS = ("mlp", "vgg")
ACTIVATIONS = ("logistic", "tanh", "relu", "leaky_relu", "prelu", "elu", "selu",
               "swish", "softplus", "gelu", "linear")
INITS = ("normal", "random_normal", "glorot_uniform", "glorot_normal", "he_uniform",
         "he_normal", "lecun_normal", "lecun_uniform", "orthogonal", "zeros", "torch_default")
BN_PLACEMENTS = ("none", "before", "after", "last")
OPTIMIZERS = ("sgd", "sgd_momentum", "adam", "rmsprop", "nadam")
SCHEDULES = ("constant", "cosine")
NOISE_UNITS = ("epoch", "step")
DROPOUT_KINDS = ("standard", "alpha")
DEVICES = ("auto", "cpu", "cuda", "mps")


class ConfigError(ValueError):
    """A configuration problem, phrased for the user: which field, what was given, what is allowed."""

    def __init__(self, field_name: str, message: str):
        self.field = field_name
        super().__init__(f"{field_name}: {message}")


@dataclass(frozen=True)
class Limits:
    """Hard limits so that one request cannot exhaust the machine."""

    max_hidden_layers: int = 128
    max_width: int = 4096
    max_params: int = 60_000_000
    max_epochs: int = 500
    max_batch_size: int = 8192
    max_vgg_filters: int = 256
    max_vgg_blocks: int = 16
    # Work budget: parameters x training samples x epochs (a proxy for FLOPs / 6).
    max_work: float = 3e13
    # Rough peak memory of one training step (weights, optimizer state, activations).
    max_memory_bytes: int = 8 * 2**30


DEFAULT_LIMITS = Limits()
# A shared public demo gets much smaller limits (set VG_PUBLIC_DEMO=1).
PUBLIC_DEMO_LIMITS = Limits(max_hidden_layers=40, max_width=1024, max_params=3_000_000,
                            max_epochs=50, max_batch_size=2048, max_vgg_filters=64,
                            max_vgg_blocks=8, max_work=2e11, max_memory_bytes=1 * 2**30)


_TRUE = {"1", "true", "yes", "on", "y", "t"}
_FALSE = {"0", "false", "no", "off", "n", "f"}


def parse_flag(raw) -> bool | None:
    """A true/false setting as a URL, the CLI, a secrets file or the environment gives it
    (true, yes, on, 1, ... / false, no, off, 0, ...), or None when it is neither."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, (int, float)):
        return bool(raw) if raw in (0, 1) else None
    if isinstance(raw, str):
        text = raw.strip().lower()
        return True if text in _TRUE else False if text in _FALSE else None
    return None


def public_demo() -> bool:
    """Whether VG_PUBLIC_DEMO asks for the public-demo limits."""
    return parse_flag(os.environ.get("VG_PUBLIC_DEMO", "")) is True


def active_limits() -> Limits:
    """The limits in force: the public-demo set when VG_PUBLIC_DEMO is set to a true value."""
    return PUBLIC_DEMO_LIMITS if public_demo() else DEFAULT_LIMITS


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
    key=False keeps a field out of the store key (where a run executes does not change what it is).
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
def _noise_on(c): return c.grad_noise > 0
def _uses_momentum(c): return c.optimizer in ("sgd_momentum",)
def _leaky(c): return c.activation == "leaky_relu"
def _dropout_on(c): return c.dropout > 0
def _residual_mlp(c): return c.residual and c.arch == "mlp"
def _bn_choices(c): return [b for b in BN_PLACEMENTS if b != "last" or c.arch == "mlp"]
def _g(x): return f"{x:g}"


@dataclass(frozen=True)
class RunConfig:
    """One experiment. Defaults finish in seconds on a laptop CPU and show vanishing gradients."""

    # --- data
    dataset: str = _f("mnist-5k", f"Training data. {' and '.join(OFFLINE)} work offline; the others "
                      "load from a local folder or download.", group="data", choices=DATASETS,
                      show=dataset_label)
    train_subset: int = _f(0, "Use only this many training samples (0 = all).", group="data",
                           lo=0, hi=10_000_000, label="training samples (0 = all)", step=500)
    standardize: bool = _f(False, "Standardize inputs to mean 0, std 1 per feature "
                           "(needed for self-normalizing SELU networks).", group="data",
                           label="standardize inputs")
    input_noise: float = _f(0.0, "Std of Gaussian noise added once to the inputs "
                            "(000_* perturbs MNIST with 0.05).", group="data", lo=0.0, hi=10.0,
                            label="input noise std", step=0.01, format="%.3f")
    augment: bool = _f(False, "Random crop (pad 4) and horizontal flip of training images each "
                       "batch, as in the VGG experiments.", group="data", label="augment (crop + flip)")
    # --- architecture
    arch: str = _f("mlp", "mlp: fully connected layers; vgg: the VGG-style CNN of 001_*.",
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
    bn: str = _f("none", "Batch norm: none, before or after every activation, or one layer "
                 "after the last hidden layer (last, as 000_* did).", group="architecture",
                 choices=BN_PLACEMENTS, label="batch norm", options=_bn_choices)
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
    noise_unit: str = _f("epoch", "What t counts in the noise schedule: epochs (as 000_* did) "
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
            object.__setattr__(self, f.name, _coerce(f, getattr(self, f.name)))
        _check_limits(self, active_limits())

    # ------------------------------------------------------------------ identity
    def to_dict(self) -> dict:
        """Plain JSON-ready values (tuples become lists)."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def key_dict(self) -> dict:
        """What identifies the experiment: irrelevant fields reset, execution-only fields dropped."""
        out = {}
        for f in dataclasses.fields(self):
            if not f.metadata["key"]:
                continue
            value = getattr(self, f.name) if field_applies(f, self) else _default_of(f)
            out[f.name] = _plain(value)
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
                good[name] = _coerce(f, raw)
            except ConfigError as exc:
                warnings.append(f"{exc} (ignored, using {_plain_str(getattr(base, name))})")
        while True:
            try:
                return dataclasses.replace(base, **good), warnings
            except ConfigError as exc:
                if exc.field in good:
                    warnings.append(f"{exc} (ignored, using {_plain_str(getattr(base, exc.field))})")
                    del good[exc.field]
                elif good:  # a combined limit: drop the most recently given value
                    dropped = list(good)[-1]
                    warnings.append(f"{exc} (ignored {dropped}, using {_plain_str(getattr(base, dropped))})")
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


def field_applies(f: dataclasses.Field, cfg) -> bool:
    """Whether field `f` matters for `cfg` (anything with the config's attributes will do)."""
    applies = f.metadata["applies"]
    return applies is None or bool(applies(cfg))


def field_spec(name: str) -> dataclasses.Field:
    for f in dataclasses.fields(RunConfig):
        if f.name == name:
            return f
    raise KeyError(name)


def _default_of(f: dataclasses.Field):
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory()


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def _plain_str(value) -> str:
    if isinstance(value, tuple):
        return " ".join(map(str, value))
    return str(value)


def display_name(key) -> str:
    """A setting's name as given, safe to show: quoted when empty, odd or long."""
    key = str(key)
    if key.isidentifier() and len(key) <= 40:
        return key
    return _short(repr(key))


def _show_value(raw) -> str:
    """A given value, safe to show in one line: quoted when empty or odd, cut when long."""
    if isinstance(raw, str) and raw and raw.isprintable() and raw.strip() == raw:
        return _short(raw)
    return _short(repr(raw))


def _short(text, limit=40) -> str:
    text = str(text)
    return text if len(text) <= limit else text[:limit] + "..."


def _coerce(f: dataclasses.Field, raw: Any):
    """Turn a plain value (or a string from a URL/CLI) into the field's type, or raise ConfigError."""
    name, meta = f.name, f.metadata
    default = _default_of(f)
    shown = _show_value(raw)
    if isinstance(default, bool):
        value = parse_flag(raw)
        if value is None:
            raise ConfigError(name, f"got {shown}; expected true or false")
        return value
    if isinstance(default, tuple):
        if isinstance(raw, str):
            parts = raw.replace(",", " ").split()
        elif isinstance(raw, (list, tuple)):
            parts = list(raw)
        else:
            raise ConfigError(name, f"got {shown}; expected a list of positive integers such as 512 256")
        if not parts:
            raise ConfigError(name, "needs at least one hidden layer width")
        value = tuple(_to_int(name, p, shown) for p in parts)
        limits = active_limits()
        if len(value) > limits.max_hidden_layers:
            raise ConfigError(name, f"{len(value)} hidden layers; at most {limits.max_hidden_layers} allowed")
        for w in value:
            if not 1 <= w <= getattr(limits, meta["limit"]):
                raise ConfigError(name, f"width {w} out of range; each width must be 1 to "
                                  f"{getattr(limits, meta['limit'])}")
        return value
    if isinstance(default, int):
        value = _to_int(name, raw, shown)
    elif isinstance(default, float):
        value = _to_float(name, raw, shown)
    else:
        if not isinstance(raw, str):
            raise ConfigError(name, f"got {shown}; expected one of {', '.join(meta['choices'])}")
        value = raw.strip().lower().replace("-", "_") if name != "dataset" else raw.strip().lower()
        aliases = _ALIASES.get(name, {})
        value = aliases.get(value, value)
    choices = meta["choices"]
    if choices is not None and value not in choices:
        raise ConfigError(name, f"got {shown}; expected one of {', '.join(choices)}")
    lo, hi = meta["lo"], meta["hi"]
    if lo is not None and value < lo or hi is not None and value > hi:
        rng = f"{lo} to {hi}" if hi is not None else f"at least {lo}"
        raise ConfigError(name, f"got {shown}; must be {rng}")
    return value


_ALIASES = {
    "activation": {"sigmoid": "logistic", "silu": "swish", "leakyrelu": "leaky_relu",
                   "none": "linear", "identity": "linear"},
    "init": {"xavier_uniform": "glorot_uniform", "xavier_normal": "glorot_normal",
             "kaiming_uniform": "he_uniform", "kaiming_normal": "he_normal", "default": "torch_default"},
    "optimizer": {"momentum": "sgd_momentum"},
}


def _to_int(name, raw, shown) -> int:
    if isinstance(raw, bool):
        raise ConfigError(name, f"got {shown}; expected a whole number")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        if math.isfinite(raw) and raw == int(raw):
            return int(raw)
        raise ConfigError(name, f"got {shown}; expected a whole number")
    if isinstance(raw, str):
        text = raw.strip()
        if len(text) <= 20:
            try:
                return int(text)
            except ValueError:
                pass
            try:
                as_float = float(text)
                if math.isfinite(as_float) and as_float == int(as_float):
                    return int(as_float)
            except (ValueError, OverflowError):
                pass
    raise ConfigError(name, f"got {shown}; expected a whole number")


def _to_float(name, raw, shown) -> float:
    if isinstance(raw, bool):
        raise ConfigError(name, f"got {shown}; expected a number")
    try:
        value = float(raw.strip() if isinstance(raw, str) and len(raw) <= 40 else raw) \
            if isinstance(raw, (int, float, str)) else None
    except (ValueError, OverflowError):
        value = None
    if value is None or not math.isfinite(value):
        raise ConfigError(name, f"got {shown}; expected a finite number")
    return value


def _check_limits(cfg: RunConfig, limits: Limits) -> None:
    """Limits on single fields and on their combination (cost and memory estimates)."""
    for f in dataclasses.fields(cfg):  # a field's own limit, where the field applies
        value = getattr(cfg, f.name)
        cap = getattr(limits, f.metadata["limit"]) if f.metadata["limit"] else None
        if cap is not None and not isinstance(value, tuple) and value > cap and field_applies(f, cfg):
            raise ConfigError(f.name, f"got {value}; at most {cap} allowed")
    if cfg.arch == "vgg" and cfg.dataset == "digits" and cfg.vgg_stages > 3:
        raise ConfigError("vgg_stages", "8x8 digits allow at most 3 stages of 2x2 pooling")
    if cfg.bn == "last" and cfg.arch == "vgg":
        raise ConfigError("bn", "'last' (one BN after the last hidden layer) is for mlp; "
                          "use before or after with vgg")
    if cfg.dropout_kind == "alpha" and cfg.dropout > 0 and cfg.arch == "vgg":
        raise ConfigError("dropout_kind", "alpha dropout is for fully connected SELU networks (mlp)")
    from .cost import estimate  # local import: cost needs the dataset shapes only
    est = estimate(cfg)
    if cfg.bn != "none" or cfg.arch == "vgg":  # VGG's entry block always has batch norm
        if cfg.batch_size < 2:
            raise ConfigError("batch_size", "batch norm needs at least 2 examples per batch")
        if est.train_samples < 2:
            raise ConfigError("train_subset", "batch norm needs at least 2 training examples")
    if est.params > limits.max_params:
        raise ConfigError("widths" if cfg.arch == "mlp" else "vgg_filters",
                          f"the network would have {est.params:,} parameters; at most "
                          f"{limits.max_params:,} allowed")
    if est.memory_bytes > limits.max_memory_bytes:
        raise ConfigError("batch_size", f"one training step would need about "
                          f"{est.memory_bytes / 2**30:.1f} GiB; at most "
                          f"{limits.max_memory_bytes / 2**30:.1f} GiB allowed (lower batch_size or widths)")
    if est.work > limits.max_work:
        raise ConfigError("epochs", f"this run would cost about {est.work:.1e} parameter-sample "
                          f"passes; at most {limits.max_work:.0e} allowed (lower epochs, "
                          f"train_subset or the network size)")
