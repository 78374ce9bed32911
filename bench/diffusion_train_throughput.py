"""Training images/s: the diffusion plugin's train job vs a bare loop of the same diffusers UNet and scheduler.

Runs them alternately (bare, job, bare, job, ...) in one process on the same digits, so a busy machine
slows both alike, and prints each run and the ratio of the best of each. The job is timed end to end
around `run_job` (store set-up, data loading, per-epoch sample grid and checkpoint, the saved folder);
its own in-loop figure (the `train/images_per_s` metric) is printed beside it. The bare loop is the
textbook one: AdamW at a fixed rate, `add_noise`, MSE on the noise, no weight average, no label dropout.

    OMP_NUM_THREADS=1 python bench/diffusion_train_throughput.py [--epochs 1] [--batch-size 64] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from aigc.plugins.datasets.mnist import load_mnist, split
from aigc.plugins.diffusion.networks import new_scheduler, new_unet
from aigc.plugins.diffusion.params import TrainParams

sys.path.insert(0, str(Path(__file__).parent))
from timed_jobs import train_job_rates  # noqa: E402

SHARED = Path(os.environ.get("AIGC_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")


def bare_loop(images: torch.Tensor, labels: torch.Tensor, channels: int, batch: int, epochs: int) -> float:
    """The textbook class-conditional DDPM loop, nothing else: returns images/s."""
    torch.manual_seed(0)
    unet, scheduler = new_unet(channels), new_scheduler(1000)
    optimizer = torch.optim.AdamW(unet.parameters(), lr=2e-3, weight_decay=0.0)
    steps = len(images) // batch
    started = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(images))
        for i in range(steps):
            pick = order[i * batch : (i + 1) * batch]
            x0, y = images[pick], labels[pick]
            noise = torch.randn_like(x0)
            t = torch.randint(0, 1000, (batch,))
            loss = F.mse_loss(unet(scheduler.add_noise(x0, noise, t), t, class_labels=y).sample, noise)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return epochs * steps * batch / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--data", type=Path, default=SHARED / "mnist")
    args = parser.parse_args()

    holdout = 2000
    train, _ = split(load_mnist(args.data), holdout)
    assert train.labels is not None
    images = torch.from_numpy(train.images).unsqueeze(1).float().div(127.5).sub(1.0)
    labels = torch.from_numpy(train.labels.astype("int64"))
    channels = TrainParams().channels
    params = {"epochs": args.epochs, "batch_size": args.batch_size, "data": str(args.data), "holdout": holdout}
    params |= {"seed": 1, "device": "cpu"}
    seen = args.epochs * (len(images) // args.batch_size) * args.batch_size

    threads = torch.get_num_threads()
    print(
        f"{len(images)} digits, batch {args.batch_size}, {args.epochs} epoch(s), {threads} thread(s), channels {channels}"
    )
    bare, job, loop = [], [], []
    for repeat in range(args.repeats):
        bare.append(bare_loop(images, labels, channels, args.batch_size, args.epochs))
        end_to_end, in_loop = train_job_rates("diffusion", params, seen)
        job.append(end_to_end)
        loop.append(in_loop)
        print(f"run {repeat + 1}: bare {bare[-1]:8.1f} img/s   job {job[-1]:8.1f} img/s (in-loop {in_loop:8.1f})")
    print(f"best: bare {max(bare):.1f} img/s, job {max(job):.1f} img/s end to end, {max(loop):.1f} in-loop")
    print(f"job / bare = {max(job) / max(bare):.3f} end to end, {max(loop) / max(bare):.3f} in-loop (target >= 0.95)")


if __name__ == "__main__":
    main()
