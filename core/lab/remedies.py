"""Remedies: one-click changes of a configuration that a finding of core.lab.diagnosis offers.

    remedies_for(cfg, vanishing_fixes(cfg))     # [Remedy(label, config), ...], valid and distinct

A remedy is offered only when it changes the configuration and the changed configuration is
valid; which remedies address which cause is the diagnosis's choice.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..base.catalogue import suited_init
from ..base.config import ConfigError, RunConfig


@dataclass(frozen=True)
class Remedy:
    label: str
    config: RunConfig


INIT_NAMES = {"glorot_uniform": "Glorot uniform", "glorot_normal": "Glorot normal", "he_normal": "He normal",
              "he_uniform": "He uniform", "lecun_normal": "LeCun normal", "lecun_uniform": "LeCun uniform"}


def use_init(init: str) -> tuple[str, dict]:
    """One label per initialization, wherever a finding suggests it."""
    return f"{INIT_NAMES.get(init, init)} init", {"init": init}


BATCH_NORM = ("Batch norm before each activation", {"bn": "before"})
RELU_HE = ("ReLU + He normal init", {"activation": "relu", "init": "he_normal"})


def lower_lr(cfg: RunConfig) -> tuple[str, dict]:
    return "Learning rate ÷ 10", {"lr": cfg.lr / 10}


def remedies_for(cfg: RunConfig, options: list[tuple[str, dict]]) -> list[Remedy]:
    out, seen = [], {cfg.run_id}
    for label, changes in options:
        try:
            new = cfg.replace(**changes)
        except ConfigError:
            continue
        if new.run_id not in seen:
            seen.add(new.run_id)
            out.append(Remedy(label, new))
    return out


def vanishing_fixes(cfg: RunConfig) -> list[tuple[str, dict]]:
    fixes = [BATCH_NORM, RELU_HE]
    if cfg.arch == "mlp":
        fixes.append(("SELU + LeCun normal + standardized inputs",
                      {"activation": "selu", "init": "lecun_normal", "standardize": True}))
    fixes.append(("Residual connections", {"residual": True}))
    if cfg.activation == "logistic":
        fixes.append(("tanh instead of logistic", {"activation": "tanh"}))
    return fixes


def scale_fixes(cfg: RunConfig) -> list[tuple[str, dict]]:
    """A forward signal that shrinks or grows layer by layer: the weights' scale is off for the
    activation (an init suited to it), or normalize every layer."""
    suited = suited_init(cfg.activation)
    fixes = [use_init(suited)] if cfg.init != suited else []
    return fixes + [BATCH_NORM, ("Residual connections", {"residual": True})]


def exploding_fixes(cfg: RunConfig) -> list[tuple[str, dict]]:
    fixes = [lower_lr(cfg)]
    if cfg.init in ("normal", "random_normal") or cfg.init.startswith("glorot") and cfg.activation in ("relu", "leaky_relu", "prelu"):
        fixes.append(use_init(suited_init(cfg.activation)))
    fixes.append(BATCH_NORM)
    return fixes
