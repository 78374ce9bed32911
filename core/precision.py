"""Mixed precision for every plugin: which dtype a job computes in, its autocast, its loss scaler.

    amp = mixed_precision(ctx, params.precision)   # resolves "auto", records it in the job's summary
    with amp.autocast():
        loss = model(x)
    amp.backward_and_step(loss, optimizer)         # fp16: scaled loss, unscaled step; else plain

auto is bf16 on a CUDA device that supports it (Ampere and newer) and fp32 everywhere else: bf16 keeps
fp32's exponent range, so it needs no loss scaling, and CPU autocast is only faster on CPUs with
AVX-512 BF16 or AMX. fp16 needs a CUDA device and a GradScaler. On CUDA, fp32 matrix products use
TF32 tensor cores (10-bit mantissa products, fp32 accumulation), the speed PyTorch leaves off by default.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aigc.core.errors import UsageError

if TYPE_CHECKING:
    import torch

    from aigc.core.context import JobContext

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def resolve_precision(requested: str, device: str) -> str:
    """fp32, bf16 or fp16: what `requested` means on `device`; UsageError for what the device lacks."""
    import torch

    if requested not in PRECISIONS:
        raise UsageError(f"precision {requested!r} is not one of {', '.join(PRECISIONS)}")
    kind = device.split(":")[0]
    if requested == "auto":
        return "bf16" if kind == "cuda" and torch.cuda.is_bf16_supported() else "fp32"
    if requested == "fp16" and kind != "cuda":
        raise UsageError(f"precision=fp16 needs a CUDA device, not {device}; use bf16 or fp32")
    if requested == "bf16" and kind == "cuda" and not torch.cuda.is_bf16_supported():
        raise UsageError(f"precision=bf16: {device} has no bf16 support (before Ampere); use fp16 or fp32")
    return requested


def enable_tf32(device: str) -> None:
    """TF32 tensor cores for fp32 matrix products and convolutions on CUDA (no-op elsewhere)."""
    if device.startswith("cuda"):
        import torch

        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


@dataclass(frozen=True)
class MixedPrecision:
    """A resolved precision on a device: its autocast context and, for fp16, its loss scaler."""

    precision: str  # fp32, bf16 or fp16
    device: str
    scaler: Any = None  # torch.amp.GradScaler for fp16, else None

    @property
    def dtype(self) -> torch.dtype:
        import torch

        return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[self.precision]

    @contextmanager
    def autocast(self) -> Iterator[None]:
        """Run the forward pass (and the loss) in this precision; fp32 runs as written."""
        if self.precision == "fp32":
            yield
            return
        import torch

        with torch.autocast(self.device.split(":")[0], dtype=self.dtype):
            yield

    def backward_and_step(
        self,
        loss: torch.Tensor,
        optimizer: Any,
        before_step: Callable[[], None] | None = None,
        *,
        update: bool = True,
    ) -> None:
        """Backward and one optimiser step. `before_step` (gradient clipping) sees true gradients.

        A loop that steps several optimisers per iteration (a GAN) passes update=False to all but the
        last, so the fp16 loss scale is updated once per iteration."""
        if self.scaler is None:
            loss.backward()
            if before_step is not None:
                before_step()
            optimizer.step()
            return
        self.scaler.scale(loss).backward()
        if before_step is not None:
            self.scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
            before_step()
        self.scaler.step(optimizer)
        if update:
            self.scaler.update()


def precision_for(requested: str, device: str) -> MixedPrecision:
    """The resolved precision with its scaler; TF32 switched on for a CUDA device."""
    precision = resolve_precision(requested, device)
    enable_tf32(device)
    scaler = None
    if precision == "fp16":
        import torch

        scaler = torch.amp.GradScaler("cuda")
    return MixedPrecision(precision, device, scaler)


def mixed_precision(ctx: JobContext, requested: str) -> MixedPrecision:
    """`precision_for(requested, ctx.device)`, recorded as the job's `precision` (summary)."""
    amp = precision_for(requested, ctx.device)
    ctx.set_summary(precision=amp.precision)
    return amp
