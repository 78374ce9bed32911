"""Sweeps and chained jobs through the queue, side by side in one run:

1. a 12-job GAN sweep (epochs=1, a small net on 500 of the test digits) on 2 CPU worker processes,
   against the same 12 jobs submitted one by one (target: the sweep within 1.15x);
2. how soon a chained job starts after its parent succeeded, store to claim (target: under 50 ms);
3. validating and storing a sweep of 1,000 GAN generate jobs (target: under 2 s).

    python bench/sweeps.py [--part all|sweep|chain|store] [--redis-db 13]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]   # admin URL: a scratch database
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from queue_cluster import BenchCluster

MNIST = Path(__file__).parent.parent / "tests" / "data" / "mnist"
GAN = {
    "epochs": "1",
    "g_channels": "8",
    "d_channels": "8",
    "calibrate": "false",
    "holdout": "1500",  # 500 training digits: a job of a few seconds
    "batch_size": "50",
    "data": str(MNIST),
}
AXES = ["lr_g=1e-4,2e-4,4e-4", "latent_size=32,64"]  # with --seeds 2: 12 jobs


def _wait_all(cluster: BenchCluster, ids: list[int]) -> tuple[float, float]:
    """(first start, last finish) of the jobs, as epoch seconds (the store's times are naive UTC)."""
    first, last = cluster.wait_all(ids)
    return first.replace(tzinfo=UTC).timestamp(), last.replace(tzinfo=UTC).timestamp()


def _request() -> Any:
    from aigc.core.plugin import JobKind
    from aigc.core.sweep_spec import parse_axes
    from aigc.core.sweeps import SweepRequest

    fixed = [f"{k}={v}" for k, v in GAN.items()]
    return SweepRequest(kind=JobKind.train, plugin="gan", axes=parse_axes([*AXES, *fixed]), seeds=2)


def as_sweep(cluster: BenchCluster) -> float:
    from aigc.core.sweeps import create_sweep, start_sweep

    began = time.time()
    _, jobs = create_sweep(cluster.store, _request())
    start_sweep(cluster.store, jobs)
    _, last = _wait_all(cluster, [j.id for j in jobs])
    return last - began


def one_by_one(cluster: BenchCluster) -> float:
    """The sweep's 12 points as 12 separate submissions, each validated, stored and sent on its own."""
    from aigc.core.jobs import Submission, create_job, start
    from aigc.core.plugin import JobKind
    from aigc.core.sweeps import points

    raw, _ = points(_request())
    began = time.time()
    ids = []
    for params in raw:
        job = create_job(cluster.store, Submission(JobKind.train, "gan", params))
        start(cluster.store, [job])
        ids.append(job.id)
    _, last = _wait_all(cluster, ids)
    return last - began


def bench_sweep(cluster: BenchCluster, rounds: int) -> None:
    # GAN jobs go to the gpu queue; on a machine without one, CPU processes serve it.
    workers = cluster.start(
        "--gpus", "none", "--queues", "gpu,cpu", "--concurrency", "2", "--loglevel", "WARNING", log="sweep",
        OMP_NUM_THREADS="1",
    )  # fmt: skip
    cluster.wait_ready(2)
    try:
        one_by_one(cluster)  # warm-up: imports, the data cache, torch's first use in each process
        sweep_s, single_s = [], []
        for _ in range(rounds):  # alternated, so neither order nor a passing load favours one side
            single_s.append(one_by_one(cluster))
            sweep_s.append(as_sweep(cluster))
        print(f"sweep    12 GAN train jobs (epochs=1), 2 CPU worker processes, alternated {rounds} times:")
        print(
            f"sweep    one by one: {' '.join(f'{s:.1f}' for s in single_s)} s   as a sweep: {' '.join(f'{s:.1f}' for s in sweep_s)} s"
        )
        ratio = statistics.mean(sweep_s) / statistics.mean(single_s)
        print(f"sweep    sweep / one by one: {ratio:.3f}x  (target <= 1.15x)", flush=True)
    finally:
        cluster.kill(workers)


def bench_chain(cluster: BenchCluster, pairs: int) -> None:
    from aigc.core.jobs import Submission, create_job, start
    from aigc.core.plugin import JobKind
    from aigc.core.store import queries

    workers = cluster.start(
        "--gpus", "none", "--concurrency", "2", "--loglevel", "WARNING", log="chain", OMP_NUM_THREADS="1"
    )
    cluster.wait_ready(2)
    try:
        gaps = []
        for i in range(pairs + 3):
            parent = create_job(cluster.store, Submission(JobKind.generate, "noop", {}))
            child = create_job(cluster.store, Submission(JobKind.generate, "noop", {}, after=(parent.id,)))
            start(cluster.store, [parent, child])  # only the parent is sent; the child goes when it ends
            _wait_all(cluster, [parent.id, child.id])
            with cluster.store.transaction() as session:
                ended = queries.get_job(session, parent.id).finished_at
                claimed = queries.get_job(session, child.id).started_at
            if i >= 3:  # the first pairs warm the worker processes
                gaps.append((claimed - ended).total_seconds() * 1000)
        gaps.sort()
        print(
            f"chain    parent succeeded -> dependent claimed, {pairs} pairs: median {statistics.median(gaps):.1f} ms, "
            f"p90 {gaps[int(0.9 * (len(gaps) - 1))]:.1f} ms, max {gaps[-1]:.1f} ms  (target < 50 ms)",
            flush=True,
        )
    finally:
        cluster.kill(workers)


def bench_store(cluster: BenchCluster, label: str) -> None:
    from aigc.core.plugin import JobKind
    from aigc.core.sweep_spec import parse_axes
    from aigc.core.sweeps import SweepRequest, create_sweep

    request = SweepRequest(kind=JobKind.generate, plugin="gan", axes=parse_axes(["n=64", "model=default"]), seeds=1000)
    create_sweep(cluster.store, SweepRequest(kind=JobKind.generate, plugin="gan", axes=parse_axes(["n=1"]), seeds=2))
    times = []
    for _ in range(3):
        began = time.perf_counter()
        _, jobs = create_sweep(cluster.store, request, check_here=False)
        times.append(time.perf_counter() - began)
        assert len(jobs) == 1000
    print(
        f"store    1,000 GAN generate jobs validated and stored ({label}): {' '.join(f'{t:.2f}' for t in times)} s  (target < 2 s)",
        flush=True,
    )


@contextmanager
def scratch_postgres(admin_url: str) -> Iterator[str]:
    """A database of our own, migrated, dropped afterwards: the benchmark never touches another's."""
    from sqlalchemy import create_engine, text

    from aigc.core.store.engine import dispose_all, migrate

    name = f"aigc_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        migrate(url)
        yield url
    finally:
        dispose_all()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", default="all", choices=["all", "sweep", "chain", "store"])
    parser.add_argument("--pairs", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3, help="sweep part: alternations of the two ways")
    parser.add_argument("--redis-db", type=int, default=13)
    parser.add_argument(
        "--postgres",
        help="also time the store part on PostgreSQL: a scratch database made (and dropped) through this admin URL",
    )
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    # A store and a Redis DB per part: the stored sweeps of one must not keep the reaper of the next busy.
    parts = {
        "store": lambda c: bench_store(c, "SQLite"),
        "chain": lambda c: bench_chain(c, args.pairs),
        "sweep": lambda c: bench_sweep(c, args.rounds),
    }
    for name, part in parts.items():
        if args.part in ("all", name):
            cluster = BenchCluster(args.redis_db)
            try:
                part(cluster)
            finally:
                cluster.close()
    if args.postgres and args.part in ("all", "store"):
        with scratch_postgres(args.postgres) as url:
            pg = BenchCluster(args.redis_db, database_url=url)
            try:
                bench_store(pg, "PostgreSQL")
            finally:
                pg.close()
    print(f"load average after: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
