"""The same job from fresh servers: does each give the same estimate?

    python bench/fresh_estimates.py                 # 4 fresh processes, each with its own empty store
    python bench/fresh_estimates.py --servers 6 --spin 1
    python bench/fresh_estimates.py --train         # then the last one trains the job: estimate / measured

Each "server" is a new Python process with a new, empty run store (VG_CACHE_DIR), as a fresh
clone's `streamlit run app.py` on this machine would be: it opens the Reproduce page through
Streamlit's AppTest (app.py, then the page's default: the first preset at quick scale) and
reads the estimate the page shows for its missing runs, then computes the same estimate in
seconds (core.runs.calibration and core.runs.load.Busy, what pages.services.time_estimate
does). Every process measures the machine's rates itself (its store is empty), so the spread
between them is the worst case: servers that share a store read one kept measurement.
`--spin N` starts N processes spinning on a core beside every second server (a machine that
other work keeps busy at some moments and not at others).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from _common import ROOT

CHILD = r"""
import json, os, sys, time
sys.path.insert(0, {root!r})
t0 = time.perf_counter()
from streamlit.testing.v1 import AppTest
at = AppTest.from_file({app!r}, default_timeout=300)
at.run()
at.switch_page("pages/reproduce.py")
at.run()
shown = [e.value for e in at.info if "takes about" in e.value]
from core.lab.presets import PRESETS, resolve
from core.runs import calibration
from core.runs.load import Busy
from core.runs.store import RunStore
preset = next(iter(PRESETS.values()))
configs = [c.config for c in resolve(preset, "quick")]  # its seeds too, as the page lists them
store = RunStore(os.environ["VG_CACHE_DIR"])
rates = calibration.calibrate(store, "cpu").rates
busy = Busy.now()
print(json.dumps({{"preset": preset.name, "runs": len(configs), "quiet_s": calibration.estimated_seconds(configs, rates),
                  "busy": busy.factor, "shown": shown[0] if shown else None,
                  "exceptions": [str(e.value) for e in at.exception], "wall_s": time.perf_counter() - t0}}), flush=True)
if {train}:  # then train the job here, as the page's button would (stacked), and time it
    from core.runs.runner import get_or_train
    t1 = time.perf_counter()
    get_or_train(store, configs)
    print(json.dumps({{"trained_s": time.perf_counter() - t1}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=4)
    parser.add_argument("--spin", type=int, default=0, help="spinning processes beside every second server")
    parser.add_argument("--train", action="store_true", help="then train the job in the last server's store and "
                                                             "compare its time with that server's estimate")
    args = parser.parse_args()
    print(f"load before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    rows = []
    for k in range(args.servers):
        spin = args.spin if k % 2 else 0
        spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(spin)]
        try:
            time.sleep(1.0 if spin else 0.0)
            env = {**os.environ, "VG_CACHE_DIR": tempfile.mkdtemp(prefix="vg-fresh-"), "VG_WARM": "0"}
            train = args.train and k == args.servers - 1
            code = CHILD.format(root=str(ROOT), app=str(ROOT / "app.py"), train=train)
            out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=1800)
        finally:
            for p in spinners:
                p.kill()
                p.wait()
        lines = [json.loads(ln) for ln in out.stdout.splitlines() if ln.startswith("{")]
        line = lines[0] if lines else None
        if line is None:
            print(out.stdout[-2000:], out.stderr[-2000:])
            raise SystemExit(f"server {k + 1} gave no estimate")
        row = {**line, **(lines[1] if len(lines) > 1 else {}), "spinning": spin}
        rows.append(row)
        said = (row["shown"] or "").split("): ")[-1]
        print(f"server {k + 1} ({spin} spinning beside it): {row['preset']} quick, {row['runs']} runs: "
              f"{row['quiet_s']:.0f} s on a quiet machine, load factor x{row['busy']:.2f}; "
              f"the page: {said!r}; {row['wall_s']:.0f} s to open", flush=True)
        assert not row["exceptions"], row["exceptions"]
    quiet = [r["quiet_s"] for r in rows]
    shown = [r["quiet_s"] * r["busy"] for r in rows]
    print(f"\nthe job on a quiet machine: {min(quiet):.0f} to {max(quiet):.0f} s, largest ratio between two "
          f"servers {max(quiet) / min(quiet):.2f}")
    print(f"with the load factor of the moment: {min(shown):.0f} to {max(shown):.0f} s, ratio "
          f"{max(shown) / min(shown):.2f}")
    if "trained_s" in rows[-1]:
        last = rows[-1]
        print(f"trained by the last server in {last['trained_s']:.0f} s; its estimate "
              f"{last['quiet_s'] * last['busy']:.0f} s is {last['quiet_s'] * last['busy'] / last['trained_s']:.2f} of that")
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
