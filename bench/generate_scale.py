"""Generate at scale: peak memory flat in n, and where an n=10,000 job's time goes.

1. Peak RSS of `generate -p n=N` for gan and vae at N = 10,000 and 100,000, each job alone in a fresh
   process (a SQLite store in a scratch folder): results are stored in batches, so the ratio should be
   near 1 (target <= 1.5).
2. The gan job at n=10,000 end to end vs its parts measured bare, one after the other in one process:
   the generator forward (latents drawn, digits rendered), PNG encoding (with the provenance text chunks),
   and the store writes (10,000 result rows in batches of 5,000). Target: job <= 1.5x the sum.

    OMP_NUM_THREADS=1 python bench/generate_scale.py [--small 10000] [--large 100000] [--plugins gan,vae]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def child(plugin: str, n: int) -> None:
    """Run one generate job here and print its wall time and this process's peak RSS."""
    from sqlalchemy import func, select

    from aigc.core.runner import run_job
    from aigc.core.store import Result, Store
    from aigc.core.testing import submit, temporary_settings

    with tempfile.TemporaryDirectory() as scratch:
        settings = temporary_settings(Path(scratch))
        job_id = submit(settings, plugin, "generate", {"n": n, "seed": 1, "device": "cpu"})
        started = time.perf_counter()
        status = run_job(job_id, settings=settings)
        wall = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before anything is read back
        assert status == "succeeded", status
        with Store(settings).transaction() as session:
            query = select(func.count()).select_from(Result).where(Result.job_id == job_id, Result.role == "item")
            assert session.scalar(query) == n
    print(json.dumps({"plugin": plugin, "n": n, "wall_s": wall, "peak_rss_mb": peak_mb}))


def in_child(plugin: str, n: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", plugin, str(n)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def parts(n: int) -> None:
    """The gan job at n vs its three parts measured bare."""
    from aigc.core.catalog import BUNDLED
    from aigc.core.context import PendingResult
    from aigc.core.images import encode_grey_png
    from aigc.core.store import Store, lifecycle
    from aigc.core.testing import run_job, submit, temporary_settings
    from aigc.plugins.gan import generation
    from aigc.plugins.gan.networks import GanConfig, build_generator
    from aigc.plugins.gan.sampling import draw_latents, render

    with tempfile.TemporaryDirectory() as scratch:
        settings = temporary_settings(Path(scratch) / "store")
        started = time.perf_counter()
        outcome = run_job("gan", "generate", {"n": n, "seed": 1, "device": "cpu"}, settings=settings)
        job_s = time.perf_counter() - started
        assert outcome.job.status == "succeeded", outcome.job.error

        from aigc.core import catalog
        from aigc.core.registry import get_plugin

        plugin = get_plugin("gan", settings.plugin_path)
        with Store(settings).transaction() as session:
            model = catalog.load(session, Store(settings).artifacts, plugin, BUNDLED)
        generator = build_generator(model, "cpu")
        config: GanConfig = generator.config
        temperature = float(model.config.get("temperature", 1.0))

        started = time.perf_counter()
        batches = []
        with generation.one_cpu_thread("cpu"):
            for start in range(0, n, generation.BATCH):
                latents = draw_latents(
                    1, range(start, min(start + generation.BATCH, n)), config, temperature=temperature
                )
                batches.append((latents, render(generator, latents, "cpu")))
        forward_s = time.perf_counter() - started

        started = time.perf_counter()
        pngs = []
        for latents, pixels in batches:
            for offset, image in enumerate(pixels):
                meta = {"plugin": "gan", "model": "default", "temperature": temperature, "seed": latents.seeds[offset]}
                meta |= {"index": len(pngs), "digit": int(latents.digits[offset])}
                pngs.append((encode_grey_png(image, meta), meta))
        encode_s = time.perf_counter() - started

        job_id = submit(settings, "gan", "generate", {"n": 1})
        store = Store(settings)
        started = time.perf_counter()
        for first in range(0, n, generation.STORE_EVERY):
            rows = [
                PendingResult(i, "image", "item", "image/png", png, None, int(meta["seed"]), meta)
                for i, (png, meta) in enumerate(pngs[first : first + generation.STORE_EVERY], start=first)
            ]
            with store.transaction() as session:
                lifecycle._write_outputs(session, job_id, rows, [])
        store_s = time.perf_counter() - started

    total = forward_s + encode_s + store_s
    print(f"\ngan generate n={n:,}: job {job_s:.2f} s end to end")
    print(f"  bare parts: forward {forward_s:.2f} s, PNG encoding {encode_s:.2f} s, store writes {store_s:.2f} s")
    print(f"  sum of parts {total:.2f} s; job / sum = {job_s / total:.2f} (target <= 1.5)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", nargs=2, metavar=("PLUGIN", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--plugins", default="gan,vae")
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return
    for plugin in args.plugins.split(","):
        small, large = in_child(plugin, args.small), in_child(plugin, args.large)
        ratio = large["peak_rss_mb"] / small["peak_rss_mb"]
        print(
            f"{plugin}: n={args.small:,} peak RSS {small['peak_rss_mb']:.0f} MB ({small['wall_s']:.1f} s); "
            f"n={args.large:,} {large['peak_rss_mb']:.0f} MB ({large['wall_s']:.1f} s); ratio {ratio:.2f} (target <= 1.5)",
            flush=True,
        )
    parts(args.small)


if __name__ == "__main__":
    main()
