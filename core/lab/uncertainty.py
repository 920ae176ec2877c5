"""Uncertainty over seeds and test examples: what every compared number carries.

    summary([86.1, 87.0, 86.4])               # {"n", "mean", "sd", "ci95": [lo, hi], "values"}
    paired_difference(a, b)                   # Difference of seed-paired values, with its 95% CI
    paired_difference(a, b, ca, cb)           # ... widened by a paired bootstrap over test examples
    unpaired_difference(a, b)                 # two rows without a common seed: Welch's interval

Row intervals: Student t over seeds (MEAN_METHOD). Differences against a baseline row: the
seeds are paired (seed k of both rows shares its initialization seed, data order and noise);
the t-interval of the seed-paired differences is combined in quadrature with the half-width of
a paired bootstrap over the test examples (each example's correctness averaged over seeds,
both rows resampled with the same examples) where per-example predictions exist (DIFF_METHOD).
Rows that share no seed (Compare's stored runs) are independent samples (UNPAIRED_METHOD).
A t-interval knows nothing of a metric's range: `clip_interval` holds it inside (accuracy
0 to 100%, a loss from 0, a difference of accuracies -100 to 100 points; CLIP_METHOD).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MEAN_METHOD = "95% CI: Student t over seeds"
DIFF_METHOD = ("difference CI: Student t over seed-paired differences, combined in quadrature with a "
               "paired bootstrap over test examples (2,000 resamples) where per-example predictions "
               "are available (test and validation accuracy)")
UNPAIRED_METHOD = "Welch's t-interval of the difference of the two rows' means"
CLIP_METHOD = "intervals clipped to the metric's range (accuracy 0 to 100%, loss from 0)"
BOOTSTRAP_RESAMPLES = 2000


def _finite(values) -> np.ndarray:
    a = np.asarray([np.nan if v is None else float(v) for v in values], dtype=float)
    return a[np.isfinite(a)]


# Student t 97.5% quantiles for 1 to 30 degrees of freedom (beyond: the Cornish-Fisher expansion).
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
         2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
         2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t975(df: int) -> float:
    """The 97.5% quantile of Student's t with `df` degrees of freedom."""
    if df <= len(_T975):
        return _T975[df - 1]
    z = 1.959964
    return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)


def t_half_width(sd: float, n: int) -> float:
    """Half-width of the 95% Student-t interval of a mean of n values with sample std `sd`."""
    if n < 2 or not math.isfinite(sd):
        return math.nan
    return float(t975(n - 1) * sd / math.sqrt(n))


def summary(values) -> dict:
    """Mean, sample sd, 95% t-interval over seeds and the values (None entries dropped).
    With one value the sd and interval are None; with none, everything is None."""
    a = _finite(values)
    if not len(a):
        return {"n": 0, "mean": None, "sd": None, "ci95": None, "values": []}
    mean = float(a.mean())
    if len(a) < 2:
        return {"n": 1, "mean": mean, "sd": None, "ci95": None, "values": [float(a[0])]}
    sd = float(a.std(ddof=1))
    h = t_half_width(sd, len(a))
    return {"n": int(len(a)), "mean": mean, "sd": sd, "ci95": [mean - h, mean + h],
            "values": [float(v) for v in a]}


def clip_interval(ci, lo: float = -math.inf, hi: float = math.inf):
    """`ci` ([lo, hi] or None) held inside [lo, hi]: the true mean lies in the metric's range,
    so clipping never drops it, and the interval covers it at least as often as before.

        clip_interval([-3.51, 72.71], 0, 100)   # [0.0, 72.71]
    """
    if ci is None:
        return None
    return [min(max(ci[0], lo), hi), max(min(ci[1], hi), lo)]


def bootstrap_half_width(per_example: np.ndarray, rng: np.random.Generator,
                         resamples: int = BOOTSTRAP_RESAMPLES) -> float:
    """Half the width of the 95% percentile bootstrap interval of the mean of `per_example`."""
    x = np.asarray(per_example, dtype=np.float64)
    if len(x) < 2:
        return 0.0
    means = np.empty(resamples)
    chunk = max(1, 4_000_000 // len(x))
    for s in range(0, resamples, chunk):
        k = min(chunk, resamples - s)
        means[s:s + k] = x[rng.integers(0, len(x), (k, len(x)))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(hi - lo) / 2


@dataclass(frozen=True)
class Difference:
    """a - b over seed pairs, with its 95% interval (lo, hi None when it cannot be computed)."""

    n: int  # seed pairs with both values
    mean: float | None
    lo: float | None
    hi: float | None
    seed_half: float | None  # the seeds' part of the half-width
    example_half: float | None  # the test examples' part (None: no per-example predictions)

    @property
    def ci95(self):
        return None if self.lo is None else [self.lo, self.hi]


def paired_difference(a, b, correct_a: np.ndarray | None = None, correct_b: np.ndarray | None = None,
                      scale: float = 100.0, seed: int = 0) -> Difference:
    """a - b paired by seed index. correct_a / correct_b: (seeds, examples) 0/1 arrays of the same
    test examples (optional): their paired bootstrap adds the test set's sampling error, in the
    units of `scale` (100: accuracy in %)."""
    pa = np.asarray([np.nan if v is None else float(v) for v in a], dtype=float)
    pb = np.asarray([np.nan if v is None else float(v) for v in b], dtype=float)
    m = min(len(pa), len(pb))
    d = (pa[:m] - pb[:m])
    d = d[np.isfinite(d)]
    if not len(d):
        return Difference(0, None, None, None, None, None)
    mean = float(d.mean())
    seed_half = t_half_width(float(d.std(ddof=1)), len(d)) if len(d) >= 2 else math.nan
    example_half = None
    if correct_a is not None and correct_b is not None and correct_a.shape[1] == correct_b.shape[1]:
        per_example = correct_a.mean(axis=0) - correct_b.mean(axis=0)
        example_half = scale * bootstrap_half_width(per_example, np.random.default_rng(seed))
    if not math.isfinite(seed_half):
        return Difference(len(d), mean, None, None, None, example_half)
    half = math.sqrt(seed_half ** 2 + (example_half or 0.0) ** 2)
    return Difference(len(d), mean, mean - half, mean + half, seed_half, example_half)


def mean_interval(values, correct: np.ndarray | None = None, scale: float = 100.0,
                  seed: int = 0) -> tuple[float | None, float | None, float | None]:
    """(mean, lo, hi): the t-interval over seeds, combined in quadrature with a bootstrap over
    test examples of the seed-averaged correctness when `correct` (seeds, examples) is given."""
    s = summary(values)
    if s["ci95"] is None:
        return s["mean"], None, None
    half = (s["ci95"][1] - s["ci95"][0]) / 2
    if correct is not None:
        ex = scale * bootstrap_half_width(correct.mean(axis=0), np.random.default_rng(seed))
        half = math.sqrt(half ** 2 + ex ** 2)
    return s["mean"], s["mean"] - half, s["mean"] + half


def unpaired_difference(a, b) -> Difference:
    """mean(a) - mean(b) of two independent samples (no seed in common), with Welch's
    t-interval (Welch-Satterthwaite degrees of freedom, rounded down); no interval unless both
    have 2 values or more. `n` is 0: no pairs."""
    xa, xb = _finite(a), _finite(b)
    if not len(xa) or not len(xb):
        return Difference(0, None, None, None, None, None)
    mean = float(xa.mean() - xb.mean())
    if len(xa) < 2 or len(xb) < 2:
        return Difference(0, mean, None, None, None, None)
    va, vb = xa.var(ddof=1) / len(xa), xb.var(ddof=1) / len(xb)
    if va + vb == 0:
        return Difference(0, mean, mean, mean, 0.0, None)
    df = (va + vb) ** 2 / (va ** 2 / (len(xa) - 1) + vb ** 2 / (len(xb) - 1))
    half = t975(max(1, int(df))) * math.sqrt(va + vb)
    return Difference(0, mean, mean - half, mean + half, half, None)
