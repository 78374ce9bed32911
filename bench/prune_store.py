"""`aigc prune` on a SQLite store of 1,000 jobs and 100,000 results (target: within 10 s).

Fills a fresh store with 1,000 finished gan-like jobs of 100 results each (labelled 28x28 PNGs of
about 1.4 KB), 900 of them finished 40 days ago, then times `aigc prune --older-than 30d` in a fresh
process, and checks that `aigc jobs list` and the page of every remaining job still answer.

    python bench/prune_store.py [--jobs 1000] [--per-job 100]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta

TARGET_S = 10.0


def fill(jobs: int, per_job: int, old_share: float) -> None:
    import numpy as np
    from sqlalchemy import insert

    from aigc.core.context import PendingResult
    from aigc.core.images import encode_grey_png
    from aigc.core.provenance import Stamp, label_results
    from aigc.core.store import Job, Result, Store
    from aigc.core.store.models import JobLog, Metric, utcnow

    store = Store.from_env()
    rng = np.random.default_rng(0)
    pngs = [encode_grey_png(rng.integers(0, 256, (28, 28), np.uint8)) for _ in range(per_job)]
    now = utcnow()
    for start in range(0, jobs, 100):
        with store.transaction() as session:
            for j in range(start, min(start + 100, jobs)):
                old = j < jobs * old_share
                finished = now - timedelta(days=40 if old else 1)
                job = Job(
                    kind="generate",
                    plugin="gan",
                    params={"n": per_job},
                    seed=j,
                    queue="cpu",
                    status="succeeded",
                    progress=1.0,
                    progress_info={},
                    summary={"n": per_job},
                    attempts=1,
                    max_attempts=3,
                    retries=0,
                    failures=0,
                    cancel_requested=False,
                    priority=0,
                    created_at=finished,
                    finished_at=finished,
                )
                session.add(job)
                session.flush()
                results = [
                    PendingResult(i, "image", "item", "image/png", pngs[i], None, j + i, {"i": i})
                    for i in range(per_job)
                ]
                label_results(results, Stamp("bench", job.id, "gan", "generate", "0" * 64, j))
                session.execute(
                    insert(Result),
                    [
                        {
                            "job_id": job.id,
                            "index": r.index,
                            "kind": r.kind,
                            "role": r.role,
                            "mime": r.mime,
                            "data": r.data,
                            "text": None,
                            "seed": r.seed,
                            "meta": r.meta,
                            "created_at": finished,
                        }
                        for r in results
                    ],
                )
                session.execute(
                    insert(Metric), [{"job_id": job.id, "key": "loss", "step": s, "value": 1.0} for s in range(10)]
                )
                session.execute(
                    insert(JobLog),
                    [
                        {"job_id": job.id, "line": n, "at": finished, "level": "INFO", "text": f"line {n}"}
                        for n in range(1, 11)
                    ],
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--per-job", type=int, default=100)
    args = parser.parse_args()
    scratch = tempfile.mkdtemp()
    os.environ.update(AIGC_HOME=scratch, AIGC_DATABASE_URL=f"sqlite:///{scratch}/aigc.db")
    os.environ.pop("AIGC_BROKER_URL", None)
    started = time.perf_counter()
    fill(args.jobs, args.per_job, 0.9)
    size = os.path.getsize(f"{scratch}/aigc.db")
    print(
        f"filled {args.jobs} jobs, {args.jobs * args.per_job} results in {time.perf_counter() - started:.1f} s "
        f"({size / 2**20:.0f} MiB)"
    )
    command = [sys.executable, "-m", "aigc.cli", "prune", "--older-than", "30d"]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=os.environ)
    wall = time.perf_counter() - started
    print(done.stderr.strip())
    assert done.returncode == 0, done.stderr
    print(f"aigc prune: {wall:.2f} s (target {TARGET_S:.0f} s), in a fresh process")

    from fastapi.testclient import TestClient

    from aigc.cli.serve import create_app
    from aigc.core.store import Store, queries

    listed = subprocess.run(
        [sys.executable, "-m", "aigc.cli", "jobs", "list", "--limit", "1000"],
        capture_output=True,
        text=True,
        env=os.environ,
    )
    assert listed.returncode == 0, listed.stderr
    store = Store.from_env()
    with store.transaction() as session:
        left = [j.id for j in queries.list_jobs(session, limit=10_000)]
    with TestClient(create_app(store.settings), base_url="http://127.0.0.1") as client:
        pages = [client.get(f"/jobs/{j}").status_code for j in left]
    assert pages == [200] * len(left) and len(left) == args.jobs - int(args.jobs * 0.9)
    print(f"{len(left)} jobs left; `aigc jobs list` and all {len(left)} job pages answer 200")


if __name__ == "__main__":
    main()
