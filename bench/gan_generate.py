"""`aigc submit generate --plugin gan -p n=10000`, embedded, end to end, and where its time goes.

Each repeat runs the real command in a fresh process against a fresh store (so the bundled default
model, interpreter start-up, torch import, and storing 10,001 PNG results all count), then checks
that the store holds them. The phase breakdown is measured in-process on the same model.

    python bench/gan_generate.py [--n 10000] [--repeats 3]
    git worktree add /tmp/before HEAD~1 && python bench/gan_generate.py --against-code /tmp/before

With `--against-code CHECKOUT`, that checkout's code and bundled model run the same command in
alternating rounds with ours, so load on the machine hits both; the ratio of their medians is the figure.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from timed_jobs import generate_seconds  # noqa: E402

TARGET_S = 6.0


def phases(n: int, seed: int) -> dict[str, float]:
    """Seconds spent drawing latents, in the generator, and encoding PNGs, for the bundled model."""
    import json

    import torch

    from aigc.core.plugin_api import encode_grey_png, load_tensors
    from aigc.plugins.gan import GanPlugin
    from aigc.plugins.gan.generation import BATCH, one_cpu_thread
    from aigc.plugins.gan.networks import GanConfig, Generator, fold_batch_norm
    from aigc.plugins.gan.sampling import draw_latents, render

    # The bundled file read as `gan.networks.load_model` reads a model (its config is in the metadata).
    path = Path(sys.modules[GanPlugin.__module__].__file__ or "").parent / "default.safetensors"
    tensors, metadata = load_tensors(path)
    values = json.loads(metadata["config"])
    config, prior = GanConfig.from_dict(values), values.get("digit_prior")
    generator = Generator(config)
    generator.load_state_dict(tensors)
    generator = fold_batch_norm(generator.eval()).to("cpu", memory_format=torch.channels_last)
    times = {"latents": 0.0, "generator": 0.0, "png": 0.0}
    for start in range(0, n, BATCH):
        t0 = time.perf_counter()
        latents = draw_latents(seed, range(start, min(start + BATCH, n)), config, prior=prior)
        t1 = time.perf_counter()
        with one_cpu_thread("cpu"):
            pixels = render(generator, latents, "cpu")
        t2 = time.perf_counter()
        for offset, image in enumerate(pixels):
            meta = {"plugin": "gan", "model": "default", "temperature": 1.0, "seed": latents.seeds[offset]}
            meta |= {"index": start + offset, "digit": int(latents.digits[offset])}
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
    parser.add_argument("--against-code", type=Path, help="a checkout (worktree) whose generate ours is timed against")
    args = parser.parse_args()
    if args.against_code:
        ours, theirs = [], []
        for _ in range(args.repeats):
            ours.append(generate_seconds("gan", args.n, seed=1))
            theirs.append(generate_seconds("gan", args.n, seed=1, code=args.against_code))
        print(
            f"this checkout: {' / '.join(f'{s:.2f}' for s in ours)} s; {args.against_code}: "
            f"{' / '.join(f'{s:.2f}' for s in theirs)} s"
        )
        ratio = statistics.median(ours) / statistics.median(theirs)
        print(f"ratio of medians, this checkout / {args.against_code}: {ratio:.3f} (target ≤ 1.10)")
        return

    walls = [generate_seconds("gan", args.n, seed=1) for _ in range(args.repeats)]
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
