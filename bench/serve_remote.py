"""`aigc serve` as the front door, side by side in one run:

1. `aigc submit generate --plugin gan -p n=1 --wait` on a warm worker: remote (AIGC_SERVER_URL and a
   named token, progress pushed as server-sent events) against the direct path (database and broker
   URLs, the store polled every 250 ms); median wall time of the whole command; target: remote <= 1.5x;
2. push latency: a store write (a job's progress, committed by this process) to the event arriving at a
   client following the job through the server; median and p95; target: <= 100 ms; SQLite and PostgreSQL;
3. the server's peak RSS (VmHWM) while it streams `results.zip` of a job of `--results` small PNGs.

    python bench/serve_remote.py [--runs 15] [--results 20000] [--redis-db 14] [--postgres-url URL]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from queue_cluster import BenchCluster, median


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    import httpx

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "aigc.cli", "serve", "--port", str(port)],
        env=env,
        stdout=open(log, "ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + "/static/style.css", timeout=2).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"aigc serve did not start; see {log}")
        time.sleep(0.2)


def stop(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def submit_wait(cluster: BenchCluster, url: str, runs: int) -> None:
    from aigc.core.tokens import create

    token = create(cluster.store, "bench")
    command = [sys.executable, "-m", "aigc.cli", "submit", "generate", "--plugin", "gan", "-p", "n=1", "--wait"]
    envs = {
        "direct": cluster.env,
        "remote": {**cluster.env, "AIGC_SERVER_URL": url, "AIGC_TOKEN": token},
    }
    times: dict[str, list[float]] = {"direct": [], "remote": []}
    for run in range(runs + 1):  # the first of each warms the worker's model cache and the server
        for name, env in envs.items():
            started = time.perf_counter()
            done = subprocess.run(command, env=env, capture_output=True, text=True)
            elapsed = time.perf_counter() - started
            if done.returncode != 0:
                raise RuntimeError(f"{name} submit failed: {done.stderr}")
            if run:
                times[name].append(elapsed)
    direct, remote = median(times["direct"]), median(times["remote"])
    print(f"submit --wait, gan n=1, warm worker ({runs} runs each, interleaved):")
    print(f"  direct (store + broker, polled) median {direct * 1000:.0f} ms")
    print(
        f"  remote (aigc serve, pushed)     median {remote * 1000:.0f} ms  ratio {remote / direct:.2f}x (target <= 1.5x)"
    )


def push_latency(store_url: str, label: str, env: dict[str, str], root: Path, writes: int = 60) -> None:
    """Latency from a committed progress write to the event reaching a client of the server."""
    from dataclasses import replace

    from sqlalchemy import update

    from aigc.core.client import Client
    from aigc.core.config import Settings
    from aigc.core.jobs import Submission, create_job
    from aigc.core.plugin import JobKind
    from aigc.core.store import Job, Store
    from aigc.core.tokens import create

    settings = replace(Settings.from_env(), database_url=store_url, broker_url=None, plugin_path=(root / "plugins",))
    store = Store(settings)
    token = create(store, f"latency-{time.time_ns()}")
    job = create_job(store, Submission(JobKind.generate, "noop", {}), check_here=False)
    server, url = start_server(
        {**env, "AIGC_DATABASE_URL": store_url, "AIGC_BROKER_URL": ""}, root / f"serve-{label}.log"
    )
    arrived: dict[float, float] = {}
    ready = threading.Event()

    def follow() -> None:
        with Client(url, token) as client:
            for state in client.events(job.id):
                ready.set()
                arrived.setdefault(state["progress"], time.perf_counter())

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    ready.wait(30)
    written: dict[float, float] = {}
    try:
        for step in range(1, writes + 1):
            value = step / (writes + 1)
            with store.transaction() as session:
                session.execute(update(Job).where(Job.id == job.id).values(progress=value))
            written[value] = time.perf_counter()
            time.sleep(0.2)
        time.sleep(0.5)
        with store.transaction() as session:
            session.execute(update(Job).where(Job.id == job.id).values(status="cancelled"))
        reader.join(10)
    finally:
        stop(server)
    latencies = sorted((arrived[v] - t) * 1000 for v, t in written.items() if v in arrived)
    missed = len(written) - len(latencies)
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    print(
        f"push latency, {label}: median {statistics.median(latencies):.1f} ms, p95 {p95:.1f} ms, "
        f"max {latencies[-1]:.1f} ms over {len(latencies)} writes ({missed} missed) (target <= 100 ms)"
    )


def zip_rss(cluster: BenchCluster, count: int) -> None:
    """Peak RSS of the server while it streams a job of `count` PNG results as one zip."""
    import httpx
    import numpy as np
    from sqlalchemy import insert

    from aigc.core.images import encode_png
    from aigc.core.store import Result
    from aigc.core.store.models import utcnow
    from aigc.core.tokens import create

    job = cluster.submit("noop", send=False)
    rng = np.random.default_rng(0)
    pngs = [encode_png(rng.integers(0, 256, (28, 28), dtype=np.uint8)) for _ in range(64)]
    started = time.perf_counter()
    now = utcnow()
    with cluster.store.transaction() as session:
        for first in range(0, count, 5000):
            rows = [
                dict(
                    job_id=job.id,
                    index=i,
                    kind="image",
                    role="item",
                    mime="image/png",
                    data=pngs[i % 64],
                    meta={},
                    created_at=now,
                )
                for i in range(first, min(count, first + 5000))
            ]
            session.execute(insert(Result), rows)
    setup_s = time.perf_counter() - started
    token = create(cluster.store, "zip")
    server, url = start_server({**cluster.env, "AIGC_BROKER_URL": ""}, cluster.root / "serve-zip.log")
    try:
        status = Path(f"/proc/{server.pid}/status")

        def kib(key: str) -> int:
            line = next(x for x in status.read_text().splitlines() if x.startswith(key))
            return int(line.split()[1])

        before = kib("VmHWM:")
        size = 0
        started = time.perf_counter()
        with httpx.stream(
            "GET", f"{url}/api/jobs/{job.id}/results.zip", headers={"Authorization": f"Bearer {token}"}, timeout=None
        ) as r:
            for chunk in r.iter_bytes(1 << 20):
                size += len(chunk)
        took = time.perf_counter() - started
        peak = kib("VmHWM:")
    finally:
        stop(server)
    print(
        f"results.zip of {count} PNGs ({size / 2**20:.0f} MiB, {took:.1f} s, setup {setup_s:.1f} s): server peak RSS "
        f"{before / 1024:.0f} MiB before, {peak / 1024:.0f} MiB after streaming (+{(peak - before) / 1024:.0f} MiB)"
    )


def scratch_postgres(base_url: str, env: dict[str, str]) -> str:
    """A new, migrated PostgreSQL database beside `base_url`'s (dropped by `drop_postgres`)."""
    import psycopg

    name = f"aigc_bench_{os.getpid()}"
    plain = base_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = base_url.rsplit("/", 1)[0] + "/" + name
    subprocess.run(
        [sys.executable, "-m", "aigc.cli", "db", "upgrade"], env={**env, "AIGC_DATABASE_URL": url}, check=True
    )
    return url


def drop_postgres(base_url: str, url: str) -> None:
    import psycopg

    plain = base_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--results", type=int, default=20_000)
    parser.add_argument("--redis-db", type=int, default=14)
    parser.add_argument("--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--skip", nargs="*", default=[], choices=["submit", "latency", "zip"])
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    cluster = BenchCluster(args.redis_db)
    try:
        if "submit" not in args.skip:
            worker = cluster.start("--gpus", "none", "-Q", "gpu,cpu", "--concurrency", "1", "--loglevel", "WARNING")
            cluster.wait_ready(1)
            server, url = start_server(cluster.env, cluster.root / "serve.log")
            try:
                submit_wait(cluster, url, args.runs)
            finally:
                stop(server)
                cluster.kill(worker)
        if "latency" not in args.skip:
            env = {k: v for k, v in cluster.env.items() if k != "AIGC_BROKER_URL"}
            push_latency(cluster.settings.database_url, "SQLite", env, cluster.root)
            scratch = scratch_postgres(args.postgres_url, env)
            try:
                push_latency(scratch, "PostgreSQL", env, cluster.root)
            finally:
                drop_postgres(args.postgres_url, scratch)
        if "zip" not in args.skip:
            zip_rss(cluster, args.results)
    finally:
        cluster.close()
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
