"""Latents from seeds, the sampling settings a model carries, and latents through a generator to pixels.

Digit i of a job with seed s has its own seed, `item_seed(s, i)` = s + i, which keys a counter-based
Philox stream: digit i of a job gets the same latent whatever n is, and `-p seed=s+i -p n=1` (or
`np.random.Generator(np.random.Philox(key=seed))` with the seed written in its PNG) draws it again alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from aigc.core.plugin_api import LoadedModel, item_seed
from aigc.plugins.gan.data import to_pixels
from aigc.plugins.gan.networks import GanConfig, Generator


@dataclass(frozen=True)
class Latents:
    z: np.ndarray  # (B, L) float32
    digits: np.ndarray  # (B,) int64; all zero for an unconditional model
    seeds: list[int]  # the seed of each row's digit


def draw_latents(
    seed: int,
    indices: Sequence[int] | range,
    config: GanConfig,
    *,
    prior: Sequence[float] | None = None,
    digit: int | None = None,
    temperature: float = 1.0,
    truncation: float | None = None,
) -> Latents:
    """The latent (and digit, for a conditional model) of each index, drawn from its own stream."""
    cumulative = np.cumsum(prior if prior is not None else np.full(max(config.num_classes, 1), 1.0))
    cumulative /= cumulative[-1]
    z = np.empty((len(indices), config.latent_size), dtype=np.float32)
    digits = np.zeros(len(indices), dtype=np.int64)
    seeds = [item_seed(seed, i) for i in indices]
    for row, key in enumerate(seeds):
        rng = np.random.Generator(np.random.Philox(key=key))
        values = rng.standard_normal(config.latent_size, dtype=np.float32)
        if truncation is not None:  # the truncation trick: redraw what falls outside +-truncation
            while (outside := np.abs(values) > truncation).any():
                values[outside] = rng.standard_normal(int(outside.sum()), dtype=np.float32)
        z[row] = values * temperature
        if config.num_classes:
            digits[row] = digit if digit is not None else min(int(np.searchsorted(cumulative, rng.random())), 9)
    return Latents(z, digits, seeds)


def model_temperature(model: LoadedModel, requested: float | None) -> float:
    """The latent scale to draw with: the one asked for, else the one the train job calibrated, else 1."""
    return float(requested if requested is not None else model.config.get("temperature", 1.0))


def digit_prior(model: LoadedModel) -> list[float] | None:
    """The digit frequencies of the model's training data (conditional models draw digits by them)."""
    prior = model.config.get("digit_prior")
    return list(prior) if prior else None


@torch.inference_mode()
def render(generator: Generator, latents: Latents, device: str) -> np.ndarray:
    z = torch.from_numpy(latents.z).to(device)
    digits = torch.from_numpy(latents.digits).to(device)
    return to_pixels(generator(z, digits if generator.config.num_classes else None))
