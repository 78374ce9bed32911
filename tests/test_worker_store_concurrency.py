"""Four worker processes writing one store at once: SQLite (WAL, BEGIN IMMEDIATE, busy timeout)
must not fail with `database is locked`, and neither must the real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from worker_fixtures import Cluster

JOBS = 48


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_four_worker_processes_write_one_store(
    backend: str, tmp_path: Path, redis_db: int, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("empty_postgres_url") if backend == "postgresql" else None
    c = Cluster(tmp_path, redis_db, database_url=url)
    try:
        worker = c.start("--gpus", "none", "--concurrency", "4", name="four")
        c.wait_ready(4)
        ids = [c.submit("generate", {"n": 10}) for _ in range(JOBS)]
        for job_id in ids:
            job = c.wait_status(job_id, "succeeded", "failed", "cancelled", timeout=120)
            assert job.status == "succeeded", job.error
            assert job.attempts == 1
            assert len(c.outputs(job_id)[0]) == 10
        assert len({c.job(job_id).worker for job_id in ids}) == 4  # all four processes took jobs
        assert "locked" not in c.log_of(worker)
    finally:
        c.close()
