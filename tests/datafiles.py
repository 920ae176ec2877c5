"""Write small datasets in the on-disk formats of MNIST (IDX) and CIFAR (python pickles)."""
import gzip
import pickle
import struct
from pathlib import Path

import numpy as np


def write_idx(path: Path, array: np.ndarray, gz: bool = False) -> None:
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        with gzip.open(str(path) + ".gz", "wb") as fh:
            fh.write(data)
    else:
        path.write_bytes(data)


def write_mnist_like(folder: Path, n_train=120, n_test=40, gz=False, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, n, dtype=np.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte", x, gz)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", y, gz)
        arrays[prefix] = (x, y)
    return arrays


def write_cifar_like(root: Path, classes=10, n_per_batch=30, seed=0):
    rng = np.random.default_rng(seed)
    if classes == 10:
        folder = root / "cifar-10-batches-py"
        names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
        key = "labels"
    else:
        folder = root / "cifar-100-python"
        names, key = ["train", "test"], "fine_labels"
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        batch = {"data": rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8),
                 key: [int(v) for v in rng.integers(0, classes, n_per_batch)]}
        with open(folder / name, "wb") as fh:
            pickle.dump(batch, fh)
    return folder
