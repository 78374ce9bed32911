"""The evaluate job: FID, confident share and class coverage of generated digits, real digits beside them.

The data's last `holdout` digits (those a train job holds out) are the reference set. `samples` generated digits and, as the
yardstick, `samples` real digits drawn from the rest of the data are each scored against it; the
real row says what "as good as real" means at this sample size (FID has a small-sample floor).
"""

from __future__ import annotations

import math

import numpy as np

from aigc.core.plugin_api import JobContext, JobKind
from aigc.plugins.datasets.mnist import load_mnist, split
from aigc.plugins.gan.checks import check_holdout
from aigc.plugins.gan.classifier import load_classifier, score
from aigc.plugins.gan.generation import BATCH
from aigc.plugins.gan.networks import load_model
from aigc.plugins.gan.params import EvaluateParams
from aigc.plugins.gan.sampling import digit_prior, draw_latents, model_temperature, render

CONFIDENT = 0.9


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """FID between two feature sets (N, D): |mu_a - mu_b|^2 + Tr(Sa + Sb - 2 (Sa Sb)^1/2)."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # Tr((Sa Sb)^1/2) = sum of sqrt eigenvalues of Sa^1/2 Sb Sa^1/2, which is symmetric PSD:
    # eigh is exact here where a general matrix square root picks up imaginary noise.
    values, vectors = np.linalg.eigh(cov_a)
    root_a = (vectors * np.sqrt(values.clip(min=0))) @ vectors.T
    cross = np.sqrt(np.linalg.eigvalsh(root_a @ cov_b @ root_a).clip(min=0)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * cross)


def confident_share(probs: np.ndarray) -> float:
    """Share of digits whose most likely class has probability above 0.9."""
    return float((probs.max(1) > CONFIDENT).mean())


def class_coverage(probs: np.ndarray) -> float:
    """Entropy of the predicted-class histogram over log 10: 1 when all ten digits are equally common."""
    counts = np.bincount(probs.argmax(1), minlength=10)
    shares = counts[counts > 0] / counts.sum()
    return float(-(shares * np.log(shares)).sum() / math.log(10))


def evaluate(ctx: JobContext, params: EvaluateParams) -> None:
    data = load_mnist(params.data)
    check_holdout(JobKind.evaluate, params.holdout, len(data))
    rest, reference = split(data, params.holdout)
    rng = np.random.default_rng(ctx.seed)
    real = rest.images[np.sort(rng.choice(len(rest), min(params.samples, len(rest)), replace=False))]

    generator, model = load_model(ctx, params.model)
    config, prior = generator.config, digit_prior(model)
    classifier, classifier_meta = load_classifier(ctx.device)
    temperature = model_temperature(model, params.temperature)
    batches, digits = [], []
    for start in range(0, params.samples, BATCH):
        indices = range(start, min(start + BATCH, params.samples))
        latents = draw_latents(ctx.seed, indices, config, prior=prior, temperature=temperature)
        batches.append(render(generator, latents, ctx.device))
        digits.append(latents.digits)
        ctx.progress(start + len(latents.seeds), params.samples + 1, stage="generating")
    fake = np.concatenate(batches)

    ref_features, ref_probs = score(classifier, reference.images, ctx.device)
    real_features, real_probs = score(classifier, real, ctx.device)
    fake_features, fake_probs = score(classifier, fake, ctx.device)
    fid, real_fid = frechet_distance(fake_features, ref_features), frechet_distance(real_features, ref_features)
    summary: dict[str, float | int | str] = {
        "model": model.id,
        "temperature": temperature,
        "fid": round(fid, 4),
        "confident": round(confident_share(fake_probs), 4),
        "coverage": round(class_coverage(fake_probs), 4),
        "real_fid": round(real_fid, 4),
        "real_confident": round(confident_share(real_probs), 4),
        "real_coverage": round(class_coverage(real_probs), 4),
        "fid_ratio": round(fid / real_fid, 3) if real_fid > 0 else float("inf"),
        "samples": len(fake),
        "real_samples": len(real),
        "reference": len(reference),
        "classifier_heldout_accuracy": float(classifier_meta.get("heldout_accuracy", "nan")),
    }
    if config.num_classes:  # does the generator draw the digit it was asked for?
        summary["digit_accuracy"] = round(float((fake_probs.argmax(1) == np.concatenate(digits)).mean()), 4)
    if reference.labels is not None:
        summary["reference_accuracy"] = round(float((ref_probs.argmax(1) == reference.labels).mean()), 4)
    ctx.set_summary(**summary)
    ctx.progress(params.samples + 1, params.samples + 1, stage="scored")
