"""The diagnosis scored like an estimator: a labelled battery of networks, each labelled by what
training actually did, and the diagnosis's agreement with those labels.

    cases = CASES                                   # 51 networks from the sources and the literature
    scores = score(store, cases)                    # trains what is missing (3 seeds each), then scores
    print(report(scores))                           # Markdown: the rule, confusion matrices, every case

The label comes from training, never from the diagnosis's rules. Each case trains for its
budget (3 epochs of mnist-5k, its own optimizer) with 3 seeds; a seed's outcome is

- diverges: the run diverged (a non-finite loss or gradient), or a training loss above 10 ln C
  (C classes: 10 times an untrained network's);
- stuck: the last epoch's training loss is still above 0.9 ln C (no better than predicting the
  class shares), or, with two hidden layers or more, layer 1 learned less than a tenth of what
  the last hidden layer learned (relative weight change ||W_end - W_init|| / ||W_init||);
- learns: otherwise.

The case's label is the median of its seeds' outcomes (ordered learns < stuck < diverges). The
diagnosis predicts an outcome from its problems (core.lab.diagnosis.predicted_outcome): at
initialization from the probe of seed 0's network (before any training), after training from
each seed's run (the median again).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from ..base.config import RunConfig
from ..base.datasets import DATASET_INFO
from ..engine.models import build_model
from ..engine.probe import probe_at_init
from ..runs.runner import get_or_train
from .diagnosis import OUTCOMES, diagnose, diagnose_init, predicted_outcome

SEEDS = (42, 43, 44)
EPOCHS = 3
STUCK_LOSS = 0.9  # of ln C: the last epoch's training loss above it has not learned
LAYER1_SHARE = 0.1  # layer 1's relative weight change over the last hidden layer's, below it: stuck
DIVERGED_LOSS = 10  # of ln C


@dataclass(frozen=True)
class Case:
    name: str
    config: RunConfig
    source: str  # where the network comes from
    fast: bool = False  # in the suite's fast subset


def _mlp(activation, init, widths, **kw) -> RunConfig:
    return RunConfig(activation=activation, init=init, widths=tuple(widths), epochs=EPOCHS, **kw)


def _vgg(blocks, **kw) -> RunConfig:
    return RunConfig(arch="vgg", vgg_blocks=blocks, vgg_filters=16, activation="leaky_relu",
                     init="torch_default", optimizer="adam", lr=1e-3, epochs=EPOCHS, **kw)


H8, H20 = (128,) * 8, (100,) * 20
SNN = dict(optimizer="nadam", lr=7e-4)
CASES: tuple[Case, ...] = (
    # the deep sigmoid networks of the lecture notes and the blog post
    Case("logistic N(0,1) 5x128", _mlp("logistic", "normal", (128,) * 5), "lecture notes: saturation"),
    Case("logistic Glorot 3x128", _mlp("logistic", "glorot_uniform", (128,) * 3), "Glorot & Bengio 2010"),
    Case("logistic Glorot 8x128", _mlp("logistic", "glorot_uniform", H8), "Home card; blog post", fast=True),
    Case("logistic Glorot 8x128 Adam", _mlp("logistic", "glorot_uniform", H8, optimizer="adam", lr=1e-3),
         "an adaptive optimizer on the same net"),
    Case("logistic He 8x128", _mlp("logistic", "he_normal", H8), "lecture notes: init x activation"),
    Case("logistic LeCun 20x100", _mlp("logistic", "lecun_normal", H20), "lecture notes"),
    Case("logistic Glorot 8x128 BN before", _mlp("logistic", "glorot_uniform", H8, bn="before"),
         "Ioffe & Szegedy 2015; Home card", fast=True),
    Case("logistic Glorot 8x128 BN after", _mlp("logistic", "glorot_uniform", H8, bn="after"), "BN placement"),
    Case("logistic 5-layer BN last", _mlp("logistic", "glorot_uniform", (512, 512, 256, 256, 128), bn="last"),
         "Agarap 2019"),
    Case("logistic Glorot 8x128 residual", _mlp("logistic", "glorot_uniform", H8, residual=True), "Home card"),
    Case("logistic Glorot 1x4096", _mlp("logistic", "glorot_uniform", (4096,)), "one hidden layer"),
    Case("logistic Glorot 1x64", _mlp("logistic", "glorot_uniform", (64,)), "one hidden layer", fast=True),
    Case("logistic zeros 3x128", _mlp("logistic", "zeros", (128,) * 3), "zero init"),
    # tanh
    Case("tanh N(0,1) 10x128", _mlp("tanh", "normal", (128,) * 10), "Poole et al. 2016: chaotic phase"),
    Case("tanh Glorot 10x128", _mlp("tanh", "glorot_uniform", (128,) * 10), "Glorot & Bengio 2010"),
    Case("tanh Glorot 30x100", _mlp("tanh", "glorot_uniform", (100,) * 30), "Glorot & Bengio 2010, deeper"),
    Case("tanh LeCun 10x128", _mlp("tanh", "lecun_normal", (128,) * 10), "LeCun init"),
    Case("tanh orthogonal 20x128", _mlp("tanh", "orthogonal", (128,) * 20), "Saxe et al. 2014; Pennington 2017"),
    Case("tanh N(0,1) 10x128 BN before", _mlp("tanh", "normal", (128,) * 10, bn="before"), "BN placement"),
    Case("tanh zeros 3x128", _mlp("tanh", "zeros", (128,) * 3), "Home card: zero init", fast=True),
    Case("tanh Glorot 1x512", _mlp("tanh", "glorot_uniform", (512,)), "one hidden layer"),
    # ReLU family
    Case("ReLU Glorot 10x100", _mlp("relu", "glorot_uniform", (100,) * 10), "He et al. 2015"),
    Case("ReLU Glorot 20x100", _mlp("relu", "glorot_uniform", H20), "He et al. 2015", fast=True),
    Case("ReLU Glorot 30x100", _mlp("relu", "glorot_uniform", (100,) * 30), "He et al. 2015"),
    Case("ReLU Glorot 50x100", _mlp("relu", "glorot_uniform", (100,) * 50), "He et al. 2015"),
    Case("ReLU He 8x128", _mlp("relu", "he_normal", H8), "Home card", fast=True),
    Case("ReLU He 20x100", _mlp("relu", "he_normal", H20), "He et al. 2015"),
    Case("ReLU He 50x100", _mlp("relu", "he_normal", (100,) * 50), "He et al. 2015, deeper"),
    Case("ReLU N(0,1) 6x256", _mlp("relu", "normal", (256,) * 6, optimizer="sgd"), "Home card: explodes", fast=True),
    Case("ReLU Glorot 20x100 BN before", _mlp("relu", "glorot_uniform", H20, bn="before"), "BN placement"),
    Case("ReLU He 20x100 residual", _mlp("relu", "he_normal", H20, residual=True), "He et al. 2016"),
    Case("ReLU orthogonal 10x128", _mlp("relu", "orthogonal", (128,) * 10), "orthogonal init"),
    Case("ReLU zeros 3x128", _mlp("relu", "zeros", (128,) * 3), "zero init"),
    Case("ReLU Glorot 1x4096", _mlp("relu", "glorot_uniform", (4096,)), "one hidden layer"),
    Case("ReLU He 1x32", _mlp("relu", "he_normal", (32,)), "one hidden layer"),
    Case("leaky ReLU Glorot 20x100", _mlp("leaky_relu", "glorot_uniform", H20), "leaky ReLU"),
    Case("ELU He 10x128", _mlp("elu", "he_normal", (128,) * 10), "lecture notes: ELU"),
    Case("GELU He 10x128", _mlp("gelu", "he_normal", (128,) * 10), "GELU"),
    Case("swish Glorot 10x128", _mlp("swish", "glorot_uniform", (128,) * 10), "swish"),
    # self-normalizing networks
    Case("SELU LeCun 20x100 standardized", _mlp("selu", "lecun_normal", H20, standardize=True, **SNN),
         "Klambauer et al. 2017; Quijas 2020"),
    Case("SELU LeCun 20x100 raw inputs", _mlp("selu", "lecun_normal", H20, **SNN), "Quijas 2020"),
    Case("SELU Glorot 20x100", _mlp("selu", "glorot_uniform", H20, **SNN), "SELU with another init"),
    Case("SELU N(0,1) 20x100", _mlp("selu", "normal", H20, **SNN), "SELU with N(0,1)"),
    # linear networks
    Case("linear Glorot 10x128", _mlp("linear", "glorot_uniform", (128,) * 10), "Saxe et al. 2014"),
    Case("linear N(0,1) 5x128", _mlp("linear", "normal", (128,) * 5, optimizer="sgd"), "linear, too large"),
    Case("linear orthogonal 20x128", _mlp("linear", "orthogonal", (128,) * 20), "Saxe et al. 2014"),
    # the VGG coursework report
    Case("VGG08", _vgg(0), "VGG coursework report"),
    Case("VGG38", _vgg(5), "VGG coursework report"),
    Case("VGG38 BN", _vgg(5, bn="before"), "VGG coursework report"),
    Case("VGG38 RC", _vgg(5, residual=True), "VGG coursework report"),
    Case("VGG38 BN+RC", _vgg(5, bn="before", residual=True), "VGG coursework report"),
)


@dataclass
class Scored:
    case: Case
    label: str
    seed_outcomes: list[str]
    at_init: str  # the diagnosis's predicted outcome at initialization
    after: str  # ... after training
    init_kinds: list[str] = field(default_factory=list)  # problems' kinds at initialization
    after_kinds: list[str] = field(default_factory=list)
    evidence: dict = field(default_factory=dict)  # the label's numbers (seed means)


def _median(outcomes: list[str]) -> str:
    ranks = sorted(OUTCOMES.index(o) for o in outcomes)
    return OUTCOMES[ranks[len(ranks) // 2]]


def relative_change(result, weights: dict) -> list[float]:
    """||W_end - W_init|| / ||W_init|| of each weight layer, input to output; the initial weights
    are rebuilt from the config (the model builder is seeded by it)."""
    net = build_model(result.config, DATASET_INFO[result.config.dataset])
    names = {id(p): n for n, p in net.named_parameters()}
    out = []
    for m in net.layers:
        key = names[id(m.weight)]
        w0, w1 = m.weight.detach(), weights[key].to(torch.float32)
        base = float(w0.norm())
        change = float((w1 - w0).norm())
        out.append(change / base if base > 0 else (math.inf if change > 0 else 0.0))
    return out


def seed_outcome(result, weights: dict | None) -> tuple[str, dict]:
    """The outcome of one trained run, by the rule in the module's docstring, with its numbers."""
    chance = math.log(DATASET_INFO[result.config.dataset].classes)
    losses = result.steps["loss"].to_numpy(dtype=float) if not result.steps.empty else np.array([])
    finite = losses[np.isfinite(losses)]
    ev = {"final_train_loss": None, "layer1_share": None}
    if result.status == "diverged" or (finite.size and finite.max() > DIVERGED_LOSS * chance):
        return "diverges", ev
    final = float(result.epochs["train_loss"].iloc[-1]) if not result.epochs.empty else math.nan
    ev["final_train_loss"] = final
    if not math.isfinite(final) or final > DIVERGED_LOSS * chance:
        return "diverges", ev
    share = math.nan
    if weights is not None and len(result.layers) >= 3:  # two hidden layers or more
        change = relative_change(result, weights)
        last = change[-2]
        share = change[0] / last if last > 0 else (math.inf if change[0] > 0 else 0.0)
        ev["layer1_share"] = share if math.isfinite(share) else None
    if final > STUCK_LOSS * chance or share < LAYER1_SHARE:
        return "stuck", ev
    return "learns", ev


def configs_of(cases) -> list[RunConfig]:
    return [c.config.replace(seed=s) for c in cases for s in SEEDS]


def score(store, cases=CASES, on_event=None) -> list[Scored]:
    """Train what is missing (stacked, stored), label every case and score the diagnosis."""
    missing = [c for c in configs_of(cases) if not store.has(c.run_id)]  # the rest are read once, below
    if missing:
        get_or_train(store, missing, on_event=on_event)
    out = []
    for case in cases:
        outcomes, after, evs, after_kinds = [], [], [], []
        for s in SEEDS:
            cfg = case.config.replace(seed=s)
            result = store.load(cfg.run_id, weights=True)
            outcome, ev = seed_outcome(result, result.state_dict)
            outcomes.append(outcome)
            evs.append(ev)
            findings = diagnose(result)
            after.append(predicted_outcome(findings))
            after_kinds += [f.kind for f in findings if f.severity == "problem"]
        init_findings = diagnose_init(case.config, probe_at_init(case.config, 128), theory=False)
        out.append(Scored(case, _median(outcomes), outcomes, predicted_outcome(init_findings), _median(after),
                          sorted({f.kind for f in init_findings if f.severity == "problem"}),
                          sorted(set(after_kinds)), _mean_evidence(evs)))
    return out


def _mean_evidence(evs: list[dict]) -> dict:
    out = {}
    for key in ("final_train_loss", "layer1_share"):
        vals = [e[key] for e in evs if e.get(key) is not None]
        out[key] = float(np.exp(np.mean(np.log(np.maximum(vals, 1e-30))))) if key == "layer1_share" and vals \
            else float(np.mean(vals)) if vals else None
    return out


def agreement(scored: list[Scored], when: str) -> tuple[int, int]:
    """(cases whose predicted outcome equals the label, cases)."""
    hits = sum(getattr(s, when) == s.label for s in scored)
    return hits, len(scored)


def confusion(scored: list[Scored], when: str) -> dict[tuple[str, str], int]:
    """(predicted, label) -> count."""
    out = {(p, t): 0 for p in OUTCOMES for t in OUTCOMES}
    for s in scored:
        out[(getattr(s, when), s.label)] += 1
    return out


# ---------------------------------------------------------------------- the report
_WHEN = {"at_init": "at initialization (probe of seed 42's network, before any update)",
         "after": "after training (each seed's run; the median of the three)"}


def report(scored: list[Scored]) -> str:
    """docs/DIAGNOSIS.md's body: the agreement, a confusion matrix per moment, every case."""
    lines = []
    for when, title in _WHEN.items():
        hits, n = agreement(scored, when)
        lines += [f"### Agreement {title}", "",
                  f"**{hits} of {n} cases ({hits / n:.0%})** predicted the label.", "",
                  "| predicted \\ label | " + " | ".join(OUTCOMES) + " |",
                  "|---|" + "---|" * len(OUTCOMES)]
        matrix = confusion(scored, when)
        for p in OUTCOMES:
            lines.append(f"| {p} | " + " | ".join(str(matrix[(p, t)]) for t in OUTCOMES) + " |")
        lines.append("")
    lines += ["### Every case", "",
              "| network | source | label (seeds) | final train loss | layer 1 / last hidden | at init | after |",
              "|---|---|---|---|---|---|---|"]
    for s in scored:
        ev = s.evidence
        loss = "—" if ev.get("final_train_loss") is None else f"{ev['final_train_loss']:.3f}"
        share = "—" if ev.get("layer1_share") is None else f"{ev['layer1_share']:.2g}"
        mark = lambda p: p if p == s.label else f"**{p}** ✗"  # noqa: E731
        init = mark(s.at_init) + (f" ({', '.join(s.init_kinds)})" if s.init_kinds else "")
        after = mark(s.after) + (f" ({', '.join(s.after_kinds)})" if s.after_kinds else "")
        lines.append(f"| {s.case.name} | {s.case.source} | {s.label} ({', '.join(s.seed_outcomes)}) | "
                     f"{loss} | {share} | {init} | {after} |")
    return "\n".join(lines) + "\n"


def to_json(scored: list[Scored]) -> dict:
    return {"agreement": {w: dict(zip(("hits", "cases"), agreement(scored, w))) for w in _WHEN},
            "cases": [{"name": s.case.name, "run_ids": [s.case.config.replace(seed=x).run_id for x in SEEDS],
                       "label": s.label, "seed_outcomes": s.seed_outcomes, "at_init": s.at_init,
                       "after": s.after, "init_kinds": s.init_kinds, "after_kinds": s.after_kinds,
                       "evidence": s.evidence} for s in scored]}
