"""What a stored run's files must be, checked before anything in them is believed.

A run folder holds exactly FILES; manifest.json lists each with its size and SHA-256. The JSON
files are read as objects of bounded size (a list, a number, a deeply nested or garbled file
raises CorruptRun, never AttributeError or RecursionError), and run ids are 16 lowercase hex
digits matched in full, so no path derived from input leaves the store.
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from ..base.config import FORMAT_VERSION
from ..base.cost import ACT_HIST_COLUMNS, GRAD_HIST_COLUMNS
from ..base.datasets import DATASET_INFO
from ..engine.userdata import MAX_ROWS as MAX_UPLOAD_ROWS
from ..base.instruments import INSTRUMENTS

RUN_ID = re.compile(r"[0-9a-f]{16}")  # always fullmatch: `$` would accept a trailing newline
TABLES = ("epochs", "steps", "layer_stats", "layers")
FILES = ("config.json", "meta.json", *(f"{t}.parquet" for t in TABLES), "histograms.npz", "weights.pt")
STORED_STATUSES = ("completed", "diverged")
MAX_JSON_BYTES = 4 * 2**20  # config, meta and manifest are a few KB; anything larger is not ours
_SHA256 = re.compile(r"[0-9a-f]{64}")


class StoreError(RuntimeError):
    """A problem with the store itself (bad run id, disk full, damaged run)."""


class CorruptRun(StoreError):
    pass


def check_run_id(run_id: str) -> str:
    if not isinstance(run_id, str) or not RUN_ID.fullmatch(run_id):
        raise StoreError(f"run id: {str(run_id)[:40]!r} is not a run id (16 lowercase hex digits)")
    return run_id


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_json_object(path: Path, what: str) -> dict:
    """A JSON object from a file of the store; anything else (not JSON, too large, too deeply
    nested, a list or a number) raises CorruptRun. A missing file raises FileNotFoundError."""
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            raise CorruptRun(f"{what}: larger than {MAX_JSON_BYTES} bytes")
        value = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise
    except (OSError, ValueError, RecursionError) as exc:  # ValueError covers bad UTF-8 and JSON
        raise CorruptRun(f"{what}: not readable JSON ({type(exc).__name__})") from exc
    if not isinstance(value, dict):
        raise CorruptRun(f"{what}: a JSON {type(value).__name__}, not an object")
    return value


def check_manifest(manifest: dict, run_id: str) -> dict:
    """The manifest's file table, once it is known to describe run_id in this format, with a
    size and a SHA-256 for exactly the files a run has; otherwise CorruptRun."""
    if manifest.get("format_version") != FORMAT_VERSION or manifest.get("run_id") != run_id:
        raise CorruptRun(f"run {run_id}: written by another format version or misfiled")
    files = manifest.get("files")
    if not isinstance(files, dict) or sorted(files) != sorted(FILES):
        raise CorruptRun(f"run {run_id}: its manifest does not list the files of a run")
    for name, entry in files.items():
        if not (isinstance(entry, dict) and type(entry.get("size")) is int and entry["size"] >= 0
                and isinstance(entry.get("sha256"), str) and _SHA256.fullmatch(entry["sha256"])):
            raise CorruptRun(f"run {run_id}: its manifest entry for {name} is malformed")
    return files


def _shown(value) -> str:
    text = " ".join(repr(value).split())
    return text if len(text) <= 40 else text[:40] + "..."


def _count(hi: int):
    return lambda v: type(v) is int and 0 <= v <= hi  # bool is not a count


def _positive(hi: int):
    return lambda v: type(v) is int and 1 <= v <= hi


def _number(lo: float, hi: float):
    return lambda v: type(v) in (int, float) and lo <= v <= hi  # NaN fails both comparisons


def _text(v) -> bool:  # shown in tables and printed by the CLI: one printable line
    return isinstance(v, str) and len(v) <= MAX_META_TEXT and v.isprintable()


def _or_none(check):
    return lambda v: v is None or check(v)


MAX_META_TEXT = 2000
MAX_NAME, MAX_NOTE = 80, 500  # a run's own name and note, given by its user


def check_name_note(name=None, note=None) -> None:
    """A run's name (at most MAX_NAME characters) and note (at most MAX_NOTE), each None or
    printable text on one line; else StoreError naming the field, on one line. "" clears one."""
    for field, value, limit in (("name", name, MAX_NAME), ("note", note, MAX_NOTE)):
        if value is None:
            continue
        if not isinstance(value, str):
            raise StoreError(f"{field}: got {type(value).__name__}; expected text")
        if len(value) > limit:
            raise StoreError(f"{field}: {len(value):,} characters; at most {limit}")
        if not value.isprintable():
            raise StoreError(f"{field}: holds a line break or a control character; expected one line of text")


def _user_text(limit: int):
    return lambda v: isinstance(v, str) and 0 < len(v) <= limit and v.isprintable()

_MAX_FLOAT = 1.7976931348623157e308  # finite: JSON's Infinity is refused
_FINAL = {"train_loss": _number(0, _MAX_FLOAT), "test_loss": _number(0, _MAX_FLOAT),
          "train_acc": _number(0, 1), "test_acc": _number(0, 1)}
# Every field a stored run's meta.json holds (core.engine.result.assemble_result and
# RunStore.save write them): name -> (required, check, what is expected). A field of another
# name is refused unless it is a short plain value that nothing reads.
META_FIELDS = {
    "status": (True, lambda v: v in STORED_STATUSES, "completed or diverged"),
    "diverged_step": (True, _or_none(_count(10**12)), "null or a step number"),
    "diverged_reason": (True, _or_none(_text), "null or one line of text"),
    "seconds": (True, _number(0, 1e9), "seconds of training, a number from 0 to 1e9"),
    "device": (True, _text, "a device name"),
    "threads": (True, _positive(10**6), "a thread count from 1"),
    "torch": (True, _text, "a version"),
    "python": (True, _text, "a version"),
    "params": (True, _count(10**12), "a parameter count"),
    "train_samples": (True, _count(10**12), "a number of examples"),
    "steps_per_epoch": (True, _positive(10**12), "a step count from 1"),
    "total_steps": (True, _count(10**12), "a step count"),
    "log_every": (True, _positive(10**12), "a step interval from 1"),
    "data_source": (True, _text, "one line of text"),
    "finished_at": (True, _number(0, 2**32), "a time in seconds since 1970"),
    "trained_with": (False, _positive(10**6), "a number of runs from 1"),
    "busy": (False, _number(1, 1e3), "a load factor from 1"),
    "label": (True, _text, "one line of text"),
    "depth": (True, _count(10**6), "a layer count"),
    "final": (True, lambda v: isinstance(v, dict) and sorted(v) == sorted(_FINAL)
              and all(_or_none(_FINAL[k])(x) for k, x in v.items()),
              "train_loss, train_acc, test_loss, test_acc: each null or a number (accuracies 0 to 1)"),
    "grad_ratio": (True, _or_none(_number(0, _MAX_FLOAT)), "null or a ratio from 0"),
    # given by the run's user (RunStore.set_name); a run stored before names existed has neither
    "name": (False, _user_text(MAX_NAME), f"one line of 1 to {MAX_NAME} printable characters"),
    "note": (False, _user_text(MAX_NOTE), f"one line of 1 to {MAX_NOTE} printable characters"),
    "format_version": (True, lambda v: v == FORMAT_VERSION, f"{FORMAT_VERSION}"),
}


def check_meta(meta: dict, run_id: str) -> dict:
    """The run's metadata once every field has its type and range (the pages and the CLI print
    them: "yesterday" where a time belongs must never reach them); else CorruptRun naming the
    field, on one line."""
    for name, (required, check, expected) in META_FIELDS.items():
        if name not in meta:
            if required:
                raise CorruptRun(f"run {run_id}: meta.json: {name} is missing")
            continue
        if not check(meta[name]):
            raise CorruptRun(f"run {run_id}: meta.json: {name}: got {_shown(meta[name])}; expected {expected}")
    for name, value in meta.items():
        plain = value is None or _text(value) or _number(-_MAX_FLOAT, _MAX_FLOAT)(value)
        if name not in META_FIELDS and not (_text(name) and len(name) <= 60 and plain):
            raise CorruptRun(f"run {run_id}: meta.json: {_shown(name)} is not a field of a run's metadata")
    return meta


# The columns every table of a stored run has (more are allowed): "i" whole numbers, "f"
# numbers, "s" text. The pages and the CLI index these by name.
TABLE_COLUMNS = {
    "epochs": dict(epoch="i", train_loss="f", train_acc="f", val_loss="f", val_acc="f", test_loss="f",
                   test_acc="f", lr="f", noise_std="f", seconds="f"),
    "steps": dict(step="i", epoch="i", loss="f"),
    "layer_stats": dict(step="i", epoch="i", layer="i", stat="s", value="f"),
    "layers": dict(layer="i", name="s", kind="s", fan_in="i", fan_out="i", params="i"),
}
_KINDS = {"i": "iu", "f": "iuf", "s": "OSUT"}
_KIND_NAMES = {"i": "whole numbers", "f": "numbers", "s": "text"}


def check_tables(tables: dict, run_id: str) -> dict:
    """The run's tables if each has its columns, of their types (an empty table's types are
    not read); else CorruptRun naming the table and the column."""
    for table, columns in TABLE_COLUMNS.items():
        df = tables[table]
        for column, kind in columns.items():
            if column not in df.columns:
                raise CorruptRun(f"run {run_id}: {table}.parquet: column {column} is missing")
            if len(df) and df[column].dtype.kind not in _KINDS[kind]:
                raise CorruptRun(f"run {run_id}: {table}.parquet: column {column} holds {df[column].dtype}, "
                                 f"not {_KIND_NAMES[kind]}")
    return tables


# How large a run's tables and arrays may be, from what its metadata says it ran; checked from
# the Parquet footers and the .npy headers before a row or a value is read (a 16 KB steps.parquet
# of 50 M rows was read in full; a 39.6 KB histograms.npz unpacking to 2 GiB was allocated).
MAX_TRAIN_SAMPLES = max(max(i.n_train for i in DATASET_INFO.values()), MAX_UPLOAD_ROWS)
MAX_LAYERS = 1024  # weight layers (the largest networks the limits allow have a few hundred)
MAX_STATS = 2 * len(INSTRUMENTS)  # statistics per layer and logged step, noisy_ ones included


def logged_steps(meta: dict) -> int:
    """At most this many steps of the run were logged (steps 0, log_every, 2 log_every, ...)."""
    return -(-meta["total_steps"] // meta["log_every"]) + 1


def check_table_rows(rows: dict, meta: dict, epochs: int, batch_size: int, run_id: str) -> None:
    """CorruptRun, naming the table and its limit, unless each table (`rows`: name -> row count,
    read from the Parquet metadata) has at most the rows the run's metadata allows; the step
    counts in the metadata must agree with the config (`epochs`, `batch_size`) first."""
    def bad(what: str, got: int, limit: int, why: str):
        return CorruptRun(f"run {run_id}: {what}: {got:,}; at most {limit:,} ({why})")

    if meta["train_samples"] > MAX_TRAIN_SAMPLES:
        raise bad("meta.json: train_samples", meta["train_samples"], MAX_TRAIN_SAMPLES, "the largest data set")
    per_epoch = -(-max(meta["train_samples"], 1) // batch_size)
    if meta["steps_per_epoch"] > per_epoch:
        raise bad("meta.json: steps_per_epoch", meta["steps_per_epoch"], per_epoch,
                  f"{meta['train_samples']:,} examples in batches of {batch_size}")
    if meta["total_steps"] > epochs * meta["steps_per_epoch"]:
        raise bad("meta.json: total_steps", meta["total_steps"], epochs * meta["steps_per_epoch"],
                  f"{epochs} epochs of {meta['steps_per_epoch']:,} steps")
    limits = {"layers": (MAX_LAYERS, "weight layers of a network"),
              "epochs": (epochs, "one per epoch"),
              "steps": (meta["total_steps"], "one per step the run took"),
              "layer_stats": (logged_steps(meta) * min(rows["layers"], MAX_LAYERS) * MAX_STATS,
                              f"{logged_steps(meta):,} logged steps x {rows['layers']:,} layers x {MAX_STATS} statistics")}
    for table, (limit, why) in limits.items():
        if rows[table] > limit:
            raise bad(f"{table}.parquet: rows", rows[table], limit, why)


def histogram_bytes(meta: dict, n_layers: int) -> int:
    """The most bytes one array of histograms.npz may declare: logged steps x layers x bins of
    8-byte counts (the edges are smaller)."""
    return logged_steps(meta) * max(n_layers, 1) * max(GRAD_HIST_COLUMNS, ACT_HIST_COLUMNS) * 8


def read_tables(d: Path, meta: dict, epochs: int, batch_size: int, run_id: str) -> dict:
    """The run's tables from folder `d`, each one's row count read from its Parquet footer and
    checked (check_table_rows) before the table is read, then its columns (check_tables)."""
    import pandas as pd
    import pyarrow.parquet as pq

    rows = {}
    for t in TABLES:
        with pq.ParquetFile(d / f"{t}.parquet") as pf:
            rows[t] = pf.metadata.num_rows
    check_table_rows(rows, meta, epochs, batch_size, run_id)
    return check_tables({t: pd.read_parquet(d / f"{t}.parquet") for t in TABLES}, run_id)


def read_histograms(path: Path, meta: dict, n_layers: int, run_id: str) -> dict:
    """The run's histogram arrays, each one's shape and type read from its .npy header and
    checked (check_histograms, histogram_bytes) before it is unpacked; no pickles."""
    import zipfile

    import numpy as np

    from ..engine.npzheaders import NpzRefused, npz_headers

    try:
        with zipfile.ZipFile(path) as z:
            headers = npz_headers(z, max_bytes=histogram_bytes(meta, n_layers))
    except NpzRefused as exc:
        raise CorruptRun(f"run {run_id}: histograms.npz: {exc}") from None
    check_histograms(headers, n_layers, run_id)
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


# The histogram arrays a stored run may hold: name -> (bins per layer allowed, layers: "all" the
# weight layers or "hidden" at most). Activation histograms had 42 columns before NaN was counted.
HISTOGRAM_ARRAYS = {"grad": ((60,), "all"), "noisy_grad": ((60,), "all"), "weight": ((60,), "all"),
                    "act": ((42, 43), "hidden")}


def check_histograms(arrays: dict, n_layers: int, run_id: str) -> dict:
    """`arrays` (name -> (shape, dtype), as core.engine.npzheaders reads them before anything is
    unpacked) if they have the shapes the views read (logged steps x layers x bins, integer
    counts; 1-D steps and edges), else CorruptRun naming the array."""
    def bad(name: str, why: str):
        return CorruptRun(f"run {run_id}: histograms.npz: {name} {why}")

    steps = arrays.get("steps")
    if steps is None or len(steps[0]) != 1 or steps[1].kind not in "iu":
        raise bad("steps", "is not a list of step numbers")
    n_steps = steps[0][0]
    for name, length in (("grad_edges", 57), ("act_edges", 41)):
        if name not in arrays or arrays[name][0] != (length,) or arrays[name][1].kind != "f":
            raise bad(name, f"is not {length} bin edges")
    for name, (widths, layers) in HISTOGRAM_ARRAYS.items():
        if name not in arrays:
            if name == "grad":
                raise bad(name, "is missing")
            continue
        shape, dtype = arrays[name]
        if len(shape) != 3 or dtype.kind not in "iu" or shape[2] not in widths:
            raise bad(name, f"has shape {shape}, not (steps, layers, {' or '.join(map(str, widths))})")
        if shape[0] > n_steps or (name != "act" and shape[0] not in (0, n_steps)):
            raise bad(name, f"has {shape[0]} logged steps; the run logged {n_steps}")
        if (shape[1] != n_layers) if layers == "all" else (shape[1] > n_layers):
            raise bad(name, f"has {shape[1]} layers; the run has {n_layers} weight layers")
    return arrays
