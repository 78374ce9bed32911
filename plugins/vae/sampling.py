"""Latent codes from seeds: digit i of `generate mode=sample seed=S` is the prior sample of seed S + i,
so any one digit can be drawn again alone, or used as an end of an interpolation, by its seed."""

from __future__ import annotations

import torch
from torch import Tensor

SEED_LIMIT = 2**32  # the range of a job's seed param, so every digit's seed can be given back as one


def item_seed(seed: int, index: int) -> int:
    return (seed + index) % SEED_LIMIT


def prior_latent(seed: int, latent_size: int) -> Tensor:
    """One draw z ~ N(0, I) of shape (L,), on the CPU so every device gets the same digit."""
    return torch.randn(latent_size, generator=torch.Generator().manual_seed(seed))


def prior_latents(seed: int, n: int, latent_size: int) -> Tensor:
    """(n, L): the latents of digits seed, seed + 1, ... seed + n - 1."""
    return torch.stack([prior_latent(item_seed(seed, i), latent_size) for i in range(n)])
