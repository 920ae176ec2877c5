"""How much the other work on the machine stretches a training run now: `Busy.now(spans)`.

    busy = Busy.now([(job.started_at, job.finished_at) for job in jobs])  # our workers' spans
    seconds = quiet_seconds * busy.factor          # >= 1; busy.note() says why, for a caption

What it promises:
- it reads the last few seconds, not the last minute. The 1-minute load average it used before
  still held a burst a minute after it ended: a fresh clone's estimates were 2.4x too high
  (median over bench/estimates.py's 24 cases) just after a test run, on a machine gone quiet.
- it counts the others, not us: the CPU time of this process (a server drawing its pages, a
  command training in-process) and the threads of our own workers while their spans ran are
  taken off what the machine was busy with.
- it is cheap: one daemon thread per process reads /proc/stat every SAMPLE_S (a few tens of
  microseconds); the first call in a process waits FIRST_WINDOW_S for a window of its own.

Where the cores were not all busy, the busy cores measure the demand exactly. Where they were
saturated, the busy share cannot say by how much: the runnable threads (/proc/stat's
`procs_running`, the reading thread itself taken off) averaged over the window say it. Without
/proc/stat (not Linux) it falls back to the 1-minute load average.
"""
from __future__ import annotations

import os
import threading
import time
from collections import deque
from dataclasses import dataclass

import torch

MAX_BUSY = 8.0  # the load factor is held below this (a stalled machine is not a forecast)
WINDOW_S = 10.0  # the recent past the factor reads
SAMPLE_S = 0.5  # between two readings of the sampling thread
FIRST_WINDOW_S = 0.3  # the first call in a process waits this long for a window of its own
SATURATED = 0.9  # busy share of the cores above which the runnable threads are counted instead


@dataclass(frozen=True)
class Reading:
    """One look at /proc/stat (and this process's clock) at `at` (time.monotonic())."""

    at: float
    busy: float  # jiffies all cores spent busy since boot (user, nice, system, irq, softirq, steal)
    total: float  # jiffies all cores spent at all since boot
    running: int  # runnable threads now, the reader included
    own_cpu: float  # this process's CPU seconds (time.process_time(): all its threads)
    wall: float  # time.time() at the reading, to place our workers' spans


def read_stat(path: str = "/proc/stat") -> Reading | None:
    """A Reading now, or None where /proc/stat cannot be read."""
    try:
        with open(path, encoding="ascii") as f:
            text = f.read()
    except OSError:
        return None
    busy = total = None
    running = 1
    for line in text.splitlines():
        parts = line.split()
        if parts and parts[0] == "cpu":
            ticks = [float(v) for v in parts[1:]]
            total = sum(ticks[:8])  # guest time is already inside user and nice
            busy = total - ticks[3] - (ticks[4] if len(ticks) > 4 else 0.0)  # less idle and iowait
        elif parts and parts[0] == "procs_running":
            running = int(parts[1])
    if busy is None:
        return None
    return Reading(time.monotonic(), busy, total, running, time.process_time(), time.time())


def others_in(first: Reading, last: Reading, samples: list[Reading], cores: int, threads: int,
              spans: list[tuple[float, float | None]]) -> float:
    """Threads of other programs kept busy on average between `first` and `last` (`samples`:
    the readings between them, both ends included): the machine's demand less this process's
    CPU time and `threads` per worker of ours while one of `spans` ran."""
    elapsed = last.at - first.at
    if elapsed <= 0 or last.total <= first.total:
        return 0.0
    share = (last.busy - first.busy) / (last.total - first.total)  # of all the cores
    demand = share * cores
    if share >= SATURATED:  # how far beyond the cores: the runnable threads, less the reader
        demand = max(demand, sum(r.running - 1 for r in samples) / len(samples))
    ours = (last.own_cpu - first.own_cpu) / elapsed + threads * covered(spans, last.wall - elapsed, last.wall)
    return max(0.0, demand - ours)


def covered(spans: list[tuple[float, float | None]], start: float, end: float) -> float:
    """The share of [start, end] (time.time()) that one of `spans` ((start, end or None: still
    running)) covers; overlapping spans count once."""
    if end <= start:
        return 0.0
    merged: list[list[float]] = []
    for a, b in sorted((max(s, start), min(end if e is None else e, end)) for s, e in spans if s is not None):
        if b <= a:
            continue
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return sum(b - a for a, b in merged) / (end - start)


def busy_while(first: Reading | None, last: Reading | None) -> float | None:
    """The factor the others' load stretched this process's work between two readings by (a
    stored run keeps it: the calibration reads its time as it would have been alone); None
    without them."""
    if first is None or last is None:
        return None
    cores, threads = os.cpu_count() or 1, torch.get_num_threads()
    return Busy.of(others_in(first, last, [first, last], cores, threads, []), cores, threads).factor


class _Sampler:
    """The readings of the last WINDOW_S, kept by one daemon thread per process."""

    def __init__(self) -> None:
        self.readings: deque[Reading] = deque(maxlen=int(2 * WINDOW_S / SAMPLE_S) + 4)
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def window(self) -> list[Reading]:
        """The readings of the last WINDOW_S, oldest first, ending with one taken now (the first
        call in a process waits FIRST_WINDOW_S, reading a few times); [] without /proc/stat."""
        now = read_stat()
        if now is None:
            return []
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="vg-load-sampler", daemon=True)
                self.thread.start()
            recent = [r for r in self.readings if now.at - r.at <= WINDOW_S]
        if recent:
            return [*recent, now]
        window = [now]  # nothing kept yet: a short window of our own
        for _ in range(5):
            time.sleep(FIRST_WINDOW_S / 5)
            if (r := read_stat()) is not None:
                window.append(r)
        return window

    def _run(self) -> None:
        while True:
            reading = read_stat()
            if reading is not None:
                with self.lock:
                    self.readings.append(reading)
            time.sleep(SAMPLE_S)


_SAMPLER = _Sampler()


@dataclass(frozen=True)
class Busy:
    """How much the other work on the machine stretches a training run now."""

    load: float  # threads of other programs busy on average over the last seconds
    cores: int
    factor: float  # >= 1: (others + our threads) / cores, when that is above 1: a lower bound
    # (threads that wait for each other at every product lose more than their share: at a load
    # of 10 on 2 cores, runs were measured 30-40x slower than alone, not 6x)

    @classmethod
    def of(cls, others: float, cores: int, threads: int) -> Busy:
        return cls(others, cores, min(MAX_BUSY, max(1.0, (others + threads) / cores)))

    @classmethod
    def now(cls, spans: list[tuple[float, float | None]] = ()) -> Busy:
        """The others' load over the last seconds, less this process and our workers' `spans`
        ((time.time() start, end or None while it runs) per job trained in another process of
        ours)."""
        cores, threads = os.cpu_count() or 1, torch.get_num_threads()
        readings = _SAMPLER.window()
        if len(readings) >= 2:
            return cls.of(others_in(readings[0], readings[-1], readings, cores, threads, list(spans)), cores, threads)
        try:  # not Linux: the 1-minute load average, less nothing (it cannot tell whose)
            load = os.getloadavg()[0]
        except (AttributeError, OSError):
            load = 0.0
        return cls.of(load, cores, threads)

    def note(self) -> str:
        """'' on a quiet machine, else what the factor counted, for the estimate's caption."""
        if self.factor < 1.25:
            return ""
        return (f"the machine is busy now (load {self.load:.1f} on {self.cores} cores), which makes "
                f"training at least {self.factor:.1f}x slower; counted")
