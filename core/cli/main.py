"""Command line: `python -m core train|list|show|delete|reproduce` (and rename: core.cli.names).

    python -m core train -a logistic -n 512 512 256 256 128 --json
    python -m core train --activation relu --init he_normal --bn before -e 3
    python -m core list
    python -m core show 8fbd7460b4e114e3
    python -m core reproduce gna-bn --scale quick --format markdown

The train flags are generated from RunConfig's fields (one flag per field, plus the short
flags of Agarap (2019): -b -e -a -n). Bad input exits with status 2 and one line naming the problem.
"""
from __future__ import annotations

import argparse
import json
import sys

from .common import CliError, Parser, add_config_flags, checked_id, config_from_args, print_findings  # noqa: F401 (shared)
from .names import print_result as _print_result
from ..base.config import ConfigError


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m core", description="Vanishing and exploding gradients: "
                     "train instrumented networks and keep their results.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    p_train = sub.add_parser("train", help="train a configuration (or open it from the store)")
    add_config_flags(p_train)
    p_train.add_argument("--json", action="store_true", help="print one JSON object to stdout")
    p_train.add_argument("--retrain", action="store_true", help="train again even if stored")
    p_train.add_argument("--data-file", metavar="PATH", default=None,
                         help="train on your own data: a CSV (numeric features and a label column) "
                         "or an .npz (arrays x and y); stored by content hash as dataset upload:<hash>")
    p_train.add_argument("--label-column", metavar="NAME", default=None,
                         help="the CSV's label column (default: label, class, target or y, else the last)")
    _add_ray_flag(p_train)
    sub.add_parser("list", help="list stored runs").add_argument("--json", action="store_true")
    for name, text in (("show", "summarize a stored run"), ("delete", "delete a stored run")):
        p = sub.add_parser(name, help=text)
        p.add_argument("run_id")
        if name == "show":
            p.add_argument("--json", action="store_true")
    _add_reproduce_parser(sub)
    _add_sweep_parser(sub)
    from .theory import add_theory_parsers  # theory, probe: predictions before training

    add_theory_parsers(sub)
    from .export import add_export_parsers  # export (TensorBoard, bundle), import
    from .names import add_names_parsers  # rename: a run's own name and note
    from .warm import add_warm_parser  # warm: the Home cards trained ahead

    add_export_parsers(sub)
    add_names_parsers(sub)
    add_warm_parser(sub)
    return parser


def _add_ray_flag(parser) -> None:
    parser.add_argument("--ray", metavar="ADDRESS", default=None,
                        help="train on a Ray cluster: auto, ray://HOST:10001, HOST:PORT, or local "
                        "(a private instance on 127.0.0.1); results are stored here")


def _trainer(args):
    """The trainer for --ray (connected once), or the local one."""
    from ..engine.stacked import train_many

    if not getattr(args, "ray", None):
        return train_many
    from ..runs.ray_executor import RayTrainer, RayUnavailable, check_address, connect

    try:
        address = check_address(args.ray, "--ray")
        return RayTrainer(connect(address))
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    except RayUnavailable as exc:  # not installed, or nothing answers at the address (bounded wait)
        raise CliError(f"--ray: {exc}") from exc


def _add_reproduce_parser(sub) -> None:
    """The `reproduce` subcommand of `python -m core`."""
    p = sub.add_parser("reproduce", help="rerun an experiment of the source documents and "
                       "compare with the published numbers")
    p.add_argument("name", nargs="?", help="preset name (see --list)")
    p.add_argument("--scale", default="quick", help="quick (minutes on a laptop CPU, scaled "
                   "down as stated), standard (the smallest design that decides the document's "
                   "claims, about 15 minutes of a 2-core CPU) or full (the document's settings). "
                   "Default: quick.")
    p.add_argument("--seeds", default=None, help="seeds per configuration (default: the preset's "
                   "for the scale, e.g. 3 at quick and 5 at standard scale)")
    p.add_argument("--all", action="store_true", help="every preset, one after the other, in one report")
    p.add_argument("--list", action="store_true", help="list the presets, one line each")
    p.add_argument("--format", default="text", dest="output_format",
                   help="text (default), markdown (tables for a report) or json")
    _add_ray_flag(p)
    p.add_argument("--stored-only", action="store_true",
                   help="train nothing: show what the store already holds")


def _add_sweep_parser(sub) -> None:
    """The `sweep` subcommand: the Compare page's sweep, several seeds per value."""
    p = sub.add_parser("sweep", help="train one setting over several values, several seeds each, "
                       "and compare them (seed means, 95%% intervals, paired differences)")
    add_config_flags(p)
    p.add_argument("--vary", required=True, help="the setting that changes (a train flag's name, "
                   "e.g. activation, init, lr, widths)")
    p.add_argument("--values", required=True, help="its values, comma-separated (widths: each list "
                   "with dashes, e.g. 64-64,128-128)")
    p.add_argument("--seeds", dest="sweep_seeds", default="3",
                   help="seeds per value (default 3): the --seed flag's seed and the next ones")
    p.add_argument("--baseline", default=None, help="the value the Δ columns compare against "
                   "(default: the first)")
    p.add_argument("--format", default="text", dest="output_format", help="text (default), markdown or json")
    _add_ray_flag(p)
    p.set_defaults(handler=_sweep)


FORMATS = ("text", "markdown", "json")


def _sweep(args) -> int:
    """`python -m core sweep`: train what the store lacks (stacked), print the comparison."""
    import json

    from ..lab.compare import METHODS, comparisons, differences, runs_table, sentence, store_correct, sweep_configs
    from .report import format_table
    from ..runs.jobs import MAX_BATCH_RUNS
    from ..runs.runner import get_or_train
    from ..runs.store import RunStore

    if args.output_format not in FORMATS:
        raise CliError(f"--format: got {args.output_format[:40]!r}; expected one of {', '.join(FORMATS)}")
    groups, problems = sweep_configs(config_from_args(args), args.vary, args.values.split(","),
                                     seeds=args.sweep_seeds)
    if problems:  # "vary: ...", "seeds: ...", "values: ..." or a field's: name the flag
        field = problems[0].split(":", 1)[0]
        flag = {"vary": "--vary", "seeds": "--seeds", "values": "--values"}.get(field, "--values")
        raise CliError(f"{flag}: {problems[0].replace(' (value ', ' (in value ').replace(' skipped)', ')')}")
    configs = [cfg for _, group in groups for cfg in group]
    if not configs:
        raise CliError("--values: no value given")
    if len(configs) > MAX_BATCH_RUNS:
        raise CliError(f"--values: {len(configs)} runs (values x seeds); at most {MAX_BATCH_RUNS}")
    labels = [label for label, _ in groups]
    baseline = labels[0] if args.baseline is None else f"{args.vary}={args.baseline.strip()}"
    if baseline not in labels:
        raise CliError(f"--baseline: got {args.baseline[:40]!r}; expected one of the values")
    store = RunStore()
    bar = _ProgressBar(enabled=args.output_format != "json" or sys.stderr.isatty())
    try:
        results = get_or_train(store, configs, on_event=bar.update, trainer=_trainer(args))
    finally:
        bar.close()
    by_id = {r.run_id: r for r in results}
    rows = {label: [by_id[c.run_id] for c in group] for label, group in groups}
    diffs = differences(rows, baseline, store_correct(store))
    table = runs_table(rows, baseline=baseline, diffs=diffs)
    words = [sentence(c) for c in comparisons(rows, baseline, diffs)]  # the answer in one sentence per row
    if args.output_format == "json":
        print(json.dumps({"vary": args.vary, "baseline": baseline, "method": METHODS, "sentences": words,
                          "rows": json.loads(table.to_json(orient="records"))}))
    else:
        print("\n".join(words) + "\n")
        print(format_table(table, args.output_format))
        print(f"\nΔ: against {baseline}. {METHODS}." if any(len(g) > 1 for _, g in groups)
              else f"\nΔ: against {baseline}. One seed per value: no intervals (one seed is an anecdote).")
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return _dispatch(args)
    except (CliError, ConfigError) as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # known runtime problems (dataset, device, store) are one line too
        from ..engine.data import DatasetUnavailable
        from ..runs.store import StoreError

        if isinstance(exc, (DatasetUnavailable, StoreError, RuntimeError)):
            print(f"error: {_one_line(exc)}", file=sys.stderr)
            return 2
        raise


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def _dispatch(args) -> int:
    if getattr(args, "handler", None):  # subcommands that bring their own (core.cli.theory)
        return args.handler(args)
    if args.command == "train":
        return _train(args)
    if args.command in ("show", "delete"):
        checked_id(args.run_id)
    from ..runs.store import RunStore  # torch: seconds to import, after the flags were checked

    if args.command == "list":
        runs = RunStore().list_runs()
        if args.json:
            print(runs.to_json(orient="records"))
        elif runs.empty:
            print("no stored runs")
        else:
            cols = ["run_id", "name", "status", "label", "epochs", "test_acc", "grad_ratio", "seconds"]
            print(runs[cols].to_string(index=False))
        return 0
    if args.command == "show":
        result = RunStore().load(checked_id(args.run_id))
        if result is None:
            raise CliError(f"run_id: no stored run {args.run_id}")
        _print_result(result, as_json=args.json)
        return 0
    if args.command == "delete":
        if not RunStore().delete(checked_id(args.run_id)):
            raise CliError(f"run_id: no stored run {args.run_id}")
        print(f"deleted {args.run_id}")
        return 0
    if args.command == "reproduce":
        return _reproduce(args)
    raise CliError(f"unknown command {args.command}")


def _train(args) -> int:
    if getattr(args, "data_file", None):
        args.dataset = _ingest_data_file(args.data_file, args.label_column)
    cfg = config_from_args(args)  # a bad flag is an error at once, before torch is imported
    from ..runs.runner import get_or_train
    from ..runs.store import RunStore

    store = RunStore()
    if args.retrain:
        store.delete(cfg.run_id)
    trainer = _trainer(args)
    bar = _ProgressBar(enabled=not args.json or sys.stderr.isatty())
    try:
        [result] = get_or_train(store, [cfg], on_event=bar.update, trainer=trainer)
    finally:
        bar.close()
    _print_result(result, as_json=args.json)
    return 0


def _ingest_data_file(path: str, label_column: str | None) -> str:
    """--data-file: validate and store the file; its dataset name (bad files: one-line error)."""
    from ..engine.userdata import MAX_BYTES, UploadError, ingest

    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise CliError(f"--data-file: cannot read {path}: {exc.strerror or exc}") from exc
    try:
        return ingest(raw, path, label_column)
    except UploadError as exc:
        raise CliError(f"--data-file: {exc}") from exc


def _reproduce(args) -> int:
    """Run `python -m core reproduce ...` (bad input raises ConfigError / CliError: exit 2)."""
    from ..lab.presets import PRESETS, check_scale, check_seeds, get_preset
    from .report import render, render_all
    from ..runs.store import RunStore

    if args.list:
        width = max(len(n) for n in PRESETS)
        for name, p in PRESETS.items():
            print(f"{name.ljust(width)}  {p.short}: {p.description}")
        return 0
    if args.output_format not in FORMATS:
        raise CliError(f"--format: got {args.output_format[:40]!r}; expected one of {', '.join(FORMATS)}")
    if not args.name and not args.all:
        raise CliError(f"preset: name a preset ({', '.join(PRESETS)}), or use --all or --list")
    if args.name and args.all:
        raise CliError("preset: name one preset or use --all, not both")
    scale = check_scale(args.scale)
    seeds = check_seeds(args.seeds) if args.seeds is not None else None
    store = RunStore()
    presets = list(PRESETS.values()) if args.all else [get_preset(args.name)]
    reps = [_reproduce_one(args, preset, scale, seeds, store) for preset in presets]
    if args.all:
        command = "python -m core reproduce --all --scale " + scale + (f" --seeds {seeds}" if seeds else "")
        print(render_all(reps, args.output_format, command + (" --stored-only" if args.stored_only else "")
                         + f" --format {args.output_format}"))
    else:
        print(render(reps[0], args.output_format))
    return 0


def _reproduce_one(args, preset, scale, seeds, store):
    """Train what the store lacks of one preset (progress on stderr) and return its Reproduction."""
    from ..base.cost import duration
    from ..lab.presets import resolve
    from ..lab.reproduce import plan, run_preset

    cells = resolve(preset, scale, allow_download=not args.stored_only, seeds=seeds)
    pl = plan(cells, store)
    show_bars = args.output_format != "json" or sys.stderr.isatty()
    if not args.stored_only and pl.missing:
        print(f"{preset.name} ({scale}): {len(pl.stored)} of {len(pl.missing) + len(pl.stored)} "
              f"runs stored; training {len(pl.missing)} (about {duration(pl.seconds_left)})",
              file=sys.stderr)
    runs_bar, step_bar = _RunsBar(len(pl.missing), show_bars), None

    def on_run(i, n, cell):
        nonlocal step_bar
        if step_bar is not None:
            step_bar.close()
        runs_bar.next(cell)
        step_bar = _ProgressBar(enabled=show_bars)

    def on_event(event):
        if step_bar is not None:
            step_bar.update(event)

    try:
        rep = run_preset(preset, scale, store, cells=cells, on_run=on_run, on_event=on_event,
                         train_missing=not args.stored_only,
                         trainer=None if args.stored_only else _trainer(args))
    finally:
        if step_bar is not None:
            step_bar.close()
        runs_bar.close()
    return rep


class _RunsBar:
    """tqdm over the runs of a reproduction (stderr); each run gets its own step bar below."""

    def __init__(self, total: int, enabled: bool):
        self.bar = None
        if enabled and total:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="run", file=sys.stderr, desc="runs", position=0)
        self.started = 0

    def next(self, cell) -> None:
        if self.bar is None:
            return
        if self.started:
            self.bar.update(1)
        self.started += 1
        self.bar.set_postfix_str(cell.label[:60])

    def close(self) -> None:
        if self.bar is not None:
            if self.started:
                self.bar.update(1)
            self.bar.close()


class _ProgressBar:
    """tqdm over training steps, fed by the trainer's events (stderr, so --json stays clean)."""

    def __init__(self, enabled: bool):
        self.enabled, self.bar = enabled, None

    def update(self, event: dict) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if event["kind"] == "start":
            self.bar = tqdm(total=event["total_steps"], unit="step", file=sys.stderr,
                            desc=f"training on {event['device']}", leave=False)
        elif event["kind"] == "log" and self.bar is not None:
            self.bar.n = event["step"] + 1
            self.bar.refresh()
        elif event["kind"] == "epoch" and self.bar is not None:
            self.bar.set_postfix(epoch=f"{event['epoch']}/{event['epochs']}",
                                 loss=f"{event['train_loss']:.4g}", test_acc=f"{event['test_acc']:.3f}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
