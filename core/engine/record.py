"""One logged step of a run, as every view reads it: the trainer's event stream.

    record = recorder.after_update(step, epoch)     # core.engine.stats.LayerStatsRecorder
    record.values("grad_mean_abs")                  # per weight layer, input to output
    record.stats()                                  # {stat: per-layer values}, every declared one
    record.wide(layer_names)                        # DataFrame: layer, name, one column per stat
    record.rows()                                   # (layer, stat, value): the long rows layer_stats stores

A record holds the host-side numbers of one logged step, block by block in the order declared in
core.base.instruments (gradient, noisy gradient, weight, activation), plus the histogram rows.
The stored run's tables (LayerStatsRecorder.table, .histograms), the live job view, the
Playground's frames and the probe all read these records: a statistic declared in
core.base.instruments and computed by its block's summarizer reaches all of them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..base.instruments import ACTIVATION, BLOCKS, GRADIENT, NOISY_GRADIENT, WEIGHT, block, block_stats

# The stored stat names of each block, in column order: declared once in core.base.instruments.
BLOCK_STATS = {name: block_stats(name) for name in BLOCKS}
# Per block, the stats stored even when NaN (others only where they apply, e.g. dead: ReLU).
ALWAYS = {name: np.array([not ins.applies for ins in block(name)]) for name in BLOCKS}
# Where each block's numbers sit in a record's `host` dict.
HOST_KEY = {GRADIENT: "true", NOISY_GRADIENT: "noisy", WEIGHT: "w", ACTIVATION: "act"}
# stat name -> (block, column)
_WHERE = {stat: (name, j) for name, stats in BLOCK_STATS.items() for j, stat in enumerate(stats)}


@dataclass
class StepRecord:
    """The numbers of one logged step. `host` maps "true", "noisy", "w", "act" to (layers,
    columns) float64 arrays whose first columns are the block's declared stats (activation rows
    then carry their histogram counts), and "true_hist", "noisy_hist", "w_hist" to (layers, 60)
    histogram counts; a block that was not measured at this step is absent."""

    step: int
    epoch: int
    host: dict = field(repr=False)
    loss: float | None = None  # the step's training loss (None: not finite, or not known)

    def has(self, stat: str) -> bool:
        where = _WHERE.get(stat)
        return where is not None and HOST_KEY[where[0]] in self.host

    def values(self, stat: str) -> np.ndarray:
        """`stat` per layer of its block (weight layers; hidden layers for activations); NaN
        where it does not apply. KeyError for a stat not measured at this step."""
        name, j = _WHERE[stat]
        return np.asarray(self.host[HOST_KEY[name]][:, j], dtype=np.float64)

    def stats(self) -> dict[str, np.ndarray]:
        """Every declared stat measured at this step, per layer of its block."""
        return {stat: self.values(stat) for stat in _WHERE if self.has(stat)}

    def hist(self, key: str = "true_hist") -> np.ndarray | None:
        return self.host.get(key)

    @property
    def finite(self) -> bool:
        """Whether the true gradient's statistics are all finite (else the run diverged here)."""
        return bool(np.isfinite(self.host["true"]).all())

    def live(self) -> "StepRecord":
        """What a live view keeps of this step: the declared stats and the gradient histogram
        (the weight, noisy and activation histograms dropped: a fraction of the bytes)."""
        keep = {key: self.host[key][:, :len(BLOCK_STATS[name])] for name, key in HOST_KEY.items()
                if key in self.host}
        if "true_hist" in self.host:
            keep["true_hist"] = self.host["true_hist"]
        return StepRecord(self.step, self.epoch, keep, self.loss)

    def wide(self, layer_names: list[str]) -> pd.DataFrame:
        """One row per weight layer: layer (1-based), name, then every measured stat as a column
        (activation stats on the hidden layers, NaN on the output layer)."""
        n = len(layer_names)
        table = {"layer": np.arange(1, n + 1), "name": list(layer_names)}
        for stat, v in self.stats().items():
            col = np.full(n, np.nan)
            col[:min(n, len(v))] = v[:n]
            table[stat] = col
        return pd.DataFrame(table)

    def rows(self) -> tuple[np.ndarray, list[str], np.ndarray]:
        """(layer, stat names, values) of the stored long rows, in
        the declared block order, layer-major within a block; a NaN is kept only for the stats
        every layer reports."""
        layers, stats, values = [], [], []
        for name in BLOCKS:
            if HOST_KEY[name] not in self.host:
                continue  # no noise, or no activations captured at this step
            names = BLOCK_STATS[name]
            head = self.host[HOST_KEY[name]][:, :len(names)]
            layer_idx, col_idx = np.nonzero(~np.isnan(head) | ALWAYS[name])
            layers.append(layer_idx.astype(np.int64) + 1)
            stats.extend(names[j] for j in col_idx)
            values.append(head[layer_idx, col_idx].astype(np.float64))
        if not layers:
            return np.zeros(0, np.int64), [], np.zeros(0)
        return np.concatenate(layers), stats, np.concatenate(values)
