"""The train job: the DCGAN loop, a sample grid and a checkpoint each epoch, resume, and the saved model.

One step, as Goodfellow et al. (2014) with the non-saturating generator loss:
  1. the discriminator is stepped on real digits (target 1, or 1 - label_smoothing) and on fakes
     detached from the generator (target 0), so this step computes no generator gradients;
  2. the generator is stepped to make the discriminator call its fakes real; the discriminator's
     weights are frozen for it (no gradients accumulate in them) and only the generator's
     optimizer steps.
Epoch e's shuffling and latents come from generators seeded by (job seed, e), so a resumed job
draws exactly what an uninterrupted one would have.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from aigc.core.plugin_api import (
    JobContext,
    MixedPrecision,
    UsageError,
    contact_sheet,
    encode_png,
    mixed_precision,
    to_device,
)
from aigc.plugins.datasets.mnist import MnistData
from aigc.plugins.gan.data import to_pixels, to_tensors, train_set
from aigc.plugins.gan.networks import Discriminator, GanConfig, Generator, build
from aigc.plugins.gan.params import TrainParams

BETAS = (0.5, 0.999)  # Radford et al.: beta1 = 0.9 makes GAN training oscillate
SAMPLE_ROWS = 10  # the per-epoch grid: 10 x 10, one row per digit for a conditional model
BN_RECALIBRATION_BATCHES = 20
READ_EVERY = 20  # steps between reads of the losses off the device: a read per step would stall a GPU
FIGURES = ("loss_d", "loss_g", "d_real", "d_fake")  # per step: losses, and D's mean belief on real and fake
TEMPERATURES = (0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4)  # the latent scales `calibrate` chooses from
CALIBRATION_DIGITS = 2000  # generated digits per temperature
CALIBRATION_REAL = 10_000  # at most this many training digits (evenly spaced) as the target


class DcganStep:
    """One optimisation step of both nets; the same object the bare-loop benchmark times."""

    def __init__(
        self,
        generator: Generator,
        discriminator: Discriminator,
        params: TrainParams,
        amp: MixedPrecision | None = None,
    ) -> None:
        self.generator, self.discriminator = generator, discriminator
        self.amp = amp or MixedPrecision("fp32", "cpu")
        self.opt_g = torch.optim.Adam(generator.parameters(), lr=params.lr_g, betas=BETAS)
        self.opt_d = torch.optim.Adam(discriminator.parameters(), lr=params.lr_d, betas=BETAS)
        self.loss = nn.BCEWithLogitsLoss()
        self.real_target = 1.0 - params.label_smoothing
        self.conditional = generator.config.num_classes > 0

    def __call__(self, real: Tensor, digits: Tensor, z: Tensor) -> dict[str, Tensor]:
        g, d, amp = self.generator, self.discriminator, self.amp
        y = digits if self.conditional else None
        with amp.autocast():
            fake = g(z, y)  # (B, 1, 28, 28); the fakes are drawn for the real batch's digits

            # Discriminator: real -> 1 (smoothed), detached fake -> 0.
            d_real, d_fake = d(real, y).float(), d(fake.detach(), y).float()
        real_loss = self.loss(d_real, torch.full_like(d_real, self.real_target))
        loss_d = real_loss + self.loss(d_fake, torch.zeros_like(d_fake))
        self.opt_d.zero_grad(set_to_none=True)
        amp.backward_and_step(loss_d, self.opt_d, update=False)  # fp16: one scale update per step, below

        # Generator: make the (frozen) discriminator say "real" to the same fakes.
        d.requires_grad_(False)
        with amp.autocast():
            d_gen = d(fake, y).float()
        loss_g = self.loss(d_gen, torch.ones_like(d_gen))
        self.opt_g.zero_grad(set_to_none=True)
        amp.backward_and_step(loss_g, self.opt_g)
        d.requires_grad_(True)
        out = {"loss_d": loss_d, "loss_g": loss_g, "d_real": d_real, "d_fake": d_fake}
        return {key: value.detach() for key, value in out.items()}


@torch.no_grad()
def update_average(average: Generator, generator: Generator, decay: float, step: int) -> None:
    """Exponential moving average of the generator's weights (Yazici et al., 2019): steadier samples.

    The decay warms up as (1 + step) / (10 + step), so early averages are not mostly the initial weights.
    """
    decay = min(decay, (1 + step) / (10 + step))
    for avg, live in zip(average.parameters(), generator.parameters(), strict=True):
        avg.lerp_(live, 1.0 - decay)
    for avg_buffer, live_buffer in zip(average.buffers(), generator.buffers(), strict=True):
        avg_buffer.copy_(live_buffer)


@torch.no_grad()
def recalibrate_batch_norm(generator: Generator, digits: Tensor, seed: int, batch_size: int) -> None:
    """Recompute batch-norm statistics for the averaged weights (the copied ones belong to the live net)."""
    draw = torch.Generator(device=digits.device).manual_seed(seed)
    norms = [m for m in generator.modules() if isinstance(m, nn.BatchNorm2d)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a plain average over the batches below
    generator.train()
    size = max(batch_size, 64)
    for _ in range(BN_RECALIBRATION_BATCHES):
        pick = torch.randint(len(digits), (size,), generator=draw, device=digits.device)
        z = torch.randn(size, generator.config.latent_size, generator=draw, device=digits.device)
        generator(z, digits[pick] if generator.config.num_classes else None)
    for norm in norms:
        norm.momentum = 0.1
    generator.eval()


@torch.no_grad()
def sample_grid(generator: Generator, seed: int, device: str) -> bytes:
    config = generator.config
    draw = torch.Generator().manual_seed(seed)
    z = torch.randn(SAMPLE_ROWS * 10, config.latent_size, generator=draw).to(device)
    digits = torch.arange(SAMPLE_ROWS, device=device).repeat_interleave(10) % max(config.num_classes, 1)
    was_training = generator.training
    generator.eval()
    pixels = to_pixels(generator(z, digits if config.num_classes else None))
    generator.train(was_training)
    return encode_png(contact_sheet(pixels, columns=10))


def calibrate_temperature(
    ctx: JobContext, generator: Generator, digits: np.ndarray, prior: list[float] | None
) -> tuple[float, dict[float, float]]:
    """The latent scale whose digits are closest (FID in the classifier's features) to the training digits.

    A GAN tends to draw its latent's bulk as over-typical digits; a slightly wider latent often fits
    the data better. Only training digits are used, never evaluate's held-out reference set.
    """
    from aigc.plugins.datasets.digit_quality import frechet_distance
    from aigc.plugins.gan.classifier import load_classifier, score
    from aigc.plugins.gan.sampling import draw_latents, render

    classifier, _ = load_classifier(ctx.device)
    step = max(1, -(-len(digits) // CALIBRATION_REAL))
    real, _ = score(classifier, digits[::step], ctx.device)
    count = min(CALIBRATION_DIGITS, len(digits))
    fids = {}
    for temperature in TEMPERATURES:
        latents = draw_latents(ctx.seed, range(count), generator.config, prior=prior, temperature=temperature)
        fake, _ = score(classifier, render(generator, latents, ctx.device), ctx.device)
        fids[temperature] = frechet_distance(fake, real)
        ctx.log_metric("calibration/fid", fids[temperature], round(temperature * 100))
    return min(fids, key=fids.__getitem__), fids


def epoch_draws(
    seed: int, epoch: int, count: int, device: str, data_device: torch.device | str | None = None
) -> tuple[Tensor, torch.Generator]:
    """This epoch's shuffle (on the data's device) and the generator its latents come from (on the
    job's): a function of (seed, epoch) only."""
    draw = torch.Generator().manual_seed(seed * 100_003 + epoch)
    order = torch.randperm(count, generator=draw).to(data_device or device)
    latents = torch.Generator(device=device).manual_seed(seed * 100_003 + epoch + 50_001)
    return order, latents


def train(ctx: JobContext, params: TrainParams) -> None:
    device = ctx.device
    data = train_set(params)
    images, labels = to_tensors(data, device)
    config = GanConfig(
        params.latent_size, params.g_channels, params.d_channels, 10 if params.conditional else 0, int(params.refine)
    )
    torch.manual_seed(ctx.seed)
    generator, discriminator = build(config)
    generator.to(device), discriminator.to(device)
    average = copy.deepcopy(generator).requires_grad_(False)
    amp = mixed_precision(ctx, params.precision)
    step = DcganStep(generator, discriminator, params, amp)

    start_epoch = 0
    state = ctx.load_checkpoint()
    if state is not None:
        if state["config"] != config.to_dict():
            raise UsageError(f"job {ctx.job_id}'s checkpoint has config {state['config']}, not {config.to_dict()}")
        generator.load_state_dict(state["generator"])
        discriminator.load_state_dict(state["discriminator"])
        average.load_state_dict(state["average"])
        step.opt_g.load_state_dict(state["opt_g"])
        step.opt_d.load_state_dict(state["opt_d"])
        if amp.scaler is not None and state.get("scaler"):
            amp.scaler.load_state_dict(state["scaler"])
        start_epoch = state["epoch"]
        ctx.logger.info("resuming from the checkpoint after epoch %d", start_epoch)

    batch = min(params.batch_size, len(images))
    steps_per_epoch = len(images) // batch  # whole batches only: batch norm sees equal-sized batches
    total = params.epochs * steps_per_epoch
    last: dict[str, float] = {}
    images_per_s = 0.0
    for epoch in range(start_epoch, params.epochs):
        generator.train(), discriminator.train()
        order, latents = epoch_draws(ctx.seed, epoch, len(images), device, images.device)
        sums: dict[str, float] = {}
        pending: list[Tensor] = []  # each step's figures, kept on the device until the next read
        losses: dict[str, float] = {}  # the last figures read, shown with progress
        started = time.perf_counter()
        for i in range(steps_per_epoch):
            pick = order[i * batch : (i + 1) * batch]
            z = torch.randn(batch, config.latent_size, generator=latents, device=device)
            out = step(to_device(images[pick], device), to_device(labels[pick], device), z)
            if params.ema:
                update_average(average, generator, params.ema, epoch * steps_per_epoch + i)
            d_real, d_fake = torch.sigmoid(out["d_real"]).mean(), torch.sigmoid(out["d_fake"]).mean()
            pending.append(torch.stack([out["loss_d"], out["loss_g"], d_real, d_fake]))
            done = epoch * steps_per_epoch + i + 1
            if len(pending) == READ_EVERY or i == steps_per_epoch - 1:
                # One read (a GPU sync) per READ_EVERY steps, every step's point still logged.
                first = done - len(pending) + 1
                for offset, row in enumerate(torch.stack(pending).tolist()):
                    last = dict(zip(FIGURES, row, strict=True))
                    for key, value in last.items():
                        sums[key] = sums.get(key, 0.0) + value
                    for key in ("loss_d", "loss_g"):
                        ctx.log_metric(f"train/{key}", last[key], first + offset)
                pending.clear()
                losses = {key: round(last[key], 4) for key in ("loss_d", "loss_g")}
            ctx.progress(done, total, epoch=epoch + 1, **losses)
        images_per_s = steps_per_epoch * batch / (time.perf_counter() - started)
        done = (epoch + 1) * steps_per_epoch
        for key, value in sums.items():
            ctx.log_metric(f"train/epoch_{key}", value / steps_per_epoch, done)
        ctx.log_metric("train/images_per_s", images_per_s, done)
        shown = average if params.ema else generator
        grid = sample_grid(shown, ctx.seed, device)
        ctx.add_image(grid, seed=ctx.seed, role="sample", metadata={"epoch": epoch + 1})
        ctx.save_checkpoint(
            {
                "epoch": epoch + 1,
                "config": config.to_dict(),
                "generator": generator.state_dict(),
                "discriminator": discriminator.state_dict(),
                "average": average.state_dict(),
                "opt_g": step.opt_g.state_dict(),
                "opt_d": step.opt_d.state_dict(),
                "scaler": amp.scaler.state_dict() if amp.scaler is not None else None,
            }
        )

    final = average if params.ema else generator
    if params.ema:
        recalibrate_batch_norm(final, labels, ctx.seed, batch)
    final.eval()
    values = model_config(config, params, data) | {"precision": amp.precision}
    metrics = {f"train_{k}": round(v, 5) for k, v in last.items()} | {"train_images_per_s": round(images_per_s, 1)}
    if params.calibrate:
        values["temperature"], fids = calibrate_temperature(ctx, final, data.images, values.get("digit_prior"))
        metrics |= {"temperature": values["temperature"], "train_fid": round(fids[values["temperature"]], 3)}
    name = f"gan-dcgan-{'cond' if params.conditional else 'uncond'}"
    ctx.save_model(final.state_dict(), name=name, config=values, metrics=metrics)
    ctx.set_summary(epochs=params.epochs, train_digits=len(images), **metrics)


def model_config(config: GanConfig, params: TrainParams, data: MnistData) -> dict[str, Any]:
    """What a generate job needs besides the weights: the architecture and the digit frequencies."""
    values: dict[str, Any] = config.to_dict()
    if config.num_classes and data.labels is not None:
        counts = np.bincount(data.labels, minlength=config.num_classes)
        values["digit_prior"] = [round(float(c) / counts.sum(), 6) for c in counts]
    values.update(epochs=params.epochs, train_digits=len(data), data=str(data.source), ema=params.ema)
    return values
