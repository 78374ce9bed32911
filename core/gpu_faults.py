"""GPU faults a job can end with, and what each means for the process that ran it.

- Out of GPU memory (`torch.cuda.OutOfMemoryError`): the job fails with one line and a hint (a
  smaller batch_size, a narrower precision); the process frees its warm models and the allocator's
  cached blocks, and goes on serving: the next job gets the memory back.
- Any other CUDA error (`torch.AcceleratorError`, or a RuntimeError reporting a CUDA, cuBLAS or cuDNN
  failure): an illegal address or a device-side assert leaves the CUDA context unusable for the rest of
  the process's life, and which errors do is not knowable from outside. So the job is recorded failed
  (a retry it has left runs elsewhere) and the process is marked poisoned: a worker exits (its
  supervisor starts a fresh one), an embedded run retries nothing in this process.

Reads torch only from sys.modules: a job that never imported torch raised no torch error.
"""

from __future__ import annotations

import re
import sys

from aigc.core.errors import first_line

OOM = "out of memory"
POISONED = "cuda error"
# Exit status of a worker process that stops after a CUDA error (EX_SOFTWARE): its supervisor restarts it.
POISONED_EXIT = 70
_CUDA_FAILURE = re.compile(r"CUDA error|CUBLAS_STATUS_(EXECUTION_FAILED|INTERNAL_ERROR)|CUDNN_STATUS_EXECUTION_FAILED")
_poisoned = False


def classify(exc: BaseException) -> str | None:
    """OOM, POISONED, or None for an error that is not a GPU fault."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return OOM
    accelerator_error = getattr(torch, "AcceleratorError", None)
    if accelerator_error is not None and isinstance(exc, accelerator_error):
        return POISONED
    if isinstance(exc, RuntimeError) and _CUDA_FAILURE.search(str(exc)):
        return POISONED
    return None


def describe(kind: str, exc: BaseException, device: str | None) -> str:
    """The job's one-line error for a GPU fault."""
    where = device or "the GPU"
    detail = first_line(exc)
    if kind == OOM:
        return (
            f"out of GPU memory on {where} ({_short(detail)}); lower batch_size (or n), "
            "or use precision=bf16 or precision=fp16"
        )
    return (
        f"CUDA error on {where} ({_short(detail)}); the process that ran the job stops "
        "(a worker restarts clean) and retries nothing itself"
    )


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def mark_poisoned() -> None:
    global _poisoned
    _poisoned = True


def poisoned() -> bool:
    """Whether a CUDA error in this process left its CUDA context unusable."""
    return _poisoned
