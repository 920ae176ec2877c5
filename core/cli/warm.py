"""Command line: `python -m core warm` (every Home card and the cheapest preset, trained ahead).

    python -m core warm            # trains what the store lacks, one line per run
    python -m core warm --dry-run  # lists the plan and what is stored, trains nothing

What it trains is core.lab.warm.warm_plan(): the Home page's ready-made experiments, then the
preset whose quick scale costs the least. A server with an empty store does the same by itself
in the background (VG_WARM=0 turns that off; README).
"""
from __future__ import annotations

import sys


def add_warm_parser(sub) -> None:
    """The `warm` subcommand (registered by core.cli.main.build_parser)."""
    p = sub.add_parser("warm", help="train every Home card and the cheapest preset into the store")
    p.add_argument("--dry-run", action="store_true", help="list what would be trained; train nothing")
    p.set_defaults(handler=_warm)


def _warm(args) -> int:
    from ..lab.warm import warm, warm_plan
    from ..runs.store import RunStore

    store = RunStore()
    plan = warm_plan()
    if args.dry_run:
        for label, cfg in plan:
            print(f"{'stored ' if store.has(cfg.run_id) else 'missing'}  {cfg.run_id}  {label}")
        return 0
    report = warm(store, say=lambda line: print(line, file=sys.stderr, flush=True), plan=plan)
    print(f"warm: {report['trained']} runs trained in {report['seconds']:.0f} s; "
          f"{report['stored']} were stored already")
    return 0
