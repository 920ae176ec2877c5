"""A stored run's own name and note, given by its user ("he vs glorot", "for Monday's class").

    set_name(store, run_id, name="he vs glorot", note="3 seeds, digits")   # None keeps, "" clears

They live in the run's meta.json (core.runs.files.META_FIELDS: optional, one printable line of
at most 80 and 500 characters), so a run stored before names existed loads as before, a bundle
carries them, and a bundle with a hostile name is refused like any other bad field. Setting them
rewrites meta.json and the manifest in a staging folder beside hard links to the run's other
files, which then replaces the run's folder whole, under the run's lock (as RunStore.save does).
"""
from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

from .files import CorruptRun, StoreError, check_manifest, check_meta, check_name_note, read_json_object, sha256_of
from .store import RunStore, json_default


def set_name(store: RunStore, run_id: str, name: str | None = None, note: str | None = None) -> dict:
    """Give the stored run `run_id` its user's name and note (None keeps one as it is, "" or
    blanks clear it); returns its metadata. StoreError names a bad field or a run not stored
    here; a run whose meta.json does not match its manifest raises CorruptRun."""
    check_name_note(name, note)
    with store.lock(run_id):
        d = store.run_dir(run_id)
        try:
            files = check_manifest(read_json_object(d / "manifest.json", f"run {run_id}: manifest"), run_id)
        except (FileNotFoundError, NotADirectoryError):
            raise StoreError(f"run {run_id}: not stored here") from None
        if sha256_of(d / "meta.json") != files["meta.json"]["sha256"]:
            raise CorruptRun(f"run {run_id}: meta.json does not match its checksum")
        meta = check_meta(read_json_object(d / "meta.json", f"run {run_id}: metadata"), run_id)
        for field, value in (("name", name), ("note", note)):
            if value is not None:
                meta.pop(field, None)
                if value.strip():
                    meta[field] = value.strip()
        staging = store.tmp_dir / f"{run_id}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        staging.mkdir(parents=True)
        try:
            for fname in files:
                if fname != "meta.json":
                    _link_or_copy(d / fname, staging / fname)
            data = json.dumps(meta, indent=1, default=json_default).encode()
            store._write(staging / "meta.json", data)
            files = dict(files, **{"meta.json": {"size": len(data), "sha256": sha256_of(staging / "meta.json")}})
            store._install(staging, run_id, files)
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise StoreError(f"run {run_id}: its name could not be saved ({exc.strerror or exc})") from exc
    return meta


def _link_or_copy(src: Path, dst: Path) -> None:
    """A hard link (a run's files are never written in place), or a copy where links fail."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
