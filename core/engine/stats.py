"""Per-layer statistics of a training run, collected at logged steps, computed on the device.

`LayerStatsRecorder` plugs into the trainer as a callback. At step 0 (before any update) and
every `log_every` steps it records, per weight layer (input to output):

- gradient L2 norm, mean |g|, max |g|, std -- of the true gradient, and of the noisy gradient
  actually applied when gradient noise is on;
- weight norm and update-to-weight ratio ||W_after - W_before|| / ||W_before||;
- activation mean and std, saturated fraction (logistic, tanh: derivative below 10% of its
  maximum), dead fraction (ReLU units that output 0 for every example of the batch);
- histograms: weight gradients on fixed log10|g| bins, activations on fixed linear bins.

Names, blocks and order of the statistics are declared once in core.base.instruments; the
summarizers here compute each block's columns in that order, and each logged step becomes one
core.engine.record.StepRecord, which every view and the stored tables read.

Everything is computed with tensor ops on the training device; only the finished numbers of
a logged step are copied to the host, in one transfer.

Cost. A logged step reads every weight gradient a few times, so on a big network it costs as
much as a fraction of a training step (docs/PERFORMANCE.md). The gradient histogram avoids
log10 and binary search: the top 16 bits of |g|'s float32 bit pattern (8 exponent bits, 7
mantissa bits) are a key that sorts like |g| itself, one `bincount` counts the keys, and a
fixed table folds the 32,768 keys into the 0.25-decade bins. So a bin edge is 10**edge rounded
to the nearest key boundary (a bfloat16 value, within 0.4% or 0.0017 decades of the nominal
edge, see GRAD_EDGE_VALUES), and bins are closed on the left: [edge_k, edge_k+1). Every
gradient entry is counted; nothing is sampled.
"""
from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd
import torch

from ..base.cost import ACT_BINS, GRAD_BINS  # the layout the cost model counts, written there once
from ..base.instruments import ACTIVATION, GRADIENT, WEIGHT
from .activations import ACTIVATION_SPECS
from .record import BLOCK_STATS, StepRecord

# log10|g| bin edges: 0.25 decades from 1e-12 to 1e2.
GRAD_EDGES = np.linspace(-12.0, 2.0, GRAD_BINS + 1)
# Histogram columns: exact zeros, below 1e-12, the 56 bins, above 1e2, NaN/inf.
GRAD_COLUMNS = ["zero", "below"] + [f"{lo:.2f}" for lo in GRAD_EDGES[:-1]] + ["above", "nonfinite"]
GRAD_STATS = BLOCK_STATS[GRADIENT]  # grad_norm, grad_mean_abs, grad_max_abs, grad_std
ACT_STATS = BLOCK_STATS[ACTIVATION]  # act_mean, act_std, act_saturation, act_dead
WEIGHT_STATS = BLOCK_STATS[WEIGHT]  # weight_norm, update_ratio

# ---------------------------------------------------------------------- histogram keys
KEY_SHIFT = 16  # key = (float32 bits of |g|) >> 16
N_KEYS = 1 << (31 - KEY_SHIFT)  # 32,768 keys for the 31 bits of |g| (sign dropped)
_NONFINITE_KEY = 0x7F800000 >> KEY_SHIFT  # exponent all ones: inf and NaN


def _edge_keys() -> np.ndarray:
    """Key of each edge: float32(10**edge) rounded to the nearest key boundary."""
    bits = (10.0 ** GRAD_EDGES).astype(np.float32).view(np.int32).astype(np.int64)
    return (bits + (1 << (KEY_SHIFT - 1))) >> KEY_SHIFT


EDGE_KEYS = _edge_keys()
# The edges actually used, as float32 values: within 0.4% of 10**GRAD_EDGES.
GRAD_EDGE_VALUES = (EDGE_KEYS << KEY_SHIFT).astype(np.int32).view(np.float32)


def _key_columns() -> np.ndarray:
    """Column of GRAD_COLUMNS for every key (exact zeros are moved to column 0 separately)."""
    keys = np.arange(N_KEYS)
    cols = np.searchsorted(EDGE_KEYS, keys, side="right") + 1  # 1 below, 2..57 bins, 58 above
    cols[keys >= _NONFINITE_KEY] = len(GRAD_COLUMNS) - 1
    return cols


KEY_COLUMNS = _key_columns()
# Columns grow with the key, so a column is a run of keys: the last key of columns 1..59.
_LAST_KEY = np.searchsorted(KEY_COLUMNS, np.arange(1, len(GRAD_COLUMNS)), side="right") - 1
# Layers at least this big are histogrammed one at a time with a bincount over all keys;
# smaller ones are concatenated and counted together (fewer ops for deep, narrow networks).
_BIG_LAYER = 1 << 16


class GradientSummarizer:
    """Exact per-layer gradient statistics and histograms for a fixed list of tensor shapes.

        summarize = GradientSummarizer([w.shape for w in weights], device)
        stats, hist = summarize(grads)   # (L, len(GRAD_STATS)) float64 in GRAD_STATS order; (L, 60) int64

    Results depend only on the gradients, not on how they are batched with other runs, so the
    stacked trainer (core.engine.stacked) gets the same numbers as the one-run trainer. Sums use torch's
    own reductions per layer (cascaded, accurate in float32); `_foreach_norm` for the L2 norms.
    """

    def __init__(self, shapes: list[torch.Size], device: torch.device):
        self.device = torch.device(device)
        self.sizes = [int(np.prod(s)) for s in shapes]
        self.big = [i for i, n in enumerate(self.sizes) if n >= _BIG_LAYER]
        self.small = [i for i, n in enumerate(self.sizes) if n < _BIG_LAYER]
        self.counts = torch.tensor(self.sizes, dtype=torch.float64, device=self.device)
        self.key_columns = torch.tensor(KEY_COLUMNS, dtype=torch.int64, device=self.device)
        self.last_key = torch.tensor(_LAST_KEY, dtype=torch.int64, device=self.device)
        small_sizes = torch.tensor([self.sizes[i] for i in self.small], dtype=torch.int64)
        ids = torch.repeat_interleave(torch.arange(len(self.small)), small_sizes)
        self.small_offsets = (ids * len(GRAD_COLUMNS)).to(self.device)
        self.small_bounds = np.concatenate([[0], np.cumsum(small_sizes.numpy())]).tolist()
        self._buffers: dict[int, torch.Tensor] = {}  # reused int32 key buffers of big layers

    def __call__(self, grads: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        gs = [g.detach().reshape(-1).float() for g in grads]
        n_layers, width = len(gs), len(GRAD_COLUMNS)
        norm = torch.stack(torch._foreach_norm(gs))
        total = torch.stack([g.sum() for g in gs])
        abs_sum, max_abs = [None] * n_layers, [None] * n_layers
        hist = torch.zeros(n_layers, width, dtype=torch.int64, device=self.device)
        if self.big:
            fine = []
            for i in self.big:
                abs_sum[i], max_abs[i], f = self._big_layer(i, gs[i])
                fine.append(f)
            hist[self.big] = self._fold(torch.stack(fine))
            for row, i in enumerate(self.big):
                self._move_zeros(hist, i, gs[i], fine[row])
        if self.small:
            sums, maxes, hist[self.small] = self._small_layers([gs[i] for i in self.small])
            for j, i in enumerate(self.small):
                abs_sum[i], max_abs[i] = sums[j], maxes[j]
        n = self.counts
        s1, s2 = total.double(), norm.double() ** 2
        mean = s1 / n
        # Unbiased std, like torch.std; the clamp absorbs rounding for constant tensors.
        var = (s2 - n * mean * mean).clamp_min(0) / (n - 1).clamp_min(1)
        columns = {"grad_norm": norm.double(), "grad_mean_abs": torch.stack(abs_sum).double() / n,
                   "grad_max_abs": torch.stack(max_abs).double(), "grad_std": var.sqrt()}
        return torch.stack([columns[s] for s in GRAD_STATS], dim=1), hist

    def _keys_buffer(self, i: int, numel: int) -> torch.Tensor:
        buf = self._buffers.get(i)
        if buf is None:
            buf = self._buffers[i] = torch.empty(numel, dtype=torch.int32, device=self.device)
        return buf

    def _big_layer(self, i: int, g: torch.Tensor):
        """sum |g|, max |g| and the count of every key, for one big layer."""
        keys = torch.bitwise_and(g.view(torch.int32), 0x7FFFFFFF, out=self._keys_buffer(i, g.numel()))
        magnitude = keys.view(torch.float32)  # |g|, sharing the buffer until the shift below
        abs_sum, max_abs = magnitude.sum(), magnitude.amax()
        keys.bitwise_right_shift_(KEY_SHIFT)
        return abs_sum, max_abs, torch.bincount(keys, minlength=N_KEYS)

    def _fold(self, fine: torch.Tensor) -> torch.Tensor:
        """(L, 32768) key counts -> (L, 60) column counts (column 0, zeros, filled later)."""
        ends = fine.cumsum(1)[:, self.last_key]  # keys up to each column's last key
        cols = torch.diff(ends, dim=1, prepend=torch.zeros_like(ends[:, :1]))
        return torch.cat([torch.zeros_like(cols[:, :1]), cols], dim=1)

    def _move_zeros(self, hist: torch.Tensor, i: int, g: torch.Tensor, fine: torch.Tensor) -> None:
        """Key 0 holds exact zeros and subnormals below 2**-133: count the zeros apart."""
        if g.device.type == "cpu" and int(fine[0]) == 0:
            return  # nothing in key 0, no zeros (reading it is free on the CPU)
        zeros = self.sizes[i] - torch.count_nonzero(g)
        hist[i, 1] -= zeros
        hist[i, 0] += zeros

    def _small_layers(self, gs: list[torch.Tensor]):
        """sum |g| and max |g| per layer and the histograms of all small layers, batched."""
        flat = torch.cat(gs)
        keys = torch.bitwise_and(flat.view(torch.int32), 0x7FFFFFFF)
        magnitude = keys.view(torch.float32)
        b = self.small_bounds
        sums = [magnitude[b[j]:b[j + 1]].sum() for j in range(len(gs))]
        maxes = [magnitude[b[j]:b[j + 1]].amax() for j in range(len(gs))]
        cols = torch.index_select(self.key_columns, 0, keys >> KEY_SHIFT)
        cols = torch.where(keys == 0, 0, cols)  # exact zeros (key 0 also holds tiny subnormals)
        n_small, width = len(gs), len(GRAD_COLUMNS)
        hist = torch.bincount(cols + self.small_offsets, minlength=n_small * width).view(n_small, width)
        return sums, maxes, hist


_ACT_WIDTH = ACT_BINS + 3  # under, the bins, over, NaN


class ActivationSummarizer:
    """Activation statistics of all hidden layers of a logged step, in a few batched ops.

        summarize = ActivationSummarizer(ACTIVATION_SPECS["tanh"])
        rows = summarize(outputs)   # (L, 4 + 43) float64: ACT_STATS, then under, 40 bins, over, NaN

    Mean and std are computed per layer (torch's own reductions); the counts (saturated units,
    dead units, histogram) for all layers at once. The histogram bins exactly as torch.histc
    does: bin = int((x - lo) * bins / (hi - lo)) in float32, hi in the last bin.
    """

    def __init__(self, spec):
        self.spec = spec
        self.lo, self.hi = (np.float32(v) for v in spec.hist_range)
        self.span = float(self.hi - self.lo)  # float32 arithmetic, as histc's
        self._ids: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}

    def _layer_ids(self, outs: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Per element, its layer's offset into the flat histogram; per unit, its layer
        (cached for the current shapes: only the last batch of an epoch differs)."""
        key = tuple(tuple(o.shape) for o in outs)
        if key not in self._ids:
            device = outs[0].device
            layers = torch.arange(len(outs), device=device, dtype=torch.int32)
            elems = torch.repeat_interleave(layers, torch.tensor([o.numel() for o in outs], device=device))
            units = torch.repeat_interleave(layers.long(), torch.tensor([o.shape[1] for o in outs], device=device))
            self._ids = {key: (elems * (2 * _ACT_WIDTH), units)}
        return self._ids[key]

    def __call__(self, outs: list[torch.Tensor]) -> torch.Tensor:
        outs = [o.detach().float() for o in outs]
        n_layers, device, spec = len(outs), outs[0].device, self.spec
        offsets, unit_ids = self._layer_ids(outs)
        sizes = torch.tensor([o.numel() for o in outs], dtype=torch.float32, device=device)
        flat = torch.cat([o.reshape(-1) for o in outs])
        # Histogram code: 0 under, 1..bins (as torch.histc: int((x - lo) * bins / (hi - lo)) in
        # float32, hi in the last bin), bins + 1 over, bins + 2 NaN; plus _ACT_WIDTH when the
        # unit is saturated, so one bincount counts both.
        pos = ((flat - self.lo) * ACT_BINS / self.span).nan_to_num_(-1.0).floor_().clamp_(-1, ACT_BINS - 1)
        code = pos.to(torch.int32).add_(1)  # 0 below lo (and NaN, fixed next), 1..bins
        code = torch.where(flat > self.hi, ACT_BINS + 1, code)
        code = torch.where(flat.isnan(), ACT_BINS + 2, code)
        if spec.saturation_threshold is not None:
            saturated = (flat - spec.saturation_centre).abs() > spec.saturation_threshold
            code = code + saturated.to(torch.int32) * _ACT_WIDTH
        counts = torch.bincount(code + offsets, minlength=n_layers * 2 * _ACT_WIDTH)
        counts = counts.view(n_layers, 2, _ACT_WIDTH)
        hist = counts.sum(1)  # under, bins, over, NaN: non-finite values are counted, not dropped
        nan = torch.full((n_layers,), float("nan"), device=device)
        saturated = counts[:, 1].sum(1).float() / sizes if spec.saturation_threshold is not None else nan
        dead = self._dead(outs, unit_ids) if spec.can_die else nan
        means = torch.stack([o.mean() for o in outs])
        stds = torch.stack([o.std() for o in outs])
        columns = {"act_mean": means, "act_std": stds, "act_saturation": saturated, "act_dead": dead}
        head = torch.stack([columns[s] for s in ACT_STATS], dim=1).double()
        return torch.cat([head, hist.double()], dim=1)

    @staticmethod
    def _dead(outs: list[torch.Tensor], unit_ids: torch.Tensor) -> torch.Tensor:
        """Fraction of units (features, or channels of a CNN) that are 0 for the whole batch."""
        if all(o.dim() == 2 for o in outs):
            alive = (torch.cat(outs, dim=1) != 0).any(dim=0)  # (all units,)
            counts = torch.zeros(len(outs), dtype=torch.float64, device=alive.device).index_add_(
                0, unit_ids, alive.double())
            units = torch.tensor([o.shape[1] for o in outs], dtype=torch.float32, device=alive.device)
            return 1.0 - counts.float() / units
        rows = []
        for out in outs:
            per_unit = out.transpose(0, 1).reshape(out.shape[1], -1)
            rows.append(1.0 - (per_unit != 0).any(dim=1).float().mean())
        return torch.stack(rows)


class LayerStatsRecorder:
    """Trainer callback that records per-layer statistics at logged steps.

    `net` needs `layers` (modules or objects with a `.weight` tensor whose `.grad` is set after
    backward) and `activations` (the activation modules, one per hidden layer). The stacked
    trainer passes views of its stacked tensors and calls `record_activation` itself.
    """

    def __init__(self, net, activation: str, log_every: int, noise_on: bool):
        self.net = net
        self.log_every = max(1, int(log_every))
        self.noise_on = noise_on
        self.layers = net.layers
        self.n_layers = len(self.layers)
        self.n_acts = len(net.activations)
        device = self.layers[0].weight.device
        self.summarize = GradientSummarizer([m.weight.shape for m in self.layers], device)
        spec = ACTIVATION_SPECS[activation]
        self.spec = spec
        self.summarize_activations = ActivationSummarizer(spec)
        self.act_edges = np.linspace(spec.hist_range[0], spec.hist_range[1], ACT_BINS + 1)
        self._logged: list[StepRecord] = []  # one per logged step, host-side
        self._pending: dict[str, torch.Tensor] = {}
        self._act_outs: list[torch.Tensor | None] = []  # this logged step's activation outputs
        self._before: list[torch.Tensor] = []  # weight snapshot buffers, reused every log
        self._w_norm: torch.Tensor | None = None

    # ------------------------------------------------------------------ schedule
    def wants(self, step: int) -> bool:
        return step % self.log_every == 0

    # ------------------------------------------------------------------ activations
    @contextlib.contextmanager
    def capture_activations(self, active: bool):
        """Forward hooks on every activation module for this step only; removed on exit."""
        if not active:
            yield
            return
        self._act_outs = [None] * self.n_acts
        handles = [m.register_forward_hook(self._make_hook(i)) for i, m in enumerate(self.net.activations)]
        try:
            yield
        finally:
            for h in handles:
                h.remove()

    def _make_hook(self, i: int):
        def hook(module, inputs, output):
            self.record_activation(i, output)
        return hook

    def record_activation(self, i: int, output: torch.Tensor) -> None:
        """Keep hidden layer i's activation output (B, ...) of this logged step; its statistics
        are computed with the other layers' in after_update (autograd keeps it alive anyway)."""
        if len(self._act_outs) != self.n_acts:
            self._act_outs = [None] * self.n_acts
        self._act_outs[i] = output.detach()

    # ------------------------------------------------------------------ gradients
    @torch.no_grad()
    def record_gradients(self, kind: str) -> None:
        """kind 'true' (right after backward) or 'noisy' (after gradient noise was added)."""
        stats, hist = self.summarize([m.weight.grad for m in self.layers])
        self._pending[kind] = stats
        self._pending[kind + "_hist"] = hist

    @torch.no_grad()
    def before_update(self) -> None:
        weights = [m.weight.detach() for m in self.layers]
        if not self._before:
            self._before = [torch.empty_like(w) for w in weights]
        torch._foreach_copy_(self._before, weights)
        self._w_norm = torch.stack(torch._foreach_norm(self._before))
        # the weights' histogram over log10|w|, in the gradients' bins (the step's weights, before
        # its update, like its gradients): the summarizer's statistics are dropped
        self._pending["w_hist"] = self.summarize(self._before)[1]

    @torch.no_grad()
    def after_update(self, step: int, epoch: int) -> StepRecord:
        """Finish the logged step: update ratios, one transfer to the host. Returns its record."""
        after = [m.weight.detach() for m in self.layers]
        torch._foreach_sub_(self._before, after)  # W_before - W_after, in the snapshot buffers
        d_norm = torch.stack(torch._foreach_norm(self._before))
        ratio = d_norm / self._w_norm.clamp_min(1e-30)
        weight = {"weight_norm": self._w_norm, "update_ratio": ratio}
        parts = {"true": self._pending["true"], "w": torch.stack([weight[s] for s in WEIGHT_STATS], dim=1),
                 "true_hist": self._pending["true_hist"], "w_hist": self._pending["w_hist"]}
        if "noisy" in self._pending:
            parts["noisy"] = self._pending["noisy"]
            parts["noisy_hist"] = self._pending["noisy_hist"]
        if self._act_outs and all(o is not None for o in self._act_outs):
            parts["act"] = self.summarize_activations(self._act_outs)
        host = {k: v.cpu().numpy() for k, v in parts.items()}  # the one sync of this step
        self._pending, self._act_outs = {}, []
        record = StepRecord(step, epoch, host)
        self._logged.append(record)
        return record

    # ------------------------------------------------------------------ results
    @property
    def hist_steps(self) -> list[int]:
        return [r.step for r in self._logged]

    def truncate_after(self, step: int) -> None:
        """Drop everything logged after `step` (used when training diverged there)."""
        self._logged = [r for r in self._logged if r.step <= step]

    def table(self) -> pd.DataFrame:
        """The long table: per logged step, the blocks in core.base.instruments' order (gradient
        stats, true then noisy, weight stats, activation stats); layer-major within each block
        (StepRecord.rows)."""
        # Empty first entries: with nothing logged the table is empty, with the same dtypes.
        steps, epochs, layers, values = ([np.zeros(0, dt)] for dt in (np.int64,) * 3 + (np.float64,))
        stats: list[str] = []
        for r in self._logged:
            layer, names, vals = r.rows()
            steps.append(np.full(len(layer), r.step, np.int64))
            epochs.append(np.full(len(layer), r.epoch, np.int64))
            layers.append(layer)
            stats.extend(names)
            values.append(vals)
        return pd.DataFrame({"step": np.concatenate(steps), "epoch": np.concatenate(epochs),
                             "layer": np.concatenate(layers), "stat": np.array(stats, dtype=object),
                             "value": np.concatenate(values)})

    def histograms(self) -> dict[str, np.ndarray]:
        out = {"steps": np.asarray(self.hist_steps, dtype=np.int64),
               "grad_edges": GRAD_EDGES.astype(np.float64),
               "act_edges": self.act_edges.astype(np.float64)}
        grad = [r.host["true_hist"] for r in self._logged]
        out["grad"] = np.stack(grad).astype(np.int32) if grad else \
            np.zeros((0, self.n_layers, len(GRAD_COLUMNS)), np.int32)
        weight = [r.host["w_hist"] for r in self._logged]
        out["weight"] = np.stack(weight).astype(np.int32) if weight else \
            np.zeros((0, self.n_layers, len(GRAD_COLUMNS)), np.int32)
        noisy = [r.host["noisy_hist"] for r in self._logged if "noisy_hist" in r.host]
        if noisy:
            out["noisy_grad"] = np.stack(noisy).astype(np.int32)
        act = [r.host["act"][:, len(ACT_STATS):].astype(np.int64) for r in self._logged if "act" in r.host]
        out["act"] = np.stack(act).astype(np.int32) if act else \
            np.zeros((0, self.n_acts, ACT_BINS + 3), np.int32)
        return out
