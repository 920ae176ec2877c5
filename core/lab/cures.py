"""A problem and its cure, paired: what Explore's "Compare with the cure" draws on shared axes.

    pairs = cure_pairs(cfg, diagnose(result))      # or diagnose_init(cfg, probe_table)
    pairs[0].problem, pairs[0].cure                # RunConfigs; labels say which is which
    frame = flow_pair(pair, problem_flow, cure_flow)  # charts.grad_flow's input, one series each
    flow_sentence(frame, "at initialization")      # layer 1 over the last hidden layer, for both

Where they come from, in this order (each cure once):
- a Home card (core.lab.scenarios) that shows a problem: its declared cure, another card where
  one shows it (the deep sigmoid's cure is the "Batch norm fixes it" card);
- a Home card that is itself a cure: the problem card it fixes, as the problem;
- any network whose diagnosis offers one-click remedies: each remedy (core.lab.remedies), in the
  diagnosis's order (its most serious finding first).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from ..base.config import ConfigError, RunConfig
from ..base.instruments import INSTRUMENTS
from ..engine.result import gradient_ratio, hidden_flow
from .scenarios import SCENARIOS, SCENARIOS_BY_KEY

# A problem card's cures: another card's key, or (label, changes of the card's config). The first
# is the one shown first; each addresses the cause its card's blurb names.
CARD_CURES: dict[str, tuple] = {
    "sigmoid-vanishes": ("bn-fixes-it", "relu-he"),
    "residual": (("Batch norm before each activation", {"bn": "before"}),),
    "relu-normal-explodes": (("He normal init", {"init": "he_normal"}),),
    "zeros": (("Glorot uniform init", {"init": "glorot_uniform"}),),
}


@dataclass(frozen=True)
class CurePair:
    problem: RunConfig
    cure: RunConfig
    problem_label: str
    cure_label: str
    source: str  # "card": declared with the Home cards; "diagnosis": a remedy of the diagnosis

    @property
    def title(self) -> str:
        return f"{self.problem_label} → {self.cure_label}"


def card_of(cfg: RunConfig):
    """The Home card whose configuration is `cfg` (same run id), or None."""
    return next((s for s in SCENARIOS if s.config.run_id == cfg.run_id), None)


def _card_cures(key: str) -> list[tuple[str, RunConfig]]:
    card, out = SCENARIOS_BY_KEY[key], []
    for cure in CARD_CURES.get(key, ()):
        if isinstance(cure, str):
            out.append((SCENARIOS_BY_KEY[cure].title, SCENARIOS_BY_KEY[cure].config))
        else:
            try:
                out.append((cure[0], card.config.replace(**cure[1])))
            except ConfigError:
                continue
    return out


def cure_pairs(cfg: RunConfig, findings=()) -> list[CurePair]:
    """Every problem/cure pair `cfg` takes part in, cards first, then the diagnosis's remedies
    (`findings` of core.lab.diagnosis; those with remedies). Each cure appears once."""
    pairs: list[CurePair] = []
    card = card_of(cfg)
    here = card.title if card else "this network"
    if card is not None:
        pairs += [CurePair(cfg, cure, here, label, "card") for label, cure in _card_cures(card.key)]
        for key in CARD_CURES:  # this card cures another card's problem
            if any(cure.run_id == cfg.run_id for _, cure in _card_cures(key)):
                pairs.append(CurePair(SCENARIOS_BY_KEY[key].config, cfg, SCENARIOS_BY_KEY[key].title, here, "card"))
    seen = {(p.problem.run_id, p.cure.run_id) for p in pairs}
    for f in findings:
        if f.severity == "ok":
            continue
        for r in f.remedies:
            if (cfg.run_id, r.config.run_id) not in seen:
                seen.add((cfg.run_id, r.config.run_id))
                pairs.append(CurePair(cfg, r.config, here, r.label, "diagnosis"))
    return pairs


PROBLEM, CURE = "problem", "cure"


def series_names(pair: CurePair) -> tuple[str, str]:
    """The two series' names in every chart of the pair: 'problem: ...', 'cure: ...'."""
    return f"{PROBLEM}: {pair.problem_label}", f"{CURE}: {pair.cure_label}"


def flow_pair(pair: CurePair, problem: pd.DataFrame, cure: pd.DataFrame) -> pd.DataFrame:
    """One frame of both gradient flows (each: layer, name, value), a series column naming them."""
    names = series_names(pair)
    return pd.concat([f[["layer", "name", "value"]].assign(series=n) for n, f in zip(names, (problem, cure))],
                     ignore_index=True)


def _ratio_text(r: float) -> str:
    if not math.isfinite(r):
        return "not defined (a layer's gradient is 0 or not finite)"
    return f"{r:.2g}" if 1e-3 <= r < 1e3 else f"{r:.1e}"


def flow_sentence(frame: pd.DataFrame, when: str) -> str:
    """Layer 1's mean |gradient| over the last hidden layer's, per series of a flow_pair frame."""
    ratios = {s: gradient_ratio(g.sort_values("layer")["value"]) for s, g in frame.groupby("series", sort=False)}
    healthy = INSTRUMENTS["grad_mean_abs"].healthy
    parts = [f"{_ratio_text(r)} for the {s.split(': ', 1)[0]} ({s.split(': ', 1)[1]})" for s, r in ratios.items()]
    text = (f"{when[0].upper()}{when[1:]}, layer 1's mean |gradient| over the last hidden layer's is "
            + " and ".join(parts) + f" (an even flow keeps it between {healthy.low:g} and {healthy.high:g}).")
    return text + _size_sentence(frame)


SIZE_GAP = 100.0  # the two flows' sizes apart by more than this: said, since the ratios cannot show it


def _size_sentence(frame: pd.DataFrame) -> str:
    """' The sizes differ: ...' when the two series' last hidden layers' mean |gradient| are more
    than SIZE_GAP apart (N(0,1) weights in a ReLU network keep an even ratio at 1e4 per weight:
    the ratio alone read as healthy), else ''."""
    last = {s: hidden_flow(g.sort_values("layer")["value"]) for s, g in frame.groupby("series", sort=False)}
    ends = {s: float(g[-1]) for s, g in last.items() if len(g) and math.isfinite(g[-1]) and g[-1] > 0}
    if len(ends) != 2:
        return ""
    (a, va), (b, vb) = ends.items()
    gap = max(va, vb) / min(va, vb)
    if gap <= SIZE_GAP:
        return ""
    big, small = (a, b) if va > vb else (b, a)
    return (f" Their sizes differ: at the last hidden layer the {big.split(': ', 1)[0]}'s mean "
            f"|gradient| is {_ratio_text(max(va, vb))} and the {small.split(': ', 1)[0]}'s "
            f"{_ratio_text(min(va, vb))}, about {round(float(f'{gap:.2g}')):,} times apart.")
