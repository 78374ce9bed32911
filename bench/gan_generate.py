"""`aigc submit generate --plugin gan -p n=10000`, embedded, end to end, and where its time goes.

Each repeat runs the real command in a fresh process against a fresh store (so the bundled default
model, interpreter start-up, torch import, and storing 10,001 PNG results all count), then checks
that the store holds them. The phase breakdown is measured in-process on the same model.

    python bench/gan_generate.py [--n 10000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 6.0


def end_to_end(n: int, seed: int) -> float:
    with tempfile.TemporaryDirectory() as scratch:
        env = dict(os.environ, AIGC_HOME=scratch, AIGC_DATABASE_URL=f"sqlite:///{scratch}/aigc.db")
        env |= {"AIGC_ARTIFACTS": f"{scratch}/artifacts"}
        env.pop("AIGC_BROKER_URL", None)
        # The store is created first (as `aigc` would on a first run) so the timing is of the job.
        subprocess.run([sys.executable, "-m", "aigc.cli", "db", "upgrade"], env=env, check=True, capture_output=True)
        command = [sys.executable, "-m", "aigc.cli", "submit", "generate", "--plugin", "gan"]
        command += ["-p", f"n={n}", "-p", f"seed={seed}", "--json"]
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"generate failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
        import sqlite3

        with sqlite3.connect(Path(scratch) / "aigc.db") as db:
            stored = db.execute("select count(*) from results where mime = 'image/png'").fetchone()[0]
        assert stored == n + 1, f"expected {n} digits and a grid in the store, found {stored}"
    return wall


def phases(n: int, seed: int) -> dict[str, float]:
    """Seconds spent drawing latents, in the generator, and encoding PNGs, for the bundled model."""
    from aigc.core.context import LoadedModel
    from aigc.core.catalog import _bundled_config
    from aigc.plugins.gan import GanPlugin
    from aigc.plugins.gan.generation import BATCH, one_cpu_thread
    from aigc.plugins.gan.png import encode_grey_png
    from aigc.plugins.gan.sampling import draw_latents, load_generator, render

    path = Path(sys.modules[GanPlugin.__module__].__file__ or "").parent / "default.safetensors"
    model = LoadedModel("default", path, "safetensors", "", _bundled_config(path), bundled=True)
    generator, config, prior = load_generator(model, "cpu")
    times = {"latents": 0.0, "generator": 0.0, "png": 0.0}
    for start in range(0, n, BATCH):
        t0 = time.perf_counter()
        latents = draw_latents(seed, range(start, min(start + BATCH, n)), config, prior=prior)
        t1 = time.perf_counter()
        with one_cpu_thread("cpu"):
            pixels = render(generator, latents, "cpu")
        t2 = time.perf_counter()
        for offset, image in enumerate(pixels):
            meta = {"plugin": "gan", "model": "default", "seed": seed, "index": start + offset}
            meta |= {"latent_seed": latents.seeds[offset], "temperature": 1.0, "digit": int(latents.digits[offset])}
            encode_grey_png(image, meta)
        t3 = time.perf_counter()
        times["latents"] += t1 - t0
        times["generator"] += t2 - t1
        times["png"] += t3 - t2
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    walls = [end_to_end(args.n, seed=1) for _ in range(args.repeats)]
    for i, wall in enumerate(walls, 1):
        print(f"run {i}: {wall:.2f} s end to end for n={args.n}")
    print(f"best {min(walls):.2f} s, median {sorted(walls)[len(walls) // 2]:.2f} s (target < {TARGET_S:.0f} s)")
    split = phases(args.n, seed=1)
    print(
        f"in-process: latents {split['latents']:.2f} s, "
        f"generator {split['generator']:.2f} s, PNG encoding {split['png']:.2f} s"
    )
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch, aigc.plugins.gan.generation"], check=True)
    print(f"interpreter start + torch + plugin import: {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
