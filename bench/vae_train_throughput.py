"""VAE training throughput: the plugin's train job beside a bare PyTorch loop over the same networks.

Both train plugins/vae/networks.py's VAE on the same digits (the shared MNIST less its last 1000),
with the same batch size, optimiser and thread count, in alternating rounds so load on a shared
machine hits both alike. The job is timed from submit to its final commit, so its figure includes
everything a job does beside the steps: reading the data, progress and metrics, sample grids and a
checkpoint every epoch, the held-out score (every 5th epoch by default), registering the model.

    OMP_NUM_THREADS=1 nice -n 10 python bench/vae_train_throughput.py --epochs 5 --rounds 3
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from aigc.core.testing import run_job
from aigc.plugins.datasets.mnist import load_mnist, split
from aigc.plugins.vae.data import to_tensor
from aigc.plugins.vae.networks import VAE, VaeConfig, loss_terms
from aigc.plugins.vae.training import jitter

JITTER, WARMUP = 0.5, 5  # the train job's defaults
SHARED = Path(os.environ.get("AIGC_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


@dataclass
class Timing:
    wall: float  # seconds on the clock: what a user waits
    cpu: float  # seconds of this process's CPU: barely moved by other load on a shared machine


class Stopwatch:
    def __enter__(self) -> Stopwatch:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.timing = Timing(time.perf_counter() - self.wall, time.process_time() - self.cpu)


def bare_loop(x: torch.Tensor, config: VaeConfig, epochs: int, batch_size: int, lr: float, seed: int) -> Timing:
    """The loop a reader would write by hand (pytorch/examples `vae` style) doing the job's training
    steps: the same jitter, cosine learning rate and KL warm-up, nothing else."""
    torch.manual_seed(seed)
    rng = torch.Generator().manual_seed(seed)
    model = VAE(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    steps_per_epoch = math.ceil(len(x) / batch_size)
    total, step = epochs * steps_per_epoch, 0
    with Stopwatch() as watch:
        for _ in range(epochs):
            order = torch.randperm(len(x))
            for i in range(steps_per_epoch):
                batch = jitter(x[order[i * batch_size : (i + 1) * batch_size]], JITTER, rng)
                for group in optimizer.param_groups:
                    group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / total))
                step += 1
                logits, mu, logvar = model(batch, torch.randn(len(batch), config.latent_size))
                bce, kl = loss_terms(logits, batch, mu, logvar)
                loss = (bce + min(1.0, step / (WARMUP * steps_per_epoch)) * kl).mean()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
    return watch.timing


def plugin_job(params: dict[str, object]) -> Timing:
    """One `vae train` job in a temporary store, timed from submit to the job's final commit."""
    with tempfile.TemporaryDirectory(prefix="vae-bench-") as folder:
        with Stopwatch() as watch:
            outcome = run_job("vae", "train", params, Path(folder))
    if outcome.job.status != "succeeded":
        raise SystemExit(f"train job {outcome.job.status}: {outcome.job.error}")
    return watch.timing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(SHARED / "mnist"))
    parser.add_argument("--epochs", type=int, default=5)  # the default score_every: one held-out score
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    config = VaeConfig()
    lr, seed, holdout = 1e-3, 0, 1000
    train_digits = split(load_mnist(args.data, labels=False), holdout)[0]
    x = to_tensor(train_digits.images, "cpu")
    params = {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": lr,
        "data": args.data,
        "test": 0,  # the bare loop trains on digits 0..6999 too
        "holdout": holdout,
        "seed": seed,
        "jitter": JITTER,
        "warmup": WARMUP,
        "schedule": "cosine",
        "device": "cpu",
        **config.to_dict(),
    }
    digits = len(x) * args.epochs
    bare_loop(x, config, 1, args.batch_size, lr, seed)  # warm-up: imports, first-call allocations
    wall_ratios, cpu_ratios = [], []
    for round_ in range(1, args.rounds + 1):
        bare, job = bare_loop(x, config, args.epochs, args.batch_size, lr, seed), plugin_job(params)
        wall_ratios.append(bare.wall / job.wall)
        cpu_ratios.append(bare.cpu / job.cpu)
        print(
            f"round {round_}: digits/s on the clock: bare loop {digits / bare.wall:6.0f}, job {digits / job.wall:6.0f} "
            f"({wall_ratios[-1]:.3f});  per CPU second: bare {digits / bare.cpu:6.0f}, job {digits / job.cpu:6.0f} "
            f"({cpu_ratios[-1]:.3f})"
        )
    print(
        f"{args.rounds} rounds of {args.epochs} epochs over {len(x)} digits, batch {args.batch_size}, "
        f"{args.threads} thread(s); job throughput / bare loop throughput, median of rounds:"
    )
    print(f"  on the clock  {statistics.median(wall_ratios):.3f}")
    print(f"  per CPU second {statistics.median(cpu_ratios):.3f}   (target >= 0.90)")


if __name__ == "__main__":
    main()
