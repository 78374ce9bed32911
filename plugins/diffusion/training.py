"""The train job: the DDPM noise-prediction loop, a weight average, a sample grid and a checkpoint each epoch,
resume, and the saved diffusers folder.

One step (Ho et al., 2020): draw a timestep t and noise eps for each digit x0, form
x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps with the scheduler's `add_noise`, and regress the UNet's
output on eps (MSE). A share `label_dropout` of digits is shown with the null class instead of its own,
so the same network also learns the unconditional model that classifier-free guidance needs.
Epoch e's shuffle, timesteps, noise and dropped labels come from a generator seeded by (job seed, e), and
the learning rate is a function of the step, so a resumed job computes exactly what an uninterrupted one
would have.
"""

from __future__ import annotations

import copy
import math
import time
from typing import Any

import torch
import torch.nn.functional as F
from diffusers.models.unets.unet_2d import UNet2DModel
from diffusers.schedulers.scheduling_ddpm import DDPMScheduler
from torch import Tensor

from aigc.core.plugin_api import JobContext, UsageError, contact_sheet, encode_png
from aigc.plugins.diffusion.data import to_pixels, to_tensors, train_set
from aigc.plugins.diffusion.networks import NULL_CLASS, Diffusion, new_scheduler, new_unet, save_folder
from aigc.plugins.diffusion.params import TrainParams
from aigc.plugins.diffusion.sampling import denoise, draw_noise

WARMUP_STEPS = 200
FINAL_LR_SHARE = 0.1  # the cosine schedule ends at a tenth of the peak rate
WEIGHT_DECAY = 0.0
GRID_STEPS = 10  # sampler steps of the per-epoch 10 x 10 grid (one row per digit)


class DdpmStep:
    """One optimisation step of the UNet; the same object the bare-loop benchmark times."""

    def __init__(self, unet: UNet2DModel, scheduler: DDPMScheduler, params: TrainParams) -> None:
        self.unet, self.scheduler = unet, scheduler
        self.optimizer = torch.optim.AdamW(unet.parameters(), lr=params.lr, weight_decay=WEIGHT_DECAY)

    def __call__(self, x0: Tensor, classes: Tensor, noise: Tensor, timesteps: Tensor, lr: float) -> Tensor:
        noisy = self.scheduler.add_noise(x0, noise, timesteps)  # type: ignore[arg-type]  # any integer tensor
        loss = F.mse_loss(self.unet(noisy, timesteps, class_labels=classes).sample, noise)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.detach()


def learning_rate(peak: float, step: int, total: int) -> float:
    """Linear warm-up over the first steps, then cosine from the peak down to a tenth of it."""
    if step < WARMUP_STEPS:
        return peak * (step + 1) / WARMUP_STEPS
    progress = (step - WARMUP_STEPS) / max(1, total - WARMUP_STEPS)
    return peak * (FINAL_LR_SHARE + (1 - FINAL_LR_SHARE) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


@torch.no_grad()
def update_average(average: UNet2DModel, unet: UNet2DModel, decay: float, step: int) -> None:
    """Exponential moving average of the weights, sampled instead of the raw ones (steadier digits).

    The decay warms up as (1 + step) / (10 + step), so early averages are not mostly the initial weights.
    """
    decay = min(decay, (1 + step) / (10 + step))
    for avg, live in zip(average.parameters(), unet.parameters(), strict=True):
        avg.lerp_(live, 1.0 - decay)


def epoch_draws(seed: int, epoch: int, count: int, batch: int, steps: int, train_timesteps: int, dropout: float):
    """This epoch's shuffle, timesteps, noise and dropped labels: a function of (seed, epoch) only."""
    draw = torch.Generator().manual_seed(seed * 100_003 + epoch)
    order = torch.randperm(count, generator=draw)
    timesteps = torch.randint(0, train_timesteps, (steps, batch), generator=draw)
    dropped = torch.rand(steps, batch, generator=draw) < dropout
    noise_seed = int(torch.randint(0, 2**62, (1,), generator=draw))
    return order, timesteps, dropped, noise_seed


def sample_grid(unet: UNet2DModel, scheduler: DDPMScheduler, seed: int, device: str) -> bytes:
    """10 x 10 digits from the same starting noise every epoch, row k asked for digit k."""
    noise = draw_noise(seed, range(100))
    noise = type(noise)(noise.x, torch.arange(10).repeat_interleave(10).numpy(), noise.seeds)
    was_training = unet.training
    unet.eval()
    images = denoise(Diffusion(unet, scheduler), noise, steps=GRID_STEPS, guidance=1.0, device=device)
    unet.train(was_training)
    return encode_png(contact_sheet(to_pixels(images), columns=10))


def train(ctx: JobContext, params: TrainParams) -> None:
    device = ctx.device
    data = train_set(params)
    images, labels = to_tensors(data, device)
    torch.manual_seed(ctx.seed)
    unet = new_unet(params.channels).to(device)  # type: ignore[arg-type]  # (diffusers' wrapped .to confuses mypy)
    scheduler = new_scheduler(params.train_timesteps)
    average = copy.deepcopy(unet).requires_grad_(False)
    step = DdpmStep(unet, scheduler, params)
    shape = {"channels": params.channels, "train_timesteps": params.train_timesteps}

    start_epoch = 0
    state = ctx.load_checkpoint()
    if state is not None:
        if state["shape"] != shape:
            raise UsageError(f"job {ctx.job_id}'s checkpoint is of a UNet {state['shape']}, not {shape}")
        unet.load_state_dict(state["unet"])
        average.load_state_dict(state["average"])
        step.optimizer.load_state_dict(state["optimizer"])
        start_epoch = state["epoch"]
        ctx.logger.info("resuming from the checkpoint after epoch %d", start_epoch)

    batch = min(params.batch_size, len(images))
    steps_per_epoch = len(images) // batch  # whole batches only: every step weighs the same
    total = params.epochs * steps_per_epoch
    loss = float("nan")
    images_per_s = 0.0
    for epoch in range(start_epoch, params.epochs):
        unet.train()
        order, timesteps, dropped, noise_seed = epoch_draws(
            ctx.seed, epoch, len(images), batch, steps_per_epoch, params.train_timesteps, params.label_dropout
        )
        noise_draw = torch.Generator(device=device).manual_seed(noise_seed)
        order, timesteps, dropped = order.to(device), timesteps.to(device), dropped.to(device)
        total_loss = 0.0
        started = time.perf_counter()
        for i in range(steps_per_epoch):
            done = epoch * steps_per_epoch + i
            pick = order[i * batch : (i + 1) * batch]
            x0 = images[pick]
            classes = labels[pick].masked_fill(dropped[i], NULL_CLASS)
            noise = torch.randn(x0.shape, generator=noise_draw, device=device)
            lr = learning_rate(params.lr, done, total)
            loss = step(x0, classes, noise, timesteps[i], lr).item()
            if params.ema:
                update_average(average, unet, params.ema, done)
            total_loss += loss
            ctx.log_metric("train/loss", loss, done + 1)
            ctx.progress(done + 1, total, epoch=epoch + 1, loss=round(loss, 4))
        images_per_s = steps_per_epoch * batch / (time.perf_counter() - started)
        done = (epoch + 1) * steps_per_epoch
        ctx.log_metric("train/epoch_loss", total_loss / steps_per_epoch, done)
        ctx.log_metric("train/lr", lr, done)
        ctx.log_metric("train/images_per_s", images_per_s, done)
        shown = average if params.ema else unet
        grid = sample_grid(shown, scheduler, ctx.seed, device)
        ctx.add_image(grid, seed=ctx.seed, role="sample", metadata={"epoch": epoch + 1})
        ctx.save_checkpoint(
            {
                "epoch": epoch + 1,
                "shape": shape,
                "unet": unet.state_dict(),
                "average": average.state_dict(),
                "optimizer": step.optimizer.state_dict(),
            }
        )

    final = (average if params.ema else unet).eval()
    folder = save_folder(final.to("cpu"), scheduler, ctx.artifact_dir() / "model")
    values = model_config(params, len(images))
    metrics = {"train_loss": round(loss, 5), "train_images_per_s": round(images_per_s, 1)}
    ctx.save_model(folder, name=f"diffusion-unet-c{params.channels}", config=values, metrics=metrics)
    ctx.set_summary(epochs=params.epochs, train_digits=len(images), **metrics)


def model_config(params: TrainParams, digits: int) -> dict[str, Any]:
    """What the store records beside the folder (the folder alone is enough to sample)."""
    return {
        "channels": params.channels,
        "train_timesteps": params.train_timesteps,
        "epochs": params.epochs,
        "ema": params.ema,
        "label_dropout": params.label_dropout,
        "train_digits": digits,
        "data": str(params.data) if params.data else "cache",
    }
