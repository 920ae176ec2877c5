"""Command line: `python -m core train|list|show|delete`.

    python -m core train -a logistic -n 512 512 256 256 128 --json
    python -m core train --activation relu --init he_normal --bn before -e 3
    python -m core list
    python -m core show 8fbd7460b4e114e3

The train flags are generated from RunConfig's fields (one flag per field, plus the short
flags of 000_*: -b -e -a -n). Bad input exits with status 2 and one line naming the problem.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys

from .config import ConfigError, RunConfig, config_fields


class CliError(Exception):
    """Bad input: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse would print usage and a traceback-free error; keep one line
        raise CliError(message)


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    for f in config_fields():
        meta = f.metadata
        flags = list(meta["cli"]) or [f"--{f.name.replace('_', '-')}"]
        long_flag = f"--{f.name.replace('_', '-')}"
        if long_flag not in flags:
            flags.append(long_flag)
        if "_" in f.name:
            flags.append(f"--{f.name}")  # 000_* spelled it --batch_size
        default = None if isinstance(f.default, type(dataclasses.MISSING)) else f.default
        kwargs = dict(dest=f.name, default=None, help=meta["help"])
        if isinstance(f.default, bool):
            parser.add_argument(*flags, action=argparse.BooleanOptionalAction, **kwargs)
            continue
        if meta["choices"]:
            kwargs["metavar"] = "{" + ",".join(meta["choices"]) + "}"
        if f.name == "widths":
            kwargs["nargs"] = "+"
            kwargs["metavar"] = "N"
        elif default is not None:
            kwargs["help"] += f" Default: {default}."
        parser.add_argument(*flags, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m core", description="Vanishing and exploding gradients: "
                     "train instrumented networks and keep their results.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p_train = sub.add_parser("train", help="train a configuration (or open it from the store)")
    _add_config_flags(p_train)
    p_train.add_argument("--json", action="store_true", help="print one JSON object to stdout")
    p_train.add_argument("--retrain", action="store_true", help="train again even if stored")
    sub.add_parser("list", help="list stored runs").add_argument("--json", action="store_true")
    for name, text in (("show", "summarize a stored run"), ("delete", "delete a stored run")):
        p = sub.add_parser(name, help=text)
        p.add_argument("run_id")
        if name == "show":
            p.add_argument("--json", action="store_true")
    from .lab.reproduce import add_reproduce_parser
    add_reproduce_parser(sub)
    return parser


def config_from_args(args: argparse.Namespace) -> RunConfig:
    values = {f.name: getattr(args, f.name) for f in config_fields() if getattr(args, f.name, None) is not None}
    return RunConfig.from_dict(values)


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
        from .engine.data import DatasetUnavailable
        from .runs.store import StoreError

        if isinstance(exc, (DatasetUnavailable, StoreError, RuntimeError)):
            print(f"error: {_one_line(exc)}", file=sys.stderr)
            return 2
        raise


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def _dispatch(args) -> int:
    from .runs.store import RunStore

    if args.command == "train":
        return _train(args, RunStore())
    if args.command == "list":
        runs = RunStore().list_runs()
        if args.json:
            print(runs.to_json(orient="records"))
        elif runs.empty:
            print("no stored runs")
        else:
            cols = ["run_id", "status", "label", "epochs", "test_acc", "grad_ratio", "seconds"]
            print(runs[cols].to_string(index=False))
        return 0
    if args.command == "show":
        result = RunStore().load(_checked_id(args.run_id))
        if result is None:
            raise CliError(f"run_id: no stored run {args.run_id}")
        _print_result(result, as_json=args.json)
        return 0
    if args.command == "delete":
        if not RunStore().delete(_checked_id(args.run_id)):
            raise CliError(f"run_id: no stored run {args.run_id}")
        print(f"deleted {args.run_id}")
        return 0
    if args.command == "reproduce":
        from .lab.reproduce import reproduce_command
        return reproduce_command(args)
    raise CliError(f"unknown command {args.command}")


def _checked_id(run_id: str) -> str:
    from .runs.store import StoreError, check_run_id

    try:
        return check_run_id(run_id)
    except StoreError as exc:
        raise CliError(str(exc)) from exc


def _train(args, store) -> int:
    from .runs.runner import get_or_train

    cfg = config_from_args(args)
    if args.retrain:
        store.delete(cfg.run_id)
    bar = _ProgressBar(enabled=not args.json or sys.stderr.isatty())
    try:
        [result] = get_or_train(store, [cfg], on_event=bar.update)
    finally:
        bar.close()
    _print_result(result, as_json=args.json)
    return 0


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


def _print_result(result, as_json: bool) -> None:
    summary = result.summary()
    if as_json:
        print(json.dumps(summary, allow_nan=False))
        return
    cfg = result.config
    print(f"run {summary['run_id']}  {cfg.describe()}")
    where = "from the store" if summary["cached"] else f"trained on {summary['device']}"
    print(f"status: {summary['status']}  ({where}, {summary['seconds']:.1f} s, "
          f"{summary['params']:,} parameters)")
    if result.meta.get("diverged_reason"):
        print(f"diverged: {result.meta['diverged_reason']}")
    if not result.epochs.empty:
        cols = ["epoch", "train_loss", "train_acc", "val_acc", "test_loss", "test_acc", "seconds"]
        print(result.epochs[cols].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    flow = summary["grad_flow"]
    print("mean |gradient| per layer (input -> output):")
    for name, a, b in zip(flow["layers"], flow["init"], flow["final"]):
        print(f"  {name:>12}  init {_fmt(a)}   final {_fmt(b)}")


def _fmt(v) -> str:
    return "     n/a" if v is None or not math.isfinite(v) else f"{v:.2e}"
