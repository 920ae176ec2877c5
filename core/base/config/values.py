"""Values of the configuration: parsing, limits and checks, for core.base.config's fields.

    coerce(field, "0.1")          # a URL's or the CLI's text as the field's type, or ConfigError
    parse_flag("yes")             # True: the one reading of true/false text (fields, env, secrets)
    active_limits()               # DEFAULT_LIMITS, or PUBLIC_DEMO_LIMITS when VG_PUBLIC_DEMO is true

Everything here reads a field's metadata (choices, lo, hi, limit, applies) and knows nothing
of RunConfig itself, so core.base.config can build the dataclass on top of it.
"""
from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import math
import os
from dataclasses import dataclass
from typing import Any

from ..datasets import is_tabular, is_upload, upload_meta


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
    # Rough peak memory of one training step (weights, optimizer state, activations), and of
    # one evaluation batch.
    max_memory_bytes: int = 8 * 2**30
    # Optimizer steps of the whole run: each pays Python and kernel-launch overhead whatever
    # the network's size (batch_size 1 on 3,600 images for 50 epochs is 180,000 steps).
    max_steps: int = 1_000_000
    # Numbers the statistics keep: logged steps x weight layers x (stat columns + histogram
    # bins), each about core.base.cost.LOG_BYTES_PER_VALUE bytes in memory while training.
    max_logged_values: int = 50_000_000
    # Wall time of the run by core.base.cost.training_seconds at core.base.cost.REFERENCE_RATES (a
    # 2-core CPU): products, activation values, per-step and per-logged-step overhead and
    # the evaluations of every epoch.
    max_seconds: float = 86_400.0


DEFAULT_LIMITS = Limits()
# What a stored run is checked against when it is read: the default limits on what it is (its
# shape, size and memory), none on what training it cost (steps, logged values, time): those it
# has paid, under the estimates of its day (a later, stricter estimate must not make it look
# damaged and be deleted).
STORED_LIMITS = dataclasses.replace(DEFAULT_LIMITS, max_work=math.inf, max_steps=2**62,
                                    max_logged_values=2**62, max_seconds=math.inf)
# A shared public demo gets much smaller limits (set VG_PUBLIC_DEMO=1).
PUBLIC_DEMO_LIMITS = Limits(max_hidden_layers=40, max_width=1024, max_params=3_000_000,
                            max_epochs=50, max_batch_size=2048, max_vgg_filters=64,
                            max_vgg_blocks=8, max_work=2e11, max_memory_bytes=1 * 2**30,
                            max_steps=20_000, max_logged_values=2_000_000, max_seconds=300.0)


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


_LIMITS_OVERRIDE: contextvars.ContextVar = contextvars.ContextVar("limits_override", default=None)


def active_limits() -> Limits:
    """The limits in force: the public-demo set when VG_PUBLIC_DEMO is set to a true value
    (inside `limits_in_force(...)`, the limits given there)."""
    override = _LIMITS_OVERRIDE.get()
    if override is not None:
        return override
    return PUBLIC_DEMO_LIMITS if public_demo() else DEFAULT_LIMITS


@contextlib.contextmanager
def limits_in_force(limits: Limits):
    """Validate configs against `limits` in this block (this thread or task only): the store
    reads runs made under the default limits while a public demo enforces smaller ones."""
    token = _LIMITS_OVERRIDE.set(limits)
    try:
        yield
    finally:
        _LIMITS_OVERRIDE.reset(token)


def field_applies(f: dataclasses.Field, cfg) -> bool:
    """Whether field `f` matters for `cfg` (anything with the config's attributes will do)."""
    applies = f.metadata["applies"]
    return applies is None or bool(applies(cfg))


def default_of(f: dataclasses.Field):
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory()


def plain(value):
    return list(value) if isinstance(value, tuple) else value


def plain_str(value) -> str:
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


def coerce(f: dataclasses.Field, raw: Any):
    """Turn a plain value (or a string from a URL/CLI) into the field's type, or raise ConfigError."""
    name, meta = f.name, f.metadata
    default = default_of(f)
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
        value = raw.strip().lower()
        value = value.replace("_", "-") if name == "dataset" else value.replace("-", "_")
        aliases = _ALIASES.get(name, {})
        value = aliases.get(value, value)
    choices = meta["choices"]
    if name == "dataset" and is_upload(value):  # uploaded data: named by its hash, not a choice
        if upload_meta(value) is None:
            raise ConfigError(name, f"no uploaded data {value} on this machine; upload the file again")
        return value
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
        return int(raw)
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
    return value + 0.0  # -0.0 -> 0.0: equal values serialize (and hash) alike


def check_limits(cfg, limits: Limits) -> None:
    """Limits on single fields and on their combination (cost and memory estimates)."""
    for f in dataclasses.fields(cfg):  # a field's own limit, where the field applies
        value = getattr(cfg, f.name)
        cap = getattr(limits, f.metadata["limit"]) if f.metadata["limit"] else None
        if cap is not None and not isinstance(value, tuple) and value > cap and field_applies(f, cfg):
            raise ConfigError(f.name, f"got {value}; at most {cap} allowed")
    if cfg.arch == "vgg" and cfg.dataset == "digits" and cfg.vgg_stages > 3:
        raise ConfigError("vgg_stages", "8x8 digits allow at most 3 stages of 2x2 pooling")
    if cfg.arch == "vgg" and is_tabular(cfg.dataset):
        raise ConfigError("arch", f"{cfg.dataset} is a table of features, not images; use mlp")
    if cfg.bn == "last" and cfg.arch == "vgg":
        raise ConfigError("bn", "'last' (one BN after the last hidden layer) is for mlp; "
                          "use before or after with vgg")
    if cfg.dropout_kind == "alpha" and cfg.dropout > 0 and cfg.arch == "vgg":
        raise ConfigError("dropout_kind", "alpha dropout is for fully connected SELU networks (mlp)")
    # local import: cost needs the dataset shapes only
    from ..cost import EVAL_BATCH, LOG_BYTES_PER_VALUE, duration, estimate, reference_seconds
    est = estimate(cfg)
    if cfg.bn != "none" or cfg.arch == "vgg":  # VGG's entry block always has batch norm
        if cfg.batch_size < 2:
            raise ConfigError("batch_size", "batch norm needs at least 2 examples per batch")
        if est.train_samples < 2:
            raise ConfigError("train_subset", "batch norm needs at least 2 training examples")
    size_field = "widths" if cfg.arch == "mlp" else "vgg_filters"

    def gib(n: float) -> str:
        return f"{n / 2**30:.1f} GiB"

    seconds = reference_seconds(cfg)
    bounds = [  # (what the request would cost, the bound, the field to change, the message)
        (est.params, limits.max_params, size_field,
         f"the network would have {est.params:,} parameters; at most {limits.max_params:,} allowed"),
        (est.memory_bytes, limits.max_memory_bytes, "batch_size",
         f"one training step would need about {gib(est.memory_bytes)}; at most "
         f"{gib(limits.max_memory_bytes)} allowed (lower batch_size or widths)"),
        (est.eval_memory_bytes, limits.max_memory_bytes, size_field,
         f"evaluating in batches of {EVAL_BATCH} would need about {gib(est.eval_memory_bytes)}; at "
         f"most {gib(limits.max_memory_bytes)} allowed (lower the widest layer)"),
        (est.work, limits.max_work, "epochs",
         f"this run would cost about {est.work:.1e} parameter-sample passes; at most "
         f"{limits.max_work:.0e} allowed (lower epochs, train_subset or the network size)"),
        (est.total_steps, limits.max_steps,
         "batch_size" if est.steps_per_epoch > limits.max_steps else "epochs",
         f"{est.total_steps:,} optimizer steps ({est.steps_per_epoch:,} per epoch at batch_size "
         f"{cfg.batch_size}, {cfg.epochs} epochs); at most {limits.max_steps:,} allowed "
         f"(raise batch_size or lower epochs)"),
        (est.logged_values, limits.max_logged_values, "log_every",
         f"{est.logged_steps:,} logged steps x {cfg.depth + 1} layers would keep "
         f"{est.logged_values:,} statistics and histogram values (about "
         f"{est.logged_values * LOG_BYTES_PER_VALUE / 2**20:,.0f} MiB); at most "
         f"{limits.max_logged_values:,} allowed (raise log_every, or 0 = automatic)"),
        (seconds, limits.max_seconds, "epochs",
         f"this run would take about {duration(seconds)} on the reference 2-core CPU (the pages' "
         f"time model, core.base.cost.training_seconds, at core.base.cost.REFERENCE_RATES); at most "
         f"{duration(limits.max_seconds)} allowed (lower epochs, train_subset or the network size)"),
    ]
    for cost, bound, field, message in bounds:
        if cost > bound:
            raise ConfigError(field, message)
