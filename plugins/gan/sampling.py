"""Latents, loading a saved generator, and turning its output into pixels.

Every digit has its own latent seed, `(job seed << 32) | index`, which keys a counter-based
Philox stream: digit i of a job gets the same latent whatever n is, and anyone can redraw one digit's
latent from the seed written in its PNG.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from aigc.core.artifacts import load_tensors
from aigc.core.context import LoadedModel
from aigc.core.errors import UsageError
from aigc.plugins.gan.networks import GanConfig, Generator


@dataclass(frozen=True)
class Latents:
    z: np.ndarray  # (B, L) float32
    digits: np.ndarray  # (B,) int64; all zero for an unconditional model
    seeds: list[int]  # the latent seed of each row


def latent_seed(seed: int, index: int) -> int:
    return (seed << 32) | index


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
    seeds = [latent_seed(seed, i) for i in indices]
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


def load_generator(model: LoadedModel, device: str) -> tuple[Generator, GanConfig, list[float] | None]:
    """The saved generator in eval mode on `device`, its config and the digit frequencies it learned."""
    if model.format != "safetensors":
        raise UsageError(f"model {model.id} is a {model.format} folder; the gan plugin reads safetensors files")
    tensors, _ = load_tensors(model.path)
    config = GanConfig.from_dict(dict(model.config))
    generator = Generator(config)
    try:
        generator.load_state_dict(tensors)
    except RuntimeError as exc:
        raise UsageError(f"model {model.id} is not a gan generator of config {config}: {exc}") from None
    prior = model.config.get("digit_prior")
    # channels-last: the transposed convolutions run about twice as fast on CPU in that layout.
    generator = generator.to(device, memory_format=torch.channels_last).eval()
    return generator, config, list(prior) if prior else None


def model_temperature(model: LoadedModel, requested: float | None) -> float:
    """The latent scale to draw with: the one asked for, else the one the train job calibrated, else 1."""
    return float(requested if requested is not None else model.config.get("temperature", 1.0))


def to_pixels(images: torch.Tensor) -> np.ndarray:
    """Generator output (B, 1, 28, 28) in [-1, 1] to uint8 digits (B, 28, 28)."""
    return ((images[:, 0] + 1) * 127.5).round_().clamp_(0, 255).to(torch.uint8).cpu().numpy()


@torch.inference_mode()
def render(generator: Generator, latents: Latents, device: str) -> np.ndarray:
    z = torch.from_numpy(latents.z).to(device)
    digits = torch.from_numpy(latents.digits).to(device)
    return to_pixels(generator(z, digits if generator.config.num_classes else None))
