"""Annealed gradient noise addition (GNA), as in Agarap (2019) and Neelakantan et al. (2015).

Before every optimizer step, Gaussian noise with std sigma_t = eta / (1 + t)^gamma is added to
the gradient of every trainable parameter. t counts epochs (0 in the first epoch, as Agarap (2019)'s
code did) or optimizer steps (0 at the first step, as Neelakantan et al. did).
"""
from __future__ import annotations

import torch


def noise_std(eta: float, gamma: float, t: int) -> float:
    """sigma_t = eta / (1 + t)^gamma; eta = 0 means no noise."""
    return eta / (1.0 + t) ** gamma


class GradientNoise:
    def __init__(self, eta: float, gamma: float, unit: str, seed: int, device: torch.device):
        self.eta, self.gamma, self.unit = eta, gamma, unit
        # Its own generator, so turning noise on does not change shuffling or initialization.
        self.generator = torch.Generator(device=device).manual_seed(seed + 2)

    def std_at(self, epoch_index: int, step: int) -> float:
        return noise_std(self.eta, self.gamma, epoch_index if self.unit == "epoch" else step)

    @torch.no_grad()
    def add_(self, params, epoch_index: int, step: int) -> float:
        """Add noise to every `.grad` in place; returns the std used."""
        sigma = self.std_at(epoch_index, step)
        grads = [p.grad for p in params if p.grad is not None]
        noise = [torch.randn(g.shape, generator=self.generator, device=g.device, dtype=g.dtype) for g in grads]
        torch._foreach_add_(grads, noise, alpha=sigma)
        return sigma
