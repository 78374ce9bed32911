"""Starting noise and digits from seeds, and noise through the UNet to digits with DPM-Solver++.

Digit i of a job with seed s has its own seed, `item_seed(s, i)` = s + i, which keys a counter-based
Philox stream for its starting noise (and its digit, when none is asked for). The sampler is
deterministic (DPM-Solver++ 2M, Lu et al., 2022, with its clean-digit estimate clipped to [-1, 1]), so digit i of a job is the same whatever n is, and
`-p seed=s+i -p n=1` draws it again alone.

Classifier-free guidance (Ho & Salimans, 2022): with scale w the noise estimate is
eps_null + w (eps_digit - eps_null); w = 1 is the conditional model alone and costs one UNet pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from diffusers.schedulers.scheduling_dpmsolver_multistep import DPMSolverMultistepScheduler
from diffusers.schedulers.scheduling_utils import SchedulerOutput

from aigc.core.plugin_api import item_seed
from aigc.plugins.diffusion.networks import CHANNELS, IMAGE_SIZE, NULL_CLASS, Diffusion


@dataclass(frozen=True)
class Noise:
    x: np.ndarray  # (B, 1, 28, 28) float32: each digit's starting noise
    digits: np.ndarray  # (B,) int64
    seeds: list[int]  # the seed of each row's digit


def draw_noise(seed: int, indices: Sequence[int] | range, digit: int | None = None) -> Noise:
    """Each index's starting noise and digit (uniform over 0..9 unless `digit`), from its own stream."""
    shape = (CHANNELS, IMAGE_SIZE, IMAGE_SIZE)
    x = np.empty((len(indices), *shape), dtype=np.float32)
    digits = np.zeros(len(indices), dtype=np.int64)
    seeds = [item_seed(seed, i) for i in indices]
    for row, key in enumerate(seeds):
        rng = np.random.Generator(np.random.Philox(key=key))
        x[row] = rng.standard_normal(shape, dtype=np.float32)
        digits[row] = digit if digit is not None else int(rng.integers(10))
    return Noise(x, digits, seeds)


def sampler(diffusion: Diffusion, steps: int) -> DPMSolverMultistepScheduler:
    """A fresh DPM-Solver++ 2M over the model's training schedule (a scheduler keeps per-run state)."""
    scheduler = DPMSolverMultistepScheduler.from_config(
        diffusion.scheduler.config,
        algorithm_type="dpmsolver++",
        solver_order=2,
        final_sigmas_type="zero",
        # Clip each step's estimate of the clean digit to the pixel range: near pure noise (the cosine
        # schedule ends at alpha_bar ~ 0) that estimate divides by ~0, and unclipped it saturates every pixel.
        thresholding=True,
        sample_max_value=1.0,
    )
    scheduler.set_timesteps(steps)
    return scheduler


@torch.inference_mode()
def denoise(
    diffusion: Diffusion,
    noise: Noise,
    *,
    steps: int,
    guidance: float,
    device: str,
    on_step: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """The starting noise denoised in `steps` steps: (B, 1, 28, 28), about [-1, 1]. `on_step(k)` is
    called after step k (1-based); it may raise to stop sampling."""
    unet = diffusion.unet
    scheduler = sampler(diffusion, steps)
    x = torch.from_numpy(noise.x).to(device) * scheduler.init_noise_sigma
    digits = torch.from_numpy(noise.digits).to(device) if diffusion.conditional else None
    guided = digits is not None and diffusion.guidable and guidance != 1.0
    if guided:
        assert digits is not None
        classes = torch.cat([digits, torch.full_like(digits, NULL_CLASS)])
    for k, t in enumerate(scheduler.timesteps, start=1):
        if guided:
            both = unet(torch.cat([x, x]), t, class_labels=classes).sample
            eps_digit, eps_null = both.chunk(2)
            eps = eps_null + guidance * (eps_digit - eps_null)
        elif guidance == 0 and diffusion.guidable and digits is not None:
            eps = unet(x, t, class_labels=torch.full_like(digits, NULL_CLASS)).sample
        else:
            eps = unet(x, t, class_labels=digits).sample
        step = scheduler.step(eps, t, x)
        assert isinstance(step, SchedulerOutput)
        x = step.prev_sample
        if on_step is not None:
            on_step(k)
    return x
