"""What the subcommand modules of `python -m core` share (core.cli, core.cli.theory,
core.cli.export): the one-line error, the parser that raises it, and the train flags
generated from RunConfig's fields. It imports no subcommand module, so none of them import
each other in a cycle."""
from __future__ import annotations

import argparse
import dataclasses

from ..base.config import RunConfig, config_fields


class CliError(Exception):
    """Bad input: printed as one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse would print usage and a traceback-free error; keep one line
        raise CliError(message)


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    for f in config_fields():
        meta = f.metadata
        flags = list(meta["cli"]) or [f"--{f.name.replace('_', '-')}"]
        long_flag = f"--{f.name.replace('_', '-')}"
        if long_flag not in flags:
            flags.append(long_flag)
        if "_" in f.name:
            flags.append(f"--{f.name}")  # Agarap (2019) spelled it --batch_size
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


def config_from_args(args: argparse.Namespace) -> RunConfig:
    values = {f.name: getattr(args, f.name) for f in config_fields() if getattr(args, f.name, None) is not None}
    return RunConfig.from_dict(values)


def print_findings(findings) -> None:
    """The diagnosis in the text output: one line per finding, its kind in brackets."""
    print("diagnosis:")
    for f in findings:
        print(f"  {f.severity} [{f.kind}] {f.text}")


def checked_id(run_id: str) -> str:
    """The run id given on the command line, or CliError naming it (no torch: at once)."""
    from ..runs.files import StoreError, check_run_id

    try:
        return check_run_id(run_id)
    except StoreError as exc:
        raise CliError(f"run_id: {exc}") from exc
