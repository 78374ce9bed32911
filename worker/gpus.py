"""`aigc worker --gpus`: which of the node's GPUs (found through NVML, see aigc.core.gpus) to serve."""

from __future__ import annotations

from aigc.core.errors import UsageError
from aigc.core.gpus import Gpu, detect

__all__ = ["Gpu", "detect", "select"]


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
