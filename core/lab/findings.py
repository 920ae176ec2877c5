"""The documents' findings as checkable claims over a preset's runs, with verdicts.

    claim = Better("GNA alone beats the baseline", Ref(("GNA", "Logistic"), "2-layer"),
                   Ref(("Baseline", "Logistic"), "2-layer"))
    finding = claim.check(samples)     # Finding(claim, verdict, evidence, check)

A verdict comes from the 95% intervals of core.lab.uncertainty, never from a hand-written
sentence: `reproduced` when the interval lies on the claim's side, `contradicted` when it lies
wholly on the other side, `inconclusive` otherwise (including when runs or seeds are missing).
`samples` gives per-seed metric values (`values`) and per-example correctness (`correct`); see
core.lab.tables.Samples.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .metrics import METRICS
from .uncertainty import mean_interval, paired_difference

VERDICTS = ("reproduced", "contradicted", "inconclusive")
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
        where = " · ".join([p for p in self.row if p] + ([self.column] if self.column else []))
        return f"{where} {METRICS[self.metric].label}"


@dataclass(frozen=True)
class Finding:
    claim: str
    verdict: str
    evidence: str
    check: str  # what the code checks, in words

    def to_dict(self) -> dict:
        return {"claim": self.claim, "verdict": self.verdict, "evidence": self.evidence,
                "check": self.check}


def fmt(v: float | None, metric: str, log: bool = False, signed: bool = False) -> str:
    if v is None or not math.isfinite(v):
        return "—"
    if log:
        return f"10^{v:+.1f}" if signed else f"10^{v:.1f}"
    unit = METRICS[metric].unit
    digits = 3 if "loss" in metric else 0 if unit == "" and "epoch" in metric else 2
    text = f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"
    return text + (" points" if signed and unit == "%" else "%" if unit == "%" else "")


def _series(samples, ref: Ref, log: bool, censor: bool) -> tuple[list, str]:
    """Per-seed values of `ref` (log10 when `log`); `censor`: a count never reached within the
    run counts as one more than the run's epochs (said in the note)."""
    values, note = list(samples.values(ref.row, ref.column, ref.metric, ref.base_row)), ""
    if censor:
        missing = [i for i, v in enumerate(values) if v is None and samples.ran(ref.row, ref.column, i)]
        if missing:
            limit = samples.epochs(ref.row, ref.column)
            values = [limit + 1 if i in missing else v for i, v in enumerate(values)]
            note = f" ({len(missing)} seed(s) never reached it in {limit} epochs, counted as {limit + 1})"
    if log:
        values = [math.log10(v) if v is not None and v > 0 else None for v in values]
    return values, note


@dataclass(frozen=True)
class Better:
    """`a` is larger than `b` (smaller when higher=False), seed-paired."""

    text: str
    a: Ref
    b: Ref
    higher: bool = True
    log: bool = False  # compare log10 values (ratios spanning decades)
    censor: bool = False

    def describe(self) -> str:
        op = ">" if self.higher else "<"
        what = "log10 " if self.log else ""
        return f"{what}{self.a.label} {op} {what}{self.b.label}: the 95% CI of the difference excludes 0"

    def check(self, samples) -> Finding:
        va, na = _series(samples, self.a, self.log, self.censor)
        vb, nb = _series(samples, self.b, self.log, self.censor)
        split = SPLIT_OF.get(self.a.metric) if self.a.metric == self.b.metric and not self.log else None
        ca = samples.correct(self.a.row, self.a.column, split) if split else None
        cb = samples.correct(self.b.row, self.b.column, split) if split else None
        d = paired_difference(va, vb, ca, cb)
        ma, mb = _mean(va), _mean(vb)
        metric = self.a.metric
        evidence = (f"{self.a.label} {fmt(ma, metric, self.log)}{na} vs {self.b.label} "
                    f"{fmt(mb, self.b.metric, self.log)}{nb}: difference {fmt(d.mean, metric, self.log, True)}, "
                    f"95% CI [{fmt(d.lo, metric, self.log, True)}, {fmt(d.hi, metric, self.log, True)}] "
                    f"over {d.n} seed pair(s)")
        if d.lo is None:
            return Finding(self.text, "inconclusive", evidence + " (too few seeds for an interval)", self.describe())
        lo, hi = (d.lo, d.hi) if self.higher else (-d.hi, -d.lo)
        verdict = "reproduced" if lo > 0 else "contradicted" if hi < 0 else "inconclusive"
        return Finding(self.text, verdict, evidence, self.describe())


@dataclass(frozen=True)
class Within:
    """The mean of `ref` lies in [lo, hi] (either may be None: unbounded)."""

    text: str
    ref: Ref
    lo: float | None = None
    hi: float | None = None
    log: bool = False

    def describe(self) -> str:
        lo = "" if self.lo is None else f"{fmt(self.lo, self.ref.metric, self.log)} ≤ "
        hi = "" if self.hi is None else f" ≤ {fmt(self.hi, self.ref.metric, self.log)}"
        what = "log10 " if self.log else ""
        return f"{lo}{what}{self.ref.label}{hi}: the whole 95% CI of the mean"

    def check(self, samples) -> Finding:
        values, note = _series(samples, self.ref, self.log, False)
        split = SPLIT_OF.get(self.ref.metric) if not self.log else None
        correct = samples.correct(self.ref.row, self.ref.column, split) if split else None
        mean, lo, hi = mean_interval(values, correct)
        m = self.ref.metric
        n = sum(v is not None for v in values)
        evidence = (f"{self.ref.label} {fmt(mean, m, self.log)}, 95% CI [{fmt(lo, m, self.log)}, "
                    f"{fmt(hi, m, self.log)}] over {n} seed(s){note}")
        if lo is None:
            return Finding(self.text, "inconclusive", evidence + " (too few seeds for an interval)", self.describe())
        below = self.lo if self.lo is not None else -math.inf
        above = self.hi if self.hi is not None else math.inf
        if lo >= below and hi <= above:
            verdict = "reproduced"
        elif hi < below or lo > above:
            verdict = "contradicted"
        else:
            verdict = "inconclusive"
        return Finding(self.text, verdict, evidence, self.describe())


@dataclass(frozen=True)
class AllOf:
    """Every part holds: reproduced when all are, contradicted when any is."""

    text: str
    parts: tuple

    def describe(self) -> str:
        return "all of: " + "; ".join(p.describe() for p in self.parts)

    def check(self, samples) -> Finding:
        found = [p.check(samples) for p in self.parts]
        verdicts = [f.verdict for f in found]
        verdict = ("reproduced" if all(v == "reproduced" for v in verdicts) else
                   "contradicted" if "contradicted" in verdicts else "inconclusive")
        counts = ", ".join(f"{verdicts.count(v)} {v}" for v in VERDICTS if v in verdicts)
        evidence = f"{counts} of {len(found)} checks: " + "; ".join(
            f"[{f.verdict}] {f.evidence}" for f in found)
        return Finding(self.text, verdict, evidence, self.describe())


def _mean(values) -> float | None:
    a = np.asarray([v for v in values if v is not None], dtype=float)
    return float(a.mean()) if len(a) else None


def check_all(claims, samples) -> list[Finding]:
    return [c.check(samples) for c in claims]
