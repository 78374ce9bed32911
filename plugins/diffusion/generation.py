"""The generate job: n digits as PNG results with their provenance, a contact sheet, and progress per
denoising step (a cancel stops sampling at the next step)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aigc.core.plugin_api import JobContext, UsageError, contact_sheet, encode_grey_png, encode_png
from aigc.plugins.diffusion.data import to_pixels
from aigc.plugins.diffusion.networks import Diffusion, load_folder, load_model
from aigc.plugins.diffusion.params import DEFAULT_GUIDANCE, GenerateParams
from aigc.plugins.diffusion.sampling import denoise, draw_noise

# Digits per UNet pass (twice that with guidance). Measured on one CPU thread, 1,000 guided digits: batches of
# 500 spent 38 s of 95 in the kernel, faulting in fresh pages for each pass's large activations; at 100
# the allocator reuses its memory (6 s of 65).
BATCH = 100
GRID_MAX = 256  # the contact sheet shows the first 256 digits (16 x 16)


def resolve(ctx: JobContext, params: GenerateParams) -> tuple[Diffusion, str]:
    """The model to sample and the name its PNGs record: a `pipeline` folder, else model `params.model`."""
    if params.pipeline is not None:
        return load_folder(Path(params.pipeline), ctx.device, f"pipeline {params.pipeline}"), str(params.pipeline)
    diffusion, model = load_model(ctx, params.model)
    return diffusion, model.id


def guidance_for(diffusion: Diffusion, name: str, digit: int | None, guidance: float | None) -> float:
    """The guidance to sample with (None: the default for this model), refused in one line where the model
    cannot do what is asked."""
    if digit is not None and not diffusion.conditional:
        raise UsageError(f"{name} is unconditional: it cannot be asked for digit {digit}")
    if guidance is None:
        return DEFAULT_GUIDANCE if diffusion.guidable else 1.0
    if guidance != 1.0 and not diffusion.guidable:
        raise UsageError(f"{name} has no null class to guide against; use guidance=1")
    return guidance


def generate(ctx: JobContext, params: GenerateParams) -> None:
    diffusion, name = resolve(ctx, params)
    said = f"pipeline {name}" if params.pipeline is not None else f"model {name}"
    guidance = guidance_for(diffusion, said, params.digit, params.guidance)
    common = {"plugin": "diffusion", "model": name, "steps": params.steps, "guidance": guidance}
    batches = -(-params.n // BATCH)
    shown: list[np.ndarray] = []
    for b, start in enumerate(range(0, params.n, BATCH)):
        noise = draw_noise(ctx.seed, range(start, min(start + BATCH, params.n)), params.digit)

        def report(k: int, b: int = b, start: int = start) -> None:
            ctx.progress(b * params.steps + k, batches * params.steps, step=k, digits=start)

        images = denoise(diffusion, noise, steps=params.steps, guidance=guidance, device=ctx.device, on_step=report)
        pixels = to_pixels(images)
        for offset, image in enumerate(pixels):
            seed = noise.seeds[offset]
            meta = {**common, "seed": seed, "index": start + offset}
            if diffusion.conditional:
                meta["digit"] = int(noise.digits[offset])
            ctx.add_image(encode_grey_png(image, meta), seed=seed, role="item", metadata=meta)
        if len(shown) * BATCH < GRID_MAX:
            shown.append(pixels)
    sheet = contact_sheet(np.concatenate(shown)[:GRID_MAX])
    grid_meta = {"plugin": "diffusion", "model": name, "seed": ctx.seed, "count": min(params.n, GRID_MAX)}
    ctx.add_image(encode_png(sheet, grid_meta), seed=ctx.seed, role="grid", metadata=grid_meta)
    ctx.set_summary(n=params.n, model=name, steps=params.steps, guidance=guidance)
