"""The evaluate job: FID, confident share and class coverage of generated digits, real digits beside them.

The data's last `holdout` digits (those a train job holds out) are the reference set. `samples` generated digits and, as the
yardstick, `samples` real digits drawn from the rest of the data are each scored against it; the
real row says what "as good as real" means at this sample size (FID has a small-sample floor).
"""

from __future__ import annotations

import numpy as np

from aigc.core.plugin_api import JobContext, JobKind
from aigc.plugins.datasets.digit_quality import digit_quality
from aigc.plugins.datasets.holdout import check_holdout
from aigc.plugins.datasets.mnist import load_mnist, split
from aigc.plugins.gan.generation import BATCH
from aigc.plugins.gan.networks import load_model
from aigc.plugins.gan.params import EvaluateParams
from aigc.plugins.gan.sampling import digit_prior, draw_latents, model_temperature, render


def evaluate(ctx: JobContext, params: EvaluateParams) -> None:
    data = load_mnist(params.data)
    check_holdout(JobKind.evaluate, params.holdout, len(data))
    rest, reference = split(data, params.holdout)
    rng = np.random.default_rng(ctx.seed)
    real = rest.images[np.sort(rng.choice(len(rest), min(params.samples, len(rest)), replace=False))]

    generator, model = load_model(ctx, params.model)
    config, prior = generator.config, digit_prior(model)
    temperature = model_temperature(model, params.temperature)
    batches, digits = [], []
    for start in range(0, params.samples, BATCH):
        indices = range(start, min(start + BATCH, params.samples))
        latents = draw_latents(ctx.seed, indices, config, prior=prior, temperature=temperature)
        batches.append(render(generator, latents, ctx.device))
        digits.append(latents.digits)
        ctx.progress(start + len(latents.seeds), params.samples + 1, stage="generating")
    fake = np.concatenate(batches)

    asked = np.concatenate(digits) if config.num_classes else None
    quality = digit_quality(fake, real, reference.images, ctx.device, asked=asked, reference_labels=reference.labels)
    summary = {"model": model.id, "temperature": temperature, **quality}
    ctx.set_summary(**summary)
    ctx.progress(params.samples + 1, params.samples + 1, stage="scored")
