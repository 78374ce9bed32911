"""The gan plugin's three jobs, run for real (tiny networks, 256 real digits) through `run_job`."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from digit_jobs import digits_folder, pixels, refused_at_submit_then_failed_when_run

from aigc.core.errors import InvalidParams
from aigc.core.images import read_png_text
from aigc.core.provenance import unlabelled
from aigc.core.runner import run_job as run_attempt
from aigc.core.testing import JobOutcome, outcome_of, run_job, submit, temporary_settings
from aigc.plugins.datasets.mnist import load_mnist, write_idx

DIGITS, HOLDOUT = 256, 64
TINY = {"latent_size": 8, "g_channels": 8, "d_channels": 8, "batch_size": 64, "holdout": HOLDOUT, "seed": 11}
EPOCHS = 2
STEPS_PER_EPOCH = (DIGITS - HOLDOUT) // TINY["batch_size"]


@dataclass
class Trained:
    folder: Path  # 256 labelled digits as IDX files
    outcome: JobOutcome  # the train job; its settings hold the store the model is in


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, mnist_dir: Path) -> Trained:
    folder = tmp_path_factory.mktemp("gan")
    digits_folder(mnist_dir, folder / "digits", DIGITS)
    outcome = run_job("gan", "train", {**TINY, "epochs": EPOCHS, "data": str(folder / "digits")}, folder / "store")
    assert outcome.job.status == "succeeded", outcome.job.error
    return Trained(folder / "digits", outcome)


def job(trained: Trained, kind: str, params: dict[str, object], check_here: bool | None = None) -> JobOutcome:
    return run_job("gan", kind, params, settings=trained.outcome.settings, check_here=check_here)


def refused_job(trained: Trained, kind: str, params: dict[str, object]) -> str:
    return refused_at_submit_then_failed_when_run(trained.outcome.settings, "gan", kind, params)


def model_tensors(outcome: JobOutcome) -> dict[str, object]:
    from aigc.core.artifacts import load_tensors

    (model,) = outcome.models
    return load_tensors(outcome.settings.artifacts / model.sha256[:2] / f"{model.sha256}.safetensors")[0]


# -- train -------------------------------------------------------------------------------------
def test_train_reports_losses_grids_checkpoints_and_a_model(trained: Trained) -> None:
    outcome = trained.outcome
    keys = {key for key, _, _ in outcome.metrics}
    epoch_keys = {"train/epoch_loss_d", "train/epoch_loss_g", "train/epoch_d_real", "train/epoch_d_fake"}
    assert {"train/loss_d", "train/loss_g", "train/images_per_s", *epoch_keys} <= keys
    steps = [step for key, step, _ in outcome.metrics if key == "train/loss_d"]
    assert steps == list(range(1, EPOCHS * STEPS_PER_EPOCH + 1))
    # Every curve's step is the optimiser steps done, so the per-epoch means sit at the epoch ends.
    assert [step for key, step, _ in outcome.metrics if key == "train/epoch_loss_d"] == [
        STEPS_PER_EPOCH,
        2 * STEPS_PER_EPOCH,
    ]
    assert all(math.isfinite(v) for _, _, v in outcome.metrics)
    samples = [r for r in outcome.results if r.role == "sample"]
    assert [r.meta["epoch"] for r in samples] == [1, 2]
    assert samples[0].data[:8] == b"\x89PNG\r\n\x1a\n"
    assert outcome.job.checkpoint_sha256 is not None  # the last epoch's checkpoint
    (model,) = outcome.models
    assert model.config["latent_size"] == 8 and model.config["num_classes"] == 10
    assert model.config["train_digits"] == DIGITS - HOLDOUT
    assert sum(model.config["digit_prior"]) == pytest.approx(1.0, abs=1e-5)
    assert outcome.summary["train_digits"] == DIGITS - HOLDOUT
    assert {"train_loss_d", "train_loss_g", "train_images_per_s", "temperature", "train_fid"} <= set(model.metrics)
    # The sampling temperature is calibrated against the training digits and stored with the model.
    calibration = {step: value for key, step, value in outcome.metrics if key == "calibration/fid"}
    assert sorted(calibration) == [80, 90, 100, 110, 120, 130, 140]
    assert model.config["temperature"] * 100 == pytest.approx(min(calibration, key=calibration.__getitem__))


def test_interrupted_training_resumes_to_the_same_model(trained: Trained, tmp_path: Path) -> None:
    settings = temporary_settings(tmp_path)
    job_id = submit(settings, "gan", "train", {**TINY, "epochs": EPOCHS, "data": str(trained.folder)}, retries=1)

    def die_in_second_epoch(report: object) -> None:
        if report.done > STEPS_PER_EPOCH:
            raise RuntimeError("worker died")

    assert run_attempt(job_id, settings=settings, on_progress=die_in_second_epoch) == "queued"
    time.sleep(2.1)  # the retry backoff after a first failure
    assert run_attempt(job_id, settings=settings) == "succeeded"
    resumed = outcome_of(settings, job_id)
    assert resumed.job.attempts == 2
    steps = [(key, step) for key, step, _ in resumed.metrics]
    assert len(steps) == len(set(steps)) == len(trained.outcome.metrics)
    assert [r.meta["epoch"] for r in resumed.results] == [1, 2]
    expected, got = model_tensors(trained.outcome), model_tensors(resumed)
    assert expected.keys() == got.keys()
    assert all(got[name].equal(tensor) for name, tensor in expected.items())


def test_train_without_labels_needs_conditional_false(trained: Trained, tmp_path: Path) -> None:
    images = write_idx(tmp_path / "train-images-idx3-ubyte", load_mnist(trained.folder).images[:64])
    settings = temporary_settings(tmp_path / "store")  # its own store: the module's newest model stays conditional
    params = {**TINY, "holdout": 0, "epochs": 1, "data": str(images)}
    refused = run_job("gan", "train", params, settings=settings)
    assert refused.job.status == "failed"
    assert refused.job.error.endswith("no labels file beside the images; conditional=false trains without labels")
    plain = run_job("gan", "train", {**params, "conditional": False}, settings=settings)
    assert plain.job.status == "succeeded", plain.job.error
    (model,) = plain.models
    assert model.config["num_classes"] == 0 and "digit_prior" not in model.config
    asked = run_job("gan", "generate", {"n": 2, "digit": 4}, settings=settings)
    assert asked.job.status == "failed" and "is unconditional" in asked.job.error and "\n" not in asked.job.error


def test_holdout_that_leaves_nothing_is_one_line(trained: Trained) -> None:
    error = refused_job(trained, "train", {**TINY, "holdout": DIGITS, "data": str(trained.folder)})
    assert error == "holdout 256 leaves none of the 256 digits to train on; lower it"


def test_missing_data_is_one_line_naming_the_param(trained: Trained, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    error = refused_job(trained, "train", {**TINY, "data": str(missing)})
    assert error == f"data {missing}: no such file or folder; expected an MNIST folder or images IDX file"


# -- generate ----------------------------------------------------------------------------------
def test_generate_is_reproducible_with_each_digits_seed_in_its_png(trained: Trained) -> None:
    first = job(trained, "generate", {"n": 12, "seed": 5})
    again = job(trained, "generate", {"n": 12, "seed": 5})
    assert first.job.status == "succeeded", first.job.error
    assert [r.role for r in first.results] == ["item"] * 12 + ["grid"]
    # Byte-identical but for the provenance label, which names each job.
    assert [unlabelled(r.data) for r in first.results] == [unlabelled(r.data) for r in again.results]
    other = job(trained, "generate", {"n": 12, "seed": 6})
    assert other.outputs != first.outputs
    model_id = str(trained.outcome.models[0].id)
    for index, result in enumerate(first.items):
        text = read_png_text(result.data)
        assert int(text["seed"]) == 5 + index == result.seed == result.meta["seed"]
        assert text["index"] == str(index) and text["model"] == model_id
        assert 0 <= int(text["digit"]) <= 9
        assert float(text["temperature"]) == trained.outcome.models[0].config["temperature"]
    grid = first.results[-1]
    assert grid.meta["count"] == 12 and read_png_text(grid.data)["model"] == model_id
    assert grid.seed == 5  # a grid's seed is the job's
    alone = job(trained, "generate", {"n": 1, "seed": first.items[7].seed})  # digit 7, drawn again alone
    assert pixels(alone.items[0].data).tobytes() == pixels(first.items[7].data).tobytes()
    assert alone.items[0].meta["digit"] == first.items[7].meta["digit"]


def test_the_contact_sheet_shows_the_first_digits_as_stored(trained: Trained) -> None:
    """The sheet is the first 256 digits as stored, gathered across the generator's batches."""
    import numpy as np

    from aigc.core.images import contact_sheet
    from aigc.plugins.gan.generation import BATCH, GRID_MAX

    outcome = job(trained, "generate", {"n": GRID_MAX + BATCH // 2, "seed": 4})
    assert outcome.job.status == "succeeded", outcome.job.error
    shown = np.stack([pixels(r.data) for r in outcome.items[:GRID_MAX]])
    grid = outcome.results[-1]
    assert grid.role == "grid" and grid.meta["count"] == GRID_MAX
    assert np.array_equal(pixels(grid.data), contact_sheet(shown))


def test_digit_is_a_prefix_of_a_larger_run(trained: Trained) -> None:
    small = job(trained, "generate", {"n": 3, "seed": 9, "digit": 7, "temperature": 0.5})
    large = job(trained, "generate", {"n": 30, "seed": 9, "digit": 7, "temperature": 0.5})
    assert {r.meta["digit"] for r in large.items} == {7}
    assert {r.meta["temperature"] for r in large.items} == {0.5}
    assert small.outputs == large.outputs[:3]


@pytest.mark.parametrize("bad", [{"n": 0}, {"n": 1_000_001}, {"digit": 10}, {"temperature": 0}, {"nope": 1}])
def test_bad_generate_params_are_refused_before_the_job_is_stored(trained: Trained, bad: dict[str, object]) -> None:
    with pytest.raises(InvalidParams):
        submit(trained.outcome.settings, "gan", "generate", bad)


def test_bundled_default_generates_on_a_fresh_store(tmp_path: Path) -> None:
    outcome = run_job("gan", "generate", {"n": 4, "seed": 1}, tmp_path)
    assert outcome.job.status == "succeeded", outcome.job.error
    assert {r.meta["model"] for r in outcome.items} == {"default"}
    assert len(outcome.items) == 4 and outcome.results[-1].role == "grid"


# -- evaluate ----------------------------------------------------------------------------------
def test_evaluate_reports_generated_and_real_side_by_side(trained: Trained) -> None:
    outcome = job(trained, "evaluate", {"data": str(trained.folder), "samples": 64, "holdout": 64, "seed": 2})
    assert outcome.job.status == "succeeded", outcome.job.error
    summary = outcome.summary
    for key in ("fid", "confident", "coverage", "real_fid", "real_confident", "real_coverage", "fid_ratio"):
        assert math.isfinite(summary[key]), key
    assert summary["samples"] == summary["real_samples"] == summary["reference"] == 64
    assert summary["real_confident"] >= 0.9 and summary["real_coverage"] >= 0.9  # real digits, known classifier
    assert summary["reference_accuracy"] >= 0.95
    assert summary["fid"] > summary["real_fid"]  # two epochs of a tiny GAN are far from real digits


def test_evaluate_refuses_a_holdout_as_large_as_the_data(trained: Trained) -> None:
    error = refused_job(trained, "evaluate", {"data": str(trained.folder), "holdout": DIGITS})
    assert error == "holdout 256 leaves none of the 256 digits for the real sample"


def test_evaluate_still_takes_the_old_name_reference_with_a_warning(
    trained: Trained, caplog: pytest.LogCaptureFixture
) -> None:
    outcome = job(trained, "evaluate", {"data": str(trained.folder), "samples": 16, "reference": 32, "seed": 2})
    assert outcome.job.status == "succeeded", outcome.job.error
    assert outcome.job.params["holdout"] == 32 and "reference" not in outcome.job.params  # stored by its new name
    assert outcome.summary["reference"] == 32
    assert [r.getMessage() for r in caplog.records if r.name == "aigc.params"] == [
        "warning: param 'reference' is renamed 'holdout'; the old name stops working in the next release"
    ]
    with pytest.raises(InvalidParams, match="give holdout only: reference is its old name"):
        submit(trained.outcome.settings, "gan", "evaluate", {"reference": 32, "holdout": 32})


def test_bundled_default_meets_its_quality_targets_on_500_digits(tmp_path: Path, mnist_dir: Path) -> None:
    """The targets are on the generated digits; the 2,000 real ones (never trained on) are the yardstick."""
    params = {"data": str(mnist_dir), "samples": 500, "holdout": 1000, "seed": 0}
    outcome = run_job("gan", "evaluate", params, tmp_path)
    assert outcome.job.status == "succeeded", outcome.job.error
    summary = outcome.summary
    assert summary["model"] == "default"
    assert summary["confident"] >= 0.9 and summary["coverage"] >= 0.97
    assert summary["reference_accuracy"] >= 0.98  # the classifier never saw these digits either
