"""`python -m core export RUN_ID --tensorboard DIR | --bundle FILE.zip` and `python -m core import
FILE.zip`: the files read back (TensorBoard's own reader, another store), bad input is one line
naming the argument, exit status 2."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import main
from core.base.config import RunConfig
from core.engine.loop import train
from core.runs.store import RunStore

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    result = train(RunConfig(dataset="digits", widths=(16, 16), epochs=1, activation="tanh"))
    RunStore(root).save(result)
    return root, result


@pytest.fixture
def cache(stored, monkeypatch):
    monkeypatch.setenv("VG_CACHE_DIR", str(stored[0]))
    return stored


def _error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    return err


def test_export_tensorboard_reads_back(cache, tmp_path, capsys):
    _, result = cache
    assert main(["export", result.run_id, "--tensorboard", str(tmp_path / "tb")]) == 0
    assert "tensorboard --logdir" in capsys.readouterr().out
    acc = event_accumulator.EventAccumulator(str(tmp_path / "tb"), size_guidance={
        event_accumulator.SCALARS: 0, event_accumulator.HISTOGRAMS: 0})
    acc.Reload()
    assert [e.value for e in acc.Scalars("epoch/test_acc")] == pytest.approx(list(result.epochs["test_acc"]))
    assert [e.step for e in acc.Histograms("grad_log10_abs/fc1")] == [int(s) for s in result.histograms["steps"]]
    # a second export into the same folder would give TensorBoard the run twice: refused
    assert main(["export", result.run_id, "--tensorboard", str(tmp_path / "tb")]) == 2
    assert "--tensorboard:" in _error(capsys)


def test_bundle_round_trip_into_another_store(cache, tmp_path, monkeypatch, capsys):
    _, result = cache
    zf = tmp_path / "run.zip"
    assert main(["export", result.run_id, "--bundle", str(zf)]) == 0
    assert zf.is_file() and not list(tmp_path.glob(".*partial"))
    assert main(["export", result.run_id, "--bundle", str(zf)]) == 2  # exists: not overwritten
    assert "--bundle:" in _error(capsys) and zf.is_file()
    assert main(["export", result.run_id, "--bundle", str(zf), "--force"]) == 0
    other = tmp_path / "other"
    monkeypatch.setenv("VG_CACHE_DIR", str(other))
    capsys.readouterr()
    assert main(["import", str(zf)]) == 0
    assert result.run_id in capsys.readouterr().out
    back = RunStore(other).load(result.run_id)
    assert back is not None and back.epochs["test_acc"].tolist() == result.epochs["test_acc"].tolist()


@pytest.mark.parametrize("argv, named", [
    (["export", "0123456789abcdef", "--bundle", "x.zip"], "run_id:"),
    (["export", "not-a-run", "--tensorboard", "tb"], "run_id:"),
    (["export", "{run}"], "export:"),
    (["export", "{run}", "--bundle", "{tmp}/no/such/folder/x.zip"], "--bundle:"),
    (["export", "{run}", "--bundle", "{tmp}"], "--bundle:"),
    (["export", "{run}", "--tensorboard", "{tmp}/file"], "--tensorboard:"),
    (["import", "{tmp}/missing.zip"], "FILE.zip:"),
    (["import", "{tmp}/file"], "FILE.zip:"),
    (["import", "{tmp}"], "FILE.zip:"),
])
def test_bad_input_is_one_line_naming_the_argument(cache, tmp_path, capsys, argv, named):
    (tmp_path / "file").write_text("not a zip")
    argv = [a.format(run=cache[1].run_id, tmp=tmp_path) for a in argv]
    assert main(argv) == 2
    assert named in _error(capsys)


def test_import_of_a_bad_zip_through_the_module(tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    env = dict(os.environ, VG_CACHE_DIR=str(tmp_path / "store"))
    out = subprocess.run([sys.executable, "-m", "core", "import", str(bad)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out.stderr
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("error: FILE.zip:"), out.stderr
