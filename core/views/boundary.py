"""What a Playground network computes, drawn: the decision boundary over the input plane, a few
neurons' outputs per layer beside the layer's instruments, and the loss curve. Pure functions
of arrays and DataFrames (no streamlit).

    plane_image(probs, plane, points)      # RGB array: the plane coloured by class, the data on top
    neurons_image(neurons, names)          # RGB array: a few neurons' outputs, one row per layer
    layer_charts(layers_frame(layers))     # per layer: gradient, saturated or dead, update ratio
    layers_chart(layers_frame(layers))     # the three side by side, at a fixed width
    loss_chart(history)                    # train and test loss by step

The plane pictures are raster images (a few milliseconds with numpy and PIL, like the
Playground's canvas) rather than thousands of chart marks, so the page can redraw them several
times a second; the instruments stay Altair charts with one row per layer (ROW_PX tall, as
the neuron rows are).
"""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from ..base.instruments import INSTRUMENTS
from .curves import curve_chart
from .style import LOG_LABELS

# Class colours (the Playground's orange and blue first), RGB 0-255.
CLASS_RGB = np.array([[245, 147, 34], [8, 119, 189], [76, 175, 80], [156, 39, 176], [229, 57, 53],
                      [0, 150, 136], [121, 85, 72], [96, 125, 139], [255, 193, 7], [63, 81, 181]], float)
PLANE_PX = 360
THUMB_PX = 40
ROW_PX = THUMB_PX + 8


def boundary_rgb(probs: np.ndarray) -> np.ndarray:
    """(G, G, K) class probabilities -> (G, G, 3) uint8: the likeliest class's colour, paler
    where the network is unsure (white at 1/K), rows flipped so that high y is at the top."""
    k = probs.shape[-1]
    top = probs.argmax(-1)
    sure = ((probs.max(-1) - 1.0 / k) / (1.0 - 1.0 / k)).clip(0, 1)[..., None] * 0.75
    rgb = 255.0 * (1 - sure) + CLASS_RGB[top % len(CLASS_RGB)] * sure
    return rgb[::-1].round().astype(np.uint8)


def neuron_rgb(values: np.ndarray, spread: float) -> np.ndarray:
    """(G, G) outputs of one neuron -> uint8 picture: orange below its mean over the plane, blue
    above, white where flat; `spread` (the layer's largest deviation, at least 0.05) is full colour."""
    dev = ((values - values.mean()) / max(spread, 0.05)).clip(-1, 1)[..., None]
    rgb = np.where(dev < 0, 255 + (CLASS_RGB[0] - 255) * -dev, 255 + (CLASS_RGB[1] - 255) * dev)
    return rgb[::-1].round().astype(np.uint8)


def _resize(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(np.ascontiguousarray(rgb)).resize(size, Image.BILINEAR))


def plane_image(probs: np.ndarray, plane: tuple, points: list[tuple[np.ndarray, np.ndarray, bool]],
                size: int = PLANE_PX) -> np.ndarray:
    """The decision regions at `size` x `size` pixels with the points drawn on top: each of
    `points` is (xy (N, 2), labels (N,), filled); unfilled points (the test split) are rings."""
    img = _resize(boundary_rgb(probs), (size, size)).copy()
    x0, x1, y0, y1 = plane
    yy, xx = np.mgrid[-3:4, -3:4]
    r2 = xx ** 2 + yy ** 2
    for xy, labels, filled in points:
        cols = ((xy[:, 0] - x0) / (x1 - x0) * (size - 1)).round().astype(int)
        rows = ((y1 - xy[:, 1]) / (y1 - y0) * (size - 1)).round().astype(int)
        inner = r2 <= 5 if filled else (r2 <= 5) & (r2 >= 2)
        for disc, colours in ((r2 <= 10, np.full((len(xy), 3), 255.0)),
                              (inner, CLASS_RGB[np.asarray(labels) % len(CLASS_RGB)])):
            rr = (rows[:, None] + yy[disc][None]).clip(0, size - 1)
            cc = (cols[:, None] + xx[disc][None]).clip(0, size - 1)
            img[rr, cc] = colours[:, None, :].round().astype(np.uint8)
    return img


def neuron_strip(layer: np.ndarray, gap: int = 3, thumb: int = THUMB_PX) -> np.ndarray:
    """(k, G, G) outputs of one layer's first neurons -> one picture, side by side."""
    spread = float(np.abs(layer - layer.mean(axis=(1, 2), keepdims=True)).max()) if layer.size else 0.0
    tiles = [_resize(neuron_rgb(v, spread), (thumb, thumb)) for v in layer]
    out = np.full((thumb, max(len(tiles) * (thumb + gap) - gap, 1), 3), 255, np.uint8)
    for i, t in enumerate(tiles):
        out[:, i * (thumb + gap): i * (thumb + gap) + thumb] = t
    return out


def neurons_image(neurons: list[np.ndarray], names: list[str], per_row: int = 4) -> np.ndarray:
    """Every hidden layer's strip of neuron pictures, one row per layer (ROW_PX tall), input at
    the top, each row labelled with the layer's name."""
    from PIL import Image, ImageDraw

    label_px, width = 40, per_row * (THUMB_PX + 3)
    canvas = Image.new("RGB", (label_px + width, ROW_PX * max(len(neurons), 1)), "white")
    draw = ImageDraw.Draw(canvas)
    for i, (layer, name) in enumerate(zip(neurons, names)):
        top = i * ROW_PX + (ROW_PX - THUMB_PX) // 2
        canvas.paste(Image.fromarray(neuron_strip(layer)), (label_px, top))
        draw.text((2, top + THUMB_PX // 2 - 6), str(name)[:6], fill=(60, 60, 60))
    return np.asarray(canvas)


# The instruments the Playground draws per layer (their titles and scales are declared in
# core.base.instruments); saturated and dead units share a chart: a layer reports one of them.
SHOWN = ("grad_mean_abs", "act_saturation", "act_dead", "update_ratio")
COLOURS = {"grad_mean_abs": "#5e3c99", "share": "#e66101", "update_ratio": "#1b7837"}


def layers_frame(layers: list[dict]) -> pd.DataFrame:
    """One row per weight layer: name, mean |gradient|, saturated or dead share, update ratio
    (`layers`: a frame's rows, every declared statistic per layer)."""
    frame = pd.DataFrame(layers, columns=["layer", "name", *SHOWN])
    dead = frame["act_dead"].astype(float)
    return frame.assign(share=dead.where(dead.notna(), frame["act_saturation"].astype(float)),
                        share_kind=np.where(dead.notna(), "dead", "saturated"))


def layer_charts(frame: pd.DataFrame) -> list[alt.Chart]:
    """Per layer (rows, input at the top, ROW_PX each): mean |gradient| (log), the share of
    saturated (sigmoid, tanh) or dead (ReLU) units, and the update ratio ||dW|| / ||W|| (log):
    three charts as wide as their containers (the first names the layers), so that the page can
    put them side by side at any width; layers_chart joins them at a fixed width."""
    names = list(frame["name"])
    height = ROW_PX * len(names)

    def bars(col, title, log, colour, axis_y):
        data = frame[frame[col].notna() & ((frame[col] > 0) if log else True)]
        scale, base = alt.Scale(domain=[0, 1]), 0.0
        axis = alt.Axis(format=".0%", values=[0, 0.5, 1], labelFlush=True, labelOverlap="greedy")
        if log and len(data):  # a bar on a log scale needs a base above 0: the decade below the least
            values = data[col].astype(float)
            lo, hi = int(np.floor(np.log10(values.min()))), int(np.ceil(np.log10(values.max() * 1.0001)))
            base = 10.0 ** lo
            scale = alt.Scale(type="log", domain=[base, 10.0 ** hi])
            # at most four powers of ten, none drawn over another: a chart a third of a column
            # wide had its 1, 2, 3, 5, 7 ticks run together ("1e-22e-2")
            axis = alt.Axis(values=[10.0 ** k for k in range(lo, hi + 1, max(1, -(-(hi - lo) // 3)))],
                            labelExpr=LOG_LABELS, labelFlush=True, labelOverlap="greedy")
        return alt.Chart(data.assign(base=base)).mark_bar(color=colour, height=THUMB_PX * 0.5).encode(
            y=alt.Y("name:N", sort=names, title=None, scale=alt.Scale(domain=names),
                    axis=alt.Axis(labelFontSize=11) if axis_y else None),
            x=alt.X(f"{col}:Q", scale=scale, axis=axis, title=None), x2="base:Q",
            tooltip=["name:N", "share_kind:N", alt.Tooltip(f"{col}:Q", format=".3g")]).properties(
            height=height, title=alt.TitleParams(title, limit=0, fontSize=12))

    grad, ratio = INSTRUMENTS["grad_mean_abs"], INSTRUMENTS["update_ratio"]
    share = f'{INSTRUMENTS["act_saturation"].title.split()[0]} / {INSTRUMENTS["act_dead"].title.split()[0]}'
    return [bars("grad_mean_abs", grad.title, grad.log, COLOURS["grad_mean_abs"], True),
            bars("share", share, INSTRUMENTS["act_dead"].log, COLOURS["share"], False),
            bars("update_ratio", ratio.title, ratio.log, COLOURS["update_ratio"], False)]


def layers_chart(frame: pd.DataFrame) -> alt.HConcatChart:
    """layer_charts side by side, 130 px each."""
    return alt.hconcat(*(c.properties(width=130) for c in layer_charts(frame)), spacing=8)


def loss_chart(history: list) -> alt.Chart:
    """Train and test loss by step (history rows: step, train_loss, test_loss): the one curve
    chart (core.views.curves.curve_chart), 160 px tall and without a legend (the page's caption
    names the colours: a legend above or below the plot takes its height out of a
    container-width chart, one beside it its width)."""
    df = pd.DataFrame(history, columns=["step", "train", "test"]).melt("step", var_name="series", value_name="value")
    df = df[np.isfinite(df["value"])]
    # from step 0 to at least step 1: a history of step 0 alone had a zero-width domain, ticked "NaN"
    steps = alt.Scale(domain=[0, max(1, int(df["step"].max()) if len(df) else 1)], nice=False)
    x = alt.X("step:Q", title="step", scale=steps, axis=alt.Axis(format="~s", tickMinStep=1, labelFlush=True))
    return curve_chart(df.assign(x=df["step"]), x, "loss", ["train", "test"], legend=None,
                       points=len(df) <= 2, colors=["#555555", "#e66101"]).properties(height=160)