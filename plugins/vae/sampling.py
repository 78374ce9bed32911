"""Latent codes from seeds: digit i of `generate mode=sample seed=S` is the prior sample of seed
`item_seed(S, i)` = S + i, so any one digit can be drawn again alone, or used as an end of an
interpolation, by its seed."""

from __future__ import annotations

import torch
from torch import Tensor

from aigc.core.plugin_api import item_seed


def prior_latent(seed: int, latent_size: int) -> Tensor:
    """One draw z ~ N(0, I) of shape (L,), on the CPU so every device gets the same digit."""
    return torch.randn(latent_size, generator=torch.Generator().manual_seed(seed))


def prior_latents(seed: int, n: int, latent_size: int, first: int = 0) -> Tensor:
    """(n, L): the latents of digits item_seed(seed, first), ..., item_seed(seed, first + n - 1)."""
    return torch.stack([prior_latent(item_seed(seed, i), latent_size) for i in range(first, first + n)])
