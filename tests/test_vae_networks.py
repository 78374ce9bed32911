"""The VAE's networks and losses, checked against the formulas they stand for."""

from __future__ import annotations

import math

import pytest
import torch

from aigc.plugins.vae.networks import VAE, VaeConfig, importance_weighted_nll, loss_terms


def tiny_model(seed: int = 0) -> VAE:
    torch.manual_seed(seed)
    return VAE(VaeConfig(latent_size=3, channels=4, hidden=16)).eval()


def test_shapes_through_encoder_and_decoder() -> None:
    model = tiny_model()
    x = torch.rand(5, 1, 28, 28)
    mu, logvar = model.encoder(x)
    logits, _, _ = model(x, torch.zeros(5, 3))
    assert mu.shape == logvar.shape == (5, 3)
    assert logits.shape == (5, 1, 28, 28)
    assert model.decode(mu).shape == (5, 28, 28)


def test_loss_is_the_pytorch_examples_vae_loss_per_image() -> None:
    model = tiny_model()
    x = torch.rand(4, 1, 28, 28)
    logits, mu, logvar = model(x, torch.randn(4, 3))
    bce, kl = loss_terms(logits, x, mu, logvar)
    # pytorch/examples vae: BCE(recon, x, reduction="sum") + KLD over the batch, reported per image.
    reference_bce = torch.nn.functional.binary_cross_entropy(torch.sigmoid(logits), x, reduction="sum")
    reference_kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    assert bce.shape == kl.shape == (4,)
    assert torch.allclose(bce.sum(), reference_bce, rtol=1e-4)
    assert torch.allclose(kl.sum(), reference_kld, rtol=1e-4)


def test_importance_weighted_bound_tightens_with_more_samples() -> None:
    model = tiny_model()
    x = torch.rand(8, 1, 28, 28).round()
    one = importance_weighted_nll(model, x, 1, torch.Generator().manual_seed(0)).mean()
    many = importance_weighted_nll(model, x, 500, torch.Generator().manual_seed(0)).mean()
    assert math.isfinite(float(many))
    assert many < one  # a k-sample bound is tighter than the single-sample ELBO estimate


@pytest.mark.parametrize("blocks", [0, 1, 3])
def test_config_is_read_back_from_weight_shapes(blocks: int) -> None:
    config = VaeConfig(latent_size=7, channels=8, hidden=24, blocks=blocks)
    assert VaeConfig.from_state_dict(VAE(config).state_dict()) == config


def test_a_decoder_without_blocks_is_the_first_models_mirror_image() -> None:
    """Models saved before the residual blocks existed (blocks = 0) load and decode unchanged."""
    state = VAE(VaeConfig(latent_size=3, channels=4, hidden=16, blocks=0)).state_dict()
    assert {name for name in state if name.startswith("decoder.")} == {
        f"decoder.{layer}.{kind}" for layer in ("fc1", "fc2", "deconv1", "deconv2") for kind in ("weight", "bias")
    }
    assert state["decoder.deconv2.weight"].shape == (4, 1, 4, 4)
