"""The GAN's digits: the training set a train job reads, and pixels to and from the networks' range."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from aigc.core.plugin_api import JobKind, UsageError, place_data
from aigc.plugins.datasets.holdout import check_holdout
from aigc.plugins.datasets.mnist import MnistData, load_mnist, split
from aigc.plugins.gan.params import TrainParams


def train_set(params: TrainParams) -> MnistData:
    """The digits of `data` a train job learns from: all but the last `holdout` (labelled, if conditional)."""
    data = load_mnist(params.data, labels=params.conditional)
    if params.conditional and data.labels is None:
        message = "no labels file beside the images; conditional=false trains without labels"
        raise UsageError(f"{data.source}: {message}")
    check_holdout(JobKind.train, params.holdout, len(data))  # checked before the job too, unless data is the cache
    return split(data, params.holdout)[0] if params.holdout else data


def to_tensors(data: MnistData, device: str) -> tuple[Tensor, Tensor]:
    """Digits as (N, 1, 28, 28) floats in [-1, 1] (the tanh range) and labels (N,), on the device once
    if they fit there (`place_data`), else in pinned host memory."""
    images = torch.from_numpy(data.images).unsqueeze(1).float().div_(127.5).sub_(1.0)
    labels = data.labels if data.labels is not None else np.zeros(len(data), np.uint8)
    return place_data(images, device), place_data(torch.from_numpy(labels.astype(np.int64)), device)


def to_pixels(images: Tensor) -> np.ndarray:
    """Generator output (B, 1, 28, 28) in [-1, 1] to uint8 digits (B, 28, 28)."""
    return ((images[:, 0].float() + 1) * 127.5).round_().clamp_(0, 255).to(torch.uint8).cpu().numpy()
