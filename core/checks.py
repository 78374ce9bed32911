"""The checks that need the machine a job runs on: its device, its files, the plugin's own `check`.

They run twice: before a job that will run in this process is stored (`aigc submit` without a broker,
`aigc serve`'s embedded jobs), so a mistake is a usage error and nothing is stored; and before each
attempt of every job, on the machine that runs it, so a queued job that cannot run there fails with
one line naming the param instead of a traceback.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from aigc.core.config import environment
from aigc.core.context import LoadedModel
from aigc.core.data_roots import check_paths
from aigc.core.errors import InvalidParams
from aigc.core.plugin import JobKind, JobParams, Plugin

CUDA = re.compile(r"cuda(?::(\d+))?")


def check_here(plugin: type[Plugin], kind: JobKind, params: JobParams, load_model: Callable[[], LoadedModel]) -> None:
    """Everything a job needs of this machine: its files inside AIGC_DATA_ROOTS (when set), its device,
    and what the plugin's `check` asks. A UsageError says what is wrong, in one line."""
    check_paths(plugin, kind, params)
    check_device(params.device)
    plugin().check(kind, params, load_model)


def check_device(requested: str) -> None:
    """Refuse a device this machine lacks: `cuda:N` past its CUDA devices, `cuda` with none, `mps` without it.

    Counted by torch, the library that will use the device (it honours CUDA_VISIBLE_DEVICES, as the job
    does); torch is imported only for a job that names a device, which imports it to run anyway.
    "auto" (AIGC_DEVICE when set) is what this machine's operator chose: it is checked the same way.
    """
    device = environment().device if requested == "auto" else requested
    cuda = CUDA.fullmatch(device)
    if cuda is None and device != "mps":
        return
    import torch

    if device == "mps":
        if not torch.backends.mps.is_available():
            named = "device mps" if requested != "auto" else "AIGC_DEVICE=mps"
            raise InvalidParams(f"{named} is not available on this machine; use auto or cpu")
        return
    count = torch.cuda.device_count()
    index = int(cuda.group(1) or 0) if cuda else 0
    if index >= count:
        named = f"device {device}" if requested != "auto" else f"AIGC_DEVICE={device}"
        devices = "1 CUDA device" if count == 1 else f"{count} CUDA devices"
        accepted = {0: "", 1: "cuda:0, "}.get(count, f"cuda:0..cuda:{count - 1}, ") + "cpu or auto"
        raise InvalidParams(f"{named} is not available: this machine has {devices}; use {accepted}")
