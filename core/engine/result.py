"""What a training run produces, and the summaries every surface shows.

A `RunResult` holds tidy tables (pandas) and histogram arrays (numpy). It is what the trainer
returns, what the store saves and loads, and what the CLI and the app render.

Tables:
- epochs: epoch, train_loss, train_acc, val_loss, val_acc, test_loss, test_acc, lr, noise_std, seconds
- steps: step, epoch, loss (the training loss of every mini-batch)
- layer_stats: step, epoch, layer, stat, value (long format; see core.base.instruments for the stat names)
- layers: layer, name, kind, fan_in, fan_out, params
"""
from __future__ import annotations

import math
import platform
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from ..base.config import RunConfig



@dataclass
class RunResult:
    config: RunConfig
    status: str
    epochs: pd.DataFrame
    steps: pd.DataFrame
    layer_stats: pd.DataFrame
    layers: pd.DataFrame
    histograms: dict[str, np.ndarray]
    meta: dict
    state_dict: dict | None = None
    cached: bool = field(default=False, compare=False)

    @property
    def run_id(self) -> str:
        return self.config.run_id

    @property
    def diverged_step(self) -> int | None:
        return self.meta.get("diverged_step")

    # ------------------------------------------------------------------ summaries
    def stat_matrix(self, stat: str) -> pd.DataFrame:
        """One statistic as a (step x layer) table."""
        df = self.layer_stats[self.layer_stats["stat"] == stat]
        return df.pivot_table(index="step", columns="layer", values="value", aggfunc="first")

    def stat_at(self, stat: str, which: str = "final") -> pd.Series:
        """One statistic per layer (index: layer number) at step 0 ('init') or at the last logged
        step ('final'); empty when the run logged none."""
        m = self.stat_matrix(stat)
        return pd.Series(dtype=float) if m.empty else m.iloc[logged_row(which)]

    def grad_flow(self, which: str = "final", stat: str = "grad_mean_abs") -> list[float]:
        """Mean |g| of each weight layer, input to output, at step 0 ('init') or the last logged step."""
        return [float(v) for v in self.stat_at(stat, which).values]

    def grad_ratio(self, which: str = "final") -> float:
        """First-layer over last-hidden-layer mean |g| at 'init' or 'final' (see gradient_ratio)."""
        return gradient_ratio(self.grad_flow(which))

    def final_metrics(self) -> dict:
        keys = ("train_loss", "train_acc", "test_loss", "test_acc")
        if self.epochs.empty:
            return {k: None for k in keys}
        last = self.epochs.iloc[-1]
        return {k: finite_or_none(last[k]) for k in keys}

    def summary(self) -> dict:
        """The JSON summary printed by `python -m core train --json`."""
        epochs = [
            {k: (int(r["epoch"]) if k == "epoch" else finite_or_none(r[k]))
             for k in ("epoch", "train_loss", "train_acc", "test_loss", "test_acc",
                       "val_loss", "val_acc")}
            for _, r in self.epochs.iterrows()
        ]
        return {
            "run_id": self.run_id,
            "status": self.status,
            "cached": self.cached,
            "seconds": round(float(self.meta.get("seconds", 0.0)), 3),
            "device": self.meta.get("device"),
            "config": self.config.to_dict(),
            "diverged_step": self.diverged_step,
            "params": self.meta.get("params"),
            "epochs": epochs,
            "final": self.final_metrics(),
            "grad_flow": {
                "layers": list(self.layers["name"]),
                "init": [finite_or_none(v) for v in self.grad_flow("init")],
                "final": [finite_or_none(v) for v in self.grad_flow("final")],
            },
        }


WHEN = ("init", "final")


def logged_row(which: str) -> int:
    """Row of step 0 ('init') or of the last logged step ('final') in anything a run keeps per
    logged step (stat_matrix rows, histogram arrays)."""
    if which not in WHEN:
        raise ValueError(f"which: got {which!r}; expected 'init' or 'final'")
    return 0 if which == "init" else -1


def hidden_flow(flow) -> np.ndarray:
    """The layers gradient_ratio compares: all but the output layer when there are hidden
    layers (three or more weight layers), else all."""
    g = np.asarray(flow, dtype=float)
    return g[:-1] if len(g) >= 3 else g


def gradient_ratio(flow) -> float:
    """Mean |g| of the first layer over that of the last hidden layer: 1 is even, 1e-5 is
    vanishing, 1e5 exploding. The output layer is left out when there are hidden layers: it has
    no activation in front of it, so its gradient is not part of the chain that vanishes."""
    g = hidden_flow(flow)
    if len(g) < 2 or not np.isfinite(g).all() or g[-1] <= 0:
        return float("nan")
    return float(g[0] / g[-1])


def finite_or_none(value) -> float | None:
    """The number as a float, or None when it is missing, NaN or infinite (JSON has no NaN or
    inf; tables show a dash). The one place this rule is written."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def assemble_result(cfg: RunConfig, status: str, epoch_rows: list[dict], losses: torch.Tensor,
                    steps: int, steps_per_epoch: int, recorder, net,
                    data, device: torch.device, log_every: int,
                    diverged_at: int | None, seconds: float, **extra_meta) -> RunResult:
    """The RunResult of a finished run of the training loop: `losses` holds its training loss
    of every step (NaN where not run), `steps` the steps it ran, `recorder` its
    LayerStatsRecorder, `data` its DataBundle."""
    if diverged_at is not None:
        recorder.truncate_after(diverged_at)
    steps_done = min(steps, len(losses))
    steps_df = pd.DataFrame({
        "step": np.arange(steps_done, dtype=np.int64),
        "epoch": np.arange(steps_done, dtype=np.int64) // steps_per_epoch + 1,
        "loss": losses[:steps_done].cpu().numpy().astype(np.float64),
    })
    layers = pd.DataFrame([vars(li) for li in net.layer_info()]).rename(columns={"index": "layer"})
    meta = {
        "status": status,
        "diverged_step": diverged_at,
        "diverged_reason": _divergence_reason(losses, diverged_at) if diverged_at is not None else None,
        "seconds": seconds,
        "device": str(device),
        # Results are bit-identical across runs (and between a stack and one run) at a fixed
        # CPU thread count only: the thread count decides how reductions are split.
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "params": sum(p.numel() for p in net.parameters() if p.requires_grad),
        "train_samples": len(data.y_train),
        "steps_per_epoch": steps_per_epoch,
        "total_steps": steps_done,
        "log_every": log_every,
        "data_source": data.source,
        "finished_at": time.time(),
        **extra_meta,
    }
    return RunResult(
        config=cfg, status=status, epochs=pd.DataFrame(epoch_rows, columns=EPOCH_COLUMNS),
        steps=steps_df, layer_stats=recorder.table(), layers=layers,
        histograms=recorder.histograms(), meta=meta,
        state_dict={k: v.detach().cpu().clone() for k, v in net.state_dict().items()})


EPOCH_COLUMNS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "test_loss",
                 "test_acc", "lr", "noise_std", "seconds"]


def _divergence_reason(losses: torch.Tensor, step: int) -> str:
    value = float(losses[step]) if step < len(losses) else float("nan")
    if math.isnan(value):
        return f"loss became NaN at step {step}"
    if math.isinf(value):
        return f"loss became infinite at step {step}"
    return f"a gradient became non-finite at step {step}"
