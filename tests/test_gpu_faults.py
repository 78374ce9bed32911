"""GPU faults, end to end on real workers: a job out of GPU memory fails with one line and a hint and
the same worker process runs the next job; a CUDA error fails the job and the worker process exits,
so that `aigc worker` starts a fresh one, which runs the next job.

No GPU needed: a drop-in plugin raises torch's own exception types (`torch.cuda.OutOfMemoryError`,
`torch.AcceleratorError`) from a real job in a real worker, which is exactly what the runner and the
worker act on.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import write_module
from worker_fixtures import Cluster, wait_until

from aigc.core import gpu_faults
from aigc.core.jobs import Submission, create_job, start
from aigc.core.plugin import JobKind
from aigc.core.runner import run_to_end
from aigc.core.store import Store
from aigc.core.testing import outcome_of, submit, temporary_settings

FAULT_PLUGIN = '''
"""gpufault: raises the GPU faults torch raises, on request; notes each attempt's process id."""

import os
from typing import Literal

import torch
from pydantic import Field

from aigc.core.plugin_api import JobParams, Modality, Plugin, warm_model


class Gen(JobParams):
    fault: Literal["none", "oom", "cuda"] = Field("none", description="which fault to raise")
    log: str = Field("", description="file each attempt appends its process id to")


class GpuFault(Plugin):
    name = "gpufault"
    modality = Modality.text
    description = "raises GPU faults for the tests"
    queue = "cpu"
    GenerateParams = Gen

    def generate(self, ctx, params):
        if params.log:
            with open(params.log, "a") as handle:
                handle.write(f"{ctx.job_id} {os.getpid()}\\n")
        held = warm_model("f" * 64, ctx.device, "fp32", lambda: torch.nn.Linear(4, 4))  # a warm model
        if params.fault == "oom":
            raise torch.cuda.OutOfMemoryError(
                "CUDA out of memory. Tried to allocate 20.00 GiB. GPU 0 has a total capacity of 139.81 GiB"
            )
        if params.fault == "cuda":
            raise torch.AcceleratorError("CUDA error: an illegal memory access was encountered")
        ctx.add_text(f"ran with {held.in_features} inputs")
'''


def pids(log: Path) -> dict[int, int]:
    """job id -> the process id of its (last) attempt."""
    if not log.exists():
        return {}
    return {int(j): int(p) for j, p in (line.split() for line in log.read_text().splitlines())}


# -- embedded: the runner alone ---------------------------------------------------------------
@pytest.fixture
def fault_settings(tmp_path: Path):  # type: ignore[no-untyped-def]
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    write_module(plugins / "gpufault.py", textwrap.dedent(FAULT_PLUGIN))
    return temporary_settings(tmp_path / "store", plugin_path=(plugins,))


def test_out_of_memory_fails_in_one_line_with_a_hint_and_frees_warm_models(fault_settings) -> None:  # type: ignore[no-untyped-def]
    from aigc.core.warm_models import model_cache

    job_id = submit(fault_settings, "gpufault", "generate", {"fault": "oom"})
    assert run_to_end(job_id, settings=fault_settings) == "failed"
    error = outcome_of(fault_settings, job_id).job.error
    assert "\n" not in error and "Traceback" not in error
    assert error.startswith("out of GPU memory on cpu (CUDA out of memory. Tried to allocate 20.00 GiB.")
    assert "lower batch_size" in error and "precision=bf16" in error
    assert model_cache().keys() == []  # the warm model the job loaded was dropped
    assert not gpu_faults.poisoned()

    again = submit(fault_settings, "gpufault", "generate", {})
    assert run_to_end(again, settings=fault_settings) == "succeeded"
    assert [r.text for r in outcome_of(fault_settings, again).items] == ["ran with 4 inputs"]
    assert ("f" * 64, "cpu", "fp32") in model_cache().keys()


# -- on real workers -----------------------------------------------------------------------------
@pytest.fixture
def fault_cluster(tmp_path: Path, redis_db: int) -> Iterator[Cluster]:
    # Leases long enough that a loaded machine's first torch import inside a job never lets one lapse.
    cluster = Cluster(tmp_path, redis_db, AIGC_LEASE_SECONDS="30")
    write_module(cluster.root / "plugins" / "gpufault.py", textwrap.dedent(FAULT_PLUGIN))
    try:
        cluster.start("--gpus", "none", "--concurrency", "1", name="worker")
        cluster.wait_ready(1)
        yield cluster
    finally:
        cluster.close()


def queue(c: Cluster, params: dict[str, str], **options: int) -> int:
    store = Store(c.settings)
    submission = Submission(JobKind.generate, "gpufault", {"log": str(c.root / "pids.log"), **params}, **options)
    job = create_job(store, submission)
    start(store, [job])
    return job.id


def test_out_of_memory_job_fails_and_the_same_worker_process_runs_the_next(fault_cluster: Cluster) -> None:
    c = fault_cluster
    oom = queue(c, {"fault": "oom"})
    failed = c.wait_status(oom, "failed", "succeeded")
    assert failed.status == "failed" and failed.attempts == 1
    assert failed.error.startswith("out of GPU memory on cpu (CUDA out of memory.") and "\n" not in failed.error

    after = queue(c, {})
    assert c.wait_status(after, "succeeded", "failed").status == "succeeded"
    log = pids(c.root / "pids.log")
    assert log[oom] == log[after]  # the worker kept serving


def test_cuda_error_fails_the_job_and_a_fresh_worker_process_runs_the_next(fault_cluster: Cluster) -> None:
    c = fault_cluster
    broken = queue(c, {"fault": "cuda"}, retries=1)
    # Its one retry runs in the fresh process; it raises again, and the job ends failed after 2 attempts.
    failed = c.wait_status(broken, "failed", "succeeded", timeout=90)
    assert failed.status == "failed" and failed.attempts == 2
    assert failed.error.startswith("CUDA error on cpu (CUDA error: an illegal memory access was encountered)")
    assert "\n" not in failed.error

    after = queue(c, {})
    assert c.wait_status(after, "succeeded", "failed", timeout=90).status == "succeeded"
    (process, _), *_ = c.processes
    wait_until(lambda: "after a CUDA error" in c.log_of(process), 10, "the supervisor's restart line")
    log = c.log_of(process)
    assert log.count("exited (exit code 70, after a CUDA error)") == 2  # one per attempt of the broken job
    runs = [line.split() for line in (c.root / "pids.log").read_text().splitlines()]
    first, retry = [int(p) for j, p in runs if int(j) == broken]
    assert first != retry != pids(c.root / "pids.log")[after]  # each in a process of its own
