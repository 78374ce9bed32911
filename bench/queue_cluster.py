"""A throwaway cluster for the queue benchmarks: a store, a Redis DB, drop-in plugins, worker processes.

Not a test helper: the benchmarks are run by hand (`python bench/queue_overhead.py`) and print numbers.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

PLUGINS = '''
"""Benchmark plugins: `noop` does nothing, `burn` spends CPU, `sleepy` waits (and checkpoints)."""

import time

import numpy as np
from pydantic import Field

from aigc.core.plugin import JobParams, Modality, Plugin


class Noop(Plugin):
    name = "noop"
    modality = Modality.image
    queue = "cpu"
    GenerateParams = JobParams

    def generate(self, ctx, params):
        pass


class BurnParams(JobParams):
    steps: int = Field(40, ge=1, le=100_000, description="256x256 float32 matrix products")


class Burn(Plugin):
    name = "burn"
    modality = Modality.image
    queue = "cpu"
    GenerateParams = BurnParams

    def generate(self, ctx, params):
        rng = np.random.default_rng(ctx.seed)
        a = rng.standard_normal((256, 256), dtype=np.float32)
        for step in range(params.steps):
            a = np.tanh(a @ a / 16.0)
            ctx.progress(step + 1, params.steps)
        ctx.set_summary(checksum=float(a.sum()))


class SleepyParams(JobParams):
    seconds: float = Field(600, ge=0, description="how long to run")


class Sleepy(Plugin):
    name = "sleepy"
    modality = Modality.image
    queue = "cpu"
    GenerateParams = SleepyParams

    def generate(self, ctx, params):
        start = time.monotonic()
        while time.monotonic() - start < params.seconds:
            ctx.progress(time.monotonic() - start, params.seconds)
            time.sleep(0.1)
'''


class BenchCluster:
    def __init__(self, redis_db: int, database_url: str | None = None, lease_s: float = 30, **env: str) -> None:
        import redis

        from aigc.core.config import Settings

        # The tests pick a free DB among 11-15 under these locks and FLUSHDB it; never wipe one in use.
        self._lock = open(f"/tmp/aigc-test-redis-db{redis_db}.lock", "w")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise SystemExit(f"Redis DB {redis_db} is in use by a test run; pick another with --redis-db") from None
        self.root = Path(tempfile.mkdtemp(prefix="aigc-bench-"))
        (self.root / "plugins").mkdir()
        (self.root / "plugins" / "benchplugins.py").write_text(textwrap.dedent(PLUGINS))
        self.redis = redis.Redis("127.0.0.1", 6379, db=redis_db)
        self.redis.flushdb()
        self.broker = f"redis://127.0.0.1:6379/{redis_db}"
        self.env = {
            **os.environ,
            "AIGC_DATABASE_URL": database_url or f"sqlite:///{self.root / 'aigc.db'}",
            "AIGC_ARTIFACTS": str(self.root / "artifacts"),
            "AIGC_BROKER_URL": self.broker,
            "AIGC_PLUGIN_PATH": str(self.root / "plugins"),
            "AIGC_LEASE_SECONDS": str(lease_s),
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.settings = replace(
            Settings.from_env(),
            database_url=self.env["AIGC_DATABASE_URL"],
            artifacts=self.root / "artifacts",
            broker_url=self.broker,
            plugin_path=(self.root / "plugins",),
            lease_seconds=lease_s,
        )
        from aigc.core.store import Store

        self.store = Store(self.settings)
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str, log: str = "worker", celery: bool = False, **env: str) -> subprocess.Popen[bytes]:
        base = ["-m", "celery"] if celery else ["-m", "aigc.cli", "worker"]
        out = open(self.root / f"{log}.log", "ab")
        process = subprocess.Popen(
            [sys.executable, *base, *args],
            env={**self.env, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=self.root,
        )
        self.processes.append(process)
        return process

    def wait_ready(self, count: int, timeout: float = 120) -> None:
        from aigc.core.store.workers import live_workers

        deadline = time.monotonic() + timeout
        while len(live_workers(self.store, 30)) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"fewer than {count} workers came up; see {self.root}/*.log")
            time.sleep(0.1)

    def submit(self, plugin: str, params: dict[str, Any] | None = None, *, send: bool = True) -> Any:
        from aigc.core.jobs import Submission, create_job, start
        from aigc.core.plugin import JobKind

        job = create_job(self.store, Submission(JobKind.generate, plugin, dict(params or {})))
        if send:
            start(self.store, [job])
        return job

    def wait_all(self, ids: list[int]) -> tuple[Any, Any]:
        """Poll until every job ended: (first start, last finish), naive UTC; raises if one did not succeed."""
        from sqlalchemy import func, select

        from aigc.core.store import Job

        while True:
            with self.store.transaction() as session:
                left = session.execute(
                    select(func.count()).where(Job.id.in_(ids), Job.status.in_(["queued", "running"]))
                ).scalar_one()
                if not left:
                    first, last, failed = session.execute(
                        select(
                            func.min(Job.started_at),
                            func.max(Job.finished_at),
                            func.count().filter(Job.status != "succeeded"),
                        ).where(Job.id.in_(ids))
                    ).one()
                    break
            time.sleep(0.1)
        if failed:
            raise RuntimeError(f"{failed} jobs did not succeed; see {self.root}")
        return first, last

    def status(self, job_id: int) -> Any:
        from aigc.core.store import queries

        with self.store.transaction() as session:
            return queries.get_job(session, job_id)

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                self.kill(process)
        self.redis.flushdb()
        self._lock.close()  # the Redis DB is free for the next cluster (or test run)


def cpu_seconds(process: subprocess.Popen[bytes]) -> float:
    """User+system CPU of a worker supervisor and the worker processes under it, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [process.pid]
    try:
        pids += [int(p) for p in Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()]
    except OSError:
        pass
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
