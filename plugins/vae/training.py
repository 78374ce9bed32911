"""The VAE's train job: a plain loop over in-memory digits, checkpointed and resumable per epoch.

Randomness comes from explicit generators (weights from the seed, shuffling and reparameterisation
noise from their own streams) whose states go into the checkpoint, so an attempt resumed after an
interruption trains exactly as the uninterrupted run would have.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from aigc.core.plugin_api import (
    JobContext,
    MixedPrecision,
    contact_sheet,
    encode_grey_png,
    mixed_precision,
    place_data,
    to_device,
)
from aigc.plugins.datasets.mnist import subset
from aigc.plugins.vae.checks import check_split
from aigc.plugins.vae.data import load_digits, paired_rows, to_pixels, to_tensor
from aigc.plugins.vae.networks import VAE, VaeConfig, loss_terms
from aigc.plugins.vae.params import TrainParams
from aigc.plugins.vae.sampling import prior_latents

LOG_EVERY = 20  # steps between loss points: reading a loss off a GPU waits for it, so not every step
GRID_DIGITS = 64  # prior samples per epoch grid: the digits `generate n=64 seed=<train seed>` gives
RECON_DIGITS = 32  # digits shown with their reconstructions per epoch grid


@dataclass
class Run:
    """Everything a resumed attempt needs to continue exactly where the last checkpoint left off."""

    model: VAE
    optimizer: torch.optim.Adam
    shuffle_rng: torch.Generator  # epoch order and jitter (CPU)
    noise_rng: torch.Generator  # reparameterisation noise (on the job's device)
    amp: MixedPrecision
    epoch: int = 0  # epochs done
    step: int = 0  # optimiser steps done
    scores: dict[str, float] = field(default_factory=dict)  # the last epoch's training and validation losses

    def state(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "shuffle_rng": self.shuffle_rng.get_state(),
            "noise_rng": self.noise_rng.get_state(),
            "epoch": self.epoch,
            "step": self.step,
            "scores": self.scores,
            "scaler": self.amp.scaler.state_dict() if self.amp.scaler is not None else None,
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.shuffle_rng.set_state(state["shuffle_rng"])
        self.noise_rng.set_state(state["noise_rng"])
        self.epoch, self.step, self.scores = int(state["epoch"]), int(state["step"]), dict(state["scores"])
        if self.amp.scaler is not None and state.get("scaler"):
            self.amp.scaler.load_state_dict(state["scaler"])


def train(ctx: JobContext, params: TrainParams) -> None:
    device = ctx.device
    data = load_digits(params.data)
    check_split(params.test, params.holdout, len(data), data.source)  # checked before the job too, unless cached
    # [test | train | validation]: the test digits are never used here, so no choice made on a run's scores
    # can have seen them.
    cut = len(data) - params.holdout
    train_set, held = subset(data, params.test, cut), (subset(data, cut, len(data)) if params.holdout else None)
    # On the device once if they fit there (`place_data`), else in pinned memory, copied batch by batch.
    x_train = place_data(to_tensor(train_set.images, "cpu"), device)
    x_held = to_tensor(held.images, device) if held is not None else None

    config = VaeConfig(params.latent_size, params.channels, params.hidden, params.blocks)
    torch.manual_seed(ctx.seed)  # the initial weights
    model = VAE(config).to(device)
    run = Run(
        model,
        torch.optim.Adam(model.parameters(), lr=params.lr),
        torch.Generator().manual_seed(ctx.seed),
        torch.Generator(device=device).manual_seed(ctx.seed + 1),
        mixed_precision(ctx, params.precision),
    )
    if (state := ctx.load_checkpoint()) is not None:
        run.restore(state)

    fixed_z = prior_latents(ctx.seed, GRID_DIGITS, config.latent_size).to(device)
    shown = to_device((x_held if x_held is not None else x_train)[:RECON_DIGITS], device)
    while run.epoch < params.epochs:
        started = time.perf_counter()
        run.scores = {"train_loss": train_epoch(ctx, params, run, x_train)}  # ends reading the loss: synced
        run.epoch += 1
        ctx.log_metric("train/epoch_loss", run.scores["train_loss"], run.step)
        ctx.log_metric("train/images_per_s", len(x_train) / (time.perf_counter() - started), run.step)
        # Scoring 1,000 digits costs about 6% of an epoch on 7,000: not done every epoch by default.
        if x_held is not None and (run.epoch % params.score_every == 0 or run.epoch == params.epochs):
            run.scores["val_neg_elbo"] = heldout_neg_elbo(model, x_held, ctx.seed)
            ctx.log_metric("val/neg_elbo", run.scores["val_neg_elbo"], run.step)
        add_epoch_grids(ctx, model, fixed_z, shown, run.epoch)
        ctx.save_checkpoint(run.state())

    recipe = params.model_dump(exclude={"seed", "device", "data", *config.to_dict()})
    ctx.save_model(
        model.state_dict(),
        name=f"vae-z{config.latent_size}",
        config={
            **config.to_dict(),
            **recipe,
            "data": str(data.source),
            "seed": ctx.seed,
            "precision": run.amp.precision,
        },
        metrics=run.scores,
    )
    ctx.set_summary(**run.scores, digits_trained=len(x_train), digits_held_out=params.holdout, digits_test=params.test)


def train_epoch(ctx: JobContext, params: TrainParams, run: Run, x: Tensor) -> float:
    """One pass over the training digits; returns the mean training loss per digit."""
    model, device = run.model, ctx.device
    latent = model.config.latent_size
    steps_per_epoch = math.ceil(len(x) / params.batch_size)
    total = params.epochs * steps_per_epoch
    model.train()
    order = torch.randperm(len(x), generator=run.shuffle_rng).to(x.device)
    window = torch.zeros(3, device=device)  # loss, bce, kl summed since the last loss point
    window_steps = 0
    shown_loss: dict[str, float] = {}  # the last loss point, shown with progress
    loss_sum = torch.zeros((), device=device)
    for i in range(steps_per_epoch):
        batch = to_device(x[order[i * params.batch_size : (i + 1) * params.batch_size]], device)  # (B, 1, 28, 28)
        if params.jitter:
            batch = jitter(batch, params.jitter, run.shuffle_rng)
        if params.schedule == "cosine":
            for group in run.optimizer.param_groups:
                group["lr"] = params.lr * 0.5 * (1 + math.cos(math.pi * run.step / total))
        noise = torch.randn(len(batch), latent, generator=run.noise_rng, device=device)
        with run.amp.autocast():
            logits, mu, logvar = model(batch, noise)
        # The loss in fp32: a sum of 784 per-pixel terms loses digits in bf16.
        bce, kl = loss_terms(logits.float(), batch, mu.float(), logvar.float())
        loss = (bce + kl_weight(params, run.step, steps_per_epoch) * kl).mean()
        run.optimizer.zero_grad(set_to_none=True)
        run.amp.backward_and_step(loss, run.optimizer)
        run.step += 1

        # Kept on the device and read every LOG_EVERY steps: a read per step would stall a GPU.
        window += torch.stack([loss.detach(), bce.detach().mean(), kl.detach().mean()])
        window_steps += 1
        loss_sum += loss.detach() * len(batch)
        if window_steps == LOG_EVERY or i == steps_per_epoch - 1:
            mean_loss, mean_bce, mean_kl = (window / window_steps).tolist()
            ctx.log_metric("train/loss", mean_loss, run.step)
            ctx.log_metric("train/bce", mean_bce, run.step)
            ctx.log_metric("train/kl", mean_kl, run.step)
            shown_loss = {"loss": round(mean_loss, 2)}
            window.zero_()
            window_steps = 0
        ctx.progress(run.step, total, epoch=run.epoch + 1, **shown_loss)
    return loss_sum.item() / len(x)


def kl_weight(params: TrainParams, step: int, steps_per_epoch: int) -> float:
    """beta, reached linearly over the warm-up: early on the KL term would switch latent units off
    before the decoder has learned to use them (Sønderby et al. 2016, "Ladder VAEs")."""
    if params.warmup <= 0:
        return params.beta
    return params.beta * min(1.0, (step + 1) / (params.warmup * steps_per_epoch))


@torch.no_grad()
def heldout_neg_elbo(model: VAE, x: Tensor, seed: int, batch_size: int = 500) -> float:
    """Mean negative ELBO (beta = 1) in nats; the same noise every epoch, so the curve is smooth."""
    model.eval()
    rng = torch.Generator(device=x.device).manual_seed(seed + 2)
    total = 0.0
    for chunk in x.split(batch_size):
        noise = torch.randn(len(chunk), model.config.latent_size, generator=rng, device=x.device)
        logits, mu, logvar = model(chunk, noise)
        bce, kl = loss_terms(logits, chunk, mu, logvar)
        total += (bce + kl).sum().item()
    model.train()
    return total / len(x)


@torch.no_grad()
def add_epoch_grids(ctx: JobContext, model: VAE, fixed_z: Tensor, shown: Tensor, epoch: int) -> None:
    """Prior samples (the same latents every epoch) and digits over their reconstructions, as results."""
    model.eval()
    samples = to_pixels(model.decode(fixed_z))
    mu, _ = model.encoder(shown)
    originals, recons = to_pixels(shown), to_pixels(model.decode(mu))
    model.train()
    sheets = {"prior samples": samples, "reconstructions": paired_rows(originals, recons, 8)}
    for content, pixels in sheets.items():
        meta: dict[str, Any] = {"plugin": "vae", "epoch": epoch, "content": content}
        ctx.add_image(encode_grey_png(contact_sheet(pixels, 8), meta), seed=ctx.seed, role="sample", metadata=meta)


def jitter(batch: Tensor, chance: float, rng: torch.Generator) -> Tensor:
    """Move each digit, with the given chance, by an offset in -1..1 on each axis (zeros come in).

    7,000 digits are few for this decoder: without it the held-out score stalls while the training
    loss keeps falling; with it both fall together.
    """
    b = len(batch)
    offsets = torch.randint(0, 3, (2, b), generator=rng)  # 0, 1, 2: shifted by -1, 0, +1 after padding
    offsets[:, torch.rand(b, generator=rng) >= chance] = 1  # these digits stay where they are
    offsets = offsets.to(batch.device)
    padded = torch.nn.functional.pad(batch[:, 0], (1, 1, 1, 1))  # (B, 30, 30)
    span = torch.arange(28, device=batch.device)
    rows = (offsets[0, :, None] + span)[:, :, None]  # (B, 28, 1)
    cols = (offsets[1, :, None] + span)[:, None, :]  # (B, 1, 28)
    return padded[torch.arange(b, device=batch.device)[:, None, None], rows, cols].unsqueeze(1)
