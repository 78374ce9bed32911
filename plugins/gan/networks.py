"""The DCGAN for 28x28 digits, in one file: config, generator, discriminator, weight init,
and loading a saved generator.

Follows Radford et al. (2015) scaled down to MNIST: transposed convolutions with batch norm and
ReLU in the generator ending in tanh (pixels live in [-1, 1]), strided convolutions with leaky
ReLU in the discriminator (no batch norm on its input layer), and the discriminator returns a
raw logit: the loss (`BCEWithLogitsLoss`) applies the sigmoid, which is numerically stable where
`Sigmoid` + `BCELoss` is not. The generator ends in a 3x3 convolution at 28x28 (`refine`): going
straight from 14x14 features to pixels with one transposed convolution drew digits much further from
real ones (docs/gan.md, "Choosing without peeking").

With `num_classes > 0` both nets are conditioned on the digit: the generator sees a one-hot of
the class next to its latent, the discriminator scores the pair with a projection term
(Miyato & Koyama, 2018): logit = w . h + embed(y) . h, with h the discriminator's features.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from aigc.core.plugin_api import JobContext, LoadedModel, UsageError, load_tensors, warm_model

IMAGE_SIZE = 28


@dataclass(frozen=True)
class GanConfig:
    latent_size: int = 16
    g_channels: int = 32  # generator width at 14x14; it has twice as many at 7x7
    d_channels: int = 32  # discriminator width at 14x14; twice as many at 7x7
    num_classes: int = 10  # 0: unconditional
    # 1: the generator ends in a 3x3 conv at 28x28 rather than going straight to pixels; models saved
    # before it lack the key and load as 0
    refine: int = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> GanConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: int(v) for k, v in values.items() if k in names})


class Generator(nn.Module):
    """Latent (B, L) [+ digit (B,)] -> image (B, 1, 28, 28) in [-1, 1]."""

    def __init__(self, config: GanConfig) -> None:
        super().__init__()
        self.config = config
        c = config.g_channels
        self.project = nn.Linear(config.latent_size + config.num_classes, 2 * c * 7 * 7, bias=False)
        self.bn0 = nn.BatchNorm2d(2 * c)
        self.up1 = nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        if config.refine:
            self.up2 = nn.ConvTranspose2d(c, c // 2, 4, stride=2, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(c // 2)
            self.to_pixels = nn.Conv2d(c // 2, 1, 3, padding=1)
        else:
            self.up2 = nn.ConvTranspose2d(c, 1, 4, stride=2, padding=1)

    def forward(self, z: Tensor, digit: Tensor | None = None) -> Tensor:
        if digit is not None:  # a conditional generator always gets one
            z = torch.cat([z, F.one_hot(digit, self.config.num_classes).to(z.dtype)], dim=1)  # (B, L + K)
        # In-place ReLUs: batch norm and the convolutions keep their inputs for backward, not their
        # outputs, so overwriting those is safe; generating runs ~20 % faster without the extra tensors.
        h = self.project(z).view(len(z), -1, 7, 7)  # (B, 2c, 7, 7)
        h = F.relu(self.bn0(h), inplace=True)
        h = F.relu(self.bn1(self.up1(h)), inplace=True)  # (B, c, 14, 14)
        if self.config.refine:
            h = F.relu(self.bn2(self.up2(h)), inplace=True)  # (B, c/2, 28, 28)
            return torch.tanh(self.to_pixels(h))
        return torch.tanh(self.up2(h))  # (B, 1, 28, 28)


class Discriminator(nn.Module):
    """Image (B, 1, 28, 28) in [-1, 1] [+ digit (B,)] -> logit (B,): real > 0 > fake."""

    def __init__(self, config: GanConfig) -> None:
        super().__init__()
        self.config = config
        c = config.d_channels
        self.conv1 = nn.Conv2d(1, c, 4, stride=2, padding=1)
        self.conv2 = nn.Conv2d(c, 2 * c, 4, stride=2, padding=1, bias=False)
        # Always batch statistics: the discriminator is never run in eval mode, and without running
        # statistics the generator step's forward through it leaves it truly untouched.
        self.bn2 = nn.BatchNorm2d(2 * c, track_running_stats=False)
        features = 2 * c * 7 * 7
        self.head = nn.Linear(features, 1)
        self.embed = nn.Embedding(config.num_classes, features) if config.num_classes else None

    def forward(self, x: Tensor, digit: Tensor | None = None) -> Tensor:
        h = F.leaky_relu(self.conv1(x), 0.2)  # (B, c, 14, 14)
        h = F.leaky_relu(self.bn2(self.conv2(h)), 0.2)  # (B, 2c, 7, 7)
        h = h.flatten(1)  # (B, 2c*49)
        logit = self.head(h).squeeze(1)  # (B,)
        if self.embed is not None:
            logit = logit + (self.embed(digit) * h).sum(dim=1)  # projection: does h fit this digit?
        return logit


def init_weights(module: nn.Module) -> None:
    """DCGAN init: conv and linear weights ~ N(0, 0.02), batch-norm scales ~ N(1, 0.02), biases 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        bias = getattr(module, "bias", None)
        if isinstance(bias, torch.Tensor):
            nn.init.zeros_(bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def build(config: GanConfig) -> tuple[Generator, Discriminator]:
    generator, discriminator = Generator(config), Discriminator(config)
    generator.apply(init_weights)
    discriminator.apply(init_weights)
    return generator, discriminator


def load_model(ctx: JobContext, ref: str | None, precision: str = "fp32") -> tuple[Generator, LoadedModel]:
    """The generator of model `ref` (None: the job's default model) in eval mode on the job's device,
    with what the store records about it (its config holds the temperature and digit frequencies).
    Kept warm in the process between jobs (`warm_model`)."""
    model = ctx.load_model(ref)
    if model.format != "safetensors":
        raise UsageError(f"model {model.id} is a {model.format} folder; the gan plugin reads safetensors files")
    return warm_model(model.sha256, ctx.device, precision, lambda: build_generator(model, ctx.device)), model


def build_generator(model: LoadedModel, device: str) -> Generator:
    tensors, _ = load_tensors(model.path)
    config = GanConfig.from_dict(dict(model.config))
    generator = Generator(config)
    try:
        generator.load_state_dict(tensors)
    except RuntimeError as exc:
        raise UsageError(f"model {model.id} is not a gan generator of config {config}: {exc}") from None
    # channels-last: the transposed convolutions run about twice as fast on CPU in that layout.
    return fold_batch_norm(generator.eval()).to(device, memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch's stub omits memory_format


def fold_batch_norm(generator: Generator) -> Generator:
    """An eval-mode generator with its convolutions' batch norms folded into their weights: the same
    digits (to ~1e-8) for about a fifth less time, the norms at 14x14 and 28x28 being memory-bound passes."""
    folded = [("up1", "bn1")] + ([("up2", "bn2")] if generator.config.refine else [])
    for conv, norm in folded:
        fused = fuse_conv_bn_eval(getattr(generator, conv), getattr(generator, norm), transpose=True)
        setattr(generator, conv, fused)
        setattr(generator, norm, nn.Identity())
    return generator
