"""Training data on the training device: moved there once, when it fits, instead of batch by batch.

The rule: a data set (MNIST digits as float tensors, a corpus's token ids) goes to a CUDA device in one
copy when it takes at most DEVICE_DATA_SHARE (a quarter) of the device's total memory, leaving the rest
to the model, its gradients, optimiser state and activations. MNIST's 60,000 digits as fp32 are
188 MB and a 100M-token corpus as int64 is 800 MB: both far under a quarter of any training GPU.
A larger set stays in pinned host memory, and each batch is copied over asynchronously
(`to_device(batch, device)`). On the CPU the data is where it is used already.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

DEVICE_DATA_SHARE = 0.25


def device_data_limit(device: str) -> int | None:
    """The most bytes of data set that go to `device` whole; None where there is no limit (CPU)."""
    if not device.startswith("cuda"):
        return None
    import torch

    return int(torch.cuda.get_device_properties(torch.device(device)).total_memory * DEVICE_DATA_SHARE)


def place_data(tensor: torch.Tensor, device: str) -> torch.Tensor:
    """`tensor` on `device` if it fits under the rule above, else in pinned host memory."""
    limit = device_data_limit(device)
    if limit is None or tensor.nbytes <= limit:
        return tensor.to(device)
    return tensor.pin_memory()


def to_device(batch: torch.Tensor, device: str) -> torch.Tensor:
    """A batch on `device`: a no-op for a batch drawn from data already there."""
    return batch.to(device, non_blocking=True)
