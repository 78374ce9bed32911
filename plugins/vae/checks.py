"""What a VAE job needs of the machine that runs it: digits at `data`, enough of them for `test` + `holdout`,
`start`/`n` (reconstruct) and `a`/`b` (interpolate).

Run before each attempt (and before an embedded job is stored) through `VaePlugin.check`; numpy only.
"""

from __future__ import annotations

from pathlib import Path

from aigc.core.plugin_api import JobKind, JobParams, UsageError
from aigc.plugins.datasets.mnist import cache_dir, digits_in_param
from aigc.plugins.vae.params import EvaluateParams, GenerateParams, TrainParams


def check(kind: JobKind, params: JobParams) -> None:
    if isinstance(params, GenerateParams) and not (params.mode == "reconstruct" or params.a is not None):
        return  # samples from the prior, or interpolates between seeds: no data read
    if not isinstance(params, (TrainParams, GenerateParams, EvaluateParams)):
        return
    count = digits_in_param("data", params.data)
    if count is None:  # the cache, downloaded when the job runs
        return
    source = Path(params.data).expanduser() if params.data else cache_dir()
    if isinstance(params, TrainParams):
        check_split(params.test, params.holdout, count, source)
    elif isinstance(params, GenerateParams) and params.mode == "reconstruct":
        check_indices(count, source, params.start, params.n, "reconstruct")
    elif isinstance(params, GenerateParams):
        for name, index in (("a", params.a), ("b", params.b)):
            check_indices(count, source, index or 0, 1, f"interpolate {name}")


def check_split(test: int, holdout: int, size: int, source: Path) -> None:
    """Train reads the digits between the first `test` and the last `holdout`: there must be some."""
    if test + holdout >= size:
        raise UsageError(
            f"test={test} and holdout={holdout} leave nothing to train on: {source} holds {size} digits; "
            f"use test + holdout of at most {size - 1}"
        )


def check_indices(size: int, source: Path, first: int, count: int, what: str) -> None:
    """A UsageError naming the accepted range when digits first..first+count-1 are not all among `size`."""
    last = first + count - 1
    if last >= size:
        picked = f"index {first}" if count == 1 else f"indices {first}..{last}"
        raise UsageError(f"{what}: {picked} out of range; {source} holds {size} digits (indices 0..{size - 1})")
