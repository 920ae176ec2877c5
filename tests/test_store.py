import json
import os
import threading
import time

import numpy as np
import pandas as pd
import pytest
import torch

from core.base.config import ConfigError, RunConfig
from core.runs.runner import get_or_train
from core.runs.store import CorruptRun, RunStore, StoreError, check_run_id
from core.engine.loop import train


@pytest.fixture
def store(isolated_cache):
    return RunStore(isolated_cache)


def test_save_and_load_round_trip(store, tiny):
    result = train(tiny)
    store.save(result)
    loaded = store.load(tiny.run_id, weights=True)
    assert loaded.cached and loaded.config == tiny and loaded.status == "completed"
    for t in ("epochs", "steps", "layer_stats", "layers"):
        pd.testing.assert_frame_equal(getattr(loaded, t), getattr(result, t), check_dtype=False)
    for k, v in result.histograms.items():
        np.testing.assert_array_equal(loaded.histograms[k], v)
    for k, v in result.state_dict.items():
        assert torch.equal(loaded.state_dict[k], v)
    assert loaded.summary()["grad_flow"] == result.summary()["grad_flow"]
    listed = store.list_runs()
    assert list(listed.run_id) == [tiny.run_id] and listed.test_acc.iloc[0] == pytest.approx(
        result.final_metrics()["test_acc"])


def test_get_or_train_trains_once_then_serves_from_the_store(store, tiny):
    calls = []

    def counting_trainer(configs, on_event=None, should_stop=None):
        calls.extend(cfg.run_id for cfg in configs)
        return [train(cfg) for cfg in configs]

    [first] = get_or_train(store, [tiny], trainer=counting_trainer)
    [second] = get_or_train(store, [tiny], trainer=counting_trainer)
    assert len(calls) == 1 and not first.cached and second.cached


def test_concurrent_requests_for_one_missing_run_train_it_once(store, tiny):
    calls, results = [], []

    def slow_trainer(configs, on_event=None, should_stop=None):
        calls.append(1)
        time.sleep(0.5)
        return [train(cfg) for cfg in configs]

    def worker():
        results.extend(get_or_train(RunStore(store.root), [tiny], trainer=slow_trainer))

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(results) == 6
    base = results[0].epochs.drop(columns="seconds")
    for r in results[1:]:
        pd.testing.assert_frame_equal(r.epochs.drop(columns="seconds"), base, check_dtype=False)


def test_a_crash_while_writing_leaves_no_run(store, tiny, monkeypatch):
    result = train(tiny)
    real_write = RunStore._write
    written = []

    def failing_write(path, data):
        written.append(path.name)
        if len(written) == 4:
            raise OSError(28, "No space left on device")
        real_write(path, data)

    monkeypatch.setattr(RunStore, "_write", staticmethod(failing_write))
    with pytest.raises(StoreError, match="No space left on device"):
        store.save(result)
    assert store.list_ids() == [] and store.load(tiny.run_id) is None
    assert list(store.tmp_dir.iterdir()) == []  # the staging folder was cleaned up


def test_a_folder_without_manifest_is_never_served(store, tiny):
    d = store.runs_dir / tiny.run_id
    d.mkdir()
    (d / "config.json").write_text(json.dumps(tiny.to_dict()))
    assert store.list_ids() == [] and store.load(tiny.run_id) is None


@pytest.mark.parametrize("victim", ["config.json", "meta.json", "epochs.parquet", "steps.parquet",
                                    "layer_stats.parquet", "layers.parquet", "histograms.npz",
                                    "manifest.json"])
@pytest.mark.parametrize("damage", ["truncate", "garble"])
def test_damaged_files_are_detected_and_the_run_retrained(store, tiny, victim, damage):
    store.save(train(tiny))
    path = store.runs_dir / tiny.run_id / victim
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    else:
        path.write_bytes(data[:10] + bytes(b ^ 0x5A for b in data[10:40]) + data[40:])
    with pytest.raises(CorruptRun):
        store.load(tiny.run_id)
    [again] = get_or_train(store, [tiny])
    assert not again.cached and again.status == "completed"
    assert store.load(tiny.run_id) is not None


def test_weights_load_without_unpickling_code(store, tiny, tmp_path):
    store.save(train(tiny))
    path = store.runs_dir / tiny.run_id / "weights.pt"

    class Boom:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    torch.save({"w": Boom()}, path)  # then fix the manifest so only weights_only stands in the way
    manifest_path = store.runs_dir / tiny.run_id / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    import hashlib
    manifest["files"]["weights.pt"] = {"size": path.stat().st_size,
                                       "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(CorruptRun):
        store.load(tiny.run_id, weights=True)
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("bad", ["../../etc/passwd", "ABCDEF0123456789", "0123", "/tmp/x", "", "0" * 17,
                                 "..", "0123456789abcde/"])
def test_run_ids_cannot_leave_the_store(store, bad):
    with pytest.raises(StoreError):
        check_run_id(bad)
    with pytest.raises(StoreError):
        store.load(bad)
    with pytest.raises(StoreError):
        store.delete(bad)


def test_size_cap_evicts_least_recently_used(isolated_cache, tiny):
    store = RunStore(isolated_cache)
    configs = [tiny.replace(seed=s) for s in range(4)]
    results = [train(c) for c in configs]
    store.save(results[0])
    one_run = store.total_bytes()
    capped = RunStore(isolated_cache, max_bytes=int(one_run * 2.5))
    capped.save(results[1])
    time.sleep(0.05)
    capped.load(configs[0].run_id)  # run 0 used more recently than run 1
    time.sleep(0.05)
    capped.save(results[2])
    ids = set(capped.list_ids())
    assert ids == {configs[0].run_id, configs[2].run_id}
    assert capped.total_bytes() <= capped.max_bytes


def test_cancelled_runs_are_not_stored(store, tiny):
    [result] = get_or_train(store, [tiny.replace(epochs=3)], should_stop=lambda: True)
    assert result.status == "cancelled" and store.list_ids() == []


def test_diverged_runs_are_stored_with_their_status(store):
    cfg = RunConfig(dataset="digits", activation="relu", init="normal", widths=(256,) * 5, lr=2.0,
                    optimizer="sgd", epochs=2)
    [result] = get_or_train(store, [cfg])
    assert result.status == "diverged"
    loaded = store.load(cfg.run_id)
    assert loaded.status == "diverged" and loaded.diverged_step == result.diverged_step
    json.dumps(loaded.summary(), allow_nan=False)


# ---------------------------------------------------------------------- the store trusts nothing it reads
def _rewrite(store, run_id, name, data: bytes, fix_manifest=True):
    """Replace one file of a stored run; with fix_manifest its manifest entry is updated to
    match, so only the store's own checks of type and shape can catch the content."""
    import hashlib

    d = store.runs_dir / run_id
    (d / name).write_bytes(data)
    if fix_manifest and name != "manifest.json":
        manifest = json.loads((d / "manifest.json").read_text())
        manifest["files"][name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        (d / "manifest.json").write_text(json.dumps(manifest))


DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize("name, data", [
    ("manifest.json", b""), ("manifest.json", b"[]"), ("manifest.json", b"{garbled"),
    ("manifest.json", b'{"run_id": 1}'), ("manifest.json", DEEP),
    ("config.json", b"[]"), ("config.json", b"7"), ("config.json", DEEP), ("config.json", b"\xff\xfe"),
    ("config.json", b'{"activation": {"a": [1]}}'),
    ("meta.json", b"{}"), ("meta.json", b'{"status": "running"}'), ("meta.json", b"null"),
])
def test_a_stored_file_of_the_wrong_type_or_shape_is_skipped_then_retrained(store, tiny, name, data):
    store.save(train(tiny))
    _rewrite(store, tiny.run_id, name, data)
    assert store.list_runs().empty  # no AttributeError, RecursionError or KeyError
    if name == "manifest.json":
        assert store.list_ids() == [] and not store.has(tiny.run_id)
    with pytest.raises(CorruptRun):
        store.load(tiny.run_id)
    [again] = get_or_train(store, [tiny])
    assert not again.cached and store.load(tiny.run_id) is not None


def test_a_listing_survives_any_json_in_any_file_of_a_run(store, tiny):
    from hypothesis import HealthCheck, given, settings, strategies as st

    store.save(train(tiny))
    d = store.runs_dir / tiny.run_id
    originals = {n: (d / n).read_bytes() for n in ("manifest.json", "config.json", "meta.json")}
    json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                               | st.text(max_size=8),
                               lambda inner: st.lists(inner, max_size=4)
                               | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(sorted(originals)), json_values, st.booleans())
    def check(name, value, fix):
        for n, b in originals.items():
            (d / n).write_bytes(b)
        _rewrite(store, tiny.run_id, name, json.dumps(value).encode(), fix_manifest=fix)
        listed = store.list_runs()
        assert len(listed) <= 1
        try:
            store.load(tiny.run_id)
        except CorruptRun:
            pass

    check()


def test_run_ids_with_a_trailing_newline_are_refused():
    with pytest.raises(StoreError):
        check_run_id("0123456789abcdef\n")
    assert check_run_id("0123456789abcdef") == "0123456789abcdef"


def test_a_cache_dir_that_is_a_file_or_a_bad_size_cap_is_a_one_line_store_error(tmp_path, monkeypatch):
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("x")
    monkeypatch.setenv("VG_CACHE_DIR", str(a_file))
    with pytest.raises(StoreError, match="VG_CACHE_DIR: .*cannot hold the run store"):
        RunStore()
    monkeypatch.setenv("VG_CACHE_DIR", str(tmp_path / "ok"))
    for bad in ("abc", "-5", "0", "1e9"):
        monkeypatch.setenv("VG_CACHE_MAX_BYTES", bad)
        with pytest.raises(StoreError, match="VG_CACHE_MAX_BYTES: got"):
            RunStore()
    monkeypatch.setenv("VG_CACHE_MAX_BYTES", "1000000")
    assert RunStore().max_bytes == 1_000_000


def test_no_room_for_a_lock_file_is_a_store_error_not_a_traceback(store, tiny):
    import shutil

    shutil.rmtree(store.locks_dir)
    store.locks_dir.write_text("a file where the lock folder should be")
    with pytest.raises(StoreError, match="could not create its lock file"):
        get_or_train(store, [tiny])


def test_a_run_made_under_the_normal_limits_survives_the_public_demo(store, monkeypatch):
    big = RunConfig(dataset="digits", widths=(16,), epochs=60, batch_size=256)  # demo allows 50 epochs
    store.save(train(big))
    monkeypatch.setenv("VG_PUBLIC_DEMO", "1")
    with pytest.raises(ConfigError):
        RunConfig(dataset="digits", widths=(16,), epochs=60, batch_size=256)  # not askable in the demo
    assert store.list_ids() == [big.run_id] and len(store.list_runs()) == 1
    served = store.load(big.run_id)  # served as it is
    assert served.cached and served.config.epochs == 60
    assert store.load_or_drop(big.run_id) is not None and store.has(big.run_id)  # never deleted


def test_histogram_arrays_of_the_wrong_shape_are_a_damaged_run():
    """What the views index must have the shape they expect: a bundle (or a damaged file) with
    a weight histogram of fewer layers is refused on load, naming the array; the activation
    histograms of runs stored before NaN was counted (42 columns) still load."""
    from core.runs.files import check_histograms
    from core.runs.store import CorruptRun

    result = train(RunConfig(dataset="digits", widths=(8, 8), epochs=1))
    hist, n = result.histograms, len(result.layers)

    def headers(arrays):  # what the store checks: each array's shape and type, before it is read
        return {k: (v.shape, v.dtype) for k, v in arrays.items()}

    assert check_histograms(headers(hist), n, "x") is not None
    old = dict(hist, act=hist["act"][:, :, :42])
    assert check_histograms(headers(old), n, "x") is not None and "weight" in check_histograms(headers(hist), n, "x")
    for broken in (dict(hist, weight=hist["weight"][:, :1]), dict(hist, weight=np.zeros(3, np.int32)),
                   dict(hist, act=hist["act"][:, :, :40]), {k: v for k, v in hist.items() if k != "steps"}):
        with pytest.raises(CorruptRun, match="histograms.npz"):
            check_histograms(headers(broken), n, "x")
