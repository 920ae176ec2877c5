"""TensorBoard export read back with TensorBoard's own event reader; run bundles round-trip
between stores and reject what is not a run."""
import io
import json
import zipfile

import numpy as np
import pytest

from core.base.config import RunConfig
from core.engine.loop import train
from core.runs.bundle import BundleError, export_bundle, import_bundle
from core.runs.export import export_tensorboard
from core.runs.store import RunStore

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


@pytest.fixture(scope="module")
def run():
    return train(RunConfig(dataset="digits", widths=(16, 16), epochs=2, activation="tanh", grad_noise=0.5))


def test_tensorboard_export_reads_back_with_tensorboards_reader(run, tmp_path):
    path = export_tensorboard(run, tmp_path / "tb")
    assert path.name.startswith("events.out.tfevents")
    acc = event_accumulator.EventAccumulator(str(tmp_path / "tb"), size_guidance={
        event_accumulator.SCALARS: 0, event_accumulator.HISTOGRAMS: 0})
    acc.Reload()
    tags = acc.Tags()
    assert "epoch/test_acc" in tags["scalars"] and "loss/train_step" in tags["scalars"]
    assert [e.value for e in acc.Scalars("epoch/test_acc")] == pytest.approx(list(run.epochs["test_acc"]))
    assert len(acc.Scalars("loss/train_step")) == len(run.steps)
    assert "grad_mean_abs/fc1" in tags["scalars"] and "update_ratio/out" in tags["scalars"]
    logged = [int(s) for s in run.histograms["steps"]]
    for tag in ("grad_log10_abs/fc1", "noisy_grad_log10_abs/out", "act/fc2"):
        assert tag in tags["histograms"], tags["histograms"]
    events = acc.Histograms("grad_log10_abs/fc1")
    assert [e.step for e in events] == logged
    counts = run.histograms["grad"][0, 0]
    assert events[0].histogram_value.num == pytest.approx(counts[2:58].sum())
    # the entries outside the bins are there too
    zeros = acc.Scalars("grad_outside/exactly_0/fc1")
    assert [e.value for e in zeros] == pytest.approx(list(run.histograms["grad"][:, 0, 0].astype(float)))


def _bundle(run, tmp_path):
    src = RunStore(tmp_path / "a")
    src.save(run)
    path = tmp_path / "run.zip"
    export_bundle(src, run.run_id, path)
    return path


def test_a_bundle_opens_in_another_store_as_a_stored_run(run, tmp_path):
    path = _bundle(run, tmp_path)
    dst = RunStore(tmp_path / "b")
    assert import_bundle(dst, path) == run.run_id
    loaded = dst.load(run.run_id, weights=True)
    assert loaded.status == run.status and loaded.config == run.config
    assert np.array_equal(loaded.histograms["grad"], run.histograms["grad"])
    assert loaded.epochs.equals(RunStore(tmp_path / "a").load(run.run_id).epochs)
    assert set(loaded.state_dict) == set(run.state_dict)
    # from bytes too (what the Runs page's uploader gives)
    other = RunStore(tmp_path / "c")
    assert import_bundle(other, io.BytesIO(path.read_bytes())) == run.run_id


def _rewrite(path, out, change):
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members = change(members)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return out


@pytest.mark.parametrize("case", ["path", "extra", "tampered", "config", "missing", "not-zip", "too-big",
                                  "bomb", "many"])
def test_a_bundle_that_is_not_a_run_is_refused(run, tmp_path, case):
    path = _bundle(run, tmp_path)
    bad = tmp_path / "bad.zip"
    limit = None
    if case == "path":
        _rewrite(path, bad, lambda m: {**{("../" + k if k == "config.json" else k): v for k, v in m.items()}})
    elif case == "extra":
        _rewrite(path, bad, lambda m: {**m, "evil.py": b"print(1)"})
    elif case == "tampered":
        _rewrite(path, bad, lambda m: {**m, "epochs.parquet": m["epochs.parquet"][:-10] + b"0" * 10})
    elif case == "config":
        def change(m):
            cfg = json.loads(m["config.json"])
            cfg["seed"] = cfg["seed"] + 1
            return {**m, "config.json": json.dumps(cfg).encode()}
        _rewrite(path, bad, change)
    elif case == "missing":
        _rewrite(path, bad, lambda m: {k: v for k, v in m.items() if k != "weights.pt"})
    elif case == "not-zip":
        bad.write_bytes(b"PK\x03\x04 not really a zip")
    elif case == "too-big":
        bad.write_bytes(path.read_bytes())
        limit = 1000
    elif case == "bomb":
        _rewrite(path, bad, lambda m: {**m, "meta.json": b" " * (50 * 2**20)})  # compresses to ~50 KB
    elif case == "many":
        _rewrite(path, bad, lambda m: {**m, **{f"x{i}": b"" for i in range(100)}})
    dst = RunStore(tmp_path / "b")
    with pytest.raises(BundleError):
        import_bundle(dst, bad, max_bytes=limit) if limit else import_bundle(dst, bad)
    assert dst.list_ids() == []
