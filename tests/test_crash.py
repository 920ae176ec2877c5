"""Crashes and corruption: processes killed while writing or training, a full disk.

VG_LONG_TESTS=1 kills the writer 500 times instead of 40.
"""
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from filelock import FileLock, Timeout

from core.base.config import RunConfig
from core.runs.runner import get_or_train
from core.runs.store import RunStore

HERE = Path(__file__).resolve().parent
KILLS = 500 if os.environ.get("VG_LONG_TESTS") == "1" else 40


def start(cache, mode):
    return subprocess.Popen([sys.executable, str(HERE / "store_writer.py"), str(cache), mode],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sigkill_while_writing_never_leaves_a_served_partial_run(isolated_cache):
    rng = random.Random(0)
    leftovers, verified = set(), set()
    writer = start(isolated_cache, "fork-loop")
    assert writer.stdout.readline().strip() == "ready", writer.stderr.read()
    try:
        for _ in range(KILLS):
            writer.stdin.write("go\n")
            writer.stdin.flush()
            pid = int(writer.stdout.readline())
            time.sleep(rng.uniform(0.0, 0.25))
            os.kill(pid, signal.SIGKILL)
            assert writer.stdout.readline().strip() == "dead"
            store = RunStore(isolated_cache)
            leftovers |= {p.name for p in store.tmp_dir.iterdir() if not p.name.startswith("trash")}
            listed = set(store.list_ids())
            for run_id in listed - verified:  # a complete run stays complete: check each once
                result = store.load(run_id)  # raises CorruptRun if anything listed is partial
                assert result is not None and result.status == "completed"
            verified |= listed
    finally:
        writer.kill()
        writer.wait()
    store = RunStore(isolated_cache)
    assert store.list_ids(), "the writer should have finished some runs between kills"
    assert len(store.list_runs()) == len(store.list_ids())
    # the same configuration trains again cleanly afterwards
    cfg = RunConfig(dataset="digits", widths=(8,), epochs=1, seed=5)
    assert get_or_train(store, [cfg])[0].status == "completed" and store.load(cfg.run_id) is not None
    print(f"\n{KILLS} kills, {len(store.list_ids())} complete runs, {len(leftovers)} staging folders "
          "left by killed writes (never listed)")


def test_a_run_killed_while_training_releases_its_lock(isolated_cache):
    store = RunStore(isolated_cache)
    from store_writer import SLOW

    proc = start(isolated_cache, "train")
    try:
        assert proc.stdout.readline().strip() == "training"
        lock = FileLock(str(store.locks_dir / f"{SLOW.run_id}.lock"), timeout=0)
        deadline = time.time() + 120
        while time.time() < deadline:  # wait until the trainer holds the lock
            try:
                with lock:
                    pass
            except Timeout:
                break
            time.sleep(0.2)  # outside the lock, so the trainer can take it
        else:
            pytest.fail("the training process never took the lock")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    with FileLock(str(store.locks_dir / f"{SLOW.run_id}.lock"), timeout=5):
        pass  # acquired: the kernel released the dead process's lock
    assert not store.has(SLOW.run_id) and store.list_ids() == []


def test_a_full_disk_while_saving_fails_cleanly(isolated_cache):
    proc = start(isolated_cache, "full-disk")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, (out, err)
    assert "could not be saved" in out and "Traceback" not in err
    store = RunStore(isolated_cache)
    assert store.list_ids() == [] and list(store.tmp_dir.iterdir()) == []
