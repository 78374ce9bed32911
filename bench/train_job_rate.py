"""One embedded train job of an image plugin, timed: what the train-throughput benches compare with
their bare PyTorch loops."""

from __future__ import annotations

import statistics
import tempfile
import time

from aigc.core.testing import run_job


def train_job_rates(plugin: str, params: dict[str, object], images: int) -> tuple[float, float]:
    """(end-to-end images/s, in-loop images/s) of one embedded `plugin` train job in a scratch store."""
    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        outcome = run_job(plugin, "train", params, scratch)
        wall = time.perf_counter() - started
    assert outcome.job.status == "succeeded", outcome.job.error
    in_loop = statistics.mean(v for k, _, v in outcome.metrics if k == "train/images_per_s")
    return images / wall, in_loop
