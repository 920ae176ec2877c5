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

from ..config import FORMAT_VERSION

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


def check_meta(meta: dict, run_id: str) -> dict:
    if meta.get("status") not in STORED_STATUSES:
        raise CorruptRun(f"run {run_id}: its metadata has no valid status")
    return meta


# The histogram arrays a stored run may hold: name -> (bins per layer allowed, layers: "all" the
# weight layers or "hidden" at most). Activation histograms had 42 columns before NaN was counted.
HISTOGRAM_ARRAYS = {"grad": ((60,), "all"), "noisy_grad": ((60,), "all"), "weight": ((60,), "all"),
                    "act": ((42, 43), "hidden")}


def check_histograms(hist: dict, n_layers: int, run_id: str) -> dict:
    """The run's histograms if their arrays have the shapes the views read (logged steps x
    layers x bins, integer counts; 1-D steps and edges), else CorruptRun naming the array."""
    def bad(name: str, why: str):
        return CorruptRun(f"run {run_id}: histograms.npz: {name} {why}")

    steps = hist.get("steps")
    if steps is None or steps.ndim != 1 or steps.dtype.kind not in "iu":
        raise bad("steps", "is not a list of step numbers")
    for name, length in (("grad_edges", 57), ("act_edges", 41)):
        if name not in hist or hist[name].shape != (length,) or hist[name].dtype.kind != "f":
            raise bad(name, f"is not {length} bin edges")
    for name, (widths, layers) in HISTOGRAM_ARRAYS.items():
        a = hist.get(name)
        if a is None:
            if name == "grad":
                raise bad(name, "is missing")
            continue
        if a.ndim != 3 or a.dtype.kind not in "iu" or a.shape[2] not in widths:
            raise bad(name, f"has shape {a.shape}, not (steps, layers, {' or '.join(map(str, widths))})")
        if a.shape[0] > len(steps) or (name != "act" and a.shape[0] not in (0, len(steps))):
            raise bad(name, f"has {a.shape[0]} logged steps; the run logged {len(steps)}")
        if (a.shape[1] != n_layers) if layers == "all" else (a.shape[1] > n_layers):
            raise bad(name, f"has {a.shape[1]} layers; the run has {n_layers} weight layers")
    return hist
