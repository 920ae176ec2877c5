"""Command line: `python -m core rename` (a stored run's own name and note) and what `show`
prints of a run.

    python -m core rename 8fbd7460b4e114e3 --name "he vs glorot" --note "for Monday's class"
    python -m core rename 8fbd7460b4e114e3 --note ""        # clears the note, keeps the name

The name (at most 80 characters) and the note (at most 500) are one printable line each,
stored in the run's metadata (core.runs.names); `list` shows the name, `show` both, and a
bundle carries them. Bad input: one line on stderr naming the flag, exit status 2.
"""
from __future__ import annotations

import json
import math

from .common import CliError, checked_id, print_findings


def add_names_parsers(sub) -> None:
    """The `rename` subcommand (registered by core.cli.main.build_parser)."""
    p = sub.add_parser("rename", help="give a stored run a name and a note of your own")
    p.add_argument("run_id", help="the stored run (see `python -m core list`)")
    p.add_argument("--name", default=None, help='at most 80 characters, one line ("" clears it)')
    p.add_argument("--note", default=None, help='at most 500 characters, one line ("" clears it)')
    p.set_defaults(handler=_rename)


def _rename(args) -> int:
    from ..runs.files import StoreError, check_name_note

    if args.name is None and args.note is None:
        raise CliError("rename: say what to set: --name TEXT and/or --note TEXT")
    checked_id(args.run_id)
    try:
        check_name_note(args.name, args.note)
    except StoreError as exc:  # "name: ..." or "note: ..."
        raise CliError(f"--{exc}") from exc
    from ..runs.names import set_name  # torch: seconds, after the flags were checked
    from ..runs.store import RunStore

    store = RunStore()
    if not store.has(args.run_id):
        raise CliError(f"run_id: no stored run {args.run_id} (see `python -m core list`)")
    meta = set_name(store, args.run_id, args.name, args.note)
    print(f"run {args.run_id}: name {meta.get('name', '(none)')!s}; note {meta.get('note', '(none)')!s}")
    return 0


def print_result(result, as_json: bool) -> None:
    """A run as `python -m core train` and `show` print it: its name and note, settings, status,
    epochs, gradient flow and diagnosis (or one JSON object)."""
    summary = result.summary()
    for key in ("name", "note"):
        if result.meta.get(key):
            summary[key] = result.meta[key]
    # A run trained now that could not be saved says so (cancelled runs are never stored).
    summary["stored"] = result.cached or (result.status in ("completed", "diverged")
                                          and "store_error" not in result.meta)
    if result.meta.get("store_error"):
        summary["store_error"] = result.meta["store_error"]
    from ..lab.diagnosis import diagnose  # the findings the app shows beside the run
    findings = diagnose(result)
    summary["diagnosis"] = [f.to_dict() for f in findings]
    if as_json:
        print(json.dumps(summary, allow_nan=False))
        return
    cfg = result.config
    print(f"run {summary['run_id']}  {cfg.describe()}")
    for key in ("name", "note"):
        if summary.get(key):
            print(f"{key}: {summary[key]}")
    where = "from the store" if summary["cached"] else f"trained on {summary['device']}"
    print(f"status: {summary['status']}  ({where}, {summary['seconds']:.1f} s, "
          f"{summary['params']:,} parameters)")
    for key, what in (("diverged_reason", "diverged"), ("store_error", "not stored")):
        if result.meta.get(key):
            print(f"{what}: {result.meta[key]}")
    if not result.epochs.empty:
        cols = ["epoch", "train_loss", "train_acc", "val_acc", "test_loss", "test_acc", "seconds"]
        print(result.epochs[cols].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    flow = summary["grad_flow"]
    print("mean |gradient| per layer (input -> output):")
    for name, a, b in zip(flow["layers"], flow["init"], flow["final"]):
        print(f"  {name:>12}  init {_fmt(a)}   final {_fmt(b)}")
    print_findings(findings)


def _fmt(v) -> str:
    return "     n/a" if v is None or not math.isfinite(v) else f"{v:.2e}"
