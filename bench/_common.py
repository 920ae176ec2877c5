"""What every benchmark shares: the machine description, clocks that wait for the GPU,
interleaved repetitions, and printing a table with its ratios.

The machines these run on are shared and noisy, so a benchmark never compares numbers taken at
different times: the variants run in one process, interleaved (A, B, C, A, B, C, ...), and the
medians and their ratios are reported. The load average before and after is printed too.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `python bench/x.py` from a fresh clone finds `core`

import torch  # noqa: E402

OUT = ROOT / "bench" / "out"


def pick_device() -> torch.device:
    """cuda when present, else the CPU (the benchmarks compare like with like on one device)."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def sync(device: torch.device) -> None:
    """Wait for queued GPU work, so a clock read after it measures the work."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(device: torch.device) -> dict:
    info = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "device": str(device),
        "load_average": [round(v, 2) for v in os.getloadavg()],
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def print_machine(info: dict) -> None:
    gpu = f", GPU {info['gpu']}" if "gpu" in info else ""
    print(f"machine: {info['cpu']}, {info['cores']} cores, torch {info['torch']} "
          f"({info['torch_threads']} threads), Python {info['python']}, device {info['device']}{gpu}")
    print(f"load average at start: {info['load_average']} (other processes share these cores)")


def start(doc: str, argv=None, reps: int | None = 3, extra=None):
    """The benchmark's command line and machine: parses --reps (when `reps` is a default, not
    None) and whatever `extra(parser)` adds, picks the device and prints the machine.
    Returns (args, device, machine info)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    if reps is not None:
        parser.add_argument("--reps", type=int, default=reps, help=f"repetitions (default {reps})")
    if extra is not None:
        extra(parser)
    args = parser.parse_args(argv)
    device = pick_device()
    info = machine(device)
    print_machine(info)
    return args, device, info


def timed(fn: Callable[[], object], device: torch.device) -> float:
    """Seconds fn takes, GPU work included."""
    sync(device)
    t0 = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t0


def interleaved(cases: dict[str, Callable[[], object]], reps: int, device: torch.device,
                warmup: bool | list[str] = True) -> dict[str, list[float]]:
    """Run every case `reps` times, round-robin; returns the seconds of each run per case.
    `warmup`: run every case (True), none (False) or the named ones once first, untimed."""
    for name, fn in cases.items():
        if warmup is True or (warmup and name in warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in cases}
    for rep in range(reps):
        for name, fn in cases.items():
            times[name].append(timed(fn, device))
        summary = ", ".join(f"{n} {t[-1]:.3g} s" for n, t in times.items())
        print(f"  rep {rep + 1}/{reps}: {summary}", flush=True)
    return times


def median(values: list[float]) -> float:
    return statistics.median(values)


def markdown_table(headers: list[str], rows: list[list]) -> str:
    def cell(v):
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def save(name: str, payload: dict) -> Path:
    """Keep the raw numbers (bench/out/<name>.json, not committed) next to the printed table."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.json"
    payload = {**payload, "load_average_at_end": [round(v, 2) for v in os.getloadavg()]}
    path.write_text(json.dumps(payload, indent=1, default=str))
    print(f"load average at end: {payload['load_average_at_end']}; raw numbers in {path.relative_to(ROOT)}")
    return path
