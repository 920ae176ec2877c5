"""A process that writes runs to a store, for the crash tests.

    python tests/store_writer.py CACHE_DIR loop         # save run after run until killed
    python tests/store_writer.py CACHE_DIR fork-loop    # per line on stdin: fork a child that
                                                        # saves runs until killed; print its pid
    python tests/store_writer.py CACHE_DIR train        # train one slow run through the store
    python tests/store_writer.py CACHE_DIR full-disk    # save with an 8 KiB file-size limit
"""
import dataclasses
import os
import resource
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.base.config import RunConfig  # noqa: E402
from core.runs.runner import get_or_train  # noqa: E402
from core.runs.store import RunStore, StoreError  # noqa: E402
from core.engine.loop import train  # noqa: E402

SLOW = RunConfig(dataset="mnist-5k", widths=(512,) * 4, epochs=200, batch_size=16)


def main(cache_dir: str, mode: str) -> int:
    store = RunStore(cache_dir)
    if mode == "train":
        print("training", flush=True)
        get_or_train(store, [SLOW])
        return 0
    base = train(RunConfig(dataset="digits", widths=(64, 64), epochs=1))
    if mode == "full-disk":
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (8 * 1024, 8 * 1024))
        try:
            store.save(base)
        except StoreError as exc:
            print(f"store error: {exc}", flush=True)
            return 3
        return 0
    if mode == "fork-loop":
        # Forking a prepared process makes each kill cheap: no new interpreter, no torch import.
        print("ready", flush=True)
        for round_ in range(1_000_000):
            if not sys.stdin.readline():
                return 0
            pid = os.fork()
            if pid == 0:
                save_forever(store, base, start=round_ * 100_000)
            print(pid, flush=True)
            os.waitpid(pid, 0)
            print("dead", flush=True)
        return 0
    print("ready", flush=True)
    save_forever(store, base, start=0)


def save_forever(store, base, start):
    i = start
    while True:  # distinct run ids, the same tables: a steady stream of writes
        store.save(dataclasses.replace(base, config=base.config.replace(seed=10_000 + i)))
        i += 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
