"""The diffusion plugin's networks, in one file: the class-conditional UNet, its noise schedule, and loading
a saved model (ours, or any local diffusers folder whose UNet draws 1-channel 28x28 images).

The network is diffusers' `UNet2DModel` (Ho et al., 2020's architecture, scaled down): three resolution
levels 28 -> 14 -> 7 of one ResNet block each (widths c, 2c, 4c), a middle block with self-attention at
7x7, and skip connections up again. The timestep enters as a sinusoidal embedding; the digit as a learned
class embedding added to it, with class 10 the "null" class that classifier-free guidance samples.
Shapes: noisy digits (B, 1, 28, 28) + timesteps (B,) + classes (B,) -> predicted noise (B, 1, 28, 28).

A model is a `DDPMPipeline` folder (`model_index.json`, `unet/`, `scheduler/`) written by
`save_pretrained`: `UNet2DModel.from_pretrained(folder, subfolder="unet")` loads it with no aigc code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

# Imported from their modules, not the package: diffusers' lazy top level reads as untyped stubs to mypy.
from diffusers.models.unets.unet_2d import UNet2DModel
from diffusers.pipelines.ddpm.pipeline_ddpm import DDPMPipeline
from diffusers.schedulers.scheduling_ddpm import DDPMScheduler
from diffusers.utils import logging as diffusers_logging

from aigc.core.plugin_api import JobContext, LoadedModel, UsageError

# A plugin reports through its JobContext: no progress bars or notices on the job's stderr.
diffusers_logging.disable_progress_bar()
diffusers_logging.set_verbosity_error()

IMAGE_SIZE = 28
CHANNELS = 1
NULL_CLASS = 10  # the class embedding row trained by label dropout: "any digit"


def new_unet(channels: int) -> UNet2DModel:
    """A randomly initialised class-conditional UNet for 28x28 digits (init draws from torch's global RNG)."""
    return UNet2DModel(
        sample_size=IMAGE_SIZE,
        in_channels=CHANNELS,
        out_channels=CHANNELS,
        block_out_channels=(channels, 2 * channels, 4 * channels),
        down_block_types=("DownBlock2D", "DownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "UpBlock2D", "UpBlock2D"),
        layers_per_block=1,
        norm_num_groups=4,
        attention_head_dim=4 * channels,
        num_class_embeds=NULL_CLASS + 1,
    )


def new_scheduler(train_timesteps: int) -> DDPMScheduler:
    """The DDPM forward process: a cosine noise schedule (Nichol & Dhariwal, 2021), noise prediction."""
    return DDPMScheduler(
        num_train_timesteps=train_timesteps,
        beta_schedule="squaredcos_cap_v2",
        prediction_type="epsilon",
        clip_sample=False,
    )


@dataclass(frozen=True)
class Diffusion:
    """A denoising UNet and the training schedule its sampler is derived from."""

    unet: UNet2DModel
    scheduler: DDPMScheduler  # the training schedule; samplers are built from its config

    @property
    def conditional(self) -> bool:
        return bool(self.unet.config.get("num_class_embeds"))

    @property
    def guidable(self) -> bool:
        """Has a null class to guide against (ours: class 10 of 11)."""
        return self.unet.config.get("num_class_embeds") == NULL_CLASS + 1


def save_folder(unet: UNet2DModel, scheduler: DDPMScheduler, folder: Path) -> Path:
    """model_index.json + unet/ (config.json, safetensors) + scheduler/scheduler_config.json."""
    # (diffusers annotates `scheduler` with the package-level name, a different class to mypy)
    DDPMPipeline(unet=unet, scheduler=scheduler).save_pretrained(folder, safe_serialization=True)  # type: ignore[arg-type]
    return folder


def load_folder(path: Path, device: str, name: str) -> Diffusion:
    """A diffusers pipeline folder (UNet in unet/, scheduler in scheduler/) or a bare UNet folder,
    refused in one line when its UNet does not draw 1-channel 28x28 images."""
    path = Path(path).expanduser()
    if (path / "unet" / "config.json").is_file():
        unet_dir, scheduler_dir = path / "unet", path / "scheduler"
    elif (path / "config.json").is_file():
        unet_dir, scheduler_dir = path, None
    else:
        raise UsageError(f"{name} is not a diffusers folder: it has neither unet/config.json nor config.json")
    config = json.loads((unet_dir / "config.json").read_text())
    if config.get("_class_name") != "UNet2DModel":
        raise UsageError(f"{name}'s UNet is a {config.get('_class_name')}; the diffusion plugin samples UNet2DModel")
    size, channels = config.get("sample_size"), (config.get("in_channels"), config.get("out_channels"))
    if size not in (IMAGE_SIZE, [IMAGE_SIZE, IMAGE_SIZE]) or channels != (CHANNELS, CHANNELS):
        raise UsageError(
            f"{name} draws {size}-pixel images of {channels[0]} channel(s); "
            f"the diffusion plugin samples {IMAGE_SIZE}x{IMAGE_SIZE} images of {CHANNELS} channel"
        )
    try:
        unet = UNet2DModel.from_pretrained(unet_dir, local_files_only=True)
    except (OSError, ValueError, RuntimeError) as exc:
        raise UsageError(f"{name}'s UNet does not load: {str(exc).splitlines()[0]}") from None
    if scheduler_dir is not None and (scheduler_dir / "scheduler_config.json").is_file():
        scheduler = DDPMScheduler.from_pretrained(scheduler_dir, local_files_only=True)
    else:  # a bare UNet: assume the usual 1000-step linear DDPM schedule
        scheduler = DDPMScheduler(num_train_timesteps=1000)
    unet.to(device).eval()
    return Diffusion(unet, scheduler)


def load_model(ctx: JobContext, ref: str | None) -> tuple[Diffusion, LoadedModel]:
    """The diffusion model `ref` (None: the job's default model) in eval mode on the job's device, with what
    the store records about it."""
    model = ctx.load_model(ref)
    if model.format != "hf":
        raise UsageError(f"model {model.id} is a {model.format} file; a diffusion model is a diffusers folder")
    return load_folder(model.path, ctx.device, f"model {model.id}"), model


def parameter_count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
