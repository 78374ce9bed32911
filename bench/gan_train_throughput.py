"""Training images/s: the gan plugin's train job vs a bare PyTorch loop, same networks, same batch size.

Runs them alternately (bare, job, bare, job, ...) in one process on the same digits, so a busy
machine slows both alike, and prints each run and the ratio of the best of each. The job is timed
end to end around `run_job` (store set-up, data loading, per-epoch sample grid and checkpoint,
the final model), with `calibrate=false`; its own in-loop figure (the `train/images_per_s` metric) is
printed beside it. The temperature calibration that ends a default train job is a fixed cost,
independent of the number of epochs: one more job with it on measures it separately.

    OMP_NUM_THREADS=1 python bench/gan_train_throughput.py [--epochs 3] [--batch-size 64] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch
from torch import nn

from aigc.plugins.datasets.mnist import load_mnist, split
from aigc.plugins.gan.networks import GanConfig, build
from aigc.plugins.gan.params import TrainParams

sys.path.insert(0, str(Path(__file__).parent))
from timed_jobs import train_job_rates  # noqa: E402

SHARED = Path(os.environ.get("AIGC_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")


def bare_loop(images: torch.Tensor, labels: torch.Tensor, config: GanConfig, batch: int, epochs: int) -> float:
    """The textbook conditional DCGAN loop, nothing else: returns images/s."""
    torch.manual_seed(0)
    g, d = build(config)
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    steps = len(images) // batch
    started = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(images))
        for i in range(steps):
            pick = order[i * batch : (i + 1) * batch]
            real, y = images[pick], labels[pick]
            fake = g(torch.randn(batch, config.latent_size), y)
            d_real, d_fake = d(real, y), d(fake.detach(), y)
            loss_d = bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            d_gen = d(fake, y)
            loss_g = bce(d_gen, torch.ones_like(d_gen))
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
    return epochs * steps * batch / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--data", type=Path, default=SHARED / "mnist")
    args = parser.parse_args()

    holdout = 2000
    train, _ = split(load_mnist(args.data), holdout)
    assert train.labels is not None
    images = torch.from_numpy(train.images).unsqueeze(1).float().div(127.5).sub(1.0)
    labels = torch.from_numpy(train.labels.astype("int64"))
    defaults = TrainParams()
    config = GanConfig(defaults.latent_size, defaults.g_channels, defaults.d_channels, 10, int(defaults.refine))
    params = {"epochs": args.epochs, "batch_size": args.batch_size, "data": str(args.data), "holdout": holdout}
    params |= {"seed": 1, "device": "cpu", "calibrate": False}
    seen = args.epochs * (len(images) // args.batch_size) * args.batch_size

    threads = torch.get_num_threads()
    print(f"{len(images)} digits, batch {args.batch_size}, {args.epochs} epochs, {threads} thread(s), {config}")
    bare, job, loop = [], [], []
    for repeat in range(args.repeats):
        bare.append(bare_loop(images, labels, config, args.batch_size, args.epochs))
        end_to_end, in_loop = train_job_rates("gan", params, seen)
        job.append(end_to_end)
        loop.append(in_loop)
        print(f"run {repeat + 1}: bare {bare[-1]:8.1f} img/s   job {job[-1]:8.1f} img/s (in-loop {in_loop:8.1f})")
    print(f"best: bare {max(bare):.1f} img/s, job {max(job):.1f} img/s end to end, {max(loop):.1f} in-loop")
    print(f"job / bare = {max(job) / max(bare):.3f} end to end, {max(loop) / max(bare):.3f} in-loop (target >= 0.90)")
    calibrated, _ = train_job_rates("gan", params | {"calibrate": True}, seen)
    extra = seen / calibrated - seen / max(job)
    print(f"with calibrate=true (the default): {calibrated:.1f} img/s end to end; calibration costs {extra:.1f} s once")


if __name__ == "__main__":
    main()
