"""A stored run as one .zip that another installation opens as a stored run.

    export_bundle(store, run_id, "run.zip")     # the run's files and its manifest (sizes, SHA-256)
    import_bundle(store, "run.zip")             # -> run_id, stored after every check below
    import_bundle(store, "run.zip", replace=True)  # a run stored here already raises AlreadyStored without

A bundle holds exactly the files of a stored run (core.runs.files.FILES) and its manifest.json,
flat, nothing else. Import trusts nothing in it: the zip's size, its number of members, their
names (no folders, no paths, no duplicates) and their sizes, declared and actually read, are
bounded before anything is unpacked (a zip bomb stops at its declared size or at the limit);
then the unpacked run is opened exactly as the store opens its own runs (manifest, checksums,
a config that hashes to the run id, metadata, tables and histograms bounded by the metadata from
their Parquet footers and .npy headers before they are read, no pickles, weights with
torch's weights_only loader) and saved through the store's own save. A damaged member (bad
CRC-32, corrupt deflate, inflating past its declared size) is one BundleError naming it, and
nothing is left in the store's tmp folder.
"""
from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO

from .files import FILES, MAX_JSON_BYTES, CorruptRun, StoreError, check_manifest, check_run_id, read_json_object
from .store import RunStore

MANIFEST = "manifest.json"
MEMBERS = (*FILES, MANIFEST)
MAX_BUNDLE_BYTES = 512 * 2**20  # the .zip itself
MAX_UNPACKED_BYTES = 2 * 2**30  # all members together, unpacked
_CHUNK = 1 << 20


class BundleError(StoreError):
    """A file that is not a bundle of a run, or one that breaks a limit; the message says which."""


class AlreadyStored(BundleError):
    """The bundle's run is stored here already and replacing it was not asked for."""

    def __init__(self, run_id: str):
        super().__init__(f"bundle: run {run_id} is already stored here; not replaced")
        self.run_id = run_id


def export_bundle(store: RunStore, run_id: str, path: str | Path | BinaryIO) -> None:
    """Write the stored run `run_id` (checked first, weights included) as a .zip to `path`
    (a file name or a writable binary file). A file name is written whole or not at all: the
    zip goes to a hidden sibling first and is renamed into place; a write that fails (a full
    disk, a read-only folder) raises its OSError and leaves neither file behind."""
    if store.load(check_run_id(run_id), weights=True) is None:
        raise BundleError(f"run {run_id}: not stored here")
    d = store.run_dir(run_id)
    if not isinstance(path, (str, Path)):
        _write_zip(d, path)
        return
    path = Path(path)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        _write_zip(d, partial)
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(OSError):  # a read-only folder refuses even this: keep the first error
            partial.unlink(missing_ok=True)
        raise


def _write_zip(run_dir: Path, target) -> None:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        for name in MEMBERS:
            z.write(run_dir / name, arcname=name)


def bundle_bytes(store: RunStore, run_id: str) -> bytes:
    buf = io.BytesIO()
    export_bundle(store, run_id, buf)
    return buf.getvalue()


def _size(source) -> int:
    if isinstance(source, (str, Path)):
        return Path(source).stat().st_size
    pos = source.tell()
    source.seek(0, io.SEEK_END)
    size = source.tell()
    source.seek(pos)
    return size


def _check_members(z: zipfile.ZipFile, max_unpacked: int) -> list[zipfile.ZipInfo]:
    infos = z.infolist()
    if len(infos) > len(MEMBERS):
        raise BundleError(f"bundle: {len(infos)} members; a run has {len(MEMBERS)}")
    names = [i.filename for i in infos]
    if len(set(names)) != len(names):
        raise BundleError("bundle: a member appears twice")
    for name in names:
        if name not in MEMBERS:
            raise BundleError(f"bundle: {name[:60]!r} is not a file of a run (expected only {', '.join(MEMBERS)}, "
                              "without folders)")
    missing = sorted(set(MEMBERS) - set(names))
    if missing:
        raise BundleError(f"bundle: {', '.join(missing)} missing")
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise BundleError(f"bundle: {info.filename} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise BundleError(f"bundle: {info.filename} is compressed with method {info.compress_type}; "
                              "a bundle uses deflate")
        limit = MAX_JSON_BYTES if info.filename.endswith(".json") else max_unpacked
        if info.file_size > limit:
            raise BundleError(f"bundle: {info.filename} unpacks to {info.file_size:,} bytes; at most {limit:,}")
        total += info.file_size
    if total > max_unpacked:
        raise BundleError(f"bundle: unpacks to {total:,} bytes; at most {max_unpacked:,}")
    return infos


# What zipfile and its decompressors raise on a damaged member: a bad CRC-32 or local header
# (BadZipFile), a corrupt deflate stream (zlib.error), a stream that ends early (EOFError).
_DAMAGED = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError)


def _unpack(z: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path) -> None:
    """Copy one member, reading at most its declared size (a member that inflates to more is
    cut there by zipfile and then fails its CRC-32); a damaged member raises BundleError."""
    written = 0
    try:
        with z.open(info) as src, open(target, "wb") as out:
            while True:
                chunk = src.read(min(_CHUNK, info.file_size - written + 1))
                if not chunk:
                    break
                written += len(chunk)
                if written > info.file_size:
                    raise BundleError(f"bundle: {info.filename} unpacks to more than its declared size")
                out.write(chunk)
    except _DAMAGED as exc:
        kind = "zlib.error" if isinstance(exc, zlib.error) else type(exc).__name__
        raise BundleError(f"bundle: {info.filename} is damaged ({kind}: "
                          f"{' '.join(str(exc).split())[:80]})") from exc


def import_bundle(store: RunStore, source: str | Path | BinaryIO, max_bytes: int | None = None,
                  max_unpacked: int = MAX_UNPACKED_BYTES, replace: bool = False) -> str:
    """Check the bundle at `source` (a path or a readable binary file) and store its run; returns
    the run id. Anything that is not a valid run raises BundleError and stores nothing; a run
    already stored here raises AlreadyStored (as soon as the manifest is read) unless `replace`."""
    max_bytes = MAX_BUNDLE_BYTES if max_bytes is None else max_bytes
    size = _size(source)
    if size > max_bytes:
        raise BundleError(f"bundle: {size:,} bytes; at most {max_bytes:,}")
    staging = Path(tempfile.mkdtemp(prefix="bundle-", dir=store.tmp_dir))
    try:
        try:
            z = zipfile.ZipFile(source)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise BundleError(f"bundle: not a zip file ({type(exc).__name__})") from exc
        with z:
            infos = _check_members(z, max_unpacked)
            check = RunStore(staging / "store", max_bytes=max_unpacked * 2)
            manifest_path = staging / MANIFEST
            _unpack(z, z.getinfo(MANIFEST), manifest_path)
            try:
                manifest = read_json_object(manifest_path, "bundle: manifest")
                run_id = check_run_id(manifest.get("run_id"))
                files = check_manifest(manifest, run_id)
            except StoreError as exc:
                raise BundleError(str(exc)) from exc
            if not replace and store.has(run_id):
                raise AlreadyStored(run_id)
            run_dir = check.run_dir(run_id)
            run_dir.mkdir()
            for info in infos:
                if info.filename != MANIFEST and info.file_size != files[info.filename]["size"]:
                    raise BundleError(f"bundle: {info.filename} is not the size its manifest says")
                _unpack(z, info, run_dir / info.filename)
        try:
            result = check.load(run_id, weights=True)  # checksums, config hash, metadata, tables
        except CorruptRun as exc:
            raise BundleError(f"bundle: {exc}") from exc
        if result is None:
            raise BundleError("bundle: the run could not be opened")
        store.save(result)
        return run_id
    finally:
        shutil.rmtree(staging, ignore_errors=True)
