"""Fixtures for the distributed tests: a drop-in toy plugin, and a `Cluster` that submits jobs and starts
real worker processes against a store and a private Redis DB (service_fixtures.py).

Everything is real: Redis on 127.0.0.1:6379, PostgreSQL on 127.0.0.1:5432, `aigc worker` and
`celery worker` subprocesses killed with SIGKILL. With CI=true a missing service fails the test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import write_module
from service_fixtures import REDIS_HOST, REDIS_PORT, flushdb

from aigc.core.config import Settings

LEASE_S = 3.0

TOY_PLUGIN = '''
"""wtoy: a cheap plugin for the worker tests; every attempt appends to a run log, so a test can
prove a job ran once, or resumed, or never ran."""

import os
import signal
import time

import numpy as np
from pydantic import Field

from aigc.core.images import encode_png
from aigc.core.plugin import JobParams, Modality, Plugin


class Gen(JobParams):
    n: int = Field(1, ge=0, le=10_000, description="steps (one image each unless images=False)")
    sleep: float = Field(0.0, ge=0, le=60, description="seconds per step")
    images: bool = Field(True, description="add one image per step")
    fail_attempts: int = Field(0, ge=0, description="raise on attempts up to this one")
    crash: bool = Field(False, description="SIGKILL the worker process on every attempt")
    log: str = Field("", description="run log file")


class Train(JobParams):
    epochs: int = Field(3, ge=1, le=1000, description="epochs")
    sleep: float = Field(0.0, ge=0, le=60, description="seconds per epoch")
    log: str = Field("", description="run log file")


def note(path, *words):
    if path:
        with open(path, "a") as handle:
            handle.write(" ".join(str(w) for w in words) + f" {time.time():.3f} {os.getpid()}\\n")


class WToy(Plugin):
    name = "wtoy"
    modality = Modality.image
    description = "worker-test toy"
    queue = "cpu"
    GenerateParams = Gen
    TrainParams = Train

    def generate(self, ctx, params):
        note(params.log, "start", ctx.job_id, ctx.attempt)
        if params.crash:
            os.kill(os.getpid(), signal.SIGKILL)
        if ctx.attempt <= params.fail_attempts:
            raise RuntimeError(f"wtoy fails on attempt {ctx.attempt} on purpose")
        for i in range(params.n):
            if params.images:
                ctx.add_image(encode_png(np.full((4, 4), i % 256, np.uint8)), seed=ctx.seed, metadata={"i": i})
            ctx.progress(i + 1, params.n)
            time.sleep(params.sleep)
        note(params.log, "end", ctx.job_id, ctx.attempt)

    def train(self, ctx, params):
        state = ctx.load_checkpoint()
        start = state["epoch"] if state else 0
        note(params.log, "start", ctx.job_id, ctx.attempt, "from", start)
        ctx.set_summary(resumed_from=start)
        for epoch in range(start, params.epochs):
            time.sleep(params.sleep)
            ctx.log_metric("loss", 1.0 / (epoch + 1), epoch)
            ctx.add_image(encode_png(np.full((4, 4), epoch, np.uint8)), role="sample", metadata={"epoch": epoch})
            ctx.progress(epoch + 1, params.epochs)
            ctx.save_checkpoint({"epoch": epoch + 1})
        note(params.log, "end", ctx.job_id, ctx.attempt)
'''


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


class Cluster:
    """One store + one Redis DB + the worker processes a test starts; submits jobs in-process."""

    def __init__(self, root: Path, redis_db: int, database_url: str | None = None, **env: str) -> None:
        plugins = root / "plugins"
        plugins.mkdir(parents=True, exist_ok=True)
        write_module(plugins / "wtoy.py", textwrap.dedent(TOY_PLUGIN))
        self.root = root
        self.broker = f"redis://{REDIS_HOST}:{REDIS_PORT}/{redis_db}"
        self.redis_db = redis_db
        self.runlog = root / "runs.log"
        self.env = {
            **os.environ,
            "AIGC_DATABASE_URL": database_url or f"sqlite:///{root / 'aigc.db'}",
            "AIGC_ARTIFACTS": str(root / "artifacts"),
            "AIGC_BROKER_URL": self.broker,
            "AIGC_PLUGIN_PATH": str(plugins),
            "AIGC_LEASE_SECONDS": str(LEASE_S),
            "AIGC_RESEND_SECONDS": "2",
            "AIGC_SOFT_SHUTDOWN_SECONDS": "2",
            "PYTHONUNBUFFERED": "1",
            "OMP_NUM_THREADS": "1",
            **env,
        }
        self.settings = replace(
            Settings.from_env(),
            database_url=self.env["AIGC_DATABASE_URL"],
            artifacts=root / "artifacts",
            broker_url=self.broker,
            plugin_path=(plugins,),
            lease_seconds=LEASE_S,
        )
        self.processes: list[tuple[subprocess.Popen[bytes], Path]] = []
        flushdb(redis_db)

    # -- jobs --------------------------------------------------------------------------------
    def submit(
        self, kind: str, params: dict[str, Any], *, send: bool = True, max_attempts: int | None = None, **options: Any
    ) -> int:
        from aigc.core.jobs import Submission, create_job, start
        from aigc.core.plugin import JobKind
        from aigc.core.store import Store

        settings = self.settings if max_attempts is None else replace(self.settings, max_attempts=max_attempts)
        store = Store(settings)
        job = create_job(store, Submission(JobKind(kind), "wtoy", {"log": str(self.runlog), **params}, **options))
        if send:
            start(store, [job])
        return job.id

    def job(self, job_id: int):
        from aigc.core.store import Store, queries

        with Store(self.settings).transaction() as session:
            return queries.get_job(session, job_id)

    def outputs(self, job_id: int) -> tuple[list[Any], list[tuple[str, int, float]]]:
        from aigc.core.store import Store, queries

        with Store(self.settings).transaction() as session:
            results = list(queries.results_of(session, job_id))
            metrics = [(m.key, m.step, m.value) for m in queries.metrics_of(session, job_id)]
        return results, metrics

    def wait_status(self, job_id: int, *statuses: str, timeout: float = 60) -> Any:
        try:
            return wait_until(
                lambda: (j := self.job(job_id)).status in statuses and j, timeout, f"job {job_id} {statuses}"
            )
        except AssertionError as exc:  # an intermittent timeout must say where the job stood
            raise AssertionError(f"{exc}\n{self.state_of(job_id)}") from None

    def state_of(self, job_id: int) -> str:
        """The job's row, its run-log lines and the last lines of each process's log."""
        from aigc.core.store.models import utcnow

        job = self.job(job_id)
        lines = [
            f"job {job_id}: {job.status}, attempts {job.attempts}, worker {job.worker}, "
            f"lease until {job.lease_expires_at} (now {utcnow()})"
        ]
        lines += [" ".join(run) for run in self.runs(job_id)]
        for _, log in self.processes:
            lines += [f"--- {log.name}", *log.read_text(errors="replace").splitlines()[-40:]]
        return "\n".join(lines)

    def runs(self, job_id: int) -> list[list[str]]:
        """Run-log lines of a job: [event, job, attempt, ..., time, pid]."""
        if not self.runlog.exists():
            return []
        return [line.split() for line in self.runlog.read_text().splitlines() if line.split()[1] == str(job_id)]

    def depth(self, queue: str = "cpu") -> int:
        from aigc.core.dispatch import dispatcher_for

        return dispatcher_for(self.settings).queue_depths([queue])[queue]

    # -- processes ---------------------------------------------------------------------------
    def start(self, *args: str, name: str = "worker", celery: bool = False, **env: str) -> subprocess.Popen[bytes]:
        """`aigc worker ARGS` (or `celery -A aigc.worker.app worker ARGS`) in its own process group."""
        log = self.root / f"{name}.log"
        if celery:
            command = [sys.executable, "-m", "celery", "-A", "aigc.worker.app", "worker", *args]
        else:
            command = [sys.executable, "-m", "aigc.cli", "worker", *args]
        with open(log, "ab") as out:
            process = subprocess.Popen(
                command, env={**self.env, **env}, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.processes.append((process, log))
        return process

    def wait_ready(self, count: int = 1, timeout: float = 60) -> None:
        from aigc.core.store import Store
        from aigc.core.store.workers import live_workers

        wait_until(lambda: len(live_workers(Store(self.settings), 10)) >= count, timeout, f"{count} live worker(s)")

    def log_of(self, process: subprocess.Popen[bytes]) -> str:
        for p, log in self.processes:
            if p is process:
                return log.read_text(errors="replace")
        raise KeyError(process.pid)

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """SIGKILL the whole process group: the supervisor and every worker process under it."""
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=10)

    def close(self) -> None:
        for process, _ in self.processes:
            if process.poll() is None:
                self.kill(process)


def children_of(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


@pytest.fixture
def cluster(tmp_path: Path, redis_db: int) -> Iterator[Cluster]:
    c = Cluster(tmp_path, redis_db)
    try:
        yield c
    finally:
        c.close()
