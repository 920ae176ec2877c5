"""How an interval becomes a verdict, and how the checks of one preset share one error rate.

    est = Estimate(mean=4.0, half95=1.5, df=4)        # a difference with its 95% t-interval
    target = Target(lo=2.0)                           # the claim: an effect of at least +2
    target.verdict(*est.interval(0.95))               # 'reproduced': the whole interval is above +2
    p = target.p_value(est)                           # the smallest alpha at which it decides
    holm_levels([p, 0.2, 0.01])                       # the level each check is read at, and
                                                      # whether Holm's step-down reached it

The rule. Every elementary check estimates one quantity θ (a seed-paired difference of two rows,
or one row's mean) with a t-interval, and declares its *target*: the range of θ the claim
asserts. The verdict reads the whole interval against the target:

- reproduced: the interval lies inside the target;
- contradicted: the interval lies wholly outside it;
- inconclusive: the interval crosses an edge of the target (or there is no interval).

For "a beats b" with a smallest effect that counts δ the target is [δ, ∞): reproduced is the
*minimum-effect test* of H0: θ ≤ δ (Murphy & Myors 1999; with δ = 0 the ordinary sign test),
contradicted the inferiority test of H0: θ ≥ δ: the effect is absent, reversed, or smaller than
the smallest that counts. For "no effect" with an equivalence margin m the target is [-m, m]:
reproduced is the equivalence test (Schuirmann's two one-sided tests, each at alpha/2, so the
interval is read at 1 - alpha rather than the more lenient 1 - 2 alpha), contradicted a
difference beyond the margin. A bounded claim ("stays at chance": at most chance + 5 points) has
the target [a, b] and is read the same way.

With the interval mean ± q·se, a check decides as soon as q drops below d/se, d being the
distance from the estimate to the nearest edge of the target; its p-value is the two-sided
Student-t tail of d/se: the smallest alpha at which its (1 - alpha) interval decides.

Family-wise error: Holm (1979) over all the elementary checks of one preset that have an
interval (the parts of a claim made of several parts are checks of their own). The checks are
sorted by p-value; the k-th (counting from 0) of m is read on its interval at level
1 - alpha/(m - k); the first one that interval leaves undecided stops the step-down, and every
later check is inconclusive. This keeps the chance that any check of the preset is decided
wrongly at or below alpha (for the direction of a decision: Shaffer 1980), so a claim of five
parts is no longer contradicted by one part at 1 - 0.975^5 = 12% under the null.

The standard error of an interval that combines seeds with a bootstrap over test examples
(core.lab.uncertainty) is its 95% half-width over the 97.5% t quantile of n - 1 degrees of freedom.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats

ALPHA = 0.05  # family-wise error rate of one preset's checks
VERDICTS = ("reproduced", "contradicted", "inconclusive")
VERDICT_RULE = (
    "Each claim declares the range of the effect it asserts: at least the smallest effect that "
    "counts (from the source's own effect where it has one), within an equivalence margin for "
    "'no effect', within bounds for 'stays at chance'. Reproduced: the whole interval lies in that "
    "range (a minimum-effect or equivalence test); contradicted: wholly outside it (including an "
    "effect smaller than the smallest that counts); inconclusive: otherwise. Family-wise error "
    f"over each preset's checks is held at {ALPHA:.0%} by Holm's step-down: a check is read on "
    "its interval at the Holm-adjusted level, which the evidence states.")


def t_quantile(level: float, df: int) -> float:
    """The two-sided `level` quantile of Student's t: the interval mean ± this · se."""
    return float(stats.t.ppf(0.5 + level / 2, max(1, df)))


@dataclass(frozen=True)
class Estimate:
    """An estimate with its 95% half-width (None: no interval) and degrees of freedom."""

    mean: float | None
    half95: float | None
    df: int

    @property
    def se(self) -> float | None:
        if self.half95 is None or self.mean is None:
            return None
        return self.half95 / t_quantile(0.95, self.df)

    def interval(self, level: float = 0.95) -> tuple[float | None, float | None]:
        if self.se is None:
            return None, None
        h = self.se * t_quantile(level, self.df)
        return self.mean - h, self.mean + h


@dataclass(frozen=True)
class Target:
    """The range [lo, hi] of the quantity a claim asserts (either end may be infinite)."""

    lo: float = -math.inf
    hi: float = math.inf

    def verdict(self, lo: float | None, hi: float | None) -> str:
        if lo is None or hi is None:
            return "inconclusive"
        if lo >= self.lo and hi <= self.hi:
            return "reproduced"
        if hi < self.lo or lo > self.hi:
            return "contradicted"
        return "inconclusive"

    def distance(self, mean: float) -> float:
        """How far `mean` lies from the nearest edge (inside or outside): what a decision needs."""
        inside = min(mean - self.lo, self.hi - mean)
        return abs(inside) if inside < 0 else inside

    def p_value(self, est: Estimate) -> float:
        """The smallest alpha at which the (1 - alpha) interval of `est` decides (1: no interval)."""
        se = est.se
        if se is None:
            return 1.0
        d = self.distance(est.mean)
        if se == 0:
            return 0.0 if d > 0 else 1.0
        return float(2 * stats.t.sf(d / se, max(1, est.df)))


@dataclass(frozen=True)
class Step:
    """Where Holm's step-down puts one check."""

    level: float  # the confidence level its interval is read at
    reached: bool  # False: an earlier check stayed undecided, so this one is inconclusive
    rank: int  # its place in the order of p-values, from 0
    m: int  # the checks in the family


def holm_levels(p_values: list[float], alpha: float = ALPHA, decides=None) -> list[Step]:
    """Holm's step-down over `p_values`, in their input order. `decides(i, level)` (default:
    p_i <= 1 - level) says whether check i decides at `level`; the first that does not stops it."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: (p_values[i], i))
    decides = decides or (lambda i, level: p_values[i] <= 1 - level + 1e-15)
    out: list[Step | None] = [None] * m
    going = True
    for k, i in enumerate(order):
        level = 1 - alpha / (m - k)
        out[i] = Step(level, going, k, m)
        if going and not decides(i, level):
            going = False
    return out  # type: ignore[return-value]


def level_text(level: float) -> str:
    """'95%', '99.5%', '99.58%': the confidence level with two decimals at most."""
    return f"{100 * level:.2f}".rstrip("0").rstrip(".") + "%"
