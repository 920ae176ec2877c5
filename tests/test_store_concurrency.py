"""The store stays bounded under many runs, and reading while others save and evict is safe."""
import dataclasses
import random
import threading

from core.base.config import RunConfig
from core.runs.store import RunStore
from core.engine.loop import train


def test_many_runs_under_a_cap_with_concurrent_readers(isolated_cache):
    base = train(RunConfig(dataset="digits", widths=(32, 32), epochs=1))
    probe = RunStore(isolated_cache)
    probe.save(base)
    one_run = probe.total_bytes()
    probe.delete(base.run_id)
    cap = int(one_run * 6.5)  # room for six runs
    results = [dataclasses.replace(base, config=base.config.replace(seed=s)) for s in range(60)]
    ids = [r.run_id for r in results]
    errors, served, stop = [], [0], threading.Event()

    def writer():
        store = RunStore(isolated_cache, max_bytes=cap)
        try:
            for r in results:
                store.save(r)
        except Exception as exc:  # noqa: BLE001 - any failure is a test failure
            errors.append(f"writer: {exc!r}")
        finally:
            stop.set()

    def reader(seed):
        rng = random.Random(seed)
        store = RunStore(isolated_cache, max_bytes=cap)
        while not stop.is_set():
            run_id = rng.choice(ids)
            try:
                result = store.load(run_id)  # None once evicted; never half a run
            except Exception as exc:  # noqa: BLE001
                errors.append(f"reader: {exc!r}")
                return
            if result is not None:
                assert result.run_id == run_id and len(result.epochs) == 1
                served[0] += 1
            store.list_runs()

    threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    store = RunStore(isolated_cache, max_bytes=cap)
    assert store.total_bytes() <= cap
    assert 1 <= len(store.list_ids()) <= 6
    assert ids[-1] in store.list_ids()  # the newest run is never the one evicted
    print(f"\n60 runs saved under a cap of {cap} bytes; {len(store.list_ids())} kept; "
          f"{served[0]} concurrent reads served complete runs")
