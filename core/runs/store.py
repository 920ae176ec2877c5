"""The run store: finished runs on disk under cache/runs/<run_id>/, keyed by the config hash.

    store = RunStore()                       # cache/ beside the code, or $VG_CACHE_DIR
    store.save(result); store.load(run_id); store.list_runs(); store.delete(run_id)
    set_name(store, run_id, name="he vs glorot", note="for Monday's class")   # core.runs.names

Runs are obtained through core.runs.runner.get_or_train, which loads what is stored and trains
what is missing under the store's locks; the store itself knows nothing of training.

A run folder holds config.json, meta.json, tidy tables as Parquet, histograms as .npz,
weights.pt, and last a manifest.json with the size and SHA-256 of every file. Guarantees:
- atomic: a run is written into cache/tmp/ and renamed into place complete; a folder without a
  valid manifest is never listed or served;
- once: two processes (or threads) asking for the same missing run train it once (a file lock);
  the other waits and reads it;
- safe: no pickles (Parquet, JSON, npz without pickle, torch.load(weights_only=True)); run ids
  are 16 lowercase hex digits, so no path derived from input leaves the store;
- bounded: a size cap ($VG_CACHE_MAX_BYTES, default 2 GiB) with least-recently-used eviction;
- honest: a damaged run is detected (size or hash mismatch, unreadable file, a JSON file of
  the wrong type or shape, a metadata field of the wrong type or range, a table without its
  columns, a table or an array larger than the run its metadata describes: core.runs.files), reported, removed, and trained again on the next request; listing
  skips it (reported once per process) and never raises;
- plain errors: a store that cannot be used (VG_CACHE_DIR a file or unwritable, a bad
  VG_CACHE_MAX_BYTES, no space for a lock file) raises StoreError with one line naming it.
"""
from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import shutil
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from filelock import FileLock

from ..base.config import FORMAT_VERSION, STORED_LIMITS, ConfigError, RunConfig, limits_in_force
from ..engine.result import RunResult, finite_or_none
from .files import (RUN_ID, TABLES, CorruptRun, StoreError, check_histograms, check_manifest, check_meta,  # noqa: F401
                    check_run_id, check_tables, read_histograms, read_json_object, read_tables, sha256_of)

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 2 * 2**30
_reported: set[str] = set()  # damaged runs already reported by list_runs in this process


def default_cache_dir() -> Path:
    return Path(os.environ.get("VG_CACHE_DIR", Path(__file__).resolve().parents[2] / "cache"))


def _max_bytes_from_env() -> int:
    raw = os.environ.get("VG_CACHE_MAX_BYTES", "").strip()
    if not raw:
        return DEFAULT_MAX_BYTES
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value <= 0:
        raise StoreError(f"VG_CACHE_MAX_BYTES: got {raw[:40]!r}; expected a positive whole number "
                         f"of bytes (default {DEFAULT_MAX_BYTES})")
    return value


class RunStore:
    def __init__(self, root: Path | str | None = None, max_bytes: int | None = None):
        self.root = Path(root) if root is not None else default_cache_dir()
        self.max_bytes = max_bytes if max_bytes is not None else _max_bytes_from_env()
        self.runs_dir = self.root / "runs"
        self.tmp_dir = self.root / "tmp"
        self.locks_dir = self.root / "locks"
        where = "VG_CACHE_DIR" if root is None and os.environ.get("VG_CACHE_DIR") else "cache folder"
        try:
            for d in (self.runs_dir, self.tmp_dir, self.locks_dir):
                d.mkdir(parents=True, exist_ok=True)
                if not os.access(d, os.W_OK | os.X_OK):
                    raise PermissionError(13, "not writable")
        except OSError as exc:
            raise StoreError(f"{where}: {str(self.root)[:200]} cannot hold the run store "
                             f"({exc.strerror or exc})") from exc

    # ------------------------------------------------------------------ paths and locks
    def run_dir(self, run_id: str) -> Path:
        return self.runs_dir / check_run_id(run_id)

    @contextlib.contextmanager
    def lock(self, run_id: str):
        """Hold run_id's lock (across processes); a lock file that cannot be created (a full
        disk, no free inodes) raises StoreError."""
        lock = FileLock(str(self.locks_dir / f"{check_run_id(run_id)}.lock"))
        try:
            lock.acquire()
        except OSError as exc:
            raise StoreError(f"run {run_id}: could not create its lock file in "
                             f"{str(self.locks_dir)[:200]} ({exc.strerror or exc})") from exc
        try:
            yield lock
        finally:
            lock.release()

    # ------------------------------------------------------------------ queries
    def has(self, run_id: str) -> bool:
        """Whether run_id is stored with a valid manifest (its files are checked by load)."""
        try:
            check_manifest(read_json_object(self.run_dir(run_id) / "manifest.json", "manifest"), run_id)
            return True
        except (FileNotFoundError, NotADirectoryError, CorruptRun):
            return False

    def list_ids(self) -> list[str]:
        """The stored runs whose manifest is valid (a damaged one is reported once, skipped)."""
        return sorted(run_id for run_id, _ in self._listable())

    def _listable(self):
        for p in self.runs_dir.iterdir():
            if not RUN_ID.fullmatch(p.name):
                continue
            try:
                check_manifest(read_json_object(p / "manifest.json", f"run {p.name}: manifest"), p.name)
                yield p.name, p
            except FileNotFoundError:
                continue  # being written, evicted or deleted
            except CorruptRun as exc:
                _report_once(p.name, exc)

    def list_runs(self) -> pd.DataFrame:
        """One row per stored run with its key settings and results (from config and meta only)."""
        rows = []
        for run_id, d in sorted(self._listable()):
            try:
                cfg = self._config(d, run_id).to_dict()
                meta = check_meta(read_json_object(d / "meta.json", f"run {run_id}: metadata"), run_id)
                size = sum(p.stat().st_size for p in d.iterdir())
            except FileNotFoundError:
                continue  # evicted or deleted while listing
            except CorruptRun as exc:
                _report_once(run_id, exc)
                continue
            final = meta.get("final") if isinstance(meta.get("final"), dict) else {}
            rows.append({
                "run_id": run_id, "name": meta.get("name", ""), "note": meta.get("note", ""),
                "label": meta.get("label", ""), "status": meta.get("status"),
                **{k: cfg.get(k) for k in ("dataset", "arch", "activation", "init", "bn",
                                           "residual", "grad_noise", "optimizer", "lr", "epochs",
                                           "batch_size", "seed")},
                "depth": meta.get("depth"), "params": meta.get("params"),
                "test_acc": final.get("test_acc"), "test_loss": final.get("test_loss"),
                "train_acc": final.get("train_acc"), "train_loss": final.get("train_loss"),
                "grad_ratio": meta.get("grad_ratio"), "seconds": meta.get("seconds"),
                "device": meta.get("device"), "created": meta.get("finished_at"), "bytes": size,
            })
        return pd.DataFrame(rows)

    def total_bytes(self) -> int:
        total = 0
        for d in self.runs_dir.iterdir():
            try:
                total += sum(p.stat().st_size for p in d.iterdir())
            except OSError:
                pass
        return total

    # ------------------------------------------------------------------ load
    def load(self, run_id: str, weights: bool = False) -> RunResult | None:
        """The stored run, or None when there is none. A damaged run raises CorruptRun."""
        d = self.run_dir(run_id)
        manifest_path = d / "manifest.json"
        if not manifest_path.is_file():
            return None
        try:
            files = check_manifest(read_json_object(manifest_path, f"run {run_id}: manifest"), run_id)
            for name, entry in files.items():
                if name == "weights.pt" and not weights:
                    if (d / name).stat().st_size != entry["size"]:
                        raise CorruptRun(f"run {run_id}: {name} has the wrong size")
                    continue
                path = d / name
                if path.stat().st_size != entry["size"] or sha256_of(path) != entry["sha256"]:
                    raise CorruptRun(f"run {run_id}: {name} does not match its checksum")
            cfg = self._config(d, run_id)
            meta = check_meta(read_json_object(d / "meta.json", f"run {run_id}: metadata"), run_id)
            tables = read_tables(d, meta, cfg.epochs, cfg.batch_size, run_id)  # rows bounded first
            hist = read_histograms(d / "histograms.npz", meta, len(tables["layers"]), run_id)  # shapes first
            state = torch.load(d / "weights.pt", map_location="cpu", weights_only=True) if weights else None
        except FileNotFoundError:
            return None  # deleted or evicted between the check and the read
        except CorruptRun:
            raise
        except Exception as exc:  # Parquet, npz, JSON and torch each raise their own kinds
            raise CorruptRun(f"run {run_id}: unreadable ({type(exc).__name__}: {str(exc)[:100]})") from exc
        self._touch(d)
        return RunResult(config=cfg, status=meta["status"], epochs=tables["epochs"],
                         steps=tables["steps"], layer_stats=tables["layer_stats"],
                         layers=tables["layers"], histograms=hist, meta=meta,
                         state_dict=state, cached=True)

    @staticmethod
    def _config(d: Path, run_id: str) -> RunConfig:
        """The run's config, valid and hashing to its id, or CorruptRun. It is checked against
        STORED_LIMITS, not the active ones: a public demo's smaller limits hide nothing and
        never make a run made under the normal limits look damaged (and be deleted), and
        neither does a later estimate of what its training cost."""
        try:
            with limits_in_force(STORED_LIMITS):
                cfg = RunConfig.from_dict(read_json_object(d / "config.json", f"run {run_id}: config"))
        except ConfigError as exc:
            raise CorruptRun(f"run {run_id}: its config is not valid ({exc})") from exc
        if cfg.run_id != run_id:
            raise CorruptRun(f"run {run_id}: its config hashes to {cfg.run_id}")
        return cfg

    def _touch(self, d: Path) -> None:
        try:
            os.utime(d)  # the folder's mtime is its last use, for LRU eviction
        except OSError:
            pass

    # ------------------------------------------------------------------ save
    def save(self, result: RunResult) -> Path:
        """Write a finished (completed or diverged) run atomically; returns its folder."""
        if result.status not in ("completed", "diverged"):
            raise StoreError(f"run {result.run_id}: a {result.status} run is not stored")
        run_id = result.run_id
        staging = self.tmp_dir / f"{run_id}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        staging.mkdir(parents=True)
        try:
            meta = dict(result.meta, label=result.config.describe(), depth=result.config.depth,
                        final=result.final_metrics(), grad_ratio=finite_or_none(result.grad_ratio("final")),
                        format_version=FORMAT_VERSION)
            self._write(staging / "config.json", json.dumps(result.config.to_dict(), indent=1).encode())
            self._write(staging / "meta.json", json.dumps(meta, indent=1, default=json_default).encode())
            for t in TABLES:
                buf = io.BytesIO()
                getattr(result, t).to_parquet(buf, index=False)
                self._write(staging / f"{t}.parquet", buf.getvalue())
            buf = io.BytesIO()
            np.savez_compressed(buf, **result.histograms)
            self._write(staging / "histograms.npz", buf.getvalue())
            buf = io.BytesIO()
            torch.save(result.state_dict or {}, buf)
            self._write(staging / "weights.pt", buf.getvalue())
            files = {p.name: {"size": p.stat().st_size, "sha256": sha256_of(p)}
                     for p in sorted(staging.iterdir())}
            self._install(staging, run_id, files)
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise StoreError(f"run {run_id}: could not be saved ({exc.strerror or exc})") from exc
        except BaseException:  # whatever else stops the write leaves no staging folder behind
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self.evict(keep=run_id)
        return self.run_dir(run_id)

    def _install(self, staging: Path, run_id: str, files: dict) -> None:
        """Write the manifest of `files` into `staging`, then put `staging` in place of run_id's
        folder (one already there is discarded first). An OSError passes up."""
        manifest = {"run_id": run_id, "format_version": FORMAT_VERSION, "files": files}
        self._write(staging / "manifest.json", json.dumps(manifest, indent=1).encode())
        target = self.run_dir(run_id)
        if target.exists():
            self._discard(target)
        os.rename(staging, target)
        _fsync_dir(self.runs_dir)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        with open(path, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())

    # ------------------------------------------------------------------ delete and evict
    def delete(self, run_id: str) -> bool:
        d = self.run_dir(run_id)
        if not d.exists():
            return False
        self._discard(d)
        return True

    def _discard(self, d: Path) -> None:
        """Rename out of runs/ first (atomic), so readers never see a half-deleted run."""
        trash = self.tmp_dir / f"trash-{d.name}-{uuid.uuid4().hex[:8]}"
        try:
            os.rename(d, trash)
        except FileNotFoundError:
            return
        shutil.rmtree(trash, ignore_errors=True)

    def evict(self, keep: str | None = None) -> list[str]:
        """Remove least-recently-used runs until the store fits its size cap."""
        entries = []
        for d in self.runs_dir.iterdir():
            try:
                size = sum(p.stat().st_size for p in d.iterdir())
                entries.append((d.stat().st_mtime, size, d))
            except OSError:
                continue
        total = sum(e[1] for e in entries)
        removed = []
        for _, size, d in sorted(entries, key=lambda e: e[0]):
            if total <= self.max_bytes:
                break
            if d.name == keep:
                continue
            lock = FileLock(str(self.locks_dir / f"{d.name}.lock"), timeout=0)
            try:
                with lock:  # never evict a run someone is writing or training right now
                    self._discard(d)
            except Exception:  # filelock.Timeout: busy, skip it
                continue
            total -= size
            removed.append(d.name)
        self._sweep_tmp()
        return removed

    def _sweep_tmp(self, older_than: float = 3600.0) -> None:
        """Staging folders left by killed processes are removed once they are old."""
        now = time.time()
        for p in self.tmp_dir.iterdir():
            try:
                if now - p.stat().st_mtime > older_than:
                    shutil.rmtree(p, ignore_errors=True)
            except OSError:
                pass

    # ------------------------------------------------------------------ for the runner
    def try_save(self, result: RunResult) -> bool:
        """Save a freshly trained run if it finished (completed or diverged; a cancelled run
        is not a result). Returns whether it was stored. A failed save does not raise: it is
        logged and its reason put in result.meta["store_error"], so the caller still gets its
        result."""
        if result.status not in ("completed", "diverged"):
            return False
        try:
            self.save(result)
        except StoreError as exc:
            log.warning("%s", exc)
            result.meta["store_error"] = str(exc)
            return False
        return True

    def load_or_drop(self, run_id: str) -> RunResult | None:
        """The stored run, or None when it is missing or damaged (a damaged one is removed so
        that it is trained again)."""
        try:
            return self.load(run_id)
        except CorruptRun as exc:
            log.warning("%s; removing it so it is trained again", exc)
            self.delete(run_id)
            return None


def _report_once(run_id: str, exc: Exception) -> None:
    if run_id not in _reported:
        _reported.add(run_id)
        log.warning("%s; skipped (opening it removes it so that it is trained again)", exc)


def json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    raise TypeError(type(value).__name__)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass
