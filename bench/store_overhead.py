"""Store overhead of one no-op job run embedded: create, run, write one result, finish (target: median < 15 ms on SQLite).

    python bench/store_overhead.py [--jobs 300] [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]

Runs in-process, side by side on SQLite (the embedded default) and, if given, PostgreSQL.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

NOOP = """
from aigc.core.plugin import JobParams, Modality, Plugin


class Noop(Plugin):
    name = "noop"
    modality = Modality.text
    queue = "cpu"
    GenerateParams = JobParams

    def generate(self, ctx, params):
        ctx.add_text("done", seed=ctx.seed)
"""


def measure(settings, jobs: int) -> list[float]:
    from aigc.core.jobs import Submission, create_job
    from aigc.core.plugin import JobKind
    from aigc.core.runner import run_job
    from aigc.core.store import Store

    store = Store(settings)
    timings = []
    for _ in range(jobs):
        start = time.perf_counter()
        job = create_job(store, Submission(JobKind.generate, "noop", {}))
        status = run_job(job.id, settings=settings)
        timings.append((time.perf_counter() - start) * 1000)
        assert status == "succeeded", status
    return timings[5:]  # the first jobs pay for imports and connection set-up


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--postgres", default=None, help="URL of a scratch PostgreSQL database (tables are created)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="aigc-bench-"))
    (folder / "plugins").mkdir()
    (folder / "plugins" / "noop.py").write_text(NOOP)
    os.environ["AIGC_PLUGIN_PATH"] = str(folder / "plugins")
    from aigc.core.config import Settings

    base = replace(Settings.from_env(), artifacts=folder / "artifacts", broker_url=None)
    targets = {"sqlite": replace(base, database_url=f"sqlite:///{folder / 'bench.db'}")}
    if args.postgres:
        from aigc.core.store.engine import migrate

        migrate(args.postgres)
        targets["postgresql"] = replace(base, database_url=args.postgres)
    print(f"{'store':<12}{'jobs':>6}{'median ms':>12}{'p90 ms':>10}")
    for name, settings in targets.items():
        timings = measure(settings, args.jobs)
        p90 = statistics.quantiles(timings, n=10)[-1]
        print(f"{name:<12}{len(timings):>6}{statistics.median(timings):>12.2f}{p90:>10.2f}")


if __name__ == "__main__":
    main()
