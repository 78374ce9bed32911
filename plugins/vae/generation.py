"""The VAE's generate job: digits from the prior, reconstructions, and walks through latent space.

Each digit is one PNG result (role "item") with its metadata in the result row and in the PNG's
text chunks; each job ends with a contact sheet of them (role "grid"). A sampled digit's result seed is
its own (`-p n=1 -p seed=<it>` draws it again); reconstructions and interpolations draw nothing at
random, so theirs is None.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from aigc.core.plugin_api import JobContext, contact_sheet, encode_grey_png, item_seed, mixed_precision
from aigc.plugins.vae.data import check_indices, load_digits, paired_rows, to_pixels, to_tensor
from aigc.plugins.vae.networks import VAE, load_model
from aigc.plugins.vae.params import GenerateParams
from aigc.plugins.vae.sampling import prior_latent, prior_latents

GRID_COLUMNS = 8
GRID_MAX = 1024  # a sample job's contact sheet shows its first 1,024 digits
# Digits per decoder forward: 100 keeps the 28x28 feature maps in cache (1,000 at once took 1.7x as
# long per digit on one CPU thread).
BATCH = 100
# Digits written to the store together (with a checkpoint, so a resumed attempt continues after them):
# a job of any n holds at most this many PNGs in memory.
STORE_EVERY = 5000


@torch.no_grad()
def generate(ctx: JobContext, params: GenerateParams) -> None:
    amp = mixed_precision(ctx, params.precision)
    model, loaded = load_model(ctx, params.model, amp.precision)
    meta: dict[str, Any] = {"plugin": "vae", "model": loaded.id, "mode": params.mode}
    with amp.autocast():
        if params.mode == "sample":
            sample(ctx, model, params, meta)
        elif params.mode == "reconstruct":
            reconstruct(ctx, model, params, meta)
        else:
            interpolate(ctx, model, params, meta)


def sample(ctx: JobContext, model: VAE, params: GenerateParams, meta: dict[str, Any]) -> None:
    """n digits from the prior, decoded BATCH at a time and stored STORE_EVERY at a time."""
    state = ctx.load_checkpoint()  # a resumed attempt continues after the digits already stored
    first = int(state["done"]) if state else 0
    shown = min(params.n, GRID_MAX)
    # The grid's digits, kept as they are made (784 bytes each); a resumed attempt decodes them again.
    grid = [decode_prior(ctx, model, 0, shown)] if first else []
    for start in range(first, params.n, BATCH):
        count = min(BATCH, params.n - start)
        pixels = decode_prior(ctx, model, start, count)
        if start < shown:
            grid.append(pixels[: shown - start])
        items = [{"index": i, "seed": item_seed(ctx.seed, i)} for i in range(start, start + count)]
        add_items(ctx, pixels, items, meta, done=start, total=params.n)
        done = start + count
        if done % STORE_EVERY == 0 and done < params.n:
            ctx.save_checkpoint({"done": done})  # commits the digits so far: memory stays flat in n
    add_grid(ctx, contact_sheet(np.concatenate(grid), min(params.n, GRID_COLUMNS)), {**meta, "n": params.n})


def decode_prior(ctx: JobContext, model: VAE, start: int, count: int) -> np.ndarray:
    """Pixels (count, 28, 28) of digits start..start+count-1 of the job's seed, BATCH per forward."""
    latents = prior_latents(ctx.seed, count, model.config.latent_size, start).to(ctx.device)
    return np.concatenate([to_pixels(model.decode(chunk)) for chunk in latents.split(BATCH)])


def reconstruct(ctx: JobContext, model: VAE, params: GenerateParams, meta: dict[str, Any]) -> None:
    data = load_digits(params.data)
    check_indices(data, params.start, params.n, "reconstruct")
    originals = data.images[params.start : params.start + params.n]
    mu, _ = model.encoder(to_tensor(originals, ctx.device))  # the posterior mean: no sampling noise
    pixels = to_pixels(model.decode(mu))
    meta = {**meta, "data": str(data.source)}
    add_items(ctx, pixels, [{"index": params.start + i} for i in range(params.n)], meta)
    columns = min(params.n, GRID_COLUMNS)
    sheet = contact_sheet(paired_rows(originals, pixels, columns), columns)
    add_grid(ctx, sheet, {**meta, "start": params.start, "n": params.n, "layout": "digits over reconstructions"})


def interpolate(ctx: JobContext, model: VAE, params: GenerateParams, meta: dict[str, Any]) -> None:
    if params.a is not None and params.b is not None:
        data = load_digits(params.data)
        for name, index in (("a", params.a), ("b", params.b)):
            check_indices(data, index, 1, f"interpolate {name}")
        mu, _ = model.encoder(to_tensor(data.images[[params.a, params.b]], ctx.device))
        z_a, z_b = mu  # (L,) each: the posterior means of the two digits
        meta = {**meta, "data": str(data.source), "a": params.a, "b": params.b}
    else:
        assert params.seed_a is not None and params.seed_b is not None  # the params validator saw to it
        latent = model.config.latent_size
        z_a, z_b = (prior_latent(s, latent).to(ctx.device) for s in (params.seed_a, params.seed_b))
        meta = {**meta, "seed_a": params.seed_a, "seed_b": params.seed_b}
    t = torch.linspace(0, 1, params.steps, device=ctx.device).unsqueeze(1)  # (k, 1)
    pixels = to_pixels(model.decode((1 - t) * z_a + t * z_b))  # (k, 28, 28)
    items = [{"step": i, "t": round(float(v), 6)} for i, v in enumerate(t.squeeze(1).tolist())]
    add_items(ctx, pixels, items, meta)
    add_grid(ctx, contact_sheet(pixels, params.steps), {**meta, "steps": params.steps})


def add_items(
    ctx: JobContext,
    pixels: np.ndarray,
    items: list[dict[str, Any]],
    meta: dict[str, Any],
    *,
    done: int = 0,
    total: int | None = None,
) -> None:
    for count, (image, own) in enumerate(zip(pixels, items, strict=True), start=done + 1):
        info = {**meta, **own}
        ctx.add_image(encode_grey_png(image, info), seed=own.get("seed"), role="item", metadata=info)
        ctx.progress(count, total or len(items))


def add_grid(ctx: JobContext, sheet: np.ndarray, meta: dict[str, Any]) -> None:
    ctx.add_image(encode_grey_png(sheet, meta), seed=ctx.seed, role="grid", metadata=meta)
