"""Which GPUs a node has, asked of nvidia-smi: the supervisor must never initialise CUDA itself.

PyTorch forbids using CUDA in a child forked from a process that initialised it; a supervisor that
imported torch to count GPUs would poison every worker it starts. nvidia-smi talks to the driver
from a separate process and leaves this one clean.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

from aigc.core.errors import UsageError


@dataclass(frozen=True)
class Gpu:
    index: str  # as nvidia-smi numbers them (PCI bus order)
    name: str
    uuid: str

    @property
    def label(self) -> str:
        return f"cuda:{self.index} ({self.name})"


def detect() -> list[Gpu]:
    """The node's NVIDIA GPUs, restricted to CUDA_VISIBLE_DEVICES when the caller set it."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        out = subprocess.run(
            [smi, "--query-gpu=index,name,uuid", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=20, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = [Gpu(*(part.strip() for part in line.split(",", 2))) for line in out.splitlines() if line.count(",") >= 2]
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return gpus
    wanted = [v.strip() for v in visible.split(",") if v.strip()]
    return [g for g in gpus if g.index in wanted or g.uuid in wanted]


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
            raise UsageError("--gpus all: no NVIDIA GPU found (nvidia-smi is missing or lists none); use --gpus none")
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
