"""Charts of the signal-propagation theory: predicted against measured per layer, the
order-to-chaos phase diagram, and Jacobian singular-value histograms. Pure DataFrame -> alt.Chart.

    prediction_chart(cmp.frame)                   # core.engine.prediction.compare's long frame
    phase_frame(diagram), phase_chart(grid, critical, point, colour="chi1")
    spectrum_frame({"at initialization": spec, ...}), spectrum_chart(frame)
"""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from .style import HEIGHT, RUN_SCHEME, finite, log_axis

SOURCES = ["measured", "predicted"]


def prediction_chart(frame: pd.DataFrame) -> alt.Chart:
    """Per layer (x), one log y axis: each quantity a colour, measured solid with filled points,
    predicted dashed with hollow points. frame columns: layer, name, quantity, source, value."""
    data = finite(frame, "value", positive=True)
    quantities = list(dict.fromkeys(data["quantity"]))
    order = data.sort_values("layer").drop_duplicates("layer")["name"].tolist()
    base = alt.Chart(data).encode(
        x=alt.X("name:N", sort=order, title="layer (input → output)", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("value:Q", scale=alt.Scale(type="log"), axis=log_axis(data["value"]), title="value (log scale)"),
        color=alt.Color("quantity:N", sort=quantities, scale=alt.Scale(scheme=RUN_SCHEME),
                        legend=alt.Legend(title="solid, filled = measured; dashed, hollow = predicted",
                                          orient="bottom", direction="vertical", titleLimit=400)),
        strokeDash=alt.StrokeDash("source:N", sort=SOURCES, scale=alt.Scale(domain=SOURCES, range=[[1, 0], [6, 4]]),
                                  legend=None),
        detail="source:N",
        tooltip=[alt.Tooltip("name:N", title="layer"), alt.Tooltip("quantity:N"), alt.Tooltip("source:N"),
                 alt.Tooltip("value:Q", format=".3e")],
    )
    points = base.mark_point(size=50).encode(
        fill=alt.condition(alt.datum.source == "measured", alt.Color("quantity:N", sort=quantities,
                           scale=alt.Scale(scheme=RUN_SCHEME), legend=None), alt.value("white")))
    return alt.layer(base.mark_line(), points).properties(height=HEIGHT)


# ---------------------------------------------------------------------- the order-to-chaos map
COLOURS = {"chi1": "χ₁ (gradient factor per layer)",
           "depth": "1 / |ln χ₁| (layers per e-fold of the gradient)"}
DEPTH_CAP = 1000.0


def phase_frame(sigma_w2, sigma_b2, chi1) -> pd.DataFrame:
    """A long frame of a phase diagram's grid (chi1 shaped (len(sigma_b2), len(sigma_w2))): cell
    edges, chi_1, its depth scale 1/|ln chi_1| (capped at DEPTH_CAP at criticality) and phase."""
    sw, sb = np.asarray(sigma_w2, dtype=float), np.asarray(sigma_b2, dtype=float)
    dw = np.diff(sw).mean() if len(sw) > 1 else 0.1
    db = np.diff(sb).mean() if len(sb) > 1 else 0.01
    W, B = np.meshgrid(sw, sb)
    chi = np.asarray(chi1, dtype=float)
    with np.errstate(divide="ignore"):
        depth = np.minimum(1.0 / np.abs(np.log(np.where(chi > 0, chi, np.nan))), DEPTH_CAP)
    df = pd.DataFrame({"sigma_w2": W.ravel() - dw / 2, "sigma_w2_end": W.ravel() + dw / 2,
                       "sigma_b2": B.ravel() - db / 2, "sigma_b2_end": B.ravel() + db / 2,
                       "chi1": chi.ravel(), "depth": depth.ravel()})
    df["phase"] = np.where(df["chi1"] > 1, "chaotic", "ordered")
    return df[np.isfinite(df["chi1"]) & (df["chi1"] > 0)].reset_index(drop=True)


def phase_chart(grid: pd.DataFrame, critical: pd.DataFrame, point: pd.DataFrame | None = None,
                colour: str = "chi1") -> alt.Chart:
    """Heatmap of chi_1 (diverging at 1, log) or its depth scale over (sigma_w2, sigma_b2), the
    critical line (critical columns sigma_w2, sigma_b2) and the current configuration (point:
    sigma_w2, sigma_b2, label)."""
    if colour == "chi1":
        lo = min(float(grid["chi1"].min()), 0.9) if len(grid) else 0.5  # each side of 1 its own range:
        hi = max(float(grid["chi1"].max()), 1.1) if len(grid) else 2.0  # a pale chaotic side would hide it
        scale = alt.Scale(type="log", scheme="redblue", reverse=True, domainMid=1.0, domain=[lo, hi], clamp=True)
    else:
        scale = alt.Scale(type="log", scheme="viridis", domain=[1, DEPTH_CAP], clamp=True)
    # Each cell reaches half a cell into the next and the plot is clipped at the grid's edge:
    # abutting cells leave hairline seams that the dark theme's background shows as a grid.
    domains = {k: [float(grid[k].min()), float(grid[f"{k}_end"].max())] if len(grid) else None
               for k in ("sigma_w2", "sigma_b2")}
    grid = grid.assign(**{f"{k}_end": grid[f"{k}_end"] + 0.5 * (grid[f"{k}_end"] - grid[k])
                          for k in ("sigma_w2", "sigma_b2")})
    x = alt.X("sigma_w2:Q", title="σ_w² (weight variance × fan-in)", axis=alt.Axis(grid=False),
              scale=alt.Scale(nice=False, zero=False, domain=domains["sigma_w2"] or alt.Undefined))
    y = alt.Y("sigma_b2:Q", title="σ_b² (bias variance)", axis=alt.Axis(grid=False),
              scale=alt.Scale(nice=False, zero=False, domain=domains["sigma_b2"] or alt.Undefined))
    heat = alt.Chart(grid).mark_rect(strokeWidth=0, clip=True).encode(
        x=x, x2="sigma_w2_end:Q", y=y, y2="sigma_b2_end:Q",
        color=alt.Color(f"{colour}:Q", scale=scale, title=COLOURS[colour].split(" (")[0],
                        legend=alt.Legend(orient="right", gradientLength=HEIGHT - 60)),
        tooltip=[alt.Tooltip("phase:N"), alt.Tooltip("chi1:Q", title="χ₁", format=".3f"),
                 alt.Tooltip("depth:Q", title="1/|ln χ₁|", format=".3g")])
    layers = [heat]
    line = finite(critical, "sigma_w2")
    if len(line):
        layers.append(alt.Chart(line.assign(what="critical line (χ₁ = 1)")).mark_line(
            color="black", strokeWidth=2).encode(x="sigma_w2:Q", y="sigma_b2:Q", order="sigma_b2:Q",
                                               tooltip=[alt.Tooltip("what:N", title=""),
                                                        alt.Tooltip("sigma_w2:Q", format=".3f"),
                                                        alt.Tooltip("sigma_b2:Q", format=".3f")]))
    if point is not None and len(point):
        marker = alt.Chart(point).encode(x="sigma_w2:Q", y="sigma_b2:Q",
                                         tooltip=["label:N", alt.Tooltip("sigma_w2:Q", format=".3f"),
                                                  alt.Tooltip("sigma_b2:Q", format=".3f")])
        layers += [marker.mark_point(shape="diamond", size=180, filled=True, color="white",
                                     stroke="black", strokeWidth=1.5),
                   # black on a white halo: readable on every colour of the map, in either theme
                   marker.mark_text(align="left", dx=10, dy=-10, fontWeight="bold", color="white",
                                    stroke="white", strokeWidth=4, strokeJoin="round").encode(text="label:N"),
                   marker.mark_text(align="left", dx=10, dy=-10, fontWeight="bold", color="black").encode(
                       text="label:N")]
    return alt.layer(*layers).properties(height=HEIGHT + 40)


# ---------------------------------------------------------------------- Jacobian spectra
def spectrum_frame(spectra: dict, bins: int = 40) -> pd.DataFrame:
    """Histogram rows (series, lo, hi, mid, share) of each spectrum's pooled singular values on
    one set of log-spaced bins; share = the fraction of that spectrum's values in the bin."""
    pooled = {name: np.asarray(s.pooled, dtype=float) for name, s in spectra.items()}
    values = np.concatenate([v[v > 0] for v in pooled.values()]) if pooled else np.array([])
    if not len(values):
        return pd.DataFrame(columns=["series", "lo", "hi", "mid", "share"])
    lo, hi = np.log10(values.min()), np.log10(values.max())
    if hi - lo < 0.02:
        lo, hi = lo - 0.01, hi + 0.01
    edges = 10.0 ** np.linspace(lo, hi, bins + 1)
    rows = []
    for name, v in pooled.items():
        counts, _ = np.histogram(np.clip(v[v > 0], edges[0], edges[-1]), edges)
        rows.append(pd.DataFrame({"series": name, "lo": edges[:-1], "hi": edges[1:],
                                  "mid": np.sqrt(edges[:-1] * edges[1:]), "share": counts / max(len(v), 1)}))
    return pd.concat(rows, ignore_index=True)


def spectrum_chart(frame: pd.DataFrame) -> alt.Chart:
    """Overlaid histograms of singular values (log x), one colour per series."""
    names = list(dict.fromkeys(frame["series"]))
    return alt.Chart(frame).mark_rect(opacity=0.55).encode(
        x=alt.X("lo:Q", scale=alt.Scale(type="log"), axis=log_axis(pd.concat([frame["lo"], frame["hi"]])),
                title="singular value (log scale)"),
        x2="hi:Q", y=alt.Y("share:Q", title="share of singular values", stack=None),
        color=alt.Color("series:N", sort=names, scale=alt.Scale(scheme=RUN_SCHEME),
                        legend=alt.Legend(title=None, orient="bottom", direction="vertical", labelLimit=400)),
        tooltip=["series:N", alt.Tooltip("lo:Q", format=".3g", title="from"), alt.Tooltip("hi:Q", format=".3g", title="to"),
                 alt.Tooltip("share:Q", format=".1%")],
    ).properties(height=HEIGHT)
