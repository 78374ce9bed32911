"""Digits for the VAE: the shared MNIST reader, index checks, and pixels to and from tensors."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from aigc.plugins.datasets.mnist import MnistData, load_mnist
from aigc.plugins.vae import checks


def load_digits(source: str | None) -> MnistData:
    """The images of an IDX file or folder (None: the shared MNIST cache); bad input is a UsageError."""
    return load_mnist(source, labels=False)


def check_indices(data: MnistData, first: int, count: int, what: str) -> None:
    """A UsageError naming the accepted range when digits first..first+count-1 are not all in data."""
    checks.check_indices(len(data), data.source, first, count, what)


def to_tensor(images: np.ndarray, device: str) -> Tensor:
    """uint8 digits (N, 28, 28) to intensities in [0, 1] shaped (N, 1, 28, 28) for the networks."""
    return torch.from_numpy(np.ascontiguousarray(images)).to(device).float().div_(255).unsqueeze(1)


def to_pixels(intensities: Tensor) -> np.ndarray:
    """Intensities in [0, 1], (N, 28, 28) or (N, 1, 28, 28), to uint8 pixels (N, 28, 28)."""
    scaled = intensities.detach().float().reshape(-1, 28, 28).clamp(0, 1).mul(255).round()
    return scaled.to("cpu", torch.uint8).numpy()


def paired_rows(originals: np.ndarray, reconstructions: np.ndarray, columns: int) -> np.ndarray:
    """Interleave rows: `columns` digits, then their reconstructions below them, and so on."""
    rows: list[np.ndarray] = []
    for first in range(0, len(originals), columns):
        rows.extend(originals[first : first + columns])
        rows.extend(reconstructions[first : first + columns])
    return np.stack(rows)
