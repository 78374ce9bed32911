"""How good generated digits are, the same way for every image plugin: the MNIST classifier's FID,
confident share and class coverage, with real digits beside them as the yardstick.

The gan and diffusion plugins' evaluate jobs both call `digit_quality`, so their figures compare.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

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


def digit_quality(
    fake: np.ndarray,
    real: np.ndarray,
    reference: np.ndarray,
    device: str,
    *,
    asked: np.ndarray | None = None,
    reference_labels: np.ndarray | None = None,
) -> dict[str, Any]:
    """Generated (`fake`) and `real` uint8 digits (N, 28, 28), each scored against `reference`.

    `asked`: the digit each generated one was drawn for (conditional models), giving `digit_accuracy`.
    """
    from aigc.plugins.gan.classifier import load_classifier, score

    classifier, meta = load_classifier(device)
    ref_features, ref_probs = score(classifier, reference, device)
    real_features, real_probs = score(classifier, real, device)
    fake_features, fake_probs = score(classifier, fake, device)
    fid, real_fid = frechet_distance(fake_features, ref_features), frechet_distance(real_features, ref_features)
    summary: dict[str, Any] = {
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
        "classifier_heldout_accuracy": float(meta.get("heldout_accuracy", "nan")),
    }
    if asked is not None:  # does the model draw the digit it was asked for?
        summary["digit_accuracy"] = round(float((fake_probs.argmax(1) == asked).mean()), 4)
    if reference_labels is not None:
        summary["reference_accuracy"] = round(float((ref_probs.argmax(1) == reference_labels).mean()), 4)
    return summary
