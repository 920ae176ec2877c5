"""Histograms of a run over training, in the views TensorBoard users know, and more.

The stored counts (RunResult.histograms) are per logged step and layer: for gradients the
columns of core.engine.stats.GRAD_COLUMNS (exact zeros, below 1e-12, 56 bins of 0.25 decades
of log10|g|, above 1e2, NaN/inf), for activations (below, 40 linear bins, above, NaN; runs
stored before NaN activations were counted lack that column).

    h = split(hist["grad"][:, layer], hist["grad_edges"], "grad")   # bins and the outside counts
    heatmap(...)                 # step x bin, colour = share (the app's original view)
    ridge(h, steps, "offset")    # TensorBoard's offset histograms: one ridge per chosen step
    ridge(h, steps, "overlay")   # the same steps drawn over each other (step 0 against any step)
    distribution(h, steps)       # TensorBoard's Distributions: percentile bands over steps
    outside(h, steps)            # exact zeros, out-of-range and NaN/inf counts: never dropped

Several layers are drawn on one value axis (`domain`, e.g. shared(value_range(h, ...) for each
layer)), so that the shift from layer to layer, the vanishing itself, shows.

Shares are of all the layer's entries at that step (zeros and NaN included), so the ridges of a
layer whose gradients are mostly exactly 0 are low, and `outside` says why.
"""
from __future__ import annotations

from dataclasses import dataclass

import altair as alt
import numpy as np
import pandas as pd

from .style import HEIGHT, LOG_LABELS, finite, step_x

GRAD, ACT = "grad", "act"
# TensorBoard's Distributions bands: percentiles 0, 6.68, 15.87, 30.85, 50, ... (normal sigmas)
PERCENTILES = (0.0, 6.68, 15.87, 30.85, 50.0, 69.15, 84.13, 93.32, 100.0)


@dataclass
class Split:
    """One layer's histogram over logged steps, split into its bins and the counts outside them."""
    kind: str  # GRAD (log10|g| bins) or ACT (linear value bins)
    edges: np.ndarray  # bin edges (log10|g| for GRAD)
    bins: np.ndarray  # (n_steps, n_bins) counts
    outside: dict  # label -> (n_steps,) counts: exact 0, below, above, NaN/inf (GRAD); below, above, NaN (ACT)
    quantity: str = "gradient"  # what GRAD bins count: "gradient" or "weight" (log10 |w| bins)

    @property
    def totals(self) -> np.ndarray:
        return self.bins.sum(axis=1) + sum(self.outside.values())

    @property
    def axis_title(self) -> str:
        return f"log10 |{self.quantity}|" if self.kind == GRAD else "activation value"


def split(counts: np.ndarray, edges: np.ndarray, kind: str = GRAD, quantity: str = "gradient") -> Split:
    counts = np.asarray(counts, dtype=np.float64)
    edges = np.asarray(edges, dtype=np.float64)
    n = len(edges) - 1
    if kind == GRAD:
        return Split(kind, edges, counts[:, 2:2 + n], {
            "exactly 0": counts[:, 0], f"below 1e{edges[0]:.0f}": counts[:, 1],
            f"above 1e{edges[-1]:.0f}": counts[:, 2 + n], "NaN or inf": counts[:, 3 + n]}, quantity)
    outside = {f"below {edges[0]:g}": counts[:, 0], f"above {edges[-1]:g}": counts[:, 1 + n]}
    if counts.shape[1] > n + 2:  # runs stored before activations' NaN were counted have no column
        outside["NaN"] = counts[:, 2 + n]
    return Split(kind, edges, counts[:, 1:1 + n], outside)


def _shares(h: Split) -> np.ndarray:
    t = h.totals[:, None]
    return np.divide(h.bins, t, out=np.zeros_like(h.bins), where=t > 0)


def pick_steps(steps, n: int = 8) -> list[int]:
    """At most n logged steps spread evenly over the run, first and last included."""
    steps = [int(s) for s in steps]
    if len(steps) <= n:
        return steps
    idx = np.unique(np.linspace(0, len(steps) - 1, n).round().astype(int))
    return [steps[i] for i in idx]


def ridge_frame(h: Split, steps, chosen) -> pd.DataFrame:
    """center, low, high, share, step, order (0 = first chosen step) of the chosen steps' bins."""
    steps = np.asarray(steps)
    shares, width = _shares(h), h.edges[1] - h.edges[0]
    frames = []
    for order, s in enumerate(chosen):
        row = int(np.flatnonzero(steps == s)[0])
        frames.append(pd.DataFrame({"center": h.edges[:-1] + width / 2, "low": h.edges[:-1],
                                    "high": h.edges[1:], "share": shares[row], "step": int(s),
                                    "order": order}))
    return pd.concat(frames, ignore_index=True) if frames else \
        pd.DataFrame(columns=["center", "low", "high", "share", "step", "order"])


def occupied(df: pd.DataFrame, h: Split) -> list[float]:
    """The x range of the bins that hold entries in `df` (a ridge frame), one bin of margin."""
    used = df[df["share"] > 0]
    if used.empty:
        return [float(h.edges[0]), float(h.edges[-1])]
    width = float(h.edges[1] - h.edges[0])
    return [max(float(h.edges[0]), float(used["low"].min()) - width),
            min(float(h.edges[-1]), float(used["high"].max()) + width)]


def value_range(h: Split, steps, chosen=None, view: str = "bins") -> list[float]:
    """The value range a view of `h` draws: the occupied bins of the `chosen` steps (all steps
    when None) with one bin of margin, or for view="distribution" the range of its percentiles."""
    if view == "distribution":
        p = percentiles(h)
        lo, hi = np.nanmin(p[:, 0], initial=np.inf), np.nanmax(p[:, -1], initial=-np.inf)
        return [float(lo), float(hi)] if lo <= hi else [float(h.edges[0]), float(h.edges[-1])]
    return occupied(ridge_frame(h, steps, list(steps) if chosen is None else chosen), h)


def shared(ranges) -> list[float]:
    """One axis range that holds every one of `ranges` ([low, high] each)."""
    ranges = list(ranges)
    return [min(r[0] for r in ranges), max(r[1] for r in ranges)]


def _step_color(chosen) -> alt.Color:
    # sequential: early steps light, late ones dark, in visible steps of the scheme
    return alt.Color("step:O", title="step", sort=list(chosen),
                     scale=alt.Scale(scheme=alt.SchemeParams(name="plasma", extent=[0.25, 0.9]),
                                     domain=list(chosen), reverse=True),
                     legend=alt.Legend(orient="right") if len(chosen) > 1 else None)


def ridge(h: Split, steps, chosen, mode: str = "offset", title: str = "", domain=None) -> alt.Chart:
    """The chosen steps' histograms: "offset" (one ridge per step, later steps lower and in front,
    like TensorBoard's offset view) or "overlay" (drawn over each other on one axis). `domain`:
    the value axis' range (default: the bins these steps occupy)."""
    df = ridge_frame(h, steps, chosen)
    x = alt.X("center:Q", title=h.axis_title, scale=alt.Scale(domain=domain or occupied(df, h), nice=False))
    tooltip = ["step:O", alt.Tooltip("low:Q", title="from", format=".2f"),
               alt.Tooltip("high:Q", title="to", format=".2f"), alt.Tooltip("share:Q", format=".2%")]
    if mode == "overlay":
        return alt.Chart(df).mark_line(interpolate="step", strokeWidth=1.5, clip=True).encode(
            x=x, y=alt.Y("share:Q", title="share of entries", axis=alt.Axis(format="%")),
            color=_step_color(chosen), tooltip=tooltip).properties(title=title, height=HEIGHT)
    peak = float(df["share"].max()) if len(df) and df["share"].max() > 0 else 1.0
    n = max(len(chosen), 1)
    df = df.assign(base=(n - 1 - df["order"]).astype(float))
    df = df.assign(top=df["base"] + 1.6 * df["share"] / peak)  # ridges overlap a little, as in TensorBoard
    y = alt.Y("top:Q", title=None, axis=None, scale=alt.Scale(domain=[0, n + 0.7], nice=False))
    areas = alt.Chart(df).mark_area(interpolate="step", fillOpacity=0.55, strokeWidth=1, clip=True).encode(
        x=x, y=y, y2="base:Q", color=_step_color(chosen), stroke=_step_color(chosen),
        order=alt.Order("order:Q"), tooltip=tooltip)
    # step labels inside the plot, at the left edge just above each ridge's baseline
    labels = alt.Chart(df.drop_duplicates("step")).mark_text(align="left", dx=4, dy=-5, fontSize=10).encode(
        x=alt.value(0), y=alt.Y("base:Q", scale=alt.Scale(domain=[0, n + 0.7], nice=False)),
        text=alt.Text("step:O", format="d"), color=_step_color(chosen))
    chart = alt.layer(areas, labels).properties(height=max(HEIGHT, 34 * n),
                                                padding={"left": 5, "right": 5, "top": 5, "bottom": 24})
    return chart.properties(title=alt.Title(title, anchor="start")) if title else chart


def percentiles(h: Split, qs=PERCENTILES) -> np.ndarray:
    """(n_steps, len(qs)) percentiles of the in-range entries, interpolated linearly within a bin
    (NaN where a step has none). Entries outside the bins are left out (see `outside`)."""
    out = np.full((h.bins.shape[0], len(qs)), np.nan)
    for i, row in enumerate(h.bins):
        total = row.sum()
        if total <= 0:
            continue
        cum = np.concatenate([[0.0], np.cumsum(row)]) / total
        out[i] = np.interp(np.asarray(qs) / 100.0, cum, h.edges)
        lo, hi = np.flatnonzero(row)[[0, -1]]
        out[i, 0], out[i, -1] = h.edges[lo], h.edges[hi + 1]  # the occupied range, not the empty bins
    return out


def distribution(h: Split, steps, title: str = "", domain=None) -> alt.Chart:
    """TensorBoard's Distributions: bands between percentiles (min-max, ±1.5σ, ±1σ, ±0.5σ of a
    normal) over steps, the median as a line; `domain`: the value axis' range (default: the data's)."""
    p = percentiles(h)
    steps = np.asarray(steps, dtype=float)
    bands = []
    for k, name in enumerate(["min to max", "6.7% to 93.3%", "15.9% to 84.1%", "30.9% to 69.1%"]):
        bands.append(pd.DataFrame({"step": steps, "lo": p[:, k], "hi": p[:, -1 - k], "band": name, "depth": k}))
    df = finite(finite(pd.concat(bands, ignore_index=True), "lo"), "hi")
    med = finite(pd.DataFrame({"step": steps, "median": p[:, len(PERCENTILES) // 2]}), "median")
    y = alt.Y("lo:Q", title=h.axis_title + " (percentiles)",
              scale=alt.Scale(domain=domain, nice=False) if domain else alt.Scale(zero=False))
    area = alt.Chart(df).mark_area(color="#e4572e").encode(
        x=step_x(steps), y=y, y2="hi:Q",
        opacity=alt.Opacity("depth:O", scale=alt.Scale(range=[0.18, 0.6]), legend=None),
        tooltip=["step:Q", "band:N", alt.Tooltip("lo:Q", format=".2f"), alt.Tooltip("hi:Q", format=".2f")])
    line = alt.Chart(med).mark_line(color="#8a1c00").encode(
        x="step:Q", y="median:Q", tooltip=["step:Q", alt.Tooltip("median:Q", format=".2f")])
    return alt.layer(area, line).properties(title=title, height=HEIGHT)


def outside_frame(h: Split, steps) -> pd.DataFrame:
    """step, what, count, share: the entries outside the bins at every logged step."""
    totals = h.totals
    frames = [pd.DataFrame({"step": np.asarray(steps), "what": label, "count": c.astype(np.int64),
                            "share": np.divide(c, totals, out=np.zeros_like(c), where=totals > 0)})
              for label, c in h.outside.items()]
    return pd.concat(frames, ignore_index=True)


def outside(h: Split, steps, title: str = "") -> alt.Chart:
    """Shares of exact zeros, out-of-range and NaN/inf entries over steps: the kinds that occur
    (outside_summary says 'none' for the others; pages draw this only when one occurs)."""
    df = outside_frame(h, steps)
    kinds = [k for k, c in h.outside.items() if c.any()] or list(h.outside)
    df = df[df["what"].isin(kinds)]
    return alt.Chart(df).mark_line(point=True).encode(
        x=step_x(df["step"]),
        y=alt.Y("share:Q", title="share of entries", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("what:N", sort=kinds, title=None, scale=alt.Scale(scheme="dark2", domain=kinds),
                        legend=alt.Legend(orient="right")),
        tooltip=["step:Q", "what:N", alt.Tooltip("count:Q", format=","), alt.Tooltip("share:Q", format=".2%")],
    ).properties(height=150)


def any_outside(h: Split) -> bool:
    return any(c.any() for c in h.outside.values())


def outside_summary(h: Split, steps) -> str:
    """'exactly 0: 1,024 of 1,024 entries at every step; ...' in words, for a caption."""
    totals = h.totals
    parts = []
    for label, c in h.outside.items():
        if not c.any():
            parts.append(f"{label}: none")
        elif np.array_equal(c, totals) and totals.any():
            parts.append(f"{label}: all {int(totals.max()):,} entries at every logged step")
        else:
            i = int(np.argmax(c))
            parts.append(f"{label}: up to {int(c[i]):,} of {int(totals[i]):,} (step {int(np.asarray(steps)[i])})")
    return "; ".join(parts)


def heatmap_frame(counts: np.ndarray, steps: np.ndarray, edges: np.ndarray, log_bins: bool = True) -> pd.DataFrame:
    """The cells of histogram_heatmap: step, step_end, low, high, fraction, bin (label), one per
    occupied bin of every logged step.

    counts: (n_steps, n_columns). For gradients the columns are GRAD_COLUMNS (zeros, below,
    bins, above, non-finite); zeros are drawn as a band under the smallest bin. For activations
    the columns are (below, bins..., above, NaN; runs stored before NaN was counted lack it).
    """
    counts = np.asarray(counts, dtype=np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    frac = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    n_bins = len(edges) - 1
    width = edges[1] - edges[0]
    if log_bins:
        # GRAD_COLUMNS: zero, below, n_bins, above, nonfinite -> put zero+below under the bins
        lows = np.concatenate([[edges[0] - 2 * width, edges[0] - width], edges[:-1], [edges[-1]], [np.nan]])
        labels = ["exactly 0", f"< 1e{edges[0]:.0f}"] + [f"1e{lo:.2f} to 1e{lo + width:.2f}" for lo in edges[:-1]] \
            + [f"> 1e{edges[-1]:.0f}", "NaN/inf"]
    else:
        lows = np.concatenate([[edges[0] - width], edges[:-1], [edges[-1]], [np.nan][:counts.shape[1] - n_bins - 2]])
        labels = [f"< {edges[0]:g}"] + [f"{lo:.2f} to {lo + width:.2f}" for lo in edges[:-1]] + [f"> {edges[-1]:g}"] \
            + ["NaN"][:counts.shape[1] - n_bins - 2]
    n_cols = len(lows)
    assert counts.shape[1] == n_cols, (counts.shape, n_cols)
    step_idx, col_idx = np.nonzero(frac[:, :n_cols] > 0)
    steps = np.asarray(steps)
    # Each logged step is drawn as wide as the gap to the next one.
    gaps = np.diff(steps, append=steps[-1] + (steps[-1] - steps[-2] if len(steps) > 1 else 1)) if len(steps) else steps
    data = pd.DataFrame({
        "step": steps[step_idx], "step_end": steps[step_idx] + gaps[step_idx],
        "low": lows[col_idx], "high": lows[col_idx] + width, "fraction": frac[step_idx, col_idx],
        "bin": np.asarray(labels, dtype=object)[col_idx],
    })
    return finite(data, "low")


def heatmap_range(data: pd.DataFrame) -> list[float]:
    """The value range of a heatmap_frame's cells."""
    return [float(data["low"].min()), float(data["high"].max())] if len(data) else [0.0, 1.0]


def histogram_heatmap(counts: np.ndarray, steps: np.ndarray, edges: np.ndarray, title: str,
                      log_bins: bool = True, quantity: str = "gradient", domain=None) -> alt.Chart:
    """Distribution over time: x step, y bin, colour = fraction of entries (log colour scale);
    `domain`: the value axis' range (default: the occupied bins'). Columns: heatmap_frame."""
    data = heatmap_frame(counts, steps, edges, log_bins)
    width = float(edges[1] - edges[0])
    y_title = f"log10 |{quantity}|" if log_bins else "activation value"
    # Each cell reaches a tenth of a cell into its neighbours (about a pixel), drawn in step and bin order and
    # clipped at the data's edge: abutting cells leave hairline seams the dark theme shows.
    x_domain = [float(data["step"].min()), float(data["step_end"].max())] if len(data) else alt.Undefined
    y_domain = list(domain) if domain else heatmap_range(data) if len(data) else alt.Undefined
    data = data.assign(step_end=data["step_end"] + (data["step_end"] - data["step"]) / 10,
                       high=data["high"] + width / 10)
    return alt.Chart(data).mark_rect(strokeWidth=0, clip=True).encode(
        # nice=False: the axis ends where the last logged interval does, not at a round number.
        x=step_x(data["step"], nice=False, domain=x_domain), x2="step_end:Q",
        y=alt.Y("low:Q", title=y_title, scale=alt.Scale(zero=False, nice=False, domain=y_domain)), y2="high:Q",
        color=alt.Color("fraction:Q", title="share of entries",
                        scale=alt.Scale(type="log", scheme="viridis", domain=[1e-5, 1], clamp=True),
                        # title above a 120 px bar: beside it, the two took 260 px and half a
                        # column at 800 px (about 150) cut the bar and its labels
                        legend=alt.Legend(labelExpr=LOG_LABELS, orient="bottom", direction="horizontal",
                                          gradientLength=120, titleOrient="top")),
        tooltip=["step:Q", alt.Tooltip("bin:N", title="bin"), alt.Tooltip("fraction:Q", format=".2%")],
    ).properties(title=title, height=200)




def across_runs(frames: dict, kind: str = GRAD, title: str = "", domain: list[str] | None = None) -> alt.Chart:
    """The same layer's histogram in several runs on one axis: frames is {run label: ridge_frame
    of one step}; one step line per run (share of that run's entries per bin). `domain`: the
    colours of a chart of all the runs (a run left out keeps the others' colours)."""
    labels = list(domain) if domain is not None else list(frames)
    df = pd.concat([f.assign(run=label) for label, f in frames.items()], ignore_index=True) if frames else \
        pd.DataFrame(columns=["center", "share", "run", "step"])
    return alt.Chart(df).mark_line(interpolate="step", strokeWidth=1.5).encode(
        x=alt.X("center:Q", title="log10 |gradient|" if kind == GRAD else "activation value"),
        y=alt.Y("share:Q", title="share of entries", axis=alt.Axis(format="%")),
        color=alt.Color("run:N", sort=labels, scale=alt.Scale(scheme="tableau10", domain=labels),
                        legend=alt.Legend(orient="bottom", direction="vertical", labelLimit=500)),
        tooltip=["run:N", "step:Q", alt.Tooltip("center:Q", format=".2f"), alt.Tooltip("share:Q", format=".2%")],
    ).properties(title=title, height=HEIGHT)
