"""Fault injection: forged and damaged files of a run, and what the CLI and the Runs page make of
them. Each test forges one fault (a metadata field of the wrong type, a damaged zip member, a
table without a column, a bundle of a run stored already) and checks the one-line message naming
it, the exit status, and that nothing is left behind in the store's tmp folder."""
import hashlib
import io
import json
import zipfile

import pandas as pd
import pytest

from core.cli import main
from core.engine.loop import train
from core.runs.bundle import export_bundle
from core.runs.store import CorruptRun, RunStore
from apptest_helpers import fresh_app_caches, open_page, texts  # noqa: F401 (autouse fixture)


@pytest.fixture(scope="module")
def members(tmp_path_factory, tiny_module):
    """The members of a real bundle of a tiny run: name -> bytes."""
    root = tmp_path_factory.mktemp("source")
    store = RunStore(root)
    store.save(train(tiny_module))
    buf = io.BytesIO()
    export_bundle(store, tiny_module.run_id, buf)
    with zipfile.ZipFile(buf) as z:
        return {n: z.read(n) for n in z.namelist()}


@pytest.fixture(scope="module")
def tiny_module():
    from core.base.config import RunConfig

    return RunConfig(dataset="digits", widths=(16, 16), epochs=1, batch_size=64, activation="tanh")


def forged(members: dict, **changes) -> dict:
    """The members with `changes` (name -> bytes) and a manifest that agrees with them, so the
    checksums pass and only the forged content is wrong."""
    out = {**members, **{k.replace("__", "."): v for k, v in changes.items()}}
    manifest = json.loads(out["manifest.json"])
    for name, data in out.items():
        if name != "manifest.json":
            manifest["files"][name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    out["manifest.json"] = json.dumps(manifest).encode()
    return out


def write_zip(members: dict, path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    path.write_bytes(buf.getvalue())
    return buf.getvalue()


def with_meta(members: dict, **fields) -> dict:
    meta = json.loads(members["meta.json"])
    meta.update(fields)
    return forged(members, meta__json=json.dumps(meta).encode())


@pytest.fixture
def cache(isolated_cache):
    return isolated_cache


def run_cli(argv, capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def one_line_error(code: int, err: str, *named: str) -> None:
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err, err
    for text in named:
        assert text in err, err


def nothing_left(cache) -> None:
    assert list((cache / "tmp").iterdir()) == []
    assert RunStore(cache).list_ids() == []


# ---------------------------------------------------------------------- row 2: metadata fields
META_FAULTS = [
    ({"finished_at": "yesterday"}, "finished_at"),
    ({"seconds": "slow"}, "seconds"),
    ({"seconds": float("nan")}, "seconds"),
    ({"seconds": -3.0}, "seconds"),
    ({"finished_at": 1e300}, "finished_at"),  # past pandas' datetimes (year 2262)
    ({"params": True}, "params"),
    ({"params": "271410"}, "params"),
    ({"final": {"test_acc": 7}}, "final"),
    ({"final": None}, "final"),
    ({"grad_ratio": "big"}, "grad_ratio"),
    ({"label": "\x1b[2Jcleared"}, "label"),  # a terminal escape would reach `list`
    ({"device": ["cpu"]}, "device"),
    ({"diverged_step": -1}, "diverged_step"),
    ({"status": "running"}, "status"),
    ({"trained_with": 0}, "trained_with"),
    ({"extra": {"nested": [1, 2]}}, "'extra'"),
]


@pytest.mark.parametrize("fields, named", META_FAULTS, ids=[n for _, n in META_FAULTS])
def test_a_bundle_with_a_metadata_field_of_the_wrong_type_is_refused_naming_it(members, cache, tmp_path, capsys,
                                                                             fields, named):
    bad = tmp_path / "bad.zip"
    write_zip(with_meta(members, **fields), bad)
    code, out, err = run_cli(["import", bad], capsys)
    one_line_error(code, err, "FILE.zip:", "meta.json:", named)
    nothing_left(cache)


def test_a_bundle_without_a_metadata_field_is_refused_naming_it(members, cache, tmp_path, capsys):
    meta = json.loads(members["meta.json"])
    del meta["finished_at"]
    write_zip(forged(members, meta__json=json.dumps(meta).encode()), tmp_path / "bad.zip")
    code, _, err = run_cli(["import", tmp_path / "bad.zip"], capsys)
    one_line_error(code, err, "meta.json: finished_at is missing")
    nothing_left(cache)


def store_forged_run(members: dict, cache) -> str:
    """Put the members straight into the store, as a run damaged on disk would be."""
    manifest = json.loads(members["manifest.json"])
    d = RunStore(cache).run_dir(manifest["run_id"])
    d.mkdir(parents=True)
    for name, data in members.items():
        (d / name).write_bytes(data)
    return manifest["run_id"]


def test_a_stored_run_with_a_bad_metadata_field_is_a_damaged_run_in_list_show_and_the_page(members, cache, capsys):
    good_store = RunStore(cache)
    run_id = store_forged_run(with_meta(members, finished_at="yesterday", seconds="slow"), cache)
    with pytest.raises(CorruptRun, match="meta.json: seconds"):
        good_store.load(run_id)
    code, out, err = run_cli(["list"], capsys)
    assert code == 0 and "no stored runs" in out, (out, err)
    code, out, err = run_cli(["list", "--json"], capsys)
    assert code == 0 and json.loads(out) == []
    for argv in (["show", run_id], ["show", run_id, "--json"]):
        code, out, err = run_cli(argv, capsys)
        one_line_error(code, err, f"run {run_id}: meta.json: seconds")
        assert out == ""
    at = open_page("pages/runs.py")
    assert not at.exception, [e.value for e in at.exception]
    assert "Nothing stored yet" in texts(at)


def test_a_stored_table_without_a_column_is_a_damaged_run(members, cache, capsys):
    epochs = pd.read_parquet(io.BytesIO(members["epochs.parquet"])).drop(columns=["train_loss"])
    buf = io.BytesIO()
    epochs.to_parquet(buf, index=False)
    run_id = store_forged_run(forged(members, epochs__parquet=buf.getvalue()), cache)
    for argv in (["show", run_id], ["show", run_id, "--json"]):
        code, out, err = run_cli(argv, capsys)
        one_line_error(code, err, "epochs.parquet: column train_loss is missing")


# ---------------------------------------------------------------------- row 4: damaged zips
def _central_entry(data: bytes, name: str) -> int:
    """Offset of `name`'s entry in the zip's central directory."""
    needle = b"PK\x01\x02"
    pos = data.find(needle)
    while pos >= 0:
        n, m, k = (int.from_bytes(data[pos + o:pos + o + 2], "little") for o in (28, 30, 32))
        if data[pos + 46:pos + 46 + n] == name.encode():
            return pos
        pos = data.find(needle, pos + 46 + n + m + k)
    raise AssertionError(name)


def _damage(data: bytes, name: str, how: str) -> bytes:
    data = bytearray(data)
    entry = _central_entry(bytes(data), name)
    if how == "crc":  # the CRC-32 the reader checks (central directory, offset 16)
        data[entry + 16:entry + 20] = bytes(b ^ 0xFF for b in data[entry + 16:entry + 20])
    elif how == "deflate":  # the compressed stream: a reserved block type (zlib.error)
        local = int.from_bytes(data[entry + 42:entry + 46], "little")
        n, m = (int.from_bytes(data[local + o:local + o + 2], "little") for o in (26, 28))
        start = local + 30 + n + m
        data[start:start + 8] = b"\xff" * 8
    elif how == "inflates-past":  # declared (central) size smaller than what the stream inflates to
        size = int.from_bytes(data[entry + 24:entry + 28], "little")
        data[entry + 24:entry + 28] = (size // 2).to_bytes(4, "little")
    return bytes(data)


@pytest.mark.parametrize("member", ["meta.json", "epochs.parquet", "manifest.json"])
@pytest.mark.parametrize("how", ["crc", "deflate", "inflates-past"])
def test_a_damaged_zip_member_is_one_line_naming_it_and_leaves_nothing(members, cache, tmp_path, capsys, member, how):
    m = dict(members)
    if how == "inflates-past" and member != "manifest.json":
        # the manifest agrees with the declared size, so only the inflating stream is wrong
        manifest = json.loads(m["manifest.json"])
        manifest["files"][member]["size"] = len(m[member]) // 2
        m["manifest.json"] = json.dumps(manifest).encode()
    raw = write_zip(m, tmp_path / "ok.zip")
    bad = tmp_path / "bad.zip"
    bad.write_bytes(_damage(raw, member, how))
    code, out, err = run_cli(["import", bad], capsys)
    one_line_error(code, err, "FILE.zip:", member)
    nothing_left(cache)


def test_a_bundle_whose_table_lacks_a_column_is_refused_naming_it(members, cache, tmp_path, capsys):
    steps = pd.read_parquet(io.BytesIO(members["steps.parquet"])).drop(columns=["loss"])
    buf = io.BytesIO()
    steps.to_parquet(buf, index=False)
    write_zip(forged(members, steps__parquet=buf.getvalue()), tmp_path / "bad.zip")
    code, _, err = run_cli(["import", tmp_path / "bad.zip"], capsys)
    one_line_error(code, err, "steps.parquet: column loss is missing")
    nothing_left(cache)


def test_a_save_that_fails_for_any_reason_leaves_no_staging_folder(members, cache, monkeypatch):
    from core.runs.bundle import import_bundle

    store = RunStore(cache)
    result_store = RunStore(cache / "other")
    write_zip(members, cache / "ok.zip")
    run_id = import_bundle(result_store, cache / "ok.zip")
    result = result_store.load(run_id, weights=True)
    monkeypatch.setattr(type(result), "final_metrics", lambda self: (_ for _ in ()).throw(KeyError("train_loss")))
    with pytest.raises(KeyError):
        store.save(result)
    assert list(store.tmp_dir.iterdir()) == []


# ---------------------------------------------------------------------- row 6: a run stored already
def test_a_bundle_of_a_stored_run_is_refused_unless_replace(members, cache, tmp_path, capsys):
    zf = tmp_path / "run.zip"
    write_zip(members, zf)
    code, out, _ = run_cli(["import", zf], capsys)
    assert code == 0 and out.startswith("imported run ")
    run_id = json.loads(members["manifest.json"])["run_id"]
    manifest = RunStore(cache).run_dir(run_id) / "manifest.json"
    before = manifest.stat().st_ino
    code, out, err = run_cli(["import", zf], capsys)
    one_line_error(code, err, f"run {run_id} is already stored here; not replaced (--replace replaces it)")
    assert manifest.stat().st_ino == before  # not written again
    code, out, err = run_cli(["import", zf, "--replace"], capsys)
    assert code == 0 and out.startswith(f"replaced stored run {run_id}"), (out, err)
    assert manifest.stat().st_ino != before and RunStore(cache).list_ids() == [run_id]
    assert list((cache / "tmp").iterdir()) == []


def test_the_runs_page_refuses_a_bundle_of_a_stored_run_until_replace_is_ticked(members, cache, tmp_path):
    raw = write_zip(members, tmp_path / "run.zip")
    run_id = json.loads(members["manifest.json"])["run_id"]
    at = open_page("pages/runs.py")
    at.file_uploader[0].set_value(("run.zip", raw, "application/zip")).run()
    assert not at.exception and f"Stored run `{run_id}` opened from its bundle." in texts(at)
    at.file_uploader[0].set_value(("run.zip", raw, "application/zip")).run()
    assert not at.exception
    assert "already stored here" in texts(at) and "Tick 'replace the stored run'" in texts(at)
    at.checkbox(key="runs-upload-replace").check().run()
    assert not at.exception and f"Stored run `{run_id}` replaced by its bundle." in texts(at)
    assert RunStore(cache).list_ids() == [run_id]


# ---------------------------------------------------------------------- rows 3 and 12: CSV headers
def _points_csv(header: str, n: int = 40) -> bytes:
    rows = "\n".join(f"{i % 7 * 0.5},{(i * 3) % 5},{i % 2}" for i in range(n))
    return f"{header}\n{rows}\n".encode()


def test_a_label_column_named_at_any_length_is_found(cache, tmp_path, capsys):
    long = "the label column of this file which is named at some length"  # 59 characters
    path = tmp_path / "long.csv"
    path.write_bytes(_points_csv(f"f1,f2,{long}"))
    code, out, err = run_cli(["train", "--data-file", path, "--label-column", long, "-n", "4", "-e", "1", "--json"],
                             capsys)
    assert code == 0, err
    assert json.loads(out)["config"]["dataset"].startswith("upload:")
    # one character less is another name: refused, naming the flag's column
    code, out, err = run_cli(["train", "--data-file", path, "--label-column", long[:-1], "-e", "1"], capsys)
    one_line_error(code, err, "--data-file: label column: no column")
    # two names alike in their first 40 characters are two columns, not one twice
    path.write_bytes(_points_csv(f"{long} a,{long} b,label"))
    from core.engine.userdata import read_csv

    assert read_csv(path.read_bytes())[2]["columns"] == [f"{long} a", f"{long} b"]


@pytest.mark.parametrize("header, named", [
    (",".join(["a"] * 40_000), "the first row has 40,000 columns; at most 65"),  # 80 KB, 19 s in pandas
    (",".join(f"f{i}" for i in range(100)), "the first row has 100 columns"),
    (",".join(["1"] * 40_000), "the first row has 40,000 columns"),  # no header: numbers that repeat
    ("f1,f1,label", "the header names column 'f1' twice"),
    ("f1, f1 ,label", "the header names column 'f1' twice"),
])
def test_a_header_pandas_would_take_quadratic_time_over_is_refused_at_once(cache, tmp_path, capsys, header, named):
    import time

    path = tmp_path / "wide.csv"
    path.write_bytes((header + "\n").encode() + _points_csv("x,y,z").split(b"\n", 1)[1])
    t = time.perf_counter()
    code, out, err = run_cli(["train", "--data-file", path, "-e", "1"], capsys)
    took = time.perf_counter() - t
    print(f"header of {len(header):,} bytes refused in {took:.3f} s")
    one_line_error(code, err, "--data-file: data file:", named)
    assert took < 5


# ---------------------------------------------------------------------- row 1: tables and arrays larger than the run
def _histograms_with(members: dict, name: str, data: bytes) -> bytes:
    """histograms.npz of the bundle with member `name` replaced by `data`."""
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(members["histograms.npz"])) as src, \
            zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for n in src.namelist():
            out.writestr(n, data if n == name else src.read(n))
    return buf.getvalue()


def _steps_table(rows: int) -> bytes:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    chunk = pa.table({"step": np.zeros(rows // 10, np.int64), "epoch": np.ones(rows // 10, np.int64),
                      "loss": np.ones(rows // 10)})
    buf = io.BytesIO()
    with pq.ParquetWriter(buf, chunk.schema, compression="zstd") as w:
        for _ in range(10):
            w.write_table(chunk)
    return buf.getvalue()


def _row1_faults(members):
    grad_rows = 100_000  # x 3 layers x 60 bins of int32: 72 MB unpacked, 70 KB deflated
    return {
        "histograms of 72 MB": (
            forged(members, histograms__npz=_histograms_with(
                members, "grad.npy", _npy_header((grad_rows, 3, 60), "<i4") + bytes(grad_rows * 3 * 60 * 4))),
            "histograms.npz: 'grad.npy' declares shape (100000, 3, 60) of int32 (72,000,000 bytes); at most 4,320 bytes"),
        "histograms declaring 10^12 steps": (
            forged(members, histograms__npz=_histograms_with(members, "steps.npy", _npy_header((10**12,), "<i8"))),
            "histograms.npz: 'steps.npy' declares shape (1000000000000,) of int64"),
        "a table of 5 M rows": (forged(members, steps__parquet=_steps_table(5_000_000)),
                                "steps.parquet: rows: 5,000,000; at most 21 (one per step the run took)"),
        "a run of 10^12 steps": (with_meta(members, total_steps=10**12),
                                 "meta.json: total_steps: 1,000,000,000,000; at most 21 (1 epochs of 21 steps)"),
        "epochs of a billion examples": (with_meta(members, train_samples=10**9),
                                         "meta.json: train_samples: 1,000,000,000; at most 54,000"),
    }


ROW1 = ["histograms of 72 MB", "histograms declaring 10^12 steps", "a table of 5 M rows", "a run of 10^12 steps",
        "epochs of a billion examples"]


@pytest.mark.parametrize("how", ROW1)
def test_a_bundle_whose_tables_or_arrays_are_larger_than_its_run_is_refused_before_they_are_read(
        members, cache, tmp_path, capsys, how):
    import resource

    bundle, named = _row1_faults(members)[how]
    bad = tmp_path / "bad.zip"
    write_zip(bundle, bad)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    code, out, err = run_cli(["import", bad], capsys)
    one_line_error(code, err, "FILE.zip:", named)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak < 48 * 2**10  # KiB: nothing unpacked
    nothing_left(cache)


def test_a_stored_run_whose_table_is_larger_than_the_run_is_a_damaged_run(members, cache, capsys):
    bundle, named = _row1_faults(members)["a table of 5 M rows"]
    run_id = json.loads(members["manifest.json"])["run_id"]
    folder = cache / "runs" / run_id
    folder.mkdir(parents=True)
    for name, data in bundle.items():
        (folder / name).write_bytes(data)
    with pytest.raises(CorruptRun, match="steps.parquet: rows: 5,000,000; at most 21"):
        RunStore(cache).load(run_id)
    code, out, err = run_cli(["show", run_id], capsys)
    one_line_error(code, err, named)


# ---------------------------------------------------------------------- row 5: an .npz of pickles or of 10^12 rows
def _npy_header(shape, descr="<f8") -> bytes:
    import numpy as np

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def _npz_members(**members) -> bytes:
    import numpy as np

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            if not isinstance(data, bytes):
                one = io.BytesIO()
                np.save(one, data, allow_pickle=True)
                data = one.getvalue()
            z.writestr(f"{name}.npy", data)
    return buf.getvalue()


def _npz_faults():
    import pickle

    import numpy as np

    y = np.arange(30) % 2
    return [
        ("raw pickle", _npz_members(x=pickle.dumps([[1.0, 2.0]] * 30), y=y),
         "'x.npy' is not an .npy array (it does not begin with the .npy magic string)"),
        ("object array", _npz_members(x=np.zeros((30, 2)), y=np.array([{"a": 1}] * 30, dtype=object)),
         "'y.npy' holds Python objects (object); only arrays of numbers or text are read"),
        ("10^12 rows", _npz_members(x=_npy_header((10**12, 2)) + bytes(64), y=y),
         "'x.npy' declares shape (1000000000000, 2) of float64 (16,000,000,000,000 bytes); at most 67,108,864 bytes"),
        ("10 rows declared as 10^6", _npz_members(x=_npy_header((10**6, 2)) + bytes(160), y=y),
         "'x.npy' declares shape (1000000, 2) of float64 (16,000,000 bytes) but holds 160"),
    ]


@pytest.mark.parametrize("how", [f[0] for f in _npz_faults()])
def test_an_npz_of_pickles_or_of_declared_terabytes_is_one_line_before_anything_is_allocated(cache, tmp_path,
                                                                                              capsys, how):
    import resource

    from core.base.datasets import uploads_dir
    from core.engine.userdata import UploadError, ingest

    [(raw, named)] = [(raw, named) for h, raw, named in _npz_faults() if h == how]
    path = tmp_path / "data.npz"
    path.write_bytes(raw)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    code, out, err = run_cli(["train", "--data-file", path, "-e", "1"], capsys)
    one_line_error(code, err, "error: --data-file: data file: " + named)
    with pytest.raises(UploadError) as refused:  # what the Playground and Explore show (st.error)
        ingest(raw, "data.npz")
    assert str(refused.value) == "data file: " + named
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak < 64 * 2**10  # KiB: nothing big allocated
    assert not uploads_dir().exists() or list(uploads_dir().iterdir()) == []


# ---------------------------------------------------------------------- row 7: a Ray address where nothing listens
def test_a_ray_address_where_nothing_listens_is_one_line_within_the_bound(cache, capsys):
    import socket
    import time

    from core.runs import ray_executor

    with socket.socket() as s:  # a port that was free a moment ago: nothing listens on it
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t = time.perf_counter()
    code, out, err = run_cli(["train", "--ray", f"127.0.0.1:{port}", "--dataset", "digits", "-n", "4", "-e", "1"],
                             capsys)
    took = time.perf_counter() - t
    print(f"--ray 127.0.0.1:{port}: exit {code} in {took:.2f} s")
    one_line_error(code, err, f"--ray: cannot connect to Ray at 127.0.0.1:{port}")
    assert took < ray_executor.CONNECT_SECONDS + 5
    assert ray_executor._connected is None and RunStore(cache).list_ids() == []


# ---------------------------------------------------------------------- row 9: export into a full or read-only folder
def _stored_run(members, cache, tmp_path) -> str:
    from core.runs.bundle import import_bundle

    write_zip(members, tmp_path / "source.zip")
    return import_bundle(RunStore(cache), tmp_path / "source.zip")


def _fail_after(monkeypatch, owner, name: str, calls: int, err: int) -> None:
    """owner.name works `calls` times, then raises OSError(err) (a disk that fills, or turns read-only, mid-write)."""
    import os

    real, seen = getattr(owner, name), []

    def failing(*args, **kwargs):
        seen.append(1)
        if len(seen) > calls:
            raise OSError(err, os.strerror(err))
        return real(*args, **kwargs)
    monkeypatch.setattr(owner, name, failing)


EXPORT_FAULTS = ["bundle-ENOSPC", "bundle-EROFS", "bundle-read-only-folder", "bundle-parent-is-a-file",
                 "tensorboard-ENOSPC", "tensorboard-EROFS", "tensorboard-parent-is-a-file"]


@pytest.mark.parametrize("how", EXPORT_FAULTS)
def test_an_export_that_cannot_be_written_is_one_line_and_leaves_nothing_partial(members, cache, tmp_path, capsys,
                                                                                 monkeypatch, how):
    import errno
    import pathlib

    from tensorboard.summary.writer.record_writer import RecordWriter

    run_id = _stored_run(members, cache, tmp_path)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    kind, fault = how.split("-", 1)
    target = out_dir / ("run.zip" if kind == "bundle" else "tb")
    if fault == "parent-is-a-file":
        (out_dir / "file").write_text("x")
        target = out_dir / "file" / target.name
    with monkeypatch.context() as m:
        code = errno.ENOSPC if fault == "ENOSPC" else errno.EROFS
        if kind == "bundle" and fault != "parent-is-a-file":
            _fail_after(m, zipfile.ZipFile, "write", 2, code)  # two members written, the third fails
        if kind == "tensorboard" and fault != "parent-is-a-file":
            _fail_after(m, RecordWriter, "write", 5, code)
        if fault == "read-only-folder":  # the file cannot even be opened for writing
            real_init = zipfile.ZipFile.__init__
            m.setattr(zipfile.ZipFile, "__init__", lambda z, file, mode="r", *a, **k: (
                (_ for _ in ()).throw(OSError(errno.EROFS, "Read-only file system", str(file)))
                if isinstance(file, pathlib.Path) and mode == "w" else real_init(z, file, mode, *a, **k)))
        if fault in ("EROFS", "read-only-folder"):  # a read-only file system refuses even removing a file that is not there
            real_unlink = pathlib.Path.unlink
            m.setattr(pathlib.Path, "unlink", lambda p, missing_ok=False: (
                (_ for _ in ()).throw(OSError(errno.EROFS, "Read-only file system", str(p)))
                if not p.exists() else real_unlink(p, missing_ok=missing_ok)))
        code, out, err = run_cli(["export", run_id, f"--{kind}", target], capsys)
    with capsys.disabled():
        print(f"\n{how}: {err.strip()}")
    one_line_error(code, err, f"--{kind}", str(target))
    if fault != "parent-is-a-file":
        assert os_error_text(fault) in err
    assert sorted(p.name for p in out_dir.iterdir()) == (["file"] if fault == "parent-is-a-file" else []), \
        list(out_dir.rglob("*"))
    if fault != "parent-is-a-file":  # the fault is gone: the same command now succeeds
        code, out, err = run_cli(["export", run_id, f"--{kind}", target], capsys)
        assert code == 0, err
        assert target.is_file() if kind == "bundle" else any(target.glob("events.out.tfevents.*"))


def os_error_text(fault: str) -> str:
    return {"ENOSPC": "No space left on device", "EROFS": "Read-only file system",
            "read-only-folder": "Read-only file system"}[fault]


# ---------------------------------------------------------------------- row 13: the Jacobian's memory
def test_a_jacobian_beyond_the_memory_budget_is_refused_before_a_network_is_built(cache, monkeypatch):
    import time

    import core.engine.jacobian as jac
    from core.base.config import RunConfig
    from core.base.datasets import DATASET_INFO
    from pages import theory_views

    def no_build(*args, **kwargs):
        raise AssertionError("build_model was called")
    monkeypatch.setattr(jac, "build_model", no_build)  # the page's Jacobian is core.lab.theory.jacobian_of's
    big = RunConfig(dataset="mnist-5k", widths=(4096, 4096, 4096), init="orthogonal")
    info = DATASET_INFO[big.dataset]
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"MiB; at most 256 MiB \(the preview's budget, PROBE_MEMORY_BYTES") as exc:
        jac.config_spectrum(big, info, batch=jac.MAX_BATCH)
    spec, why = theory_views._spectrum(theory_views._json(big))
    seconds = time.perf_counter() - start
    print(f"\n3 x 4096 orthogonal, {jac.MAX_BATCH} examples: {exc.value} ({seconds:.3f} s with the page's)")
    assert spec is None and "at most 256 MiB" in why and seconds < 2
    monkeypatch.undo()
    small = RunConfig(dataset="digits", widths=(16, 16), activation="tanh")
    spec = jac.config_spectrum(small, DATASET_INFO["digits"], batch=jac.MAX_BATCH)
    assert spec.singular_values.shape == (jac.MAX_BATCH, 10) and spec.mean_sq > 0


# ---------------------------------------------------------------------- row 8: an upload on a full or read-only disk
def _big_points_csv(rows: int = 20_000) -> bytes:
    """The largest CSV an upload allows in rows (its arrays: 0.3 MiB as .npz)."""
    body = "\n".join(f"{i % 97 * 0.25},{(i * 7) % 13 * 0.5},{i % 3}" for i in range(rows))
    return f"f1,f2,label\n{body}\n".encode()


@pytest.fixture
def tiny_uploads_disk(cache):
    """The uploads folder on its own 64 KiB tmpfs (a real full disk; remounted read-only on
    demand): yields (folder, remount). Skipped, with the reason, where mounting is not allowed."""
    import os
    import subprocess

    from core.base.datasets import uploads_dir

    folder = uploads_dir()
    folder.mkdir(parents=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root; the simulated faults below cover a full and read-only disk")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip() or mounted.returncode}); "
                    "the simulated faults below cover a full and read-only disk")

    def remount(options: str) -> None:
        subprocess.run(["mount", "-o", f"remount,{options}", str(folder)], check=True)
    try:
        yield folder, remount
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_an_upload_on_a_full_tmpfs_or_a_read_only_one_is_one_line_and_leaves_nothing(tiny_uploads_disk, tmp_path,
                                                                                     capsys):
    from core.engine.userdata import ingest, load_upload

    folder, remount = tiny_uploads_disk
    path = tmp_path / "big points.csv"
    path.write_bytes(_big_points_csv())
    code, out, err = run_cli(["train", "--data-file", path, "-e", "1"], capsys)  # 64 KiB: full mid-write
    with capsys.disabled():
        print(f"\nfull tmpfs: {err.strip()}")
    one_line_error(code, err, "--data-file: data file: cannot store big points.csv in", str(folder),
                   "No space left on device")
    assert list(folder.iterdir()) == []  # no tmp*.tmp, no arrays without their description
    remount("ro")
    code, out, err = run_cli(["train", "--data-file", path, "-e", "1"], capsys)
    with capsys.disabled():
        print(f"read-only tmpfs: {err.strip()}")
    one_line_error(code, err, "cannot store big points.csv", "Read-only file system")
    remount("rw,size=4m")  # space freed: the same file is stored, nothing blocks the retry
    name = ingest(path.read_bytes(), path.name)
    remount("ro")  # stored before the disk turned read-only: it is still used, and loads
    assert ingest(path.read_bytes(), path.name) == name and load_upload(name)[0].shape == (20_000, 2)
    assert sorted(p.suffix for p in folder.iterdir()) == [".json", ".npz"]


UPLOAD_FAULTS = ["ENOSPC-mid-write", "ENOSPC-on-the-description", "EROFS", "EACCES", "read-only-folder"]


@pytest.mark.parametrize("how", UPLOAD_FAULTS)
def test_an_upload_that_cannot_be_stored_is_one_line_on_the_cli_and_the_page(cache, tmp_path, capsys, monkeypatch,
                                                                              how):
    import errno
    import os
    import tempfile

    import numpy as np

    from core.base.datasets import uploads_dir
    from core.engine import userdata
    from core.views.markup import inert

    folder = uploads_dir()
    folder.mkdir(parents=True)
    path = tmp_path / "points.csv"
    path.write_bytes(_points_csv("f1,f2,label"))
    if how == "read-only-folder" and os.geteuid() == 0:
        pytest.skip("root writes through a folder's mode 555; EROFS and EACCES are simulated instead")
    with monkeypatch.context() as m:
        if how == "read-only-folder":
            folder.chmod(0o555)
        elif how == "ENOSPC-mid-write":  # the arrays half written when the disk fills
            def savez(fh, **arrays):
                fh.write(b"PK\x03\x04 half an archive")
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            m.setattr(np, "savez", savez)
        elif how == "ENOSPC-on-the-description":  # the arrays stored, their .json not
            _fail_after(m, os, "replace", 1, errno.ENOSPC)
        else:  # the folder cannot take a new file
            _fail_after(m, tempfile, "mkstemp", 0, getattr(errno, how))
        try:
            code, out, err = run_cli(["train", "--data-file", path, "-e", "1"], capsys)
            with capsys.disabled():
                print(f"\n{how}: {err.strip()}")
            reason = {"EROFS": "Read-only file system", "EACCES": "Permission denied",
                      "read-only-folder": "Permission denied"}.get(how, "No space left on device")
            one_line_error(code, err, "--data-file: data file: cannot store points.csv in", str(folder), reason)
            assert list(folder.iterdir()) == []
            at = open_page("pages/playground.py", {"dataset": "circles"})
            at.file_uploader(key="playground_upload").set_value(("points.csv", path.read_bytes(), "text/csv")).run()
            at.button(key="playground_upload_use").click().run()
            assert not at.exception
            shown = f"data file: cannot store points.csv in {folder}: {reason}"
            assert inert(shown) in [e.value for e in at.error], texts(at)  # as its characters, never markup
            assert list(folder.iterdir()) == [] and at.query_params["dataset"] in ("circles", ["circles"])
        finally:
            folder.chmod(0o755)
            from pages.playground_ui import get_playground

            get_playground().shutdown()
    # the fault is gone: the same file is stored
    assert userdata.ingest(path.read_bytes(), path.name).startswith("upload:") and len(list(folder.iterdir())) == 2
