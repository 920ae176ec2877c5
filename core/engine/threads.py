"""torch held to one thread while a small computation runs in the app's server process.

    with one_thread():
        flow = probe_at_init(cfg)

Why: on a machine whose cores are busy (training jobs, other sessions), torch's two intra-op
threads wait for each other at every operation; the Theory page's small networks (a probe, a
Jacobian of 16 examples) were measured 10-100x slower with two threads than with one on a
loaded 2-core machine (core.engine.speed.measure_rates saw 350x on one product). One thread
loses little on an idle machine for networks this small.

torch.set_num_threads sets the calling thread's count and the one later threads start with, so
blocks are counted: the first to enter remembers the count that was there, each block sets one
thread on entry and its outermost block gives its own thread the remembered count back on exit
(a thread still inside its block keeps its own one thread), and blocks of concurrent sessions overlap safely.
"""
from __future__ import annotations

import contextlib
import threading

import torch

_LOCK = threading.Lock()
_state = {"inside": 0, "saved": 1}  # blocks inside, in all threads; the count before the first
_mine = threading.local()  # this thread's nesting depth


@contextlib.contextmanager
def one_thread():
    """torch's intra-op threads set to 1 for the block (nested and concurrent blocks counted)."""
    depth = getattr(_mine, "depth", 0)
    with _LOCK:
        if _state["inside"] == 0:
            _state["saved"] = torch.get_num_threads()
        _state["inside"] += 1
        torch.set_num_threads(1)
    _mine.depth = depth + 1
    try:
        yield
    finally:
        _mine.depth = depth
        with _LOCK:
            _state["inside"] -= 1
            if depth == 0:  # this thread's outermost block
                torch.set_num_threads(_state["saved"])
