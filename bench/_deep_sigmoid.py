"""The workload of benchmarks 1 and 2: one epoch of Kakujo (2022)'s deep sigmoid network on the full
Fashion-MNIST training set, as the user's loop and through `core`.

- `baseline_epoch`: Kakujo (2022)'s loop as written there: a torchvision dataset with ToTensor() and
  Normalize((0.5,), (0.5,)), a DataLoader (batch 100, shuffle, 2 workers), SGD with momentum
  0.9 and lr 0.01, loss.item() every step, no instrumentation.
- `ours_epoch`: the same model (5 hidden layers of 1000 logistic units, PyTorch's default
  init), the same 60,000 images normalized the same way, batch 100 and optimizer, trained by
  `core.engine.loop.train` with per-layer statistics at the given logging frequency. The evaluation
  splits are empty, because the baseline does not evaluate either.
- `matmul_epoch`: only the matrix multiplications of that epoch (forward, and backward for the
  weights and the inputs), on preallocated tensors: the practical limit of any loop.

Data: Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist), or wherever
core.engine.data finds Fashion-MNIST; without it, the offline default dataset (mnist-5k) and a note.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from _common import OUT
from core.base.config import RunConfig
from core.base.datasets import DatasetInfo
from core.engine.data import DataBundle, DatasetUnavailable, load_raw
from core.engine.loop import PlainEngine, RunState, train
from core.engine.models import build_model

BATCH = 100
WIDTHS = (1000,) * 5


@dataclass
class Workload:
    dataset: str  # core's name of the dataset
    note: str  # what was used, for the report
    x: np.ndarray  # uint8 (N, 1, 28, 28)
    y: np.ndarray  # int64 (N,)
    torchvision_root: str  # IDX files of the same images, for the baseline's torchvision dataset
    torchvision_class: str


def load_workload() -> Workload:
    try:
        raw = load_raw("fashion-mnist")
        name, cls = "fashion-mnist", "FashionMNIST"
        note = f"full Fashion-MNIST training set from {raw.source}"
    except DatasetUnavailable as exc:
        raw = load_raw("mnist-5k")
        name, cls = "mnist-5k", "MNIST"
        note = (f"Fashion-MNIST is not available ({str(exc)[:80]}...); fell back to the default "
                f"dataset mnist-5k ({len(raw.train_x)} images)")
    root = OUT / "torchvision" / name
    folder = root / cls / "raw"
    folder.mkdir(parents=True, exist_ok=True)
    # torchvision wants uncompressed IDX files in its own layout; write them from the same arrays.
    _write_idx(folder / "train-images-idx3-ubyte", raw.train_x[:, 0])
    _write_idx(folder / "train-labels-idx1-ubyte", raw.train_y.astype(np.uint8))
    test_x = raw.test_x if raw.test_x is not None else raw.train_x[:1]
    test_y = raw.test_y if raw.test_y is not None else raw.train_y[:1]
    _write_idx(folder / "t10k-images-idx3-ubyte", test_x[:, 0])
    _write_idx(folder / "t10k-labels-idx1-ubyte", test_y.astype(np.uint8))
    return Workload(name, note, raw.train_x, raw.train_y, str(root), cls)


def _write_idx(path, array: np.ndarray) -> None:
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)


# ---------------------------------------------------------------------- the user's loop (Kakujo (2022))
class DeepSigmoidNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(28 * 28, 1000)
        self.fc2 = nn.Linear(1000, 1000)
        self.fc3 = nn.Linear(1000, 1000)
        self.fc4 = nn.Linear(1000, 1000)
        self.fc5 = nn.Linear(1000, 1000)
        self.fc6 = nn.Linear(1000, 10)

    def forward(self, x):
        x = x.view(-1, 28 * 28)
        x = torch.sigmoid(self.fc1(x))
        x = torch.sigmoid(self.fc2(x))
        x = torch.sigmoid(self.fc3(x))
        x = torch.sigmoid(self.fc4(x))
        x = torch.sigmoid(self.fc5(x))
        return self.fc6(x)


def make_baseline(w: Workload, device: torch.device):
    import torchvision
    import torchvision.transforms as transforms

    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    cls = getattr(torchvision.datasets, w.torchvision_class)
    trainset = cls(root=w.torchvision_root, train=True, download=False, transform=transform)
    trainloader = torch.utils.data.DataLoader(trainset, batch_size=BATCH, shuffle=True, num_workers=2)

    def epoch():
        net = DeepSigmoidNet().to(device)
        criterion = nn.CrossEntropyLoss()
        optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
        running_loss = 0.0
        for i, (inputs, labels) in enumerate(trainloader):
            inputs, labels = inputs.to(device), labels.to(device)
            optimizer.zero_grad()
            loss = criterion(net(inputs), labels)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
        return running_loss / (i + 1)

    return epoch


# ---------------------------------------------------------------------- ours
def ours_config(w: Workload, log_every: int = 0) -> RunConfig:
    return RunConfig(dataset=w.dataset, widths=WIDTHS, activation="logistic", init="torch_default",
                     optimizer="sgd_momentum", lr=0.01, momentum=0.9, batch_size=BATCH, epochs=1,
                     log_every=log_every)


def same_data_bundle(w: Workload, device: torch.device) -> DataBundle:
    """All training images, scaled and normalized as the baseline's transforms do; no
    evaluation splits."""
    x = torch.from_numpy(w.x).float().div_(255.0).sub_(0.5).div_(0.5).to(device)
    y = torch.from_numpy(w.y).to(device)
    empty_x, empty_y = x[:0], y[:0]
    info = DatasetInfo(1, 28, 28, 10, len(y), 0, 0)
    return DataBundle(x, y, empty_x, empty_y, empty_x, empty_y, info, "benchmark: same images as the baseline")


def make_ours(w: Workload, device: torch.device, log_every: int = 0):
    bundle = same_data_bundle(w, device)
    cfg = ours_config(w, log_every).replace(device=device.type)

    def epoch():
        return train(cfg, data=bundle)

    return epoch


def one_run(w: Workload, device: torch.device):
    """The trainer's own engine and run state for the deep sigmoid net (statistics at every
    logged step), and the first mini-batch's indices: for timing `train_step` itself."""
    cfg = ours_config(w, log_every=1).replace(device=device.type)
    bundle = same_data_bundle(w, device)
    engine = PlainEngine(build_model(cfg, bundle.info).to(device), bundle, cfg, device)
    run = RunState.create(0, cfg, engine, log_every=1, device=device, on_event=None)
    return engine, run, torch.arange(BATCH, device=device).unsqueeze(0)


# ---------------------------------------------------------------------- the limit
def make_matmuls(n_images: int, device: torch.device):
    """The matrix products of one epoch and nothing else: forward (input @ W.T per layer),
    backward (grad.T @ input for every weight, grad @ W for every input but the first)."""
    dims = [28 * 28, *WIDTHS, 10]
    steps = -(-n_images // BATCH)
    g = torch.Generator(device="cpu").manual_seed(0)
    ws = [torch.randn(o, i, generator=g).to(device) for i, o in zip(dims[:-1], dims[1:])]
    acts = [torch.randn(BATCH, d, generator=g).to(device) for d in dims]
    grads = [torch.randn(BATCH, d, generator=g).to(device) for d in dims]
    w_grads = [torch.empty_like(w) for w in ws]

    def epoch():
        for _ in range(steps):
            for l in range(len(ws)):
                torch.mm(acts[l], ws[l].t(), out=acts[l + 1])
            for l in reversed(range(len(ws))):
                torch.mm(grads[l + 1].t(), acts[l], out=w_grads[l])
                if l > 0:
                    torch.mm(grads[l + 1], ws[l], out=grads[l])
        return steps

    return epoch
