"""The source documents' experiments as named presets, each runnable at three scales with
several seeds, with the documents' findings as checkable claims.

    preset = PRESETS["gna-bn"]
    cells = resolve(preset, "quick")        # [Cell(row, column, config, seed_index), ...]
    preset.published[(("Baseline", "Logistic"), "5-layer")]   # {"test_acc": 10.28}
    preset.claims                            # core.lab.findings claims

The machinery is in .base, the sources' citations in .sources, one module per family of
experiments. Running presets and building their tables lives in core.lab.reproduce and
core.lab.tables; this package is data only.
"""
from __future__ import annotations

from ...base.config import ConfigError
from .base import (MAX_SEEDS, SCALES, Cell, Preset, check_scale, check_seeds,  # noqa: F401
                   dataset_available, fit_config, make_cell, resolve, seeds_of, substitutions)
from .gna import GNA_BN
from .mlps import DEEP_SIGMOID, INIT_ACT_BN, SATURATION
from .snn import SELU_SNN
from .vgg import VGG_BN_RC

PRESETS: dict[str, Preset] = {p.name: p for p in (GNA_BN, VGG_BN_RC, INIT_ACT_BN, SELU_SNN,
                                                  DEEP_SIGMOID, SATURATION)}


def get_preset(name: str) -> Preset:
    """The preset called `name`, or ConfigError naming the known ones."""
    if name not in PRESETS:
        raise ConfigError("preset", f"got {str(name)[:40]!r}; expected one of {', '.join(PRESETS)}")
    return PRESETS[name]
