"""GPU discovery asks NVML (the driver), never CUDA; without a driver there are no GPUs."""

from __future__ import annotations

import subprocess
import sys

import pynvml
import pytest

from aigc.core.errors import UsageError
from aigc.core.gpus import detect
from aigc.worker.gpus import select


def _nvml_count() -> int | None:
    """What NVML itself reports, or None when it cannot be initialised (no NVIDIA driver here)."""
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return None
    try:
        return pynvml.nvmlDeviceGetCount()
    finally:
        pynvml.nvmlShutdown()


def test_detect_reports_what_nvml_sees_and_nothing_without_a_driver(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    count = _nvml_count()
    found = detect()
    if count is None:  # this machine: no driver, so NVML fails to initialise
        assert found == []
        assert select("auto") == [] and select("none") == []
        with pytest.raises(UsageError, match="^--gpus all: no NVIDIA GPU found"):
            select("all")
    else:
        assert [g.index for g in found] == [str(i) for i in range(count)]
        assert all(g.uuid.startswith("GPU-") and g.label == f"cuda:{g.index} ({g.name})" for g in found)


def test_detecting_gpus_loads_neither_torch_nor_cuda():
    code = "import sys; from aigc.core.gpus import detect; detect(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "False"
