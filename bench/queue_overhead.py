"""Overhead of the queue, side by side in one run:

1. median submit-to-succeeded latency of a no-op job through Redis and one `aigc worker` process,
   against a bare Celery no-op task round trip (same Redis, same thread pool, result via Redis);
   target: no more than 3x;
2. no-op jobs/s with 2 worker processes: end to end (one submitter creating and sending while the
   workers run them) and batch (all jobs created, then sent in one batch to running workers); target: >= 200/s.

    python bench/queue_overhead.py [--jobs 1000] [--runs 60] [--redis-db 14] [--database-url URL]
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from queue_cluster import BenchCluster, cpu_seconds, median

BARE_APP = """
from celery import Celery

app = Celery("bare", broker="{broker}", backend="{broker}")
app.conf.update(
    task_acks_late=True, worker_prefetch_multiplier=1, task_serializer="json",
    accept_content=["json"], result_serializer="json", task_default_queue="bare",
)


@app.task
def noop():
    return None
"""


def wait_done(cluster: BenchCluster, job_id: int, poll_s: float = 0.001) -> None:
    from sqlalchemy import select

    from aigc.core.store import Job

    while True:
        with cluster.store.transaction() as session:
            status = session.execute(select(Job.status).where(Job.id == job_id)).scalar_one()
        if status in ("succeeded", "failed", "cancelled"):
            if status != "succeeded":
                raise RuntimeError(f"job {job_id} ended {status}")
            return
        time.sleep(poll_s)


def latency(cluster: BenchCluster, runs: int) -> tuple[float, float]:
    (cluster.root / "bare.py").write_text(textwrap.dedent(BARE_APP.format(broker=cluster.broker)))
    sys.path.insert(0, str(cluster.root))
    import bare

    ours = cluster.start("--gpus", "none", "--concurrency", "1", "--name", "lat", "--loglevel", "WARNING", log="ours")
    theirs = cluster.start(
        "-A",
        "bare",
        "worker",
        "--pool",
        "threads",
        "--concurrency",
        "1",
        "--queues",
        "bare",
        "--without-gossip",
        "--without-mingle",
        "--loglevel",
        "WARNING",
        log="bare",
        celery=True,
        PYTHONPATH=str(cluster.root),
    )
    cluster.wait_ready(1)
    bare.noop.delay().get(timeout=60)  # warm both paths before timing
    wait_done(cluster, cluster.submit("noop").id)
    ours_s, bare_s = [], []
    for _ in range(runs):  # interleaved, so load drift on a shared machine hits both alike
        start = time.perf_counter()
        wait_done(cluster, cluster.submit("noop").id)
        ours_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        bare.noop.delay().get(timeout=60)
        bare_s.append(time.perf_counter() - start)
    cluster.kill(ours)
    cluster.kill(theirs)
    return median(ours_s), median(bare_s)


def throughput(cluster: BenchCluster, jobs: int) -> tuple[float, float, float]:
    workers = cluster.start("--gpus", "none", "--concurrency", "2", "--name", "tp", "--loglevel", "WARNING", log="tp")
    cluster.wait_ready(2)
    start = time.perf_counter()
    ids = [cluster.submit("noop").id for _ in range(jobs)]
    wait_done(cluster, ids[-1], poll_s=0.01)
    for job_id in ids:
        wait_done(cluster, job_id, poll_s=0.01)
    end_to_end = jobs / (time.perf_counter() - start)
    cluster.kill(workers)
    # A message Redis hands to a just-killed worker's pending BRPOP is lost (the reaper would re-send
    # it after AIGC_RESEND_SECONDS); let Redis notice the dead connections before sending more.
    time.sleep(2)

    from sqlalchemy import func, select

    from aigc.core.jobs import Submission, create_job, start
    from aigc.core.plugin import JobKind
    from aigc.core.store import Job

    workers = cluster.start(
        "--gpus", "none", "--concurrency", "2", "--name", "drain", "--loglevel", "WARNING", log="drain"
    )
    cluster.wait_ready(2)
    time.sleep(1)
    cpu_before = cpu_seconds(workers)
    batch = [create_job(cluster.store, Submission(JobKind.generate, "noop", {})) for _ in range(jobs)]
    start(cluster.store, batch)  # one producer, one transaction to mark them sent
    for job in batch:
        wait_done(cluster, job.id, poll_s=0.05)
    cpu_per_job = (cpu_seconds(workers) - cpu_before) / jobs
    with cluster.store.transaction() as session:
        first, last = session.execute(
            select(func.min(Job.started_at), func.max(Job.finished_at)).where(Job.id.in_([j.id for j in batch]))
        ).one()
    cluster.kill(workers)
    return end_to_end, jobs / (last - first).total_seconds(), cpu_per_job


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--redis-db", type=int, default=14)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()

    cluster = BenchCluster(args.redis_db, args.database_url)
    try:
        ours, bare = latency(cluster, args.runs)
        print(f"latency  aigc no-op job, submit->succeeded (median of {args.runs}): {ours * 1000:7.1f} ms")
        print(f"latency  bare Celery no-op round trip (median of {args.runs}):      {bare * 1000:7.1f} ms")
        print(f"latency  ratio: {ours / bare:.2f}x  (target <= 3x)")
        end_to_end, drain, cpu = throughput(cluster, args.jobs)
        print(
            f"throughput  {args.jobs} no-op jobs, 2 worker processes, one submit per job: {end_to_end:6.0f} jobs/s  (target >= 200)"
        )
        print(f"throughput  {args.jobs} no-op jobs, 2 worker processes, sent as one batch: {drain:6.0f} jobs/s")
        print(f"throughput  worker CPU per job: {cpu * 1000:.1f} ms, so at most {2 / cpu:.0f} jobs/s on 2 idle cores")
        print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    finally:
        cluster.close()
        print(f"logs and store: {cluster.root}")


if __name__ == "__main__":
    main()
