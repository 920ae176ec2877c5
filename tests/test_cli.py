import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args, cache):
    env = dict(os.environ, VG_CACHE_DIR=str(cache), VG_OFFLINE="1")
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_train_json_schema_and_cache(isolated_cache):
    args = ["train", "--dataset", "digits", "-a", "logistic", "-n", "32", "16", "8", "-e", "2",
            "-b", "64", "--json"]
    out = run_cli(*args, cache=isolated_cache)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1
    s = json.loads(lines[0])
    assert {"run_id", "status", "cached", "seconds", "config", "epochs", "final", "grad_flow"} <= set(s)
    assert s["status"] == "completed" and s["cached"] is False
    assert s["config"]["widths"] == [32, 16, 8] and s["config"]["activation"] == "logistic"
    assert [e["epoch"] for e in s["epochs"]] == [1, 2]
    for e in s["epochs"] + [s["final"]]:
        for k in ("train_loss", "train_acc", "test_loss", "test_acc"):
            assert isinstance(e[k], float)
    assert s["final"] == {k: s["epochs"][-1][k] for k in ("train_loss", "train_acc", "test_loss", "test_acc")}
    assert len(s["grad_flow"]["init"]) == len(s["grad_flow"]["final"]) == 4
    # logistic: the first layer gets far less gradient than the last at initialization
    assert s["grad_flow"]["init"][0] < s["grad_flow"]["init"][-1]
    again = json.loads(run_cli(*args, cache=isolated_cache).stdout)
    assert again["cached"] is True and again["run_id"] == s["run_id"] and again["epochs"] == s["epochs"]


def test_readable_summary_list_show_delete(isolated_cache):
    out = run_cli("train", "--dataset", "digits", "-n", "16", "-e", "1", cache=isolated_cache)
    assert out.returncode == 0 and "status: completed" in out.stdout and "fc1" in out.stdout
    run_id = out.stdout.split()[1]
    listed = run_cli("list", cache=isolated_cache)
    assert run_id in listed.stdout
    shown = run_cli("show", run_id, "--json", cache=isolated_cache)
    assert json.loads(shown.stdout)["run_id"] == run_id
    assert run_cli("delete", run_id, cache=isolated_cache).returncode == 0
    assert run_cli("show", run_id, cache=isolated_cache).returncode == 2


@pytest.mark.parametrize("args,needle", [
    (["train", "-a", "sigmoidish"], "activation"),
    (["train", "-n", "0"], "widths"),
    (["train", "-n"], "-n"),
    (["train", "--lr", "nan"], "lr"),
    (["train", "--lr", "abc"], "lr"),
    (["train", "-e", "-3"], "epochs"),
    (["train", "-b", "1e99"], "batch_size"),
    (["train", "--dataset", "cifar10"], "dataset"),
    (["train", "--frobnicate"], "frobnicate"),
    (["show", "../../etc"], "run id"),
    (["delete", "0123456789abcdef"], "run_id"),
    (["launch"], "launch"),
    ([], "command"),
    (["sweep", "--vary", "device", "--values", "cpu"], "vary"),
    (["sweep", "--vary", "activation", "--values", "tanh,bogus"], "activation"),
    (["sweep", "--vary", "activation", "--values", "tanh", "--seeds", "0"], "seeds"),
    (["sweep", "--vary", "seed", "--values", "1,2", "--seeds", "3"], "seeds"),
    (["sweep", "--vary", "lr", "--values", "0.1", "--baseline", "0.5"], "--baseline"),
    (["sweep", "--vary", "lr", "--values", ",".join(str(i / 100) for i in range(1, 30)), "--seeds", "3"], "--values"),
])
def test_bad_input_exits_2_with_one_line(isolated_cache, args, needle):
    out = run_cli(*args, cache=isolated_cache)
    assert out.returncode == 2, (out.stdout, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), out.stderr
    assert needle in lines[0]
    assert "Traceback" not in out.stderr and out.stdout == ""


def test_environment_faults_are_one_line_errors_with_exit_2(tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    cases = [({"VG_CACHE_DIR": str(a_file)}, "VG_CACHE_DIR"),
             ({"VG_CACHE_DIR": str(tmp_path / "ok"), "VG_CACHE_MAX_BYTES": "abc"}, "VG_CACHE_MAX_BYTES")]
    for env, named in cases:
        for args in (["list"], ["train", "--dataset", "digits", "-n", "8", "-e", "1"]):
            out = subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, capture_output=True,
                                 text=True, timeout=120, env=dict(os.environ, VG_OFFLINE="1", **env))
            assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
            assert len(out.stderr.strip().splitlines()) == 1 and named in out.stderr


def test_json_says_whether_the_run_was_stored(isolated_cache, monkeypatch, capsys):
    from core import cli
    from core.runs.store import RunStore

    args = ["train", "--dataset", "digits", "-n", "8", "-e", "1", "--json"]
    assert cli.main(args) == 0
    assert json.loads(capsys.readouterr().out)["stored"] is True

    def full_disk(path, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(RunStore, "_write", staticmethod(full_disk))
    assert cli.main([*args, "--seed", "7"]) == 0  # the run itself is fine: exit 0, result printed
    s = json.loads(capsys.readouterr().out)
    assert s["status"] == "completed" and s["stored"] is False
    assert "No space left on device" in s["store_error"]


def test_a_bad_ray_address_is_refused_naming_the_flag(isolated_cache):
    out = run_cli("train", "--dataset", "digits", "-n", "8", "--ray", "http://nowhere", cache=isolated_cache)
    assert out.returncode == 2 and "--ray: got 'http://nowhere'" in out.stderr


def test_sweep_trains_seeds_stacked_and_prints_intervals_against_the_baseline(isolated_cache):
    from core.base.config import RunConfig
    from core.lab.uncertainty import summary
    from core.runs.store import RunStore

    args = ["sweep", "--dataset", "digits", "-n", "16", "16", "-e", "1", "--vary", "activation",
            "--values", "tanh,relu", "--seeds", "3", "--baseline", "relu", "--format", "json"]
    out = run_cli(*args, cache=isolated_cache)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["baseline"] == "activation=relu" and "Student t" in report["method"]
    rows = {r["run"]: r for r in report["rows"]}
    assert rows["activation=tanh"]["seeds"] == 3 and rows["activation=relu"]["Δ test acc %"] is None
    store = RunStore(isolated_cache)
    runs = [store.load(r) for r in rows["activation=tanh"]["run_id"].split(",")]
    seed = RunConfig().seed  # the --seed flag's default, then the next seeds
    assert [(r.config.activation, r.config.seed) for r in runs] == [("tanh", seed + k) for k in range(3)]
    acc = [100 * r.final_metrics()["test_acc"] for r in runs]
    assert rows["activation=tanh"]["test acc %"] == pytest.approx(summary(acc)["mean"])
    assert rows["activation=tanh"]["Δ test acc % 95% CI"].startswith("[")
    text = run_cli(*args[:-2], cache=isolated_cache)  # stored now: text, nothing trained
    assert text.returncode == 0 and "activation=tanh" in text.stdout and "Δ: against activation=relu" in text.stdout
