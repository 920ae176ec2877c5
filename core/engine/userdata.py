"""Your own data: a CSV or .npz file, validated, stored by the hash of its arrays (numpy only).

    name = ingest(raw_bytes, "points.csv", label_column="label")   # "upload:3f2a9c0d1e4b5a67"
    x, y = load_upload(name)                                       # float32 (N, F), int64 (N,)
    csv_columns(raw_bytes)                                         # the header, to pick a label

A CSV has numeric feature columns and one label column (named label, class, target or y, or
the last column, or the one chosen); an .npz holds arrays `x` (N, F) and `y` (N,) and is read
without pickles. Labels may be numbers or words: their distinct values, sorted, become classes
0..K-1. Everything is checked (size, rows, columns, types, missing and infinite values, number
of classes, examples per class) and a bad file raises UploadError naming what is wrong.

The validated arrays are kept as uploads_dir()/<hash>.npz (plain arrays) next to <hash>.json
(core.base.datasets reads its DatasetInfo), so the dataset value "upload:<hash>" -- and with it the
run id -- names exactly these numbers, whatever file they came from. At most MAX_UPLOADS are
kept; the least recently used go first.
"""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import os
import tempfile
import time
import zipfile

import numpy as np

from ..base.config import public_demo
from ..base.datasets import UPLOAD_PREFIX, DatasetInfo, is_upload, upload_meta, uploads_dir
from .npzheaders import NpzRefused, npz_headers

MAX_BYTES = 5 * 2**20  # the file as uploaded
MAX_UNPACKED = 64 * 2**20  # an .npz's arrays once unzipped (a zip bomb stops here)
MAX_ROWS = 20_000
MIN_ROWS = 20
MAX_FEATURES = 64
MAX_CLASSES = 20
MIN_PER_CLASS = 2
MAX_ABS = 1e6
MAX_UPLOADS = 100
LABEL_NAMES = ("label", "class", "target", "y")


class UploadError(ValueError):
    """A file that cannot be used; the message says why, naming the column or array."""


def uploads_allowed() -> bool:
    """Uploads are off in a public demo (core.base.config.public_demo())."""
    return not public_demo()


# ---------------------------------------------------------------------- reading
def csv_columns(raw: bytes) -> list[str]:
    """The column names of a CSV (col1, col2, ... when its first row is numbers)."""
    return list(_read_csv(raw, nrows=1).columns)


def _text(value, limit=40) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[:limit] + "..."


def _name(value) -> str:
    """A column's name as matched: whitespace runs as one space, never cut (_text cuts it for
    messages only, so --label-column finds a name of any length)."""
    return " ".join(str(value).split())


def _check_header(text: str) -> None:
    """Refuse, in time linear in the first row, a first row of more columns than a file may
    have, or a header that names a column twice: pandas renames repeated names one by one in
    quadratic time (a header of one name 40,000 times, 80 KB, took it 19 s)."""
    try:
        fields = next((row for row in csv.reader(io.StringIO(text), skipinitialspace=True) if row), None)
    except csv.Error:
        return  # pandas says what is wrong with it
    if fields is None:
        return
    if len(fields) > MAX_FEATURES + 1:
        raise UploadError(f"data file: the first row has {len(fields):,} columns; at most {MAX_FEATURES + 1} "
                          f"({MAX_FEATURES} features and a label)")
    names = [_name(f) for f in fields]
    if all(_is_number(n) for n in names):
        return  # no header row: the first row is data, and numbers may repeat
    seen = set()
    for n in names:
        if n and n in seen:
            raise UploadError(f"data file: the header names column {_text(n)!r} twice; each column needs its own name")
        seen.add(n)


def _read_csv(raw: bytes, nrows: int | None = None):
    import pandas as pd

    _check_size(raw)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UploadError(f"data file: not UTF-8 text (byte {exc.start}); save the CSV as UTF-8") from None
    if "\x00" in text:
        raise UploadError("data file: contains NUL bytes; not a CSV text file")
    _check_header(text)
    try:
        table = pd.read_csv(io.StringIO(text), nrows=nrows if nrows else MAX_ROWS + 1,
                            skipinitialspace=True)
    except (ValueError, pd.errors.ParserError, csv.Error) as exc:
        raise UploadError(f"data file: not a readable CSV ({_text(exc, 80)})") from None
    if table.shape[1] == 0:
        raise UploadError("data file: no columns found")
    if all(_is_number(c) for c in table.columns):  # no header row: the first row is data
        table = pd.read_csv(io.StringIO(text), header=None, nrows=nrows if nrows else MAX_ROWS + 1,
                            skipinitialspace=True)
        table.columns = [f"col{i + 1}" for i in range(table.shape[1])]
    table.columns = [_name(c) for c in table.columns]
    if len(set(table.columns)) != len(table.columns):
        raise UploadError("data file: two columns have the same name")
    return table


def _is_number(text) -> bool:
    try:
        float(str(text))
        return True
    except ValueError:
        return False


def _check_size(raw: bytes) -> None:
    if len(raw) > MAX_BYTES:
        raise UploadError(f"data file: {len(raw) / 2**20:.1f} MiB; at most {MAX_BYTES // 2**20} MiB allowed")
    if not raw:
        raise UploadError("data file: the file is empty")


def read_csv(raw: bytes, label_column: str | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    table = _read_csv(raw)
    if table.shape[1] < 2:
        raise UploadError("data file: needs at least one feature column and a label column")
    if label_column is None:
        named = [c for c in table.columns if str(c).strip().lower() in LABEL_NAMES]
        label_column = named[0] if named else table.columns[-1]
    elif _name(label_column) not in table.columns:
        raise UploadError(f"label column: no column {_text(label_column)!r}; the columns are "
                          f"{', '.join(map(_text, table.columns[:12]))}")
    else:
        label_column = _name(label_column)
    features = [c for c in table.columns if c != label_column]
    import pandas as pd

    for c in features:
        col = pd.to_numeric(table[c], errors="coerce")
        bad = col.isna() & table[c].notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise UploadError(f"column {_text(c)!r}: row {row + 1} is {_text(table[c].iloc[row])!r}, not a number "
                              "(every column but the label must be numeric)")
        table[c] = col
    x = table[features].to_numpy(dtype=np.float64)
    labels = table[label_column].to_numpy()
    return x, labels, {"columns": features, "label_column": label_column}


def read_npz(raw: bytes) -> tuple[np.ndarray, np.ndarray, dict]:
    _check_size(raw)
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            unpacked = sum(i.file_size for i in zf.infolist())
            if unpacked > MAX_UNPACKED:
                raise UploadError(f"data file: unpacks to {unpacked / 2**20:.0f} MiB; at most "
                                  f"{MAX_UNPACKED // 2**20} MiB allowed")
            # Each member's header, before np.load allocates the shape it declares.
            _check_shapes(npz_headers(zf, max_bytes=MAX_UNPACKED))
    except UploadError:
        raise
    except NpzRefused as exc:
        raise UploadError(f"data file: {exc}") from None
    except (zipfile.BadZipFile, OSError, ValueError):
        raise UploadError("data file: not an .npz archive (a zip of .npy arrays)") from None
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
            missing = [k for k in ("x", "y") if k not in npz.files]
            if missing:
                raise UploadError(f"data file: the .npz needs arrays x and y; it has "
                                  f"{', '.join(map(_text, npz.files[:10])) or 'none'}")
            x, y = npz["x"], npz["y"]
    except UploadError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        # allow_pickle=False refuses object arrays (and so any pickled code) with a ValueError.
        raise UploadError(f"data file: an array could not be read ({_text(exc, 80)})") from None
    if x.dtype.kind not in "biuf":
        raise UploadError(f"x: has type {x.dtype}; expected numbers")
    if x.ndim != 2:
        raise UploadError(f"x: has shape {x.shape}; expected (rows, features)")
    if y.ndim != 1 or y.dtype.kind not in "biufU":
        raise UploadError(f"y: has shape {y.shape} and type {y.dtype}; expected one label per row")
    if len(y) != len(x):
        raise UploadError(f"y: has {len(y)} labels for {len(x)} rows of x")
    return x.astype(np.float64), y, {"columns": [f"x{i + 1}" for i in range(x.shape[1])], "label_column": "y"}


def _check_shapes(heads: dict) -> None:
    """x and y's rows and features from their .npy headers, before they are read: an .npz of
    64 MiB of int8 zeros (65 KB zipped) would otherwise be unpacked and widened to float64,
    528 MB, before validate() refused its million rows."""
    for name, (shape, _) in heads.items():
        if name in ("x", "y") and shape and shape[0] > MAX_ROWS:
            raise UploadError(f"{name}: declares {shape[0]:,} rows; at most {MAX_ROWS:,} allowed")
        if name == "x" and len(shape) == 2 and shape[1] > MAX_FEATURES:
            raise UploadError(f"x: declares {shape[1]:,} features; 1 to {MAX_FEATURES} allowed")


# ---------------------------------------------------------------------- checking
def validate(x: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """float32 features, int64 classes and the class names, or UploadError."""
    n, f = x.shape
    if n > MAX_ROWS:
        raise UploadError(f"data file: more than {MAX_ROWS:,} rows; at most {MAX_ROWS:,} allowed")
    if n < MIN_ROWS:
        raise UploadError(f"data file: {n} rows; at least {MIN_ROWS} needed")
    if not 1 <= f <= MAX_FEATURES:
        raise UploadError(f"data file: {f} feature columns; 1 to {MAX_FEATURES} allowed")
    missing = np.isnan(x)
    if missing.any():
        r, c = np.argwhere(missing)[0]
        raise UploadError(f"data file: {int(missing.sum())} missing values (the first in row {r + 1}, "
                          f"feature {c + 1}); fill or remove them")
    if not np.isfinite(x).all() or np.abs(x).max() > MAX_ABS:
        raise UploadError(f"data file: a feature is infinite or beyond ±{MAX_ABS:g}; rescale the data")
    if labels.dtype.kind in "biuf":  # numbers: classes in numeric order (2 before 10)
        if not np.isfinite(labels).all():
            raise UploadError("label column: has missing or infinite labels")
        values, y = np.unique(labels, return_inverse=True)
        names = np.array([f"{v:g}" for v in values], dtype=object)
    else:
        as_text = np.array([_text(v) for v in labels], dtype=object)
        if any(v in ("", "nan", "None") for v in as_text):
            raise UploadError("label column: has missing labels")
        names, y = np.unique(as_text, return_inverse=True)
    if not 2 <= len(names) <= MAX_CLASSES:
        raise UploadError(f"label column: {len(names)} distinct labels; 2 to {MAX_CLASSES} allowed")
    counts = np.bincount(y, minlength=len(names))
    if counts.min() < MIN_PER_CLASS:
        raise UploadError(f"label column: class {names[counts.argmin()]!r} has {counts.min()} example(s); "
                          f"at least {MIN_PER_CLASS} per class needed")
    return x.astype(np.float32), y.astype(np.int64), [str(v) for v in names]


def split_sizes(n: int) -> tuple[int, int, int]:
    """(train, val, test) as the small image sets split: 20% test, 10% of the rest validation."""
    n_test = max(1, n // 5)
    n_val = max(1, (n - n_test) // 10)
    return n - n_test - n_val, n_val, n_test


# ---------------------------------------------------------------------- storing
def ingest(raw: bytes, filename: str, label_column: str | None = None) -> str:
    """Validate an uploaded file and store it; returns its dataset name "upload:<hash>"."""
    if not uploads_allowed():
        raise UploadError("data file: uploads are switched off in this public demo")
    lower = str(filename).lower()
    if lower.endswith(".npz"):
        x, labels, meta = read_npz(raw)
    elif lower.endswith((".csv", ".txt", ".tsv")):
        x, labels, meta = read_csv(raw, label_column)
    else:
        raise UploadError(f"data file: {_text(filename)!r} is neither a .csv nor an .npz file")
    x, y, names = validate(x, labels)
    return save(x, y, dict(meta, classes=names, source=_text(os.path.basename(str(filename)), 60)))


def content_hash(x: np.ndarray, y: np.ndarray) -> str:
    h = hashlib.sha256(f"{x.shape}|{x.dtype}|{y.dtype}|".encode())
    h.update(np.ascontiguousarray(x).tobytes())
    h.update(np.ascontiguousarray(y).tobytes())
    return h.hexdigest()[:16]


def save(x: np.ndarray, y: np.ndarray, meta: dict) -> str:
    digest = content_hash(x, y)
    name = UPLOAD_PREFIX + digest
    folder = uploads_dir()
    n_train, n_val, n_test = split_sizes(len(y))
    info = DatasetInfo(1, 1, x.shape[1], int(y.max()) + 1, n_train, n_val, n_test)
    record = dict(meta, info=dataclasses.asdict(info), rows=len(y), created=time.time())
    record["columns"] = [_text(c) for c in record.get("columns", [])][:MAX_FEATURES]
    if "label_column" in record:
        record["label_column"] = _text(record["label_column"])
    written = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for path, write in ((folder / f"{digest}.npz", lambda fh: np.savez(fh, x=x, y=y)),
                            (folder / f"{digest}.json", lambda fh: fh.write(json.dumps(record).encode()))):
            if not _touch(path):
                _write_atomic(path, write)
                written.append(path)
    except OSError as exc:  # a full disk, a read-only or unwritable cache: nothing half-written stays,
        for path in written:  # nor arrays without their description
            _remove(path)
        what = record.get("source") or "the file"
        raise UploadError(f"data file: cannot store {what!s} in {folder}: "
                          f"{exc.strerror or exc.__class__.__name__}") from None
    _evict(folder)
    return name


def _touch(path) -> bool:
    """Mark a stored file as just used; False when it is not there. A cache that has become
    read-only keeps the file usable: only its place in the eviction order is not updated."""
    try:
        os.utime(path)
    except FileNotFoundError:
        return False
    except OSError:
        pass
    return True


def _write_atomic(path, write) -> None:
    """`write(fh)` to a temporary file beside `path`, then rename it: `path` is whole or absent,
    and the temporary file is removed whatever fails (ENOSPC mid-write, EROFS on the rename)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


def _remove(path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _evict(folder) -> None:
    """Remove the least recently used uploads past MAX_UPLOADS (best effort: one that cannot be
    removed now is removed by a later upload)."""
    try:
        kept = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in kept[MAX_UPLOADS:]:
            for path in (old, old.with_suffix(".npz")):
                path.unlink(missing_ok=True)
    except OSError:
        pass


def load_upload(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The stored arrays of upload `name`, checked against its description."""
    meta = upload_meta(name) if is_upload(name) else None
    path = uploads_dir() / f"{name[len(UPLOAD_PREFIX):]}.npz"
    if meta is None or not path.is_file():
        raise UploadError(f"dataset: no uploaded data {_text(name)} on this machine; upload the file again")
    with np.load(path, allow_pickle=False) as npz:
        x, y = npz["x"], npz["y"]
    info = meta["info"]
    if x.shape != (meta["rows"], info.features) or y.shape != (meta["rows"],) \
            or content_hash(x, y) != name[len(UPLOAD_PREFIX):]:
        raise UploadError(f"dataset: the stored file of {name} is damaged; upload the file again")
    _touch(path.with_suffix(".json"))
    return x, y
