"""Command line: `python -m core export` and `python -m core import` (runs that travel).

    python -m core export 8fbd7460b4e114e3 --tensorboard tb/relu-he   # then: tensorboard --logdir tb
    python -m core export 8fbd7460b4e114e3 --bundle relu-he.zip        # one .zip, checksums inside
    python -m core import relu-he.zip                                  # another store opens it

export writes a stored run as TensorBoard event files (core.runs.export) and/or as a bundle
(core.runs.bundle); import checks a bundle as the store checks its own runs and stores it.
Nothing is overwritten: a bundle file that exists, or a TensorBoard folder that already holds
event files, is refused (--force replaces the bundle file), and so is a bundle of a run stored
here already (import --replace replaces it; the report says "replaced"). Bad input: one line on stderr
naming the argument, exit status 2 (core.cli.main).
"""
from __future__ import annotations

from pathlib import Path

from .common import CliError, checked_id


def add_export_parsers(sub) -> None:
    """The `export` and `import` subcommands (registered by core.cli.build_parser)."""
    p = sub.add_parser("export", help="write a stored run as TensorBoard event files or as a bundle (.zip)")
    p.add_argument("run_id", help="the stored run (see `python -m core list`)")
    p.add_argument("--tensorboard", metavar="DIR", default=None,
                   help="write TensorBoard event files into DIR (created; must not hold event files yet)")
    p.add_argument("--bundle", metavar="FILE.zip", default=None,
                   help="write the run's files and manifest as one .zip that `python -m core import` reads")
    p.add_argument("--force", action="store_true", help="replace an existing bundle file")
    p.set_defaults(handler=_export)
    p = sub.add_parser("import", help="store the run of a bundle written by `python -m core export --bundle`")
    p.add_argument("file", metavar="FILE.zip", help="the bundle")
    p.add_argument("--replace", action="store_true",
                   help="replace the run if it is stored here already (refused otherwise)")
    p.set_defaults(handler=_import)


def _stored(store, run_id: str):
    result = store.load(run_id)
    if result is None:
        raise CliError(f"run_id: no stored run {run_id} (see `python -m core list`)")
    return result


def _tensorboard_dir(text: str) -> Path:
    d = Path(text)
    if d.exists() and not d.is_dir():
        raise CliError(f"--tensorboard: {text} exists and is not a folder")
    if d.is_dir() and any(d.glob("events.out.tfevents.*")):
        raise CliError(f"--tensorboard: {text} already holds TensorBoard event files; "
                       "choose a new folder (one per run)")
    return d


def _bundle_file(text: str, force: bool) -> Path:
    f = Path(text)
    if f.is_dir():
        raise CliError(f"--bundle: {text} is a folder; expected a file name such as run.zip")
    if f.exists() and not force:
        raise CliError(f"--bundle: {text} exists; not overwritten (--force replaces it)")
    if not f.parent.is_dir():
        why = "is not a folder" if f.parent.exists() else "does not exist"
        raise CliError(f"--bundle: cannot create {text}: {str(f.parent)!r} {why}")
    return f


def _os_error(exc: OSError) -> str:
    """The OS's words for an error, with its name: 'No space left on device, ENOSPC'."""
    import errno

    name = errno.errorcode.get(exc.errno or 0)
    return f"{exc.strerror}, {name}" if exc.strerror and name else " ".join(str(exc).split())


def _export(args) -> int:
    if args.tensorboard is None and args.bundle is None:
        raise CliError("export: say where to: --tensorboard DIR and/or --bundle FILE.zip")
    tb = _tensorboard_dir(args.tensorboard) if args.tensorboard is not None else None
    zf = _bundle_file(args.bundle, args.force) if args.bundle is not None else None
    checked_id(args.run_id)
    from ..runs.bundle import BundleError, export_bundle  # torch: seconds, after the flags were checked
    from ..runs.export import export_tensorboard
    from ..runs.store import RunStore

    store = RunStore()
    result = _stored(store, args.run_id)
    if tb is not None:
        try:
            path = export_tensorboard(result, tb)
        except OSError as exc:
            raise CliError(f"--tensorboard: cannot write to {args.tensorboard} ({_os_error(exc)})") from exc
        print(f"TensorBoard events: {path} (tensorboard --logdir {tb})")
    if zf is not None:
        try:
            export_bundle(store, args.run_id, zf)  # whole or not at all: FILE.zip is always a whole bundle
        except BundleError as exc:
            raise CliError(f"run_id: {exc}") from exc
        except OSError as exc:
            raise CliError(f"--bundle: cannot write {args.bundle} ({_os_error(exc)})") from exc
        print(f"bundle: {zf} ({zf.stat().st_size:,} bytes)")
    return 0


def _import(args) -> int:
    from ..runs.bundle import AlreadyStored, BundleError, import_bundle
    from ..runs.store import RunStore

    f = Path(args.file)
    if not f.is_file():
        raise CliError(f"FILE.zip: {args.file} is not a file" if f.exists() else f"FILE.zip: no file {args.file}")
    store = RunStore()
    replaced = False
    try:
        with open(f, "rb") as fh:
            try:
                run_id = import_bundle(store, fh)
            except AlreadyStored:
                if not args.replace:
                    raise
                fh.seek(0)
                run_id, replaced = import_bundle(store, fh, replace=True), True
    except AlreadyStored as exc:
        raise CliError(f"FILE.zip: {args.file}: {exc} (--replace replaces it)") from exc
    except BundleError as exc:
        raise CliError(f"FILE.zip: {args.file}: {exc}") from exc
    except OSError as exc:
        raise CliError(f"FILE.zip: cannot read {args.file} ({exc.strerror or exc})") from exc
    result = store.load(run_id)
    print(f"{'replaced stored' if replaced else 'imported'} run {run_id}: {result.config.describe()} ({result.status})")
    return 0
