"""Per-layer statistics of a training run, collected at logged steps, computed on the device.

`LayerStatsRecorder` plugs into the trainer as a callback. At step 0 (before any update) and
every `log_every` steps it records, per weight layer (input to output):

- gradient L2 norm, mean |g|, max |g|, std -- of the true gradient, and of the noisy gradient
  actually applied when gradient noise is on;
- weight norm and update-to-weight ratio ||W_after - W_before|| / ||W_before||;
- activation mean and std, saturated fraction (logistic, tanh: derivative below 10% of its
  maximum), dead fraction (ReLU units that output 0 for every example of the batch);
- histograms: weight gradients on fixed log10|g| bins, activations on fixed linear bins.

Everything is computed with tensor ops on the training device; only the finished numbers of
a logged step are copied to the host, in one transfer.
"""
from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd
import torch

from .activations import ACTIVATION_SPECS

# log10|g| bin edges: 0.25 decades from 1e-12 to 1e2.
GRAD_EDGES = np.linspace(-12.0, 2.0, 57)
# Histogram columns: exact zeros, below 1e-12, the 56 bins, above 1e2, NaN/inf.
GRAD_COLUMNS = ["zero", "below"] + [f"{lo:.2f}" for lo in GRAD_EDGES[:-1]] + ["above", "nonfinite"]
ACT_BINS = 40
GRAD_STATS = ("grad_norm", "grad_mean_abs", "grad_max_abs", "grad_std")
ACT_STATS = ("act_mean", "act_std", "act_saturation", "act_dead")


def grad_histogram(flat: torch.Tensor, layer_ids: torch.Tensor, n_layers: int,
                   edges: torch.Tensor) -> torch.Tensor:
    """Counts per layer of a flat gradient vector on the GRAD_COLUMNS layout: (n_layers, 60)."""
    mag = flat.abs()
    code = torch.bucketize(torch.log10(mag), edges) + 1  # 1 below, 2..57 bins, 58 above
    code = torch.where(mag == 0, 0, code)
    code = torch.where(torch.isfinite(flat), code, len(GRAD_COLUMNS) - 1)
    width = len(GRAD_COLUMNS)
    return torch.bincount(code + layer_ids * width, minlength=n_layers * width).view(n_layers, width)


def gradient_stats(grads: list[torch.Tensor], layer_ids: torch.Tensor) -> torch.Tensor:
    """(n_layers, 4): L2 norm, mean |g|, max |g|, std of each gradient tensor."""
    n = len(grads)
    flat = torch.cat([g.reshape(-1) for g in grads])
    counts = torch.bincount(layer_ids, minlength=n).to(flat.dtype)
    zeros = torch.zeros(n, dtype=flat.dtype, device=flat.device)
    s1 = zeros.index_add(0, layer_ids, flat)
    s2 = zeros.index_add(0, layer_ids, flat * flat)
    sabs = zeros.index_add(0, layer_ids, flat.abs())
    mx = zeros.scatter_reduce(0, layer_ids, flat.abs(), reduce="amax", include_self=False)
    mean = s1 / counts
    # Unbiased std, like torch.std; the clamp absorbs rounding for constant tensors.
    var = (s2 - counts * mean * mean).clamp_min(0) / (counts - 1).clamp_min(1)
    return torch.stack([s2.sqrt(), sabs / counts, mx, var.sqrt()], dim=1), flat


class LayerStatsRecorder:
    """Trainer callback that records per-layer statistics at logged steps."""

    def __init__(self, net, activation: str, log_every: int, noise_on: bool):
        self.net = net
        self.log_every = max(1, int(log_every))
        self.noise_on = noise_on
        self.layers = net.layers
        self.n_layers = len(self.layers)
        device = self.layers[0].weight.device
        sizes = torch.tensor([m.weight.numel() for m in self.layers], device=device)
        self.layer_ids = torch.repeat_interleave(torch.arange(self.n_layers, device=device), sizes)
        self.edges = torch.tensor(GRAD_EDGES, dtype=torch.float32, device=device)
        spec = ACTIVATION_SPECS[activation]
        self.spec = spec
        self.act_edges = np.linspace(spec.hist_range[0], spec.hist_range[1], ACT_BINS + 1)
        # Host-side results, one entry per logged step.
        self.rows: list[dict] = []
        self.hist_steps: list[int] = []
        self.grad_hist: list[np.ndarray] = []
        self.noisy_grad_hist: list[np.ndarray] = []
        self.act_hist: list[np.ndarray] = []
        self._pending: dict[str, torch.Tensor] = {}
        self._act_rows: list[torch.Tensor | None] = []
        self._before: list[torch.Tensor] = []

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
        self._act_rows = [None] * len(self.net.activations)
        handles = [m.register_forward_hook(self._make_hook(i)) for i, m in enumerate(self.net.activations)]
        try:
            yield
        finally:
            for h in handles:
                h.remove()

    def _make_hook(self, i: int):
        def hook(module, inputs, output):
            with torch.no_grad():
                self._act_rows[i] = self._activation_row(output.detach())
        return hook

    def _activation_row(self, out: torch.Tensor) -> torch.Tensor:
        """mean, std, saturated fraction, dead fraction, then histogram counts (under, bins, over)."""
        out = out.float()
        spec = self.spec
        nan = torch.full((), float("nan"), device=out.device)
        if spec.saturation_threshold is not None:
            saturated = ((out - spec.saturation_centre).abs() > spec.saturation_threshold).float().mean()
        else:
            saturated = nan
        if spec.can_die:
            # A unit is a feature (MLP) or a channel (CNN); dead = zero for the whole batch.
            per_unit = out.transpose(0, 1).reshape(out.shape[1], -1)
            dead = 1.0 - (per_unit != 0).any(dim=1).float().mean()
        else:
            dead = nan
        lo, hi = spec.hist_range
        hist = torch.histc(out, bins=ACT_BINS, min=lo, max=hi)
        under = (out < lo).sum().float()
        over = (out > hi).sum().float()
        head = torch.stack([out.mean(), out.std(), saturated, dead, under])
        return torch.cat([head, hist, over.reshape(1)])

    # ------------------------------------------------------------------ gradients
    def record_gradients(self, kind: str) -> None:
        """kind 'true' (right after backward) or 'noisy' (after gradient noise was added)."""
        grads = [m.weight.grad for m in self.layers]
        stats, flat = gradient_stats(grads, self.layer_ids)
        self._pending[kind] = stats
        self._pending[kind + "_hist"] = grad_histogram(flat, self.layer_ids, self.n_layers, self.edges)

    def before_update(self) -> None:
        self._before = [m.weight.detach().clone() for m in self.layers]

    def after_update(self, step: int, epoch: int) -> np.ndarray:
        """Finish the logged step: update ratios, one transfer to the host. Returns true grad stats."""
        with torch.no_grad():
            after = [m.weight.detach() for m in self.layers]
            w_norm = torch.stack(torch._foreach_norm(self._before))
            delta = torch._foreach_sub(after, self._before)
            d_norm = torch.stack(torch._foreach_norm(delta))
            ratio = d_norm / w_norm.clamp_min(1e-30)
            parts = {"true": self._pending["true"], "w": torch.stack([w_norm, ratio], dim=1),
                     "true_hist": self._pending["true_hist"]}
            if "noisy" in self._pending:
                parts["noisy"] = self._pending["noisy"]
                parts["noisy_hist"] = self._pending["noisy_hist"]
            if self._act_rows and all(r is not None for r in self._act_rows):
                parts["act"] = torch.stack(self._act_rows)
            host = {k: v.cpu().numpy() for k, v in parts.items()}  # the one sync of this step
        self._pending, self._act_rows, self._before = {}, [], []
        self._append(step, epoch, host)
        return host["true"]

    def _append(self, step: int, epoch: int, host: dict) -> None:
        names = [GRAD_STATS]
        blocks = [host["true"]]
        if "noisy" in host:
            names.append(tuple("noisy_" + s for s in GRAD_STATS))
            blocks.append(host["noisy"])
        names.append(("weight_norm", "update_ratio"))
        blocks.append(host["w"])
        for stat_names, block in zip(names, blocks):
            for layer in range(self.n_layers):
                for j, stat in enumerate(stat_names):
                    self.rows.append(dict(step=step, epoch=epoch, layer=layer + 1, stat=stat,
                                          value=float(block[layer, j])))
        if "act" in host:
            act = host["act"]
            for layer in range(act.shape[0]):
                for j, stat in enumerate(ACT_STATS):
                    if not np.isnan(act[layer, j]) or stat in ("act_mean", "act_std"):
                        self.rows.append(dict(step=step, epoch=epoch, layer=layer + 1, stat=stat,
                                              value=float(act[layer, j])))
            self.act_hist.append(act[:, 4:].astype(np.int64))
        self.hist_steps.append(step)
        self.grad_hist.append(host["true_hist"].astype(np.int64))
        if "noisy_hist" in host:
            self.noisy_grad_hist.append(host["noisy_hist"].astype(np.int64))

    # ------------------------------------------------------------------ results
    def truncate_after(self, step: int) -> None:
        """Drop everything logged after `step` (used when training diverged there)."""
        keep = [i for i, s in enumerate(self.hist_steps) if s <= step]
        self.rows = [r for r in self.rows if r["step"] <= step]
        self.hist_steps = [self.hist_steps[i] for i in keep]
        self.grad_hist = [self.grad_hist[i] for i in keep]
        if self.noisy_grad_hist:
            self.noisy_grad_hist = [self.noisy_grad_hist[i] for i in keep]
        if self.act_hist:
            self.act_hist = [self.act_hist[i] for i in keep if i < len(self.act_hist)]

    def table(self) -> pd.DataFrame:
        df = pd.DataFrame(self.rows, columns=["step", "epoch", "layer", "stat", "value"])
        return df.astype({"step": "int64", "epoch": "int64", "layer": "int64", "value": "float64"})

    def histograms(self) -> dict[str, np.ndarray]:
        out = {"steps": np.asarray(self.hist_steps, dtype=np.int64),
               "grad_edges": GRAD_EDGES.astype(np.float64),
               "act_edges": self.act_edges.astype(np.float64)}
        n_act = len(self.net.activations)
        out["grad"] = np.stack(self.grad_hist).astype(np.int32) if self.grad_hist else \
            np.zeros((0, self.n_layers, len(GRAD_COLUMNS)), np.int32)
        if self.noisy_grad_hist:
            out["noisy_grad"] = np.stack(self.noisy_grad_hist).astype(np.int32)
        out["act"] = np.stack(self.act_hist).astype(np.int32) if self.act_hist else \
            np.zeros((0, n_act, ACT_BINS + 2), np.int32)
        return out
