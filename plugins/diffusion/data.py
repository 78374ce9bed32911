"""The diffusion plugin's digits: the labelled training set a train job reads, and pixels to and from [-1, 1]."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from aigc.core.plugin_api import JobKind, UsageError
from aigc.plugins.datasets.holdout import check_holdout
from aigc.plugins.datasets.mnist import MnistData, load_mnist, split
from aigc.plugins.diffusion.params import TrainParams


def train_set(params: TrainParams) -> MnistData:
    """The labelled digits of `data` a train job learns from: all but the last `holdout`."""
    data = load_mnist(params.data)
    if data.labels is None:
        raise UsageError(f"{data.source}: no labels file beside the images; the diffusion model is class-conditional")
    check_holdout(JobKind.train, params.holdout, len(data))  # checked before the job too, unless data is the cache
    return split(data, params.holdout)[0] if params.holdout else data


def to_tensors(data: MnistData, device: str) -> tuple[Tensor, Tensor]:
    """Digits as (N, 1, 28, 28) floats in [-1, 1] and labels (N,) int64, on the device."""
    images = torch.from_numpy(data.images).to(device).unsqueeze(1).float().div_(127.5).sub_(1.0)
    assert data.labels is not None
    return images, torch.from_numpy(data.labels.astype(np.int64)).to(device)


def to_pixels(images: Tensor) -> np.ndarray:
    """Denoised digits (B, 1, 28, 28), about [-1, 1], to uint8 digits (B, 28, 28)."""
    return ((images[:, 0] + 1) * 127.5).round_().clamp_(0, 255).to(torch.uint8).cpu().numpy()
