"""The DCGAN's networks and one training step, checked against the textbook recipe."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from aigc.plugins.gan.networks import Discriminator, GanConfig, Generator, build, fold_batch_norm, init_weights
from aigc.plugins.gan.params import TrainParams
from aigc.plugins.gan.training import DcganStep, recalibrate_batch_norm, update_average

SMALL = GanConfig(latent_size=8, g_channels=8, d_channels=8)


@pytest.mark.parametrize("classes", [10, 0])
@pytest.mark.parametrize("refine", [1, 0])
def test_shapes_and_ranges(classes: int, refine: int) -> None:
    config = GanConfig(latent_size=8, g_channels=8, d_channels=8, num_classes=classes, refine=refine)
    generator, discriminator = build(config)
    digits = torch.arange(5) if classes else None
    fake = generator(torch.randn(5, 8), digits)
    assert fake.shape == (5, 1, 28, 28)
    assert fake.min() >= -1 and fake.max() <= 1  # tanh: the same range the real digits are scaled to
    assert discriminator(fake, digits).shape == (5,)  # raw logits, one per digit


def test_a_model_saved_before_refine_loads_as_the_first_network() -> None:
    first = Generator(GanConfig(latent_size=8, g_channels=8, refine=0))
    config = GanConfig.from_dict({"latent_size": 8, "g_channels": 8, "d_channels": 8, "num_classes": 10})
    assert config.refine == 0
    Generator(config).load_state_dict(first.state_dict())  # strict: the same tensors, no to_pixels conv
    with pytest.raises(RuntimeError, match="to_pixels"):
        Generator(GanConfig(latent_size=8, g_channels=8, refine=1)).load_state_dict(first.state_dict())


@pytest.mark.parametrize("refine", [1, 0])
@torch.no_grad()
def test_folding_the_batch_norms_keeps_the_digits(refine: int) -> None:
    torch.manual_seed(0)
    generator = Generator(GanConfig(latent_size=8, g_channels=8, refine=refine))
    for norm in [m for m in generator.modules() if isinstance(m, nn.BatchNorm2d)]:  # trained-looking norms
        norm.weight.uniform_(0.5, 1.5), norm.bias.normal_(0, 0.2)
        norm.running_mean.normal_(0, 0.3), norm.running_var.uniform_(0.5, 2.0)
    z, digits = torch.randn(64, 8), torch.randint(0, 10, (64,))
    expected = generator.eval()(z, digits)
    folded = fold_batch_norm(copy.deepcopy(generator))
    assert isinstance(folded.bn1, nn.Identity) and isinstance(getattr(folded, "bn2", nn.Identity()), nn.Identity)
    torch.testing.assert_close(folded(z, digits), expected, atol=1e-6, rtol=0)


def test_dcgan_init() -> None:
    torch.manual_seed(0)
    generator = Generator(GanConfig())
    generator.apply(init_weights)
    assert generator.up1.weight.std().item() == pytest.approx(0.02, rel=0.05)
    assert generator.bn1.weight.mean().item() == pytest.approx(1.0, abs=0.01)
    assert generator.bn1.bias.abs().max().item() == 0


def test_discriminator_keeps_no_running_statistics() -> None:
    discriminator = Discriminator(SMALL)
    assert list(discriminator.buffers()) == []  # so a forward pass cannot change it


def test_one_step_follows_the_recipe() -> None:
    """D learns from real vs detached fakes; G learns through a frozen D; each optimizer moves only its net."""
    torch.manual_seed(0)
    generator, discriminator = build(SMALL)
    real, digits, z = torch.rand(16, 1, 28, 28) * 2 - 1, torch.randint(0, 10, (16,)), torch.randn(16, 8)
    g0, d0 = copy.deepcopy(generator), copy.deepcopy(discriminator)
    step = DcganStep(generator, discriminator, TrainParams(label_smoothing=0.1))
    assert step.opt_g.defaults["betas"] == (0.5, 0.999) and step.opt_g.defaults["lr"] == 4e-4
    assert {id(p) for p in step.opt_g.param_groups[0]["params"]} == {id(p) for p in generator.parameters()}
    out = step(real, digits, z)

    # Recompute both losses by hand from the starting weights.
    bce = nn.BCEWithLogitsLoss()
    fake = g0(z, digits)
    loss_d = bce(d0(real, digits), torch.full((16,), 0.9)) + bce(d0(fake.detach(), digits), torch.zeros(16))
    loss_d.backward()
    assert all(p.grad is None for p in g0.parameters())  # detached: the D loss reaches no G weight
    assert out["loss_d"].item() == pytest.approx(loss_d.item(), rel=1e-5)
    for mine, theirs in zip(discriminator.parameters(), d0.parameters(), strict=True):
        torch.testing.assert_close(mine.grad, theirs.grad)  # the G step added nothing to D's gradients

    # The G step runs through the D that the D step just updated, and only G moves.
    d1 = copy.deepcopy(discriminator).requires_grad_(False)
    loss_g = bce(d1(fake, digits), torch.ones(16))
    loss_g.backward()
    assert out["loss_g"].item() == pytest.approx(loss_g.item(), rel=1e-5)
    for mine, theirs in zip(generator.parameters(), g0.parameters(), strict=True):
        torch.testing.assert_close(mine.grad, theirs.grad)
    assert all(p.requires_grad for p in discriminator.parameters())  # unfrozen again for the next D step


def test_average_warms_up_then_trails_the_generator() -> None:
    generator = Generator(SMALL)
    average = copy.deepcopy(generator)
    with torch.no_grad():
        for p in generator.parameters():
            p.add_(1.0)
    before = average.up1.weight.clone()
    update_average(average, generator, 0.999, step=0)  # decay capped at 0.1 on the first step
    torch.testing.assert_close(average.up1.weight, before + 0.9)


def test_batch_norm_recalibration_is_deterministic() -> None:
    generator = Generator(SMALL)
    digits = torch.randint(0, 10, (100,))
    recalibrate_batch_norm(generator, digits, seed=3, batch_size=32)
    first = generator.bn1.running_mean.clone()
    assert not generator.training and generator.bn1.momentum == 0.1
    recalibrate_batch_norm(generator, digits, seed=3, batch_size=32)
    torch.testing.assert_close(generator.bn1.running_mean, first)
