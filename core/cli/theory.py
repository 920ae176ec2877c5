"""Command line: `python -m core theory`, `probe` (predictions before training) and `battery`.

    python -m core theory -a tanh --sigma-w2 1.5 --sigma-b2 0.05 --depth 20 --json
    python -m core probe -a tanh -n 128 128 128 --init-gain 1.2 --bias-std 0.1 --jacobian --json
    python -m core probe --arch vgg --vgg-blocks 5 --vgg-filters 16 -a leaky_relu --init torch_default --spp

theory prints the mean-field facts at one point (q_star, chi1, c_star, xi_q, xi_c: null where
infinite; phase; the predicted per-layer variance); probe builds the train flags' network, runs
one forward and backward pass (core.engine.probe) and prints the per-layer gradient flow, the
theory beside it where it applies, and with --jacobian the input-output Jacobian's singular
values, with --spp the signal propagation of any network (core.engine.signalprop predicted beside
measured per layer; the signal propagation plot per block, at --spp-steps), and the diagnosis
(core.lab.diagnosis) as `diagnosis` in its JSON. battery scores the
diagnosis on its labelled networks (core.lab.battery) and prints docs/DIAGNOSIS.md's results.
Bad input: one line on stderr naming the flag, exit status 2 (core.cli.main).
"""
from __future__ import annotations

import json
import math

from .common import CliError, add_config_flags, config_from_args, print_findings
from ..base.config import ACTIVATIONS

MAX_DEPTH = 10_000


def _number(flag: str, lo: float | None = None):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise CliError(f"{flag}: got {text!r}; expected a number") from None
        if not math.isfinite(value) or (lo is not None and value < lo):
            raise CliError(f"{flag}: got {text}; expected a finite number >= {lo:g}")
        return value
    return parse


def _whole(flag: str, hi, unit: str, lo: int = 1):
    """A parser of whole numbers from `lo` to `hi` for `flag`; `hi` may be a callable (a late import)."""
    def parse(text: str) -> int:
        top = hi() if callable(hi) else hi
        try:
            value = int(text)
        except ValueError:
            raise CliError(f"{flag}: got {text!r}; expected a whole number") from None
        if not lo <= value <= top:
            raise CliError(f"{flag}: got {value}; expected {lo} to {top} {unit}")
        return value
    return parse


def _max_spp_steps() -> int:
    from ..engine.spp import MAX_SPP_STEPS  # torch: after the flags were parsed

    return MAX_SPP_STEPS


_steps = _whole("--spp-steps", _max_spp_steps, "training steps", lo=0)


def _jacobian_max_batch() -> int:
    from ..engine.jacobian import MAX_BATCH
    return MAX_BATCH


def add_theory_parsers(sub) -> None:
    """The `theory` and `probe` subcommands (registered by core.cli.build_parser)."""
    p = sub.add_parser("theory", help="signal-propagation theory at one (sigma_w2, sigma_b2)")
    p.add_argument("-a", "--activation", default="tanh", choices=ACTIVATIONS, metavar="{" + ",".join(ACTIVATIONS) + "}")
    p.add_argument("--sigma-w2", type=_number("--sigma-w2", 0), required=True, help="fan_in x weight variance")
    p.add_argument("--sigma-b2", type=_number("--sigma-b2", 0), default=0.0, help="bias variance (default 0)")
    p.add_argument("--depth", type=_whole("--depth", MAX_DEPTH, "hidden layers"), default=10, help="hidden layers (default 10)")
    p.add_argument("--q0", type=_number("--q0", 0), default=1.0, help="input second moment per feature (default 1)")
    p.add_argument("--leaky-slope", type=_number("--leaky-slope", 0), default=0.01)
    p.add_argument("--json", action="store_true", help="print one JSON object to stdout")
    p.set_defaults(handler=_theory)
    p = sub.add_parser("probe", help="gradient flow at initialization (no training), with the theory")
    add_config_flags(p)
    p.add_argument("--jacobian", action="store_true", help="also the input-output Jacobian's singular values")
    p.add_argument("--jacobian-batch", type=_whole("--jacobian-batch", _jacobian_max_batch, "examples"),
                   default=16, help="examples for the Jacobian (default 16)")
    p.add_argument("--spp", action="store_true", help="signal propagation: every layer's predicted and measured "
                   "second moment, backward gain and weight gradient, and per block the signal propagation plot's "
                   "squared channel mean, channel variance and residual branch variance")
    p.add_argument("--spp-steps", nargs="+", type=_steps, default=[0], metavar="STEP",
                   help="with --spp: training steps to measure the plot at (default 0, initialization)")
    p.add_argument("--json", action="store_true", help="print one JSON object to stdout")
    p.set_defaults(handler=_probe)
    p = sub.add_parser("battery", help="score the diagnosis against training outcomes on its labelled "
                       "battery of networks (trains what the store lacks: minutes)")
    p.add_argument("--fast", action="store_true", help="only the fast subset the test suite runs")
    p.add_argument("--format", default="markdown", choices=("markdown", "json"), dest="output_format",
                   help="markdown (default: the body of docs/DIAGNOSIS.md) or json")
    p.set_defaults(handler=_battery)


def _num(v):
    """JSON has no infinity: non-finite numbers (and None) become null."""
    return None if v is None or not math.isfinite(v) else float(v)


def propagation_dict(p) -> dict:
    return {"activation": p.activation, "sigma_w2": p.sigma_w2, "sigma_b2": p.sigma_b2, "q0": p.q0,
            "depth": len(p.per_layer_q), "q_star": _num(p.q_star), "chi1": _num(p.chi1),
            "c_star": _num(p.c_star), "xi_q": _num(p.xi_q), "xi_c": _num(p.xi_c), "phase": p.phase,
            "per_layer_q": [_num(q) for q in p.per_layer_q], "grad_growth": _num(p.grad_growth),
            "describe": _describe(p)}


def _describe(p) -> str:
    """The phase and the prediction in the app's words (core.lab.theory)."""
    from ..lab.theory import phase_sentence, prediction_sentence

    phase = phase_sentence(p)
    return f"{phase[0].upper()}{phase[1:]} {prediction_sentence(p)}"


def _theory(args) -> int:
    from ..engine.meanfield import signal_propagation

    try:
        p = signal_propagation(args.activation, args.sigma_w2, args.sigma_b2, args.depth, args.q0,
                               leaky_slope=args.leaky_slope)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    out = propagation_dict(p)
    if args.json:
        print(json.dumps(out))
        return 0
    for k, v in out.items():
        if k != "per_layer_q":
            print(f"{k:12s} {'inf' if v is None and k in ('q_star', 'xi_q', 'xi_c') else v}")
    print("per_layer_q  " + " ".join(f"{q:.4g}" if q is not None else "inf" for q in out["per_layer_q"]))
    return 0


def _records(frame) -> list[dict]:
    """A table's rows for JSON, numbers at full precision (to_json rounds 1e-17 to 0), null where not finite."""
    return [{k: _num(v) if isinstance(v, float) else (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
            for row in frame.to_dict("records")]


def _spectrum_dict(spec) -> dict:
    return {"kind": spec.kind, "mean_sq": _num(spec.mean_sq), "condition": _num(spec.condition),
            "quantile_ratio": _num(spec.quantile_ratio),
            "singular_values": [[_num(s) for s in row] for row in spec.singular_values]}


def _probe(args) -> int:
    from ..engine.probe import probe_at_init
    from ..lab.theory import details, does_not_apply, jacobian_of, verdict
    from ..engine.prediction import compare

    from ..lab.diagnosis import diagnose_init

    cfg = config_from_args(args)
    flow = probe_at_init(cfg)
    findings = diagnose_init(cfg, flow)
    out = {"run_id": cfg.run_id, "config": cfg.to_dict(),
           "flow": _records(flow),
           "diagnosis": [f.to_dict() for f in findings]}
    why = does_not_apply(cfg)
    if why:
        out["theory"] = None
        out["theory_note"] = why
    else:
        cmp = compare(cfg, flow)
        out["theory"] = dict(propagation_dict(cmp.propagation), q0=cmp.q0,
                             measured_growth=_num(cmp.measured_growth),
                             predicted_grad_ratio=_num(cmp.predicted_ratio),
                             measured_grad_ratio=_num(cmp.measured_ratio))
        out["theory_note"] = f"{verdict(cmp, cfg)} {details(cmp)}"
    if args.jacobian:  # the app's Jacobian of a config (core.lab.theory.jacobian_of)
        spec, why = jacobian_of(cfg, batch=args.jacobian_batch)
        out["jacobian"] = None if spec is None else _spectrum_dict(spec)
        if spec is None:  # beyond the library's cost limits: say so, as the app does
            out["jacobian_error"] = why
    if args.spp:
        out["spp"] = _spp(cfg, flow, args.spp_steps)
    if args.json:
        print(json.dumps(out))
        return 0
    print(flow.to_string(index=False))
    print(out["theory_note"])
    if args.spp:
        print("\n".join(out["spp"]["sentences"]))
        print(pd_text(out["spp"]))
    print_findings(findings)
    if args.jacobian:
        j = out["jacobian"]
        print(f"jacobian: {out['jacobian_error']}" if j is None else
              f"jacobian: mean_sq {j['mean_sq']:.4g}, condition {j['condition']}, quantile_ratio {j['quantile_ratio']}")
    return 0


def _spp(cfg, flow, steps) -> dict:
    """The --spp part of probe's output: predicted beside measured per layer, the plot per block."""
    from ..engine.spp import spp_frame
    from ..lab.signalprop import compare_flow, flow_sentences, gap_sentences, training_sentence

    cmp = compare_flow(cfg, flow)
    plot = spp_frame(cfg, steps)
    later = training_sentence(plot)
    p = cmp.prediction
    return {"layers": _records(p.frame), "compared": _records(cmp.frame), "plot": _records(plot),
            "predicted_log10_collapse": _num(p.log10_collapse),
            "predicted_log10_collapse_one_network": _num(p.log10_typical_collapse),
            "measured_log10_collapse": _num(cmp.measured_collapse),
            "sentences": flow_sentences(cmp) + gap_sentences(cmp) + ([later] if later else [])}


def pd_text(spp: dict) -> str:
    """The plot's rows as an aligned table: block, step, then one column per statistic."""
    import pandas as pd

    plot = pd.DataFrame(spp["plot"])
    wide = plot.pivot_table(index=["block", "name", "step"], columns="stat", values="value").reset_index()
    return wide.drop(columns="block").to_string(index=False, float_format=lambda v: f"{v:.3e}")


def _battery(args) -> int:
    import sys

    from ..lab.battery import CASES, configs_of, report, score, to_json
    from ..runs.store import RunStore

    cases = [c for c in CASES if c.fast] if args.fast else list(CASES)
    store = RunStore()
    missing = [c for c in configs_of(cases) if not store.has(c.run_id)]
    if missing:
        print(f"battery: training {len(missing)} missing runs of {len(cases)} networks ...", file=sys.stderr)
    scored = score(store, cases)
    print(json.dumps(to_json(scored)) if args.output_format == "json" else report(scored), end="")
    return 0
