"""Server time of `aigc serve`'s heavy pages against the issue's targets, printed side by side.

    python bench/serve_pages.py                     # a fresh SQLite store in a temp folder
    python bench/serve_pages.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/benchdb

Targets: a job page with 1,000 image results renders in < 1 s; the jobs list stays < 200 ms with
10,000 jobs in the store. Server time is the app's own `Server-Timing` header (routing, queries and
template rendering), read from in-process requests; wall time adds the test client's overhead.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from aigc.core.config import Settings
from aigc.core.images import encode_png
from aigc.core.store import Job, Metric, Result, Store
from aigc.core.store.models import utcnow

PLUGINS = ("gan", "vae", "text", "toy")
STATUSES = ("succeeded",) * 7 + ("failed", "cancelled", "running", "queued")


def fill(store: Store, jobs: int, images: int, points: int) -> tuple[int, int]:
    """`jobs` jobs, one of which has `images` PNG results and one `points` metric points per curve."""
    rng = random.Random(0)
    now = utcnow()
    rows = []
    for i in range(jobs):
        status = rng.choice(STATUSES)
        rows.append(
            dict(
                kind=rng.choice(("generate", "generate", "train", "evaluate")),
                plugin=rng.choice(PLUGINS),
                params={"n": 64, "seed": i},
                seed=i,
                model_id=None,
                queue="cpu",
                priority=0,
                status=status,
                progress=1.0 if status == "succeeded" else rng.random(),
                progress_info={"done": 1, "total": 2},
                attempts=1,
                max_attempts=3,
                retries=0,
                failures=0,
                cancel_requested=False,
                worker="bench:1",
                device="cpu",
                summary={},
                created_at=now,
                started_at=now,
                finished_at=now if status not in ("running", "queued") else None,
            )
        )
    with store.transaction() as session:
        for start in range(0, len(rows), 2000):
            session.execute(Job.__table__.insert(), rows[start : start + 2000])
    gallery, curves = jobs, jobs - 1  # the newest two jobs carry the heavy content
    pixels = np.random.default_rng(0).integers(0, 256, (images, 28, 28), dtype=np.uint8)
    results = [
        dict(
            job_id=gallery,
            index=i,
            kind="image",
            role="item",
            mime="image/png",
            data=encode_png(pixels[i], {"seed": 7, "index": i, "model": "default"}),
            text=None,
            seed=7,
            meta={"index": i},
            created_at=now,
        )
        for i in range(images)
    ]
    metrics = [
        dict(job_id=curves, key=key, step=s, value=float(np.exp(-s / points) + 0.05 * np.sin(s)))
        for key in ("loss_d", "loss_g", "d_real")
        for s in range(points)
    ]
    with store.transaction() as session:
        session.execute(Result.__table__.insert(), results)
        session.execute(Metric.__table__.insert(), metrics)
    return gallery, curves


def measure(client, path: str, repeat: int) -> tuple[float, float, float]:
    """(median server ms, p95 server ms, median wall ms) over `repeat` requests after one warm-up."""
    client.get(path)
    server, wall = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path)
        wall.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code, response.text[:200])
        server.append(float(response.headers["server-timing"].split("dur=")[1]))
    server.sort()
    return statistics.median(server), server[int(0.95 * (len(server) - 1))], statistics.median(wall)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="an empty, migrated database (default: a temp SQLite file)")
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--images", type=int, default=1_000)
    parser.add_argument("--points", type=int, default=2_000, help="metric points per curve (3 curves)")
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from aigc.cli.serve import create_app

    folder = Path(tempfile.mkdtemp(prefix="aigc-bench-serve-"))
    settings = replace(
        Settings.from_env(),
        database_url=args.database_url or f"sqlite:///{folder / 'aigc.db'}",
        artifacts=folder / "artifacts",
        broker_url=None,
    )
    store = Store(settings)
    started = time.perf_counter()
    gallery, curves = fill(store, args.jobs, args.images, args.points)
    print(
        f"store: {store.engine.url.get_backend_name()}, {args.jobs} jobs, {args.images} images in job {gallery}, "
        f"3x{args.points} metric points in job {curves} (filled in {time.perf_counter() - started:.1f} s)"
    )

    cases = [
        ("jobs list (page)", "/jobs", 200),
        ("jobs list, status=running", "/jobs?status=running", 200),
        ("jobs list, plugin=gan", "/jobs?plugin=gan", 200),
        ("jobs list, 100 pages back", f"/jobs?before={args.jobs - 5000}", 200),
        ("jobs rows (live poll)", "/jobs/rows", 200),
        ("GET /api/jobs?limit=50", "/api/jobs?limit=50", 200),
        (f"job page, {args.images} images", f"/jobs/{gallery}", 1000),
        (f"GET /api/jobs/{gallery}/results", f"/api/jobs/{gallery}/results", 1000),
        ("job page, 3 curves", f"/jobs/{curves}", 1000),
        ("one image", f"/api/jobs/{gallery}/results/500", 100),
        ("result page (PNG metadata)", f"/jobs/{gallery}/results/500", 200),
    ]
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        print(f"{'case':34} {'server ms':>10} {'p95':>8} {'wall ms':>9} {'target':>8} {'ratio':>6}")
        worst = 0.0
        for label, path, target in cases:
            median, p95, wall = measure(client, path, args.repeat)
            worst = max(worst, median / target)
            print(f"{label:34} {median:10.1f} {p95:8.1f} {wall:9.1f} {target:8d} {median / target:6.2f}")
        started = time.perf_counter()
        size = len(client.get(f"/api/jobs/{gallery}/results.zip").content)
        print(f"zip of {args.images} results: {size / 1e6:.2f} MB in {(time.perf_counter() - started) * 1000:.0f} ms")
    print(f"worst ratio to target: {worst:.2f} ({'within' if worst < 1 else 'OVER'} targets)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
