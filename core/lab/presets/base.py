"""What a preset is: a grid of RunConfigs laid out like a document's table, at three scales,
each cell trained with several seeds, and the document's findings as checkable claims.

    cells = resolve(preset, "quick")            # [Cell(row, column, config, seed_index), ...]
    cells = resolve(preset, "standard", seeds=5)

Scales:
- quick: the design scaled down to minutes on a 2-core laptop CPU (a live demo);
- standard: the smallest design that decides the document's claims, about 15 minutes of a
  2-core CPU per preset with all its seeds (the VGG preset about 30), on offline data;
- full: the document's settings and dataset.

A dataset that is not on this machine (core.engine.data raises DatasetUnavailable) is replaced
by an offline one, and the cell records it (`Cell.substitution`), so every surface can say so.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable

from ...base.config import ConfigError, RunConfig, active_limits

SCALES = ("quick", "standard", "full")


def half_of(effect: float, unit: str = " points") -> dict:
    """The smallest effect that counts for a claim whose source gives an effect: half of it
    (`smallest` and `basis` of core.lab.findings.Better). Half, not all: our runs are shorter and
    on other data, so a smaller effect in the same direction still reproduces the finding, while
    a tenth of it would not."""
    return dict(smallest=round(abs(effect) / 2, 2), basis=f"half the published {effect:+.2f}{unit}")
MAX_SEEDS = 20


@dataclass(frozen=True)
class Cell:
    """One configuration (one seed) of a preset, placed in the document's table."""

    row: tuple[str, ...]  # row key, one entry per Preset.row_names
    column: str  # column group ("" when the table has a single one)
    config: RunConfig
    requested: str = ""  # the dataset the preset asked for ("" = the config's own)
    fallbacks: tuple[str, ...] = ("mnist-5k",)  # tried in order when `requested` is unavailable
    wanted_epochs: int = 0  # the document's epochs when this installation's limits capped them
    seed_index: int = 0  # 0 = the preset's own seed; k = that seed + k

    @property
    def label(self) -> str:
        """A short human label, e.g. 'GNA + BatchNorm · swish · 5-layer' (the same for every seed)."""
        parts = [p for p in self.row if p] + ([self.column] if self.column else [])
        return " · ".join(parts)

    @property
    def key(self) -> tuple:
        return self.row, self.column

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
    source: str  # the document as a reader knows it: authors, title, year (and a link)
    short: str  # a short citation, e.g. "Agarap 2019"
    description: str  # one line for `reproduce --list`
    build: Callable[[str], list[Cell]]  # scale -> cells (seed 0) with the document's datasets
    row_names: tuple[str, ...]  # headers of the row key parts, e.g. ("Model", "Activation")
    columns: tuple[str, ...]  # column groups in table order, ("",) for a single group
    metrics: tuple[str, ...]  # core.lab.metrics.METRICS names shown per column group
    published: dict = field(default_factory=dict)  # (row, column) -> {metric: float | str}
    units: dict = field(default_factory=dict)  # metric -> unit of the published numbers
    published_note: str = ""  # where the published numbers come from, what they mean
    reading: str = ""  # what the document found (the claims below check it)
    notes: dict = field(default_factory=dict)  # scale -> what that scale changes
    seeds: dict = field(default_factory=lambda: {"quick": 3, "standard": 5, "full": 3})
    seeds_note: dict = field(default_factory=dict)  # scale -> why fewer seeds than the default
    baseline_row: tuple[str, ...] | None = None  # reference row for relative metrics
    baseline_of: Callable | None = None  # row -> the row its differences are against (None: baseline_row)
    differences: tuple[str, ...] = ()  # design differences from the document (facts, not results)
    claims: tuple = ()  # core.lab.findings claims: the document's findings, checked on our runs
    charts: tuple[str, ...] = ("grad_flow", "curves", "histograms")

    def cells(self, scale: str) -> list[Cell]:
        """The cells at `scale` (seed 0 only) with the document's datasets (no availability check)."""
        return self.build(check_scale(scale))

    def note(self, scale: str) -> str:
        return self.notes.get(scale, "")

    def default_seeds(self, scale: str) -> int:
        return int(self.seeds.get(scale, 3))

    @property
    def quick_note(self) -> str:
        return self.notes.get("quick", "")

    @property
    def full_note(self) -> str:
        return self.notes.get("full", "")


def fit_config(settings: dict) -> tuple[RunConfig, int]:
    """RunConfig(**settings), or, when the installation's limits forbid that many epochs, the
    most epochs they allow. Returns the config and the epochs asked for when capped (else 0)."""
    try:
        return RunConfig(**settings), 0
    except ConfigError as exc:
        if exc.field != "epochs":
            raise
        # every limit that names epochs (work, steps, time) grows with them: the most that pass
        lo, hi = 0, min(int(settings["epochs"]), active_limits().max_epochs + 1)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            try:
                RunConfig(**{**settings, "epochs": mid})
                lo = mid
            except ConfigError:
                hi = mid
        if lo < 1:
            raise
        return RunConfig(**{**settings, "epochs": lo}), int(settings["epochs"])


def make_cell(row: tuple[str, ...], column: str, **settings) -> Cell:
    cfg, wanted = fit_config(settings)
    return Cell(row, column, cfg, requested=cfg.dataset, wanted_epochs=wanted)


def check_scale(scale: str) -> str:
    if scale not in SCALES:
        raise ConfigError("scale", f"got {str(scale)[:40]!r}; expected one of {', '.join(SCALES)}")
    return scale


def check_seeds(seeds) -> int:
    try:
        n = int(seeds)
    except (TypeError, ValueError):
        raise ConfigError("seeds", f"got {str(seeds)[:40]!r}; expected a whole number") from None
    if not 1 <= n <= MAX_SEEDS or str(seeds).strip() not in (str(n), f"{n}.0"):
        raise ConfigError("seeds", f"got {str(seeds)[:40]!r}; expected 1 to {MAX_SEEDS}")
    return n


def dataset_available(name: str, allow_download: bool = False) -> bool:
    """Whether core.engine.data can load `name` here (a download is tried only when allowed)."""
    from ...engine.data import DatasetUnavailable, load_raw

    try:
        load_raw(name, allow_download=allow_download)
    except DatasetUnavailable:
        return False
    return True


def resolve(preset: Preset, scale: str, allow_download: bool = False,
            available: Callable[[str, bool], bool] | None = None, seeds: int | None = None) -> list[Cell]:
    """The preset's cells at `scale`, `seeds` per configuration (default: the preset's for that
    scale), each on its requested dataset when that can be loaded, else on its first available
    fallback (recorded in `Cell.substitution`). Seed k of a cell is its config's seed + k.

    Pages and listings keep allow_download False (they must answer at once); the CLI asks
    for downloads so that full scale uses the real dataset wherever the network allows.
    """
    n_seeds = check_seeds(preset.default_seeds(scale) if seeds is None else seeds)
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
        for k in range(n_seeds):
            out.append(dataclasses.replace(cell, requested=wanted, config=cfg.replace(seed=cfg.seed + k),
                                           wanted_epochs=capped or cell.wanted_epochs, seed_index=k))
    return out


def substitutions(cells: list[Cell]) -> list[str]:
    """Distinct 'X -> Y' dataset substitutions of resolved cells, in order."""
    return list(dict.fromkeys(c.substitution for c in cells if c.substitution))


def seeds_of(cells: list[Cell]) -> int:
    """How many seeds each configuration of `cells` has (the most of any)."""
    counts: dict[tuple, int] = {}
    for c in cells:
        counts[c.key] = counts.get(c.key, 0) + 1
    return max(counts.values(), default=0)
