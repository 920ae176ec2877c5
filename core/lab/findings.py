"""The documents' findings as checkable claims over a preset's runs, with verdicts.

    claim = Better("GNA + BN beats the baseline", Ref(("GNA + BatchNorm", "Logistic"), "2-layer"),
                   Ref(("Baseline", "Logistic"), "2-layer"), smallest=5.6,
                   basis="half the published +11.25 points")
    findings = check_all(preset.claims, samples)   # [Finding(claim, verdict, evidence, check, ...)]

The kinds of check, each declaring the range of the effect it asserts:
- Better(a, b, smallest=δ): a exceeds b by at least δ (falls short of it with higher=False),
  seed-paired; optionally beside our own `control` row, whose share of the effect is said;
- Same(a, b, margin=m): a and b differ by less than m ("no effect": an equivalence test);
- Within(ref, lo, hi): the mean of `ref` lies in [lo, hi] ("stays at chance");
- AllOf(text, parts): every part holds: reproduced when all are, contradicted when any is. Its
  parts are checks of their own in the preset's Holm family, so one part of five no longer
  contradicts the claim at an inflated rate under the null.
The verdicts come from core.lab.verdicts (the rule and the Holm correction over a preset's
checks), never from a hand-written sentence; the evidence sets our effect beside the published
one where the source has one. A claim the project adds to the document's starts with "(ours)".
`samples` gives per-seed metric values and per-example correctness (core.lab.tables.Samples);
a metric that counts epochs until something happens (METRICS[...].censored) counts a seed that
never got there as one epoch more than its run, here and in the tables alike.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .metrics import METRICS
from .uncertainty import mean_interval, paired_difference
from .verdicts import ALPHA, VERDICTS, Estimate, Step, Target, holm_levels, level_text  # noqa: F401

SPLIT_OF = {"test_acc": "test", "val_acc": "val"}  # metrics of the final model's predictions


@dataclass(frozen=True)
class Ref:
    """One metric of one configuration of the table (all its seeds)."""

    row: tuple[str, ...]
    column: str = ""
    metric: str = "test_acc"
    base_row: tuple[str, ...] | None = None  # the row a relative metric compares with

    @property
    def label(self) -> str:
        label = METRICS[self.metric].label
        if self.base_row:  # 'epochs to regular's best val' against another row: name that row
            label = label.replace("regular's", f"{self.base_row[0].split(':')[0]}'s")
        return f"{self.where} {label}"

    @property
    def where(self) -> str:
        return " · ".join([p for p in self.row if p] + ([self.column] if self.column else []))


@dataclass(frozen=True)
class Finding:
    claim: str
    verdict: str
    evidence: str
    check: str  # what the code checks, in words
    effect: dict | None = None  # ours and published, as numbers (see _effect)
    smallest_effect: str = ""  # the effect the claim needs, in words
    correction: str = ""  # the multiple-testing correction this verdict is under

    def to_dict(self) -> dict:
        return {"claim": self.claim, "verdict": self.verdict, "evidence": self.evidence,
                "check": self.check, "effect": self.effect, "smallest_effect": self.smallest_effect,
                "correction": self.correction}


def fmt(v: float | None, metric: str, log: bool = False, signed: bool = False) -> str:
    if v is None or not math.isfinite(v):
        return "—" if v is None or math.isnan(v) else ("+∞" if v > 0 else "-∞")
    if log:
        return f"10^{v:+.1f}" if signed else f"10^{v:.1f}"
    unit = METRICS[metric].unit
    digits = 3 if "loss" in metric else (1 if signed else 0) if unit == "" and "epoch" in metric else 2
    text = f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"
    return text + (" points" if signed and unit == "%" else "%" if unit == "%" else "")


def censored_values(samples, row, column, metric, base_row=None, force: bool = False) -> tuple[list, str]:
    """Per-seed values; for a censored metric (or any, with `force`) a seed whose run completed
    without a value counts as one more epoch than the run had (said in the note, '' when none)."""
    values = list(samples.values(row, column, metric, base_row))
    if not (force or METRICS[metric].censored):
        return values, ""
    missing = [i for i, v in enumerate(values) if v is None and samples.ran(row, column, i)]
    if not missing:
        return values, ""
    limit = samples.epochs(row, column)
    values = [limit + 1 if i in missing else v for i, v in enumerate(values)]
    return values, f"{len(missing)} seed(s) never reached it in {limit} epochs, counted as {limit + 1}"


def _series(samples, ref: Ref, log: bool, censor: bool = False) -> tuple[list, str]:
    values, note = censored_values(samples, ref.row, ref.column, ref.metric, ref.base_row, censor)
    if log:
        values = [math.log10(v) if v is not None and v > 0 else None for v in values]
    return values, f" ({note})" if note else ""


def _published(samples, ref: Ref) -> float | None:
    preset = getattr(samples, "preset", None)
    v = preset.published.get((tuple(ref.row), ref.column), {}).get(ref.metric) if preset else None
    return float(v) if isinstance(v, (int, float)) else None


def _capped_words(samples, refs) -> str:
    """Seeds whose best epoch is their run's last: still improving when the run stopped."""
    words = []
    for ref in refs:
        values = [v for v in samples.values(ref.row, ref.column, ref.metric, ref.base_row) if v is not None]
        limit = samples.epochs(ref.row, ref.column)
        k = sum(v >= limit for v in values)
        words.append(f"{ref.where}'s best epoch is its run's last ({limit}) in {k} of {len(values)} seeds")
    if not words:
        return ""
    return "; " + ", ".join(words) + " (a best epoch at the run's end is capped by the run's length)"


class _Check:
    def check(self, samples) -> Finding:
        """This claim alone (its own Holm family)."""
        return check_all([self], samples)[0]


@dataclass
class Measured:
    """One elementary check measured: its estimate, the range it asserts and the words so far."""

    claim: object
    estimate: Estimate
    target: Target
    evidence: str
    bound: object  # float -> text in the estimate's units
    effect: dict = field(default_factory=dict)


def _versus(pub: float | None, pub_rows: str, mean, lo, hi, bound, direction: int) -> tuple[str, str]:
    """'published +11.25 points (76.37% vs 65.12%): same direction, larger than published' and its
    one-word relation; direction +1/-1 is the claim's, 0 for none."""
    if pub is None or mean is None:
        return "", ""
    words = f"; published {bound(pub)}{pub_rows}"
    if lo is None:
        return words, ""
    if lo <= pub <= hi:
        rel = "inside"
        words += ": the published effect lies inside our 95% interval"
    else:
        larger = (pub < lo) if (direction or (1 if mean >= 0 else -1)) > 0 else (pub > hi)
        rel = "larger" if larger else "smaller"
        same = (pub > 0) == (mean > 0) or pub == 0
        words += (f": {'same' if same else 'opposite'} direction, ours {rel} than published "
                  f"(the published effect lies {'below' if pub < lo else 'above'} our 95% interval)")
    return words, rel


@dataclass(frozen=True)
class Better(_Check):
    """`a` exceeds `b` by at least `smallest` (falls below it by that much with higher=False)."""

    text: str
    a: Ref
    b: Ref
    higher: bool = True
    log: bool = False  # compare log10 values (ratios spanning decades): `smallest` in decades
    censor: bool = False  # also censor a metric not marked censored
    smallest: float = 0.0  # the smallest effect that counts, in the metric's units (>= 0)
    basis: str = ""  # where `smallest` comes from
    published: float | None = None  # the source's effect (a - b) when not from the preset's table
    published_text: str = ""  # how the source states it, when it is not a - b of its table
    control: Ref | None = None  # our own row that isolates part of the effect (words only)
    capped: tuple = ()  # best-epoch Refs whose seeds are counted when they end at the run's end

    def _smallest(self) -> str:
        v = self.smallest if self.higher else -self.smallest
        return fmt(v, self.a.metric, self.log, True) + (f" ({self.basis})" if self.basis else "")

    def describe(self) -> str:
        op = "≥" if self.higher else "≤"
        what = "log10 " if self.log else ""
        return (f"{what}{self.a.label} − {what}{self.b.label} {op} {self._smallest()}, seed-paired: "
                "the whole interval past that size reproduces, wholly short of it contradicts")

    def _values(self, samples, ref):
        values, note = _series(samples, ref, self.log, self.censor)
        split = SPLIT_OF.get(ref.metric) if not self.log else None
        return values, note, samples.correct(ref.row, ref.column, split) if split else None

    def measure(self, samples) -> Measured:
        va, na, ca = self._values(samples, self.a)
        vb, nb, cb = self._values(samples, self.b)
        same_metric = self.a.metric == self.b.metric
        d = paired_difference(va, vb, ca if same_metric else None, cb if same_metric else None)
        m = self.a.metric
        bound = lambda v: fmt(v, m, self.log, True)  # noqa: E731
        evidence = (f"{self.a.label} {fmt(_mean(va), m, self.log)}{na} vs {self.b.label} "
                    f"{fmt(_mean(vb), self.b.metric, self.log)}{nb}: difference {bound(d.mean)}, "
                    f"95% CI [{bound(d.lo)}, {bound(d.hi)}] over {d.n} seed pair(s)")
        pub, rows = self.published, ""
        if pub is None and same_metric and not self.log:
            pa, pb = _published(samples, self.a), _published(samples, self.b)
            if pa is not None and pb is not None:
                pub, rows = pa - pb, f" ({fmt(pa, m)} vs {fmt(pb, m)})"
        if self.published_text:
            rows = f" ({self.published_text})"
        words, rel = _versus(pub, rows, d.mean, d.lo, d.hi, bound, 1 if self.higher else -1)
        evidence += words + f"; smallest effect that counts {self._smallest()}"
        evidence += self._control_words(samples, va, ca) + _capped_words(samples, self.capped)
        half = None if d.lo is None else (d.hi - d.lo) / 2
        target = Target(lo=self.smallest) if self.higher else Target(hi=-self.smallest)
        effect = {"estimate": d.mean, "ci95": d.ci95, "seed_pairs": d.n, "published": pub,
                  "versus_published": rel or None}
        return Measured(self, Estimate(d.mean, half, max(1, d.n - 1)), target, evidence, bound, effect)

    def _control_words(self, samples, va, ca) -> str:
        if self.control is None:
            return ""
        vc, _, cc = self._values(samples, self.control)
        vb, _, cb = self._values(samples, self.b)
        over = paired_difference(vc, vb, cc, cb)
        adds = paired_difference(va, vc, ca, cc)
        if over.mean is None or adds.mean is None:
            return f"; our control {self.control.where}: not trained yet"
        b = lambda v: fmt(v, self.a.metric, self.log, True)  # noqa: E731
        words = (f"; our control {self.control.where} alone: {b(over.mean)} [{b(over.lo)}, {b(over.hi)}] "
                 f"against {self.b.where}, and {self.a.where} adds {b(adds.mean)} [{b(adds.lo)}, "
                 f"{b(adds.hi)}] to it")
        if adds.lo is None:
            return words
        sign = 1 if self.higher else -1
        lo, hi = sorted((sign * adds.lo, sign * adds.hi))
        return words + (" (the control accounts for the effect: what is added includes 0)" if lo <= 0 <= hi
                        else " (beyond the control)" if lo > 0 else " (less than the control alone)")


@dataclass(frozen=True)
class Same(_Check):
    """`a` and `b` differ by less than `margin` (no effect; seed-paired equivalence)."""

    text: str
    a: Ref
    b: Ref
    margin: float
    basis: str = ""

    def describe(self) -> str:
        m = fmt(self.margin, self.a.metric)
        return (f"|{self.a.label} − {self.b.label}| < {m} (equivalence margin{': ' + self.basis if self.basis else ''}): "
                "the whole interval inside ±margin reproduces, wholly outside contradicts")

    def measure(self, samples) -> Measured:
        split = SPLIT_OF.get(self.a.metric)
        va = samples.values(self.a.row, self.a.column, self.a.metric, self.a.base_row)
        vb = samples.values(self.b.row, self.b.column, self.b.metric, self.b.base_row)
        ca = samples.correct(self.a.row, self.a.column, split) if split else None
        cb = samples.correct(self.b.row, self.b.column, split) if split else None
        d = paired_difference(va, vb, ca, cb)
        m = self.a.metric
        bound = lambda v: fmt(v, m, False, True)  # noqa: E731
        evidence = (f"{self.a.label} {fmt(_mean(va), m)} vs {self.b.label} {fmt(_mean(vb), m)}: difference "
                    f"{bound(d.mean)}, 95% CI [{bound(d.lo)}, {bound(d.hi)}] over {d.n} seed pair(s)")
        pa, pb = _published(samples, self.a), _published(samples, self.b)
        pub = pa - pb if pa is not None and pb is not None else None
        words, rel = _versus(pub, "" if pub is None else f" ({fmt(pa, m)} vs {fmt(pb, m)})",
                             d.mean, d.lo, d.hi, bound, 0)
        evidence += words + f"; equivalence margin ±{fmt(self.margin, m)}" + (f" ({self.basis})" if self.basis else "")
        half = None if d.lo is None else (d.hi - d.lo) / 2
        effect = {"estimate": d.mean, "ci95": d.ci95, "seed_pairs": d.n, "published": pub,
                  "versus_published": rel or None}
        return Measured(self, Estimate(d.mean, half, max(1, d.n - 1)),
                        Target(-self.margin, self.margin), evidence, bound, effect)


@dataclass(frozen=True)
class Within(_Check):
    """The mean of `ref` lies in [lo, hi] (either may be None: unbounded)."""

    text: str
    ref: Ref
    lo: float | None = None
    hi: float | None = None
    log: bool = False
    basis: str = ""  # where the bounds come from
    published: float | None = None  # the source's value when not the preset's table cell
    capped: tuple = ()

    def describe(self) -> str:
        lo = "" if self.lo is None else f"{fmt(self.lo, self.ref.metric, self.log)} ≤ "
        hi = "" if self.hi is None else f" ≤ {fmt(self.hi, self.ref.metric, self.log)}"
        what = "log10 " if self.log else ""
        return (f"{lo}{what}{self.ref.label}{hi}{' (' + self.basis + ')' if self.basis else ''}: the "
                "whole interval of the mean inside reproduces, wholly outside contradicts")

    def measure(self, samples) -> Measured:
        values, note = _series(samples, self.ref, self.log)
        split = SPLIT_OF.get(self.ref.metric) if not self.log else None
        correct = samples.correct(self.ref.row, self.ref.column, split) if split else None
        mean, lo, hi = mean_interval(values, correct)
        m, n = self.ref.metric, sum(v is not None for v in values)
        bound = lambda v: fmt(v, m, self.log)  # noqa: E731
        evidence = f"{self.ref.label} {bound(mean)}, 95% CI [{bound(lo)}, {bound(hi)}] over {n} seed(s){note}"
        pub = self.published if self.published is not None else None if self.log else _published(samples, self.ref)
        if pub is not None:
            evidence += f"; published {bound(pub)}"
        evidence += _capped_words(samples, self.capped)
        target = Target(-math.inf if self.lo is None else self.lo, math.inf if self.hi is None else self.hi)
        half = None if lo is None else (hi - lo) / 2
        effect = {"estimate": mean, "ci95": None if lo is None else [lo, hi], "seeds": n, "published": pub}
        return Measured(self, Estimate(mean, half, max(1, n - 1)), target, evidence, bound, effect)


def _range_text(ms: Measured) -> str:
    t, b = ms.target, ms.bound
    if math.isinf(t.hi) and not math.isinf(t.lo):
        return f"at least {b(t.lo)}"
    if math.isinf(t.lo) and not math.isinf(t.hi):
        return f"at most {b(t.hi)}"
    return f"[{b(t.lo)}, {b(t.hi)}]"


def _finish(ms: Measured, step: Step | None) -> Finding:
    claim = ms.claim
    correction = f"Holm over {step.m} checks at {ALPHA:.0%} family-wise" if step else ""
    smallest = f"the effect in {_range_text(ms)}"
    effect = {**ms.effect, "level": None, "ci_adjusted": None}
    if step is None:
        return Finding(claim.text, "inconclusive", ms.evidence + " (too few seeds for an interval)",
                       claim.describe(), effect, smallest, correction)
    lo, hi = ms.estimate.interval(step.level)
    effect.update(level=step.level, ci_adjusted=[lo, hi])
    verdict = ms.target.verdict(lo, hi) if step.reached else "inconclusive"
    read = f"[{ms.bound(lo)}, {ms.bound(hi)}]"
    where = (f"Holm over {step.m} checks reads this one at {level_text(step.level)}: {read}" if step.m > 1
             else f"one check, at 95%: {read}")
    if not step.reached:
        why = "not reached: Holm's step-down stopped at an earlier undecided check"
    else:
        why = {"reproduced": "inside", "contradicted": "wholly outside",
               "inconclusive": "across an edge of"}[verdict] + f" the claim's range ({_range_text(ms)})"
    return Finding(claim.text, verdict, f"{ms.evidence}. {where}, {why}", claim.describe(), effect,
                   smallest, correction)


@dataclass(frozen=True)
class AllOf(_Check):
    """Every part holds: reproduced when all are, contradicted when any is (each part is a check
    of the preset's Holm family)."""

    text: str
    parts: tuple

    def describe(self) -> str:
        return "all of: " + "; ".join(p.describe() for p in self.parts)

    def combine(self, found: list[Finding]) -> Finding:
        verdicts = [f.verdict for f in found]
        verdict = ("reproduced" if all(v == "reproduced" for v in verdicts) else
                   "contradicted" if "contradicted" in verdicts else "inconclusive")
        counts = ", ".join(f"{verdicts.count(v)} {v}" for v in VERDICTS if v in verdicts)
        evidence = f"{counts} of {len(found)} checks: " + "; ".join(
            f"[{f.verdict}] {f.evidence}" for f in found)
        return Finding(self.text, verdict, evidence, self.describe(),
                       {"parts": [f.effect for f in found]},
                       "; ".join(f.smallest_effect for f in found),
                       next((f.correction for f in found if f.correction), ""))



def _mean(values) -> float | None:
    a = np.asarray([v for v in values if v is not None], dtype=float)
    return float(a.mean()) if len(a) else None


def check_all(claims, samples, alpha: float = ALPHA) -> list[Finding]:
    """The findings of `claims`, one per claim, with Holm's correction over all their checks."""
    groups = [[p.measure(samples) for p in (c.parts if isinstance(c, AllOf) else (c,))] for c in claims]
    flat = [ms for g in groups for ms in g]
    idx = [i for i, ms in enumerate(flat) if ms.estimate.se is not None]
    p = [flat[i].target.p_value(flat[i].estimate) for i in idx]

    def decides(j: int, level: float) -> bool:
        ms = flat[idx[j]]
        return ms.target.verdict(*ms.estimate.interval(level)) != "inconclusive"

    steps = dict(zip(idx, holm_levels(p, alpha, decides)))
    found = [_finish(ms, steps.get(i)) for i, ms in enumerate(flat)]
    out, k = [], 0
    for c, g in zip(claims, groups):
        part, k = found[k:k + len(g)], k + len(g)
        out.append(c.combine(part) if isinstance(c, AllOf) else part[0])
    return out


def correction_text(findings: list[Finding]) -> str:
    """'Holm over 7 checks at 5% family-wise' for the findings of one preset ('' when none)."""
    for f in findings:
        if f.correction:
            return f.correction
    return ""
