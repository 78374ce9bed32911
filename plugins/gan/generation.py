"""The generate job: n digits as PNG results with their provenance, plus a contact sheet."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from aigc.core.plugin_api import (
    JobContext,
    UsageError,
    contact_sheet,
    encode_grey_png,
    encode_png,
    mixed_precision,
)
from aigc.plugins.gan.networks import load_model
from aigc.plugins.gan.params import GenerateParams
from aigc.plugins.gan.sampling import Latents, digit_prior, draw_latents, model_temperature, render

# Digits per generator forward. On one CPU thread 100 is the fastest (1.6x 500, whose 28x28 activations
# outgrow the cache: bench/gan_generate.py).
BATCH = 100
GRID_MAX = 256  # the contact sheet shows the first 256 digits (16 x 16)
# Digits written to the store together (with a checkpoint, so a resumed attempt continues after them):
# a job of any n holds at most this many PNGs in memory.
STORE_EVERY = 5000


@contextmanager
def one_cpu_thread(device: str) -> Iterator[None]:
    """Run the generator on one CPU thread: its small convolutions barely gain from a second one on an
    idle 2-core machine, and lose 2-3x when another process holds a core (measured in bench/gan_generate.py)."""
    if not device.startswith("cpu"):
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def generate(ctx: JobContext, params: GenerateParams) -> None:
    amp = mixed_precision(ctx, params.precision)
    generator, model = load_model(ctx, params.model, amp.precision)
    config = generator.config
    if params.digit is not None and not config.num_classes:
        raise UsageError(f"model {model.id} is unconditional: it cannot be asked for digit {params.digit}")
    temperature = model_temperature(model, params.temperature)
    prior = digit_prior(model)
    common = {"plugin": "gan", "model": model.id, "temperature": temperature}
    if params.truncation is not None:
        common["truncation"] = params.truncation

    def digits(first: int, last: int) -> tuple[Latents, np.ndarray]:
        latents = draw_latents(
            ctx.seed,
            range(first, last),
            config,
            prior=prior,
            digit=params.digit,
            temperature=temperature,
            truncation=params.truncation,
        )
        with one_cpu_thread(ctx.device), amp.autocast():
            return latents, render(generator, latents, ctx.device)

    state = ctx.load_checkpoint()  # a resumed attempt continues after the digits already stored
    first = int(state["done"]) if state else 0
    shown: list[np.ndarray] = []  # the contact sheet's digits, kept as they are drawn
    for start in range(first, params.n, BATCH):
        latents, pixels = digits(start, min(start + BATCH, params.n))
        if start < GRID_MAX:
            shown.append(pixels[: GRID_MAX - start])
        for offset, image in enumerate(pixels):
            seed = latents.seeds[offset]
            meta = {**common, "seed": seed, "index": start + offset}
            if config.num_classes:
                meta["digit"] = int(latents.digits[offset])
            ctx.add_image(encode_grey_png(image, meta), seed=seed, role="item", metadata=meta)
        done = start + len(pixels)
        if done % STORE_EVERY == 0 and done < params.n:
            ctx.save_checkpoint({"done": done})  # commits the digits so far: memory stays flat in n
        ctx.progress(done, params.n)
    if first > 0:  # a resumed attempt did not draw the first digits: draw them again
        shown = [digits(0, min(params.n, GRID_MAX))[1]]
    sheet = contact_sheet(np.concatenate(shown))
    grid_meta = {"plugin": "gan", "model": model.id, "seed": ctx.seed, "count": min(params.n, GRID_MAX)}
    ctx.add_image(encode_png(sheet, grid_meta), seed=ctx.seed, role="grid", metadata=grid_meta)
    ctx.set_summary(n=params.n, model=model.id)
