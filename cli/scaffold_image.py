"""Templates of `aigc plugins new NAME --modality image`: a tiny autoencoder of procedural disks.

`${...}` placeholders are filled by `scaffold.render`; everything else is the generated code verbatim.
"""

DESCRIPTION = "a tiny autoencoder that learns to draw soft disks (a starting point for an image plugin)"
TRAIN_EXAMPLE = "-p epochs=5"
GENERATE_EXAMPLE = "-p n=16 -p seed=1"
EVALUATE_EXAMPLE = "-p images=256"

# The params classes of the generated `__init__.py`; `scaffold.render` puts them between the
# shared imports (PLUGIN_HEAD) and plugin class (PLUGIN_CLASS).
PARAMS = '''

# Every param has limits and a description: `aigc plugins show ${name}` prints them, and the CLI
# rejects a bad value before any job is stored.
class TrainParams(JobParams):
    epochs: int = Field(default=20, ge=1, le=10_000, description="passes over freshly drawn training images")
    images: int = Field(default=512, ge=16, le=1_000_000, description="training images per epoch")
    size: int = Field(default=16, ge=8, le=64, description="image side in pixels")
    latent: int = Field(default=8, ge=1, le=256, description="numbers each image is squeezed into")
    lr: float = Field(default=3e-3, gt=0, le=1, description="Adam learning rate")


class GenerateParams(ModelParams):  # ModelParams adds `model` (--model ID)
    n: int = Field(default=16, ge=1, le=1024, description="how many images to draw")


class EvaluateParams(ModelParams):
    images: int = Field(default=256, ge=1, le=100_000, description="fresh images to reconstruct and score")


'''

NETWORKS = '''\
"""The network: a tiny fully connected autoencoder. Images are (B, S, S) floats in [0, 1]."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class Config:
    size: int = 16  # image side S
    latent: int = 8  # code size L
    hidden: int = 128


class AutoEncoder(nn.Module):
    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        pixels = config.size * config.size
        self.encoder = nn.Sequential(
            nn.Linear(pixels, config.hidden), nn.ReLU(), nn.Linear(config.hidden, config.latent)
        )
        self.decoder = nn.Sequential(
            nn.Linear(config.latent, config.hidden), nn.ReLU(), nn.Linear(config.hidden, pixels), nn.Sigmoid()
        )
        # Mean and spread of the training codes: generate draws new codes from them.
        self.register_buffer("code_mean", torch.zeros(config.latent))
        self.register_buffer("code_std", torch.ones(config.latent))

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return self.encoder(images.flatten(1))  # (B, S*S) -> (B, L)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        size = self.config.size
        return self.decoder(codes).view(-1, size, size)  # (B, L) -> (B, S, S)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(images))
'''

JOBS = '''\
"""The three jobs. They report through the `JobContext` only: progress, metrics, results, models."""

from __future__ import annotations

import math
from dataclasses import asdict

import numpy as np
import torch
import torch.nn.functional as F

from aigc.core.artifacts import load_tensors
from aigc.core.context import JobContext, LoadedModel
from aigc.core.images import contact_sheet, encode_png
from ${package} import EvaluateParams, GenerateParams, TrainParams
from ${package}.networks import AutoEncoder, Config

BATCH = 64


def disks(n: int, size: int, generator: torch.Generator) -> torch.Tensor:
    """The training data, drawn on the fly: one soft bright disk per image, (n, size, size) in [0, 1]."""
    centre = torch.rand(n, 2, 1, 1, generator=generator) * size
    radius = 1.5 + torch.rand(n, 1, 1, generator=generator) * size / 4
    ys, xs = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    distance = ((ys - centre[:, 0]) ** 2 + (xs - centre[:, 1]) ** 2).sqrt()  # (n, size, size)
    return torch.sigmoid(2 * (radius - distance))


def train(ctx: JobContext, p: TrainParams) -> None:
    torch.manual_seed(ctx.seed)
    config = Config(size=p.size, latent=p.latent)
    net = AutoEncoder(config).to(ctx.device)
    optimizer = torch.optim.Adam(net.parameters(), lr=p.lr)
    start = 0
    state = ctx.load_checkpoint()  # None on a first attempt; the last checkpoint on a resumed one
    if state is not None:
        net.load_state_dict(state["net"])
        optimizer.load_state_dict(state["optimizer"])
        start = state["epoch"]
    for epoch in range(start, p.epochs):
        # The epoch's data depends on the seed and the epoch only, so a resumed run sees the same images.
        data = disks(p.images, p.size, torch.Generator().manual_seed(ctx.seed + epoch)).to(ctx.device)
        total = 0.0
        for batch in data.split(BATCH):
            loss = F.mse_loss(net(batch), batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
            ctx.check_cancelled()
        ctx.log_metric("loss", total / p.images, step=epoch + 1)
        ctx.progress(epoch + 1, p.epochs, loss=total / p.images)  # also where a cancel takes effect
        ctx.save_checkpoint({"net": net.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch + 1})

    net.eval()
    with torch.no_grad():
        data = disks(p.images, p.size, torch.Generator().manual_seed(ctx.seed)).to(ctx.device)
        codes = net.encode(data)
        net.code_mean.copy_(codes.mean(0))
        net.code_std.copy_(codes.std(0))
        loss = F.mse_loss(net.decode(codes), data).item()
        ctx.add_image(encode_png(to_pixels(net.decode(codes[:16]))[0]), role="sample", metadata={"epochs": p.epochs})
    ctx.set_summary(loss=loss)
    ctx.save_model(net.state_dict(), name=f"${name}-{p.size}px", config=asdict(config), metrics={"loss": loss})


def generate(ctx: JobContext, p: GenerateParams) -> None:
    """Image i is drawn with seed ctx.seed + i: a seed always draws the same image."""
    model = ctx.load_model(p.model)  # None: the newest trained model, else the bundled one
    net = load(model, ctx.device)
    drawn = []
    for i in range(p.n):
        generator = torch.Generator().manual_seed(ctx.seed + i)
        code = net.code_mean.cpu() + net.code_std.cpu() * torch.randn(net.config.latent, generator=generator)
        with torch.no_grad():
            pixels = to_pixels(net.decode(code[None].to(ctx.device)))[1][0]
        ctx.add_image(encode_png(pixels, {"seed": ctx.seed + i, "model": model.id}), seed=ctx.seed + i)
        drawn.append(pixels)
        ctx.progress(i + 1, p.n)
    ctx.add_image(encode_png(contact_sheet(drawn)), seed=ctx.seed, role="grid")
    ctx.set_summary(model=model.id, images=p.n)


def evaluate(ctx: JobContext, p: EvaluateParams) -> None:
    model = ctx.load_model(p.model)
    net = load(model, ctx.device)
    data = disks(p.images, net.config.size, torch.Generator().manual_seed(ctx.seed)).to(ctx.device)
    with torch.no_grad():
        mse = F.mse_loss(net(data), data).item()
    ctx.progress(1, 1)
    ctx.set_summary(model=model.id, mse=round(mse, 6), psnr_db=round(10 * math.log10(1 / max(mse, 1e-12)), 2))


def load(model: LoadedModel, device: str) -> AutoEncoder:
    tensors, _ = load_tensors(model.path)
    net = AutoEncoder(Config(**model.config))
    net.load_state_dict(tensors)
    return net.to(device).eval()


def to_pixels(images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(B, S, S) floats to (a contact sheet, the B images) as uint8 numpy arrays."""
    pixels = (images.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
    return contact_sheet(pixels), pixels
'''

TESTS = '''\
"""Tests of the ${name} plugin: real jobs, run in-process against a temporary store.

`aigc.core.testing.run_job(plugin, kind, params, folder)` submits a job as `aigc submit` would
(params validated), runs it, and returns what it recorded. Jobs given the same folder share a store,
so a generate job after a train job uses the model it trained.
"""

from __future__ import annotations

import pytest

from aigc.core.errors import InvalidParams
from aigc.core.testing import run_job

QUICK = {"epochs": 2, "images": 64, "size": 12, "seed": 0}


def test_train_registers_a_model_and_logs_its_loss(tmp_path):
    outcome = run_job("${name}", "train", QUICK, tmp_path)
    assert outcome.job.status == "succeeded", outcome.job.error
    [model] = outcome.models
    assert model.config["size"] == 12
    assert [step for key, step, _ in outcome.metrics if key == "loss"] == [1, 2]


def test_generate_draws_the_same_images_for_the_same_seed(tmp_path):
    run_job("${name}", "train", QUICK, tmp_path)
    first = run_job("${name}", "generate", {"n": 3, "seed": 5}, tmp_path)
    again = run_job("${name}", "generate", {"n": 3, "seed": 5}, tmp_path)
    assert first.job.status == "succeeded", first.job.error
    assert [r.data for r in first.items] == [r.data for r in again.items]
    assert [r.seed for r in first.items] == [5, 6, 7]
    assert all(r.mime == "image/png" and r.data.startswith(b"\\x89PNG") for r in first.items)


def test_evaluate_scores_the_trained_model(tmp_path):
    run_job("${name}", "train", QUICK, tmp_path)
    outcome = run_job("${name}", "evaluate", {"images": 32}, tmp_path)
    assert outcome.job.status == "succeeded", outcome.job.error
    assert 0 <= outcome.summary["mse"] < 0.25


def test_bad_params_are_refused_before_anything_runs(tmp_path):
    with pytest.raises(InvalidParams, match="epochs"):
        run_job("${name}", "train", {"epochs": 0}, tmp_path)
'''
