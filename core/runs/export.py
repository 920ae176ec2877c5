"""A run as TensorBoard event files, so `tensorboard --logdir DIR` shows it.

    export_tensorboard(result, "tb/relu-he")      # -> the event file's path

Written with the `tensorboard` package's writer (torch.utils.tensorboard.SummaryWriter), not a
hand-made format. Tags:
- epoch/<metric> (train_loss, test_acc, ...): per epoch, at the step that ends the epoch;
- loss/train_step: the training loss of every step (non-finite steps left out);
- <stat>/<layer> (grad_mean_abs/fc1, update_ratio/fc2, ...): each per-layer statistic at every
  logged step;
- histograms: grad_log10_abs/<layer> (and noisy_grad_log10_abs/<layer>) over log10 |g|,
  weight_log10_abs/<layer> over log10 |w| (runs stored since weights are recorded), and
  act/<layer> over activation values, at every logged step, from the stored bin counts;
- the entries outside the bins as scalars, never dropped: grad_outside/<what>/<layer>
  (exactly_0, below_1e-12, above_1e2, nan_or_inf) and act_outside/<what>/<layer> (below, above,
  nan).
The histograms' sum and sum of squares (TensorBoard's mean and std) are computed from bin
centres.
"""
from __future__ import annotations

import contextlib
import re
import threading
from pathlib import Path

import numpy as np

from ..engine.result import RunResult

_EPOCH_METRICS = ("train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc", "lr", "noise_std")


def _tag(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z_.\-]+", "_", text).strip("_").lower()


def _histogram_parts(counts: np.ndarray, edges: np.ndarray, kind: str):
    """(bins, {what: count}) of one layer at one step (the layout of core.engine.stats)."""
    n = len(edges) - 1
    if kind == "grad":
        return counts[2:2 + n], {"exactly_0": counts[0], f"below_1e{edges[0]:.0f}": counts[1],
                                 f"above_1e{edges[-1]:.0f}": counts[2 + n], "nan_or_inf": counts[3 + n]}
    outside = {f"below_{edges[0]:g}": counts[0], f"above_{edges[-1]:g}": counts[1 + n]}
    if len(counts) > n + 2:  # runs stored before activations' NaN were counted have no column
        outside["nan"] = counts[2 + n]
    return counts[1:1 + n], outside


def export_tensorboard(result: RunResult, directory: str | Path) -> Path:
    """Write the run's scalars and histograms as one TensorBoard event file in `directory`
    (created if needed); returns the file's path. A write that fails (a full disk, a read-only
    folder) raises its OSError and leaves no event file behind, nor the folder if this made it,
    so the same export succeeds once the fault is gone."""
    directory = Path(directory)
    made = not directory.exists()
    before = set(directory.glob("events.out.tfevents.*"))
    try:
        with _writer_thread_errors_raised_here():
            _write_events(result, directory)
    except BaseException:
        with contextlib.suppress(OSError):  # keep the first error, whatever the cleanup meets
            for partial in set(directory.glob("events.out.tfevents.*")) - before:
                partial.unlink()
            if made:
                directory.rmdir()
        raise
    written = sorted(set(directory.glob("events.out.tfevents.*")) - before)
    return written[-1]


@contextlib.contextmanager
def _writer_thread_errors_raised_here():
    """TensorBoard writes from a thread; an OSError there is raised again by the writer's next
    call in this thread, so the thread's own report (a traceback on stderr) is left out."""
    from tensorboard.summary.writer.event_file_writer import _AsyncWriterThread

    previous = threading.excepthook

    def hook(args):
        if not (isinstance(args.thread, _AsyncWriterThread) and issubclass(args.exc_type, OSError)):
            previous(args)
    threading.excepthook = hook
    try:
        yield
    finally:
        threading.excepthook = previous


def _write_events(result: RunResult, directory: Path) -> None:
    from torch.utils.tensorboard import SummaryWriter  # needs the tensorboard package

    directory.mkdir(parents=True, exist_ok=True)
    steps_per_epoch = int(result.meta.get("steps_per_epoch") or 1)
    writer = SummaryWriter(log_dir=str(directory))
    try:
        writer.add_text("run", f"{result.config.describe()} · run {result.run_id} · {result.status}", 0)
        for _, row in result.epochs.iterrows():
            step = int(row["epoch"]) * steps_per_epoch
            for metric in (m for m in _EPOCH_METRICS if m in row):
                value = float(row[metric])
                if np.isfinite(value):
                    writer.add_scalar(f"epoch/{metric}", value, step)
        for step, loss in zip(result.steps["step"], result.steps["loss"]):
            if np.isfinite(loss):
                writer.add_scalar("loss/train_step", float(loss), int(step))
        names = result.layers.set_index("layer")["name"]
        for row in result.layer_stats.itertuples(index=False):
            if np.isfinite(row.value):
                writer.add_scalar(f"{row.stat}/{_tag(names[row.layer])}", float(row.value), int(row.step))
        _write_histograms(writer, result)
        writer.flush()  # raises the writer thread's error, if any (close does not)
    finally:
        writer.close()


def _write_histograms(writer, result: RunResult) -> None:
    hist = result.histograms
    steps = [int(s) for s in hist.get("steps", [])]
    layer_names = [_tag(n) for n in result.layers.sort_values("layer")["name"]]
    arrays = [("grad", "grad_log10_abs", "grad_outside", "grad_edges"),
              ("noisy_grad", "noisy_grad_log10_abs", "noisy_grad_outside", "grad_edges"),
              ("weight", "weight_log10_abs", "weight_outside", "grad_edges"),
              ("act", "act", "act_outside", "act_edges")]
    for key, tag, outside_tag, edges_key in arrays:
        if key not in hist or hist[key].shape[0] == 0:
            continue
        edges = np.asarray(hist[edges_key], dtype=np.float64)
        centres = (edges[:-1] + edges[1:]) / 2
        kind = "act" if key == "act" else "grad"
        for i, step in enumerate(steps):
            for j in range(hist[key].shape[1]):
                name = layer_names[j] if j < len(layer_names) else f"layer{j + 1}"
                bins, outside = _histogram_parts(hist[key][i, j].astype(np.float64), edges, kind)
                for what, count in outside.items():
                    writer.add_scalar(f"{outside_tag}/{what}/{name}", float(count), step)
                num = float(bins.sum())
                if num <= 0:
                    continue
                used = np.flatnonzero(bins)
                writer.add_histogram_raw(
                    f"{tag}/{name}", min=float(edges[used[0]]), max=float(edges[used[-1] + 1]), num=num,
                    sum=float((bins * centres).sum()), sum_squares=float((bins * centres ** 2).sum()),
                    bucket_limits=edges[1:].tolist(), bucket_counts=bins.tolist(), global_step=step)
