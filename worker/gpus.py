"""Which GPUs a node has, asked of NVML (the driver's management library): never of CUDA.

PyTorch forbids using CUDA in a child forked from a process that initialised it; a supervisor that
imported torch to count GPUs would poison every worker it starts. NVML (nvidia-ml-py's `pynvml`)
reads the driver's device list without creating a CUDA context, so this process stays clean.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from aigc.core.errors import UsageError


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


def select(spec: str, found: list[Gpu] | None = None) -> list[Gpu]:
    """`--gpus`: "auto" (all found, or none), "all" (at least one), "none", or indices "0,1"."""
    spec = spec.strip().lower()
    if spec == "none":
        return []
    found = detect() if found is None else found
    if spec == "auto":
        return found
    if spec == "all":
        if not found:
            raise UsageError("--gpus all: no NVIDIA GPU found (no NVIDIA driver, or it lists none); use --gpus none")
        return found
    wanted = [part.strip() for part in spec.split(",") if part.strip()]
    if not wanted or not all(part.isdigit() for part in wanted):
        raise UsageError(f"--gpus '{spec}' is not understood; accepted: all, none, auto, or indices such as 0,1")
    if len(set(wanted)) != len(wanted):
        raise UsageError(f"--gpus '{spec}' names a GPU twice")
    by_index = {g.index: g for g in found}
    missing = [w for w in wanted if w not in by_index]
    if missing:
        listed = ", ".join(g.index for g in found) or "none"
        raise UsageError(f"--gpus {spec}: no GPU with index {', '.join(missing)} (found: {listed})")
    return [by_index[w] for w in wanted]
