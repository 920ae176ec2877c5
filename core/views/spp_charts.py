"""Charts of signal propagation: predicted beside measured per layer, and the signal propagation
plot per block (Brock, De & Smith 2021). Pure DataFrame -> alt.Chart, readable at 800 px.

    compared_chart(cmp.frame, quantity)     # core.lab.signalprop.compare_flow's long frame, one quantity
    spp_chart(spp_frame(cfg, steps))        # per block: squared channel mean, channel variance, branch variance
"""
from __future__ import annotations

import altair as alt
import pandas as pd

from .style import HEIGHT, RUN_SCHEME, finite, log_axis

STAT_TITLES = {"sq_channel_mean": "average squared channel mean", "channel_var": "average channel variance",
               "branch_var": "residual branch variance"}
DASHES = [[1, 0], [6, 4], [2, 2]]


def compared_chart(frame: pd.DataFrame, quantity: str) -> alt.Chart:
    """One quantity per layer (log y): measured solid with filled points, each prediction dashed;
    the legend below the plot, so a narrow page keeps the plot's height."""
    data = finite(frame[frame["quantity"] == quantity], "value", positive=True)
    sources = list(dict.fromkeys(data["source"]))
    order = data.sort_values("layer").drop_duplicates("layer")["name"].tolist()
    return alt.Chart(data).mark_line(point=True).encode(
        x=alt.X("name:N", sort=order, title="layer (input → output)", axis=alt.Axis(labelAngle=-45)),
        y=alt.Y("value:Q", scale=alt.Scale(type="log"), axis=log_axis(data["value"]), title=quantity),
        color=alt.Color("source:N", sort=sources, scale=alt.Scale(scheme=RUN_SCHEME),
                        legend=alt.Legend(title=None, orient="bottom", direction="vertical", labelLimit=400)),
        strokeDash=alt.StrokeDash("source:N", sort=sources, scale=alt.Scale(domain=sources, range=DASHES[:len(sources)]),
                                  legend=None),
        tooltip=[alt.Tooltip("name:N", title="layer"), "source:N", alt.Tooltip("value:Q", format=".3e")],
    ).properties(height=HEIGHT + 20 * len(sources) + 30)


def spp_chart(frame: pd.DataFrame) -> alt.Chart:
    """Per block (x), one colour per statistic, one dash per training step (log y)."""
    data = finite(frame, "value", positive=True).assign(
        statistic=lambda d: d["stat"].map(STAT_TITLES), when=lambda d: "step " + d["step"].astype(str))
    order = data.sort_values("block").drop_duplicates("block")["name"].tolist()
    stats = [STAT_TITLES[s] for s in STAT_TITLES if s in set(data["stat"])]
    steps = list(dict.fromkeys(data.sort_values("step")["when"]))
    return alt.Chart(data).mark_line(point=True).encode(
        x=alt.X("name:N", sort=order, title="block (input → output)", axis=alt.Axis(labelAngle=-45)),
        y=alt.Y("value:Q", scale=alt.Scale(type="log"), axis=log_axis(data["value"]), title="value (log scale)"),
        color=alt.Color("statistic:N", sort=stats, scale=alt.Scale(scheme=RUN_SCHEME),
                        legend=alt.Legend(title=None, orient="bottom", direction="vertical", labelLimit=400)),
        strokeDash=alt.StrokeDash("when:N", sort=steps, legend=alt.Legend(title=None, orient="bottom")),
        detail="when:N",
        tooltip=[alt.Tooltip("name:N", title="block"), "statistic:N", "when:N", alt.Tooltip("value:Q", format=".3e")],
    ).properties(height=HEIGHT + 20 * len(stats) + 50)
