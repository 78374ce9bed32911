"""The VAE for 28x28 digits, in one file: config, encoder, decoder, the losses that score them, and
loading a saved model.

Pixels are intensities in [0, 1] read as Bernoulli means, the way pytorch/examples `vae` does it:
the reconstruction term is binary cross-entropy summed over the 784 pixels, the KL term is the
closed form against a standard normal prior, both per image. Their sum (beta = 1) is the negative
ELBO in nats, the number `evaluate` reports, comparable with pytorch/examples' test loss.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from aigc.core.plugin_api import JobContext, LoadedModel, UsageError, first_line, load_tensors, warm_model

PIXELS = 28 * 28


@dataclass(frozen=True)
class VaeConfig:
    latent_size: int = 16
    channels: int = 32  # width of the first conv; the second has twice as many
    hidden: int = 352  # the fully connected layer between the convs and the latent
    blocks: int = 1  # residual conv blocks the decoder adds at 14x14 and at 28x28 (0: the first models')

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_state_dict(cls, state: dict[str, Tensor]) -> VaeConfig:
        """The config a saved state dict was made with, read off its weight shapes."""
        hidden, latent_size = state["decoder.fc1.weight"].shape
        blocks = sum(1 for name in state if name.startswith("decoder.mid.") and name.endswith(".conv.weight"))
        return cls(latent_size, state["encoder.conv1.weight"].shape[0], hidden, blocks)


class Encoder(nn.Module):
    """Digits to the mean and log-variance of a diagonal Gaussian q(z | x)."""

    def __init__(self, config: VaeConfig) -> None:
        super().__init__()
        c = config.channels
        self.conv1 = nn.Conv2d(1, c, 4, stride=2, padding=1)
        self.conv2 = nn.Conv2d(c, 2 * c, 4, stride=2, padding=1)
        self.fc = nn.Linear(2 * c * 7 * 7, config.hidden)
        self.head = nn.Linear(config.hidden, 2 * config.latent_size)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = F.silu(self.conv1(x))  # (B, c, 14, 14)
        h = F.silu(self.conv2(h))  # (B, 2c, 7, 7)
        h = F.silu(self.fc(h.flatten(1)))  # (B, hidden)
        mu, logvar = self.head(h).chunk(2, dim=1)  # (B, L) each
        return mu, logvar


class Residual(nn.Module):
    """x + conv3x3(SiLU(x)): refines a feature map at its own resolution."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv(F.silu(x))


class Decoder(nn.Module):
    """Latent codes to per-pixel Bernoulli logits: the encoder's mirror image, then `blocks` residual
    convs at 14x14 and at 28x28, where the strokes' edges are drawn (one block at each cut the validation
    -ELBO by 2.7 nats; docs/vae.md)."""

    def __init__(self, config: VaeConfig) -> None:
        super().__init__()
        c = self.channels = config.channels
        self.blocks = config.blocks
        self.fc1 = nn.Linear(config.latent_size, config.hidden)
        self.fc2 = nn.Linear(config.hidden, 2 * c * 7 * 7)
        self.deconv1 = nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1)
        self.mid = nn.Sequential(*(Residual(c) for _ in range(config.blocks)))
        if config.blocks == 0:  # the first models' decoder: straight from 14x14 to logits
            self.deconv2 = nn.ConvTranspose2d(c, 1, 4, stride=2, padding=1)
        else:
            self.deconv2 = nn.ConvTranspose2d(c, c // 2, 4, stride=2, padding=1)
            self.top = nn.Sequential(*(Residual(c // 2) for _ in range(config.blocks)))
            self.out = nn.Conv2d(c // 2, 1, 3, padding=1)

    def forward(self, z: Tensor) -> Tensor:
        h = F.silu(self.fc1(z))  # (B, hidden)
        h = F.silu(self.fc2(h)).view(-1, 2 * self.channels, 7, 7)  # (B, 2c, 7, 7)
        h = self.mid(F.silu(self.deconv1(h)))  # (B, c, 14, 14)
        if self.blocks == 0:
            return self.deconv2(h)  # (B, 1, 28, 28) logits
        h = self.top(F.silu(self.deconv2(h)))  # (B, c/2, 28, 28)
        return self.out(F.silu(h))  # (B, 1, 28, 28) logits


class VAE(nn.Module):
    def __init__(self, config: VaeConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)

    def forward(self, x: Tensor, noise: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Logits of the reconstruction of x through z = mu + sigma * noise, with mu and logvar."""
        mu, logvar = self.encoder(x)
        z = mu + torch.exp(0.5 * logvar) * noise  # (B, L) reparameterised sample
        return self.decoder(z), mu, logvar

    @torch.no_grad()
    def decode(self, z: Tensor) -> Tensor:
        """Latent codes (B, L) to pixel intensities (B, 28, 28) in [0, 1]: the Bernoulli means."""
        return torch.sigmoid(self.decoder(z)).squeeze(1)


def loss_terms(logits: Tensor, x: Tensor, mu: Tensor, logvar: Tensor) -> tuple[Tensor, Tensor]:
    """Per-image reconstruction BCE (summed over pixels) and KL(q(z|x) || N(0, I)), each shape (B,)."""
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)
    return bce, kl


@torch.no_grad()
def importance_weighted_nll(model: VAE, x: Tensor, k: int, generator: torch.Generator) -> Tensor:
    """-log p(x) per image (B,), estimated with k samples from q(z|x) (Burda et al., IWAE bound).

    log p(x) >= log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x); the bound tightens as k grows and equals
    the ELBO's single-sample estimate at k = 1.
    """
    mu, logvar = model.encoder(x)  # (B, L)
    batch, latent = mu.shape
    std = torch.exp(0.5 * logvar)
    eps = torch.randn(k, batch, latent, generator=generator, device=x.device, dtype=x.dtype)
    z = mu + std * eps  # (k, B, L)
    logits = model.decoder(z.reshape(k * batch, latent)).view(k, batch, PIXELS)
    target = x.flatten(1).expand(k, batch, PIXELS)
    log_px_z = -F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum(2)  # (k, B)
    log_2pi = math.log(2 * math.pi)
    log_pz = -0.5 * (z.pow(2) + log_2pi).sum(2)  # (k, B)
    log_qz_x = -0.5 * (eps.pow(2) + logvar + log_2pi).sum(2)  # (k, B)
    log_w = log_px_z + log_pz - log_qz_x
    return -(torch.logsumexp(log_w, dim=0) - math.log(k))


def load_model(ctx: JobContext, ref: str | None, precision: str = "fp32") -> tuple[VAE, LoadedModel]:
    """The VAE of model `ref` (None: the job's default model) in eval mode on the job's device, with what
    the store records about it; its architecture is read off the saved weights' shapes. Kept warm in
    the process between jobs (`warm_model`)."""
    model = ctx.load_model(ref)
    if model.format != "safetensors":
        raise UsageError(f"model {model.id} is a {model.format} folder; a vae model is one safetensors file")
    return warm_model(model.sha256, ctx.device, precision, lambda: build_vae(model, ctx.device)), model


def build_vae(model: LoadedModel, device: str) -> VAE:
    state, _ = load_tensors(model.path)
    try:
        vae = VAE(VaeConfig.from_state_dict(state))
        vae.load_state_dict(state)
    except (KeyError, RuntimeError, ValueError) as exc:
        raise UsageError(f"model {model.id} does not hold vae weights ({first_line(exc)})") from None
    return vae.to(device).eval()
