"""Throughput of CPU-bound generate jobs with 1 and then 2 worker processes, in one run (expect close
to 2x on this 2-core machine: each job is single-threaded, OMP_NUM_THREADS=1).

    python bench/queue_scaling.py [--jobs 40] [--steps 400] [--redis-db 14]
    python bench/queue_scaling.py --plugin vae -p n=64       # a real plugin instead of `burn`
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from queue_cluster import BenchCluster


def run(cluster: BenchCluster, processes: int, plugin: str, params: dict[str, object], jobs: int) -> float:
    """Queue the jobs first, then start the workers: jobs/s from the first start to the last finish."""
    ids = [cluster.submit(plugin, params).id for _ in range(jobs)]
    workers = cluster.start(
        "--gpus",
        "none",
        "--concurrency",
        str(processes),
        "--name",
        f"scale{processes}",
        "--loglevel",
        "WARNING",
        log=f"scale{processes}",
        OMP_NUM_THREADS="1",
    )
    first, last = cluster.wait_all(ids)
    cluster.kill(workers)
    time.sleep(1)
    return jobs / (last - first).total_seconds()


BARE_BURN = """
import sys, numpy as np
steps, count = int(sys.argv[1]), int(sys.argv[2])
for seed in range(count):
    a = np.random.default_rng(seed).standard_normal((256, 256), dtype=np.float32)
    for _ in range(steps):
        a = np.tanh(a @ a / 16.0)
"""


def bare(processes: int, steps: int, jobs: int) -> float:
    """The same work without the queue, split over plain processes: what the machine allows now."""
    import os
    import subprocess

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    running = [
        subprocess.Popen([sys.executable, "-c", BARE_BURN, str(steps), str(jobs // processes)], env=env)
        for _ in range(processes)
    ]
    for process in running:
        process.wait()
    return jobs / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--steps", type=int, default=400, help="matrix products per `burn` job")
    parser.add_argument("--plugin", default="burn")
    parser.add_argument("-p", "--param", action="append", default=[], help="key=value for --plugin")
    parser.add_argument("--redis-db", type=int, default=14)
    args = parser.parse_args()

    params: dict[str, object] = {"steps": args.steps} if args.plugin == "burn" else {}
    params.update(dict(p.split("=", 1) for p in args.param))
    cluster = BenchCluster(args.redis_db)
    try:
        one = run(cluster, 1, args.plugin, params, args.jobs)
        print(f"scaling  1 worker process:   {one:6.2f} jobs/s  ({args.jobs} {args.plugin} jobs)", flush=True)
        two = run(cluster, 2, args.plugin, params, args.jobs)
        print(f"scaling  2 worker processes: {two:6.2f} jobs/s", flush=True)
        print(f"scaling  speed-up through the queue: {two / one:.2f}x  (expect close to 2x on 2 idle cores)")
        if args.plugin == "burn":
            bare_one, bare_two = bare(1, args.steps, args.jobs), bare(2, args.steps, args.jobs)
            print(
                f"scaling  same work, no queue, 1 vs 2 plain processes: {bare_one:.2f} vs {bare_two:.2f} jobs/s"
                f" = {bare_two / bare_one:.2f}x  (what the machine allows right now)"
            )
        print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    finally:
        cluster.close()


if __name__ == "__main__":
    main()
