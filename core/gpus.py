"""Which GPUs a node has, asked of NVML (the driver's management library): never of CUDA.

PyTorch forbids using CUDA in a child forked from a process that initialised it; a supervisor that
imported torch to count GPUs would poison every worker it starts. NVML (nvidia-ml-py's `pynvml`)
reads the driver's device list without creating a CUDA context, so this process stays clean, and
`aigc doctor` can list the GPUs without importing torch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Gpu:
    index: str  # as NVML and nvidia-smi number them (PCI bus order)
    name: str
    uuid: str

    @property
    def label(self) -> str:
        return f"cuda:{self.index} ({self.name})"


def detect() -> list[Gpu]:
    """The node's NVIDIA GPUs, restricted to CUDA_VISIBLE_DEVICES when the caller set it.

    No driver (NVML cannot be loaded or initialised) means no GPUs, as does any NVML error.
    """
    import pynvml

    try:
        pynvml.nvmlInit()
    except (pynvml.NVMLError, OSError):
        return []
    try:
        gpus = []
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            gpus.append(
                Gpu(str(index), _text(pynvml.nvmlDeviceGetName(handle)), _text(pynvml.nvmlDeviceGetUUID(handle)))
            )
    except pynvml.NVMLError:
        return []
    finally:
        pynvml.nvmlShutdown()
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return gpus
    wanted = [v.strip() for v in visible.split(",") if v.strip()]
    return [g for g in gpus if g.index in wanted or g.uuid in wanted]


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value  # older pynvml returns bytes
