"""The GAN plugin's parts: latent draws, the PNG writer, FID, confident share, coverage, the classifier."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aigc.core.images import encode_grey_png, read_png_text
from aigc.core.plugin_api import item_seed
from aigc.plugins.datasets.digit_quality import class_coverage, confident_share, frechet_distance
from aigc.plugins.gan.classifier import CHECKPOINT, load_classifier, score
from aigc.plugins.gan.networks import GanConfig
from aigc.plugins.gan.sampling import draw_latents

CONFIG = GanConfig(latent_size=16)


def test_each_digit_has_its_own_latent_whatever_the_batch() -> None:
    whole = draw_latents(7, range(10), CONFIG)
    tail = draw_latents(7, range(6, 10), CONFIG)
    np.testing.assert_array_equal(whole.z[6:], tail.z)
    np.testing.assert_array_equal(whole.digits[6:], tail.digits)
    assert whole.seeds[3] == item_seed(7, 3) == 10
    again = np.random.Generator(np.random.Philox(key=whole.seeds[3])).standard_normal(16, dtype=np.float32)
    np.testing.assert_array_equal(whole.z[3], again)  # one digit's latent, redrawn from its PNG's seed
    alone = draw_latents(10, range(1), CONFIG)  # digit 3 of seed 7 is digit 0 of seed 10
    np.testing.assert_array_equal(alone.z[0], whole.z[3])
    np.testing.assert_array_equal(alone.digits[0], whole.digits[3])
    np.testing.assert_array_equal(draw_latents(8, range(9), CONFIG).z, whole.z[1:])  # seed 8 is seed 7 shifted by one


def test_truncation_temperature_digit_and_prior() -> None:
    truncated = draw_latents(1, range(200), CONFIG, truncation=0.5)
    assert np.abs(truncated.z).max() <= 0.5
    cooled = draw_latents(1, range(5), CONFIG, temperature=0.5)
    np.testing.assert_allclose(cooled.z, draw_latents(1, range(5), CONFIG).z * 0.5)
    assert set(draw_latents(1, range(50), CONFIG, digit=3).digits) == {3}
    only_sevens = [0.0] * 7 + [1.0, 0.0, 0.0]
    assert set(draw_latents(1, range(50), CONFIG, prior=only_sevens).digits) == {7}
    assert set(draw_latents(1, range(500), CONFIG).digits) == set(range(10))
    assert set(draw_latents(1, range(20), GanConfig(num_classes=0)).digits) == {0}


def test_png_writer_is_read_back_by_pillow_with_its_text_chunks() -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)
    meta = {"seed": 5, "index": 3, "model": "default", "temperature": 1.0}
    png = encode_grey_png(pixels, meta)
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG" and image.mode == "L" and image.size == (28, 28)
        np.testing.assert_array_equal(np.asarray(image), pixels)
    assert read_png_text(png) == {"seed": "5", "index": "3", "model": "default", "temperature": "1.0"}
    assert encode_grey_png(pixels, meta) == png  # deterministic
    with pytest.raises(ValueError, match="uint8"):
        encode_grey_png(pixels.astype(np.float32))


def test_frechet_distance_matches_the_textbook_formula() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(500, 8))
    b = rng.normal(size=(400, 8)) @ rng.normal(size=(8, 8)) * 0.5 + 0.3
    mu_a, mu_b, cov_a, cov_b = a.mean(0), b.mean(0), np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # Tr((Sa Sb)^1/2) straight from the eigenvalues of Sa Sb (real and >= 0 for covariances).
    cross = np.sqrt(np.linalg.eigvals(cov_a @ cov_b).real.clip(min=0)).sum()
    expected = ((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * cross
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)
    assert frechet_distance(a, a) == pytest.approx(0, abs=1e-6)


def test_confident_share_and_coverage() -> None:
    sure, unsure = np.eye(10)[[3, 3]], np.full((2, 10), 0.1)
    assert confident_share(np.concatenate([sure, unsure])) == 0.5
    assert class_coverage(np.eye(10)) == pytest.approx(1.0)
    assert class_coverage(np.eye(10)[[4] * 20]) == 0.0
    assert class_coverage(np.eye(10)[[0, 1] * 5]) == pytest.approx(np.log(2) / np.log(10))


def test_shipped_classifier_is_accurate_on_digits_it_did_not_train_on(mnist_dir: Path) -> None:
    from aigc.plugins.datasets.mnist import load_mnist

    model, metadata = load_classifier("cpu")
    assert CHECKPOINT.stat().st_size < 5_000_000
    held = load_mnist(mnist_dir)  # the committed digits are the held-out ones its metadata records
    assert "last 2000 digits" in metadata["split"]
    features, probs = score(model, held.images, "cpu")
    assert features.shape == (2000, 128)
    accuracy = float((probs.argmax(1) == held.labels).mean())
    assert accuracy >= 0.98
    assert accuracy == pytest.approx(float(metadata["heldout_accuracy"]), abs=1e-4)
