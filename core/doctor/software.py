"""Checks of what is installed: versions, the GPUs the driver lists, the plugins.

Versions come from the installed packages' metadata: reading them imports neither torch nor
transformers. Only `cuda=True` imports torch, to run one small operation on each GPU.
"""

from __future__ import annotations

import platform
import re
import sys
from importlib.metadata import PackageNotFoundError, requires, version
from typing import TYPE_CHECKING

from aigc.core.doctor.checks import Check
from aigc.core.errors import first_line

if TYPE_CHECKING:
    from aigc.core.config import Settings

INSTALL = "bash scripts/install.sh (a fresh virtual environment), or pip install -e ."
CUDA_TORCH = "install a CUDA build of torch (pip install torch from download.pytorch.org/whl/cuXYZ)"


def versions(cuda: bool) -> list[Check]:
    checks = [
        Check("aigc", "ok", _version("aigc") or "not installed as a package (running from a source tree)"),
        Check("python", "ok", f"{platform.python_version()} ({sys.executable})"),
    ]
    torch = _version("torch")
    if torch is None:
        checks.append(Check("torch", "fail", "not installed: no job can run", INSTALL))
    else:
        checks.append(Check("torch", "ok", f"{torch} ({torch_build(torch) or 'a CPU build'})"))
    transformers = _version("transformers")
    if transformers is None:
        checks.append(Check("transformers", "warn", "not installed: the text plugin cannot run", INSTALL))
    else:
        checks.append(Check("transformers", "ok", transformers))
    if torch is not None:
        checks.append(_cuda_tried() if cuda else _cuda_build(torch))
    return checks


def torch_build(torch_version: str) -> str | None:
    """What torch was built for, from its version label (+cpu, +cu124, +rocm6.1) or its dependencies."""
    label = torch_version.partition("+")[2]
    if label == "cpu":
        return None
    if match := re.fullmatch(r"cu(\d+)(\d)", label):
        return f"built for CUDA {match[1]}.{match[2]}"
    if label.startswith("rocm"):
        return f"built for ROCm {label[4:]}"
    # A wheel without a label: the Linux wheels on PyPI pull CUDA in as nvidia-* packages.
    needs = requires("torch") or []
    return "built for CUDA (PyPI wheel)" if any(r.startswith("nvidia-cuda-runtime") for r in needs) else None


def _cuda_build(torch_version: str) -> Check:
    build = torch_build(torch_version)
    if build is None:
        return Check("cuda", "ok", "none: torch is a CPU build (jobs run on the CPU)")
    return Check("cuda", "ok", f"torch {build}; not tried (aigc doctor --gpu tries it)")


def _cuda_tried() -> Check:
    try:
        import torch
    except Exception as exc:
        return Check("cuda", "fail", f"torch does not import: {first_line(exc)}", INSTALL)
    if not torch.cuda.is_available():
        build = "a CPU build" if torch.version.cuda is None else f"built for CUDA {torch.version.cuda}"
        fix = "" if torch.version.cuda is None else "check the NVIDIA driver (nvidia-smi) and CUDA_VISIBLE_DEVICES"
        return Check("cuda", "warn" if fix else "ok", f"not available (torch is {build})", fix)
    names = []
    try:
        for i in range(torch.cuda.device_count()):
            x = torch.ones(256, 256, device=f"cuda:{i}")
            float((x @ x).sum())  # a real kernel launch, synchronised
            names.append(f"cuda:{i} ({torch.cuda.get_device_name(i)})")
    except Exception as exc:
        return Check(
            "cuda", "fail", f"a small matmul failed on cuda:{len(names)}: {first_line(exc)}", "check nvidia-smi"
        )
    return Check("cuda", "ok", f"CUDA {torch.version.cuda}: a matmul ran on {', '.join(names)}")


def gpus(cuda: bool, settings: Settings | None) -> list[Check]:
    """The GPUs NVML lists; a warning when torch cannot use them or a setting asks for one that is not there."""
    from aigc.core.config import environment
    from aigc.core.gpus import detect

    found = detect()
    device = environment().device if settings is not None else "auto"
    if not found:
        if device.startswith("cuda"):
            return [
                Check("gpus", "fail", f"none seen, but AIGC_DEVICE={device}", "unset AIGC_DEVICE, or set it to cpu")
            ]
        return [Check("gpus", "ok", "none seen by NVML (no NVIDIA driver): jobs run on the CPU")]
    listed = ", ".join(g.label for g in found)
    torch = _version("torch")
    if torch is not None and torch_build(torch) is None and not cuda:
        return [Check("gpus", "warn", f"{listed}; but torch is a CPU build, so jobs will not use them", CUDA_TORCH)]
    return [Check("gpus", "ok", f"{len(found)} seen by NVML: {listed}")]


def plugins(settings: Settings) -> list[Check]:
    from aigc.core.registry import discover

    entries = discover(settings.plugin_path)
    checks = [
        Check(f"plugin {e.name}", "warn", f"broken: {e.error}", _plugin_fix(e.package, e.source))
        for e in entries.values()
        if not e.ok
    ]
    for folder in settings.plugin_path:
        if not folder.is_dir():
            checks.append(Check("plugin path", "warn", f"{folder} is not a folder", "correct AIGC_PLUGIN_PATH"))
    working = sorted(name for name, e in entries.items() if e.ok)
    if working:
        checks.insert(0, Check("plugins", "ok", f"{len(working)} working: {', '.join(working)}"))
    else:
        checks.insert(0, Check("plugins", "fail", "none working", "reinstall aigc: " + INSTALL))
    return checks


def _plugin_fix(package: str, source: str) -> str:
    if package == "drop-in":
        return f"fix or remove {source} (AIGC_PLUGIN_PATH)"
    return f"fix, upgrade or uninstall the package {package}"


def _version(distribution: str) -> str | None:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return None
