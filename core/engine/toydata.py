"""The 2-D datasets, generated: spiral, circles, xor, gaussians and moons (numpy only).

    x, y = generate("spiral", noise=0.1)     # (1000, 2) float32 in about [-1.3, 1.3], (1000,) int64

Each set has 1,000 points, 500 per class, shuffled. The points come from a fixed seed per set
and the noise from a second fixed stream, so every run of a set sees the same points whatever
its own seed (as the image sets keep one split), and two noise levels differ only by how far
each point is jittered: `noise` is the std of a Gaussian jitter in units of the data's radius
(about 1). Labels are those of the points before the jitter, as TensorFlow Playground does.
"""
from __future__ import annotations

import zlib

import numpy as np

from ..base.datasets import TOY

N_POINTS = 1000
GENERATORS = TOY  # the catalogue's generated sets; _MAKERS holds one maker per name


def _spiral(rng, n):
    t = rng.uniform(0.0, 1.0, n)
    cls = np.arange(n) % 2
    angle = 1.75 * 2 * np.pi * t + np.pi * cls
    r = 0.05 + 0.95 * t
    return np.stack([r * np.sin(angle), r * np.cos(angle)], 1), cls


def _circles(rng, n):
    cls = np.arange(n) % 2
    r = np.where(cls == 0, rng.uniform(0.0, 0.5, n), rng.uniform(0.7, 1.0, n))
    angle = rng.uniform(0.0, 2 * np.pi, n)
    return np.stack([r * np.sin(angle), r * np.cos(angle)], 1), cls


def _xor(rng, n):
    pts = rng.uniform(-1.0, 1.0, (n, 2))
    pts += np.sign(pts) * 0.06  # a thin gap along the axes, as the Playground leaves
    cls = (pts[:, 0] * pts[:, 1] >= 0).astype(np.int64)
    # Rebalance exactly: flip the sign of x where a class has too many (keeps the quadrant law).
    extra = np.flatnonzero(cls == 1)[: max(0, int(cls.sum()) - n // 2)]
    extra = extra if len(extra) else np.flatnonzero(cls == 0)[: max(0, n // 2 - int(cls.sum()))]
    pts[extra, 0] *= -1
    return pts, (pts[:, 0] * pts[:, 1] >= 0).astype(np.int64)


def _gaussians(rng, n):
    cls = np.arange(n) % 2
    centre = np.where(cls[:, None] == 0, -0.5, 0.5)
    return centre + 0.22 * rng.standard_normal((n, 2)), cls


def _moons(rng, n):
    cls = np.arange(n) % 2
    t = rng.uniform(0.0, np.pi, n)
    x = np.where(cls == 0, np.cos(t), 1.0 - np.cos(t))
    y = np.where(cls == 0, np.sin(t), 0.5 - np.sin(t))
    return np.stack([(x - 0.5) / 1.5, (y - 0.25) / 1.5 * 1.6], 1), cls


_MAKERS = {"spiral": _spiral, "circles": _circles, "xor": _xor, "gaussians": _gaussians, "moons": _moons}


def generate(name: str, noise: float = 0.1, n: int = N_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """Points (n, 2) float32 and labels (n,) int64 of the 2-D set `name`, half of each class."""
    if name not in _MAKERS:
        raise ValueError(f"dataset: {name!r} is not a 2-D set; expected one of {', '.join(GENERATORS)}")
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"data_noise: got {noise}; must be 0 to 1")
    seed = zlib.crc32(name.encode())  # a fixed stream per set (Python's hash() is salted)
    points, labels = _MAKERS[name](np.random.default_rng(seed), n)
    jitter = np.random.default_rng(seed + 1).standard_normal((n, 2))
    order = np.random.default_rng(seed + 2).permutation(n)
    x = (points + noise * jitter)[order].astype(np.float32)
    return x, np.asarray(labels, dtype=np.int64)[order]
