"""What every chart of core.views shares: heights, colour schemes, log-axis labels, and dropping
values a chart cannot draw."""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

LAYER_SCHEME = "viridis"
RUN_SCHEME = "tableau10"
HEIGHT = 280

# Log axes label every tick alike: 1e-6, 1e0, 1e2 (never 0.000001 beside 1e-7).
LOG_LABELS = "replace(replace(format(datum.value, '.0e'), 'e+', 'e'), 'e-0', 'e-')"


def log_axis(**kw) -> alt.Axis:
    return alt.Axis(labelExpr=LOG_LABELS, **kw)


def finite(df: pd.DataFrame, col: str, positive: bool = False) -> pd.DataFrame:
    """The rows whose `col` is a finite number (and > 0 with `positive`, for log scales)."""
    values = pd.to_numeric(df[col], errors="coerce")
    keep = np.isfinite(values)
    if positive:
        keep &= values > 0
    return df[keep]
