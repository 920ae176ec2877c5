"""What every data source hands the trainer: a DataBundle of tensors on the device, split by
one fixed rule (seed 0, whatever the run's seed, so runs are compared on the same examples)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..base.datasets import DatasetInfo


@dataclass
class DataBundle:
    x_train: torch.Tensor  # (N, C, H, W) float32 on the training device
    y_train: torch.Tensor  # (N,) int64
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    info: DatasetInfo
    source: str


def split_indices(n_pool: int, n_val: int, n_test: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fixed (seed 0) split of a pool into train / val / test index arrays."""
    order = np.random.default_rng(0).permutation(n_pool)
    test = order[:n_test]
    val = order[n_test:n_test + n_val]
    train = order[n_test + n_val:]
    return train, val, test
