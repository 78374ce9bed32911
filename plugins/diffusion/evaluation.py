"""The evaluate job: the same classifier FID, confident share and class coverage as the gan plugin's
(`aigc.plugins.datasets.digit_quality`), real digits beside the generated ones.

The data's last `holdout` digits (those a train job holds out) are the reference set; `samples` generated
digits and `samples` real digits drawn from the rest of the data are each scored against it.
"""

from __future__ import annotations

import numpy as np

from aigc.core.plugin_api import JobContext, JobKind
from aigc.plugins.datasets.digit_quality import digit_quality
from aigc.plugins.datasets.holdout import check_holdout
from aigc.plugins.datasets.mnist import load_mnist, split
from aigc.plugins.diffusion.data import to_pixels
from aigc.plugins.diffusion.generation import BATCH, guidance_for
from aigc.plugins.diffusion.networks import load_model
from aigc.plugins.diffusion.params import EvaluateParams
from aigc.plugins.diffusion.sampling import denoise, draw_noise


def evaluate(ctx: JobContext, params: EvaluateParams) -> None:
    data = load_mnist(params.data)
    check_holdout(JobKind.evaluate, params.holdout, len(data))
    rest, reference = split(data, params.holdout)
    rng = np.random.default_rng(ctx.seed)
    real = rest.images[np.sort(rng.choice(len(rest), min(params.samples, len(rest)), replace=False))]

    diffusion, model = load_model(ctx, params.model)
    guidance = guidance_for(diffusion, f"model {model.id}", None, params.guidance)
    batches, digits = [], []
    total = -(-params.samples // BATCH) * params.steps + 1
    for b, start in enumerate(range(0, params.samples, BATCH)):
        noise = draw_noise(ctx.seed, range(start, min(start + BATCH, params.samples)))

        def report(k: int, b: int = b) -> None:
            ctx.progress(b * params.steps + k, total, stage="generating")

        images = denoise(diffusion, noise, steps=params.steps, guidance=guidance, device=ctx.device, on_step=report)
        batches.append(to_pixels(images))
        digits.append(noise.digits)
    fake = np.concatenate(batches)

    asked = np.concatenate(digits) if diffusion.conditional else None
    quality = digit_quality(fake, real, reference.images, ctx.device, asked=asked, reference_labels=reference.labels)
    ctx.set_summary(model=model.id, steps=params.steps, guidance=guidance, **quality)
    ctx.progress(total, total, stage="scored")
