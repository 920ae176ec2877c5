"""Your own data: good CSV and .npz files become "upload:<hash>" datasets; bad or hostile ones are
refused with a message naming the problem."""
import io
import json
import zipfile

import numpy as np
import pytest

from core.base.config import ConfigError, RunConfig
from core.base.datasets import DATASET_INFO, dataset_label, is_upload, uploads_dir
from core.engine import userdata
from core.engine.data import prepare_data
from core.engine.userdata import UploadError, csv_columns, ingest, load_upload


def _csv(rows, header="f1,f2,label"):
    return (header + "\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n").encode()


def _points(n=60, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2)).round(4)
    return x, (x[:, 0] > 0).astype(int)


def _npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def test_good_csv_becomes_a_dataset_that_trains():
    x, y = _points()
    raw = _csv([(a, b, "yes" if c else "no") for (a, b), c in zip(x, y)])
    name = ingest(raw, "points.csv")
    assert is_upload(name)
    info = DATASET_INFO[name]
    assert info.features == 2 and info.classes == 2 and info.n_train + info.n_val + info.n_test == 60
    xs, ys = load_upload(name)
    assert xs.dtype == np.float32 and ys.dtype == np.int64 and np.array_equal(ys, y)  # "no" < "yes"
    assert "60 rows" in dataset_label(name)
    cfg = RunConfig(dataset=name, widths=(8,), epochs=1)
    assert cfg.run_id == RunConfig(dataset=name, widths=(8,), epochs=1).run_id
    d = prepare_data(cfg)
    assert d.x_train.shape[1:] == (1, 1, 2)
    # stored without pickles, by content: the same numbers from an .npz give the same name
    files = sorted(p.name for p in uploads_dir().iterdir())
    assert files == [f"{name[7:]}.json", f"{name[7:]}.npz"]
    with np.load(uploads_dir() / f"{name[7:]}.npz", allow_pickle=False) as npz:
        assert set(npz.files) == {"x", "y"}
    assert ingest(_npz(x=x.astype(np.float32), y=y), "same.npz") == name


def test_chosen_label_column_and_numeric_label_order():
    rows = [(i % 3 * 5, i * 0.5, (i % 3) * 10 + 2) for i in range(30)]  # labels 2, 12, 22
    raw = _csv(rows, "cls,a,b")
    assert csv_columns(raw) == ["cls", "a", "b"]
    name = ingest(raw, "t.csv", label_column="b")
    _, y = load_upload(name)
    assert y[:3].tolist() == [0, 1, 2]  # numeric order: 2 < 12 < 22, not "12" < "2"
    meta = json.loads((uploads_dir() / f"{name[7:]}.json").read_text())
    assert meta["classes"] == ["2", "12", "22"] and meta["label_column"] == "b"
    with pytest.raises(UploadError, match="label column: no column 'zz'"):
        ingest(raw, "t.csv", label_column="zz")


def test_headerless_csv():
    x, y = _points(40)
    raw = "\n".join(f"{a},{b},{c}" for (a, b), c in zip(x, y)).encode()
    name = ingest(raw, "plain.csv")
    assert DATASET_INFO[name].features == 2


@pytest.mark.parametrize("raw, message", [
    (b"", "empty"),
    (b"\xff\xfe\x00garbage", "UTF-8"),
    (b"a,b,label\n1,2,x\n", "rows; at least"),
    (_csv([(1, "abc", 0)] * 30), "column 'f2': row 1 is 'abc', not a number"),
    (_csv([(1, "", 0)] + [(1, 2, i % 2) for i in range(30)]), "missing values"),
    (_csv([(1, 2, 0)] * 30), "1 distinct labels"),
    (_csv([(i, i, i) for i in range(30)]), "30 distinct labels"),
    (_csv([(1, 2, 0)] * 29 + [(1, 2, 1)]), "has 1 example"),
    (_csv([(1, "inf", i % 2) for i in range(30)]), "infinite"),
    (_csv([(1, 1e300, i % 2) for i in range(30)]), "infinite or beyond"),
    (b"only\n1\n2\n", "at least one feature column"),
])
def test_bad_csv_refused(raw, message):
    with pytest.raises(UploadError, match=message.replace("(", r"\(")):
        ingest(raw, "bad.csv")
    assert not uploads_dir().exists() or not list(uploads_dir().glob("*.npz"))


def test_hostile_files_refused(monkeypatch):
    # a pickle inside an .npz (object array) is never unpickled
    evil = _npz(x=np.zeros((30, 2)), y=np.array([object()] * 30, dtype=object))
    with pytest.raises(UploadError, match="'y.npy' holds Python objects"):
        ingest(evil, "evil.npz")
    with pytest.raises(UploadError, match="arrays x and y"):
        ingest(_npz(a=np.zeros(3)), "a.npz")
    with pytest.raises(UploadError, match="not an .npz"):
        ingest(b"PK\x03\x04 not really a zip", "z.npz")
    with pytest.raises(UploadError, match="shape"):
        ingest(_npz(x=np.zeros((30, 2, 2)), y=np.zeros(30)), "s.npz")
    with pytest.raises(UploadError, match="labels for"):
        ingest(_npz(x=np.zeros((30, 2)), y=np.zeros(29)), "n.npz")
    with pytest.raises(UploadError, match="neither a .csv nor an .npz"):
        ingest(b"MZ\x90\x00", "run.exe")
    # a zip bomb: small on the wire, huge unpacked
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("x.npy", b"\x00" * (userdata.MAX_UNPACKED + 1))
    with pytest.raises(UploadError, match="unpacks to"):
        ingest(buf.getvalue(), "bomb.npz")
    # too big
    with pytest.raises(UploadError, match="MiB; at most"):
        ingest(b"a" * (userdata.MAX_BYTES + 1), "big.csv")
    # too many rows
    monkeypatch.setattr(userdata, "MAX_ROWS", 50)
    x, y = _points(80)
    with pytest.raises(UploadError, match="more than 50 rows"):
        ingest(_csv([(a, b, c) for (a, b), c in zip(x, y)]), "long.csv")


def test_public_demo_switches_uploads_off(monkeypatch):
    monkeypatch.setenv("VG_PUBLIC_DEMO", "1")
    x, y = _points()
    with pytest.raises(UploadError, match="switched off"):
        ingest(_csv([(a, b, c) for (a, b), c in zip(x, y)]), "p.csv")


def test_unknown_or_damaged_upload_names_the_field():
    with pytest.raises(ConfigError, match="^dataset: no uploaded data"):
        RunConfig(dataset="upload:0123456789abcdef")
    with pytest.raises(ConfigError, match="^dataset"):
        RunConfig(dataset="upload:../../etc/passwd")
    x, y = _points()
    name = ingest(_csv([(a, b, c) for (a, b), c in zip(x, y)]), "p.csv")
    np.savez(uploads_dir() / f"{name[7:]}.npz", x=np.zeros((60, 2), np.float32), y=y)  # tampered
    with pytest.raises(UploadError, match="damaged"):
        load_upload(name)


def test_cli_data_file(tmp_path, capsys):
    from core.cli import main

    x, y = _points()
    path = tmp_path / "mine.csv"
    path.write_bytes(_csv([(a, b, c) for (a, b), c in zip(x, y)]))
    assert main(["train", "--data-file", str(path), "-n", "8", "-e", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert is_upload(out["config"]["dataset"])
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"a,b\n1,2\n")
    assert main(["train", "--data-file", str(bad), "-e", "1"]) == 2
    assert "error: --data-file" in capsys.readouterr().err
    assert main(["train", "--data-file", str(tmp_path / "missing.csv")]) == 2


def test_an_npz_declaring_more_rows_or_features_than_allowed_is_refused_before_it_is_read():
    """64 MiB of int8 zeros zip to 65 KB; read and widened to float64 they took 614 MB (peak
    resident) before the rows were counted. The headers' shapes are checked first."""
    import resource

    n = (64 * 2**20) // 65 - 10  # x and y together just under the 64 MiB an .npz may unpack to
    buf = io.BytesIO()
    np.savez_compressed(buf, x=np.zeros((n, 64), np.int8), y=np.zeros(n, np.int8))
    rows = buf.getvalue()
    wide = _npz(x=np.zeros((40, 65)), y=np.arange(40) % 2)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(UploadError, match=rf"^x: declares {n:,} rows; at most 20,000 allowed$"):
        ingest(rows, "rows.npz")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak < 32 * 2**10  # KiB: x was not unpacked
    with pytest.raises(UploadError, match="^x: declares 65 features; 1 to 64 allowed$"):
        ingest(wide, "wide.npz")
