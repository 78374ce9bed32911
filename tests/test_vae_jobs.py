"""The vae plugin's three jobs, run for real (tiny networks, 256 real digits) through `run_job`."""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from aigc.core.errors import UsageError
from aigc.core.images import read_png_text
from aigc.core.provenance import unlabelled
from aigc.core.runner import run_job as run_attempt
from aigc.core.testing import JobOutcome, outcome_of, run_job, submit, temporary_settings
from aigc.plugins.datasets.mnist import load_mnist, write_idx

DIGITS = 256
TEST = 40  # digits 0..39: the test split, never used by train
HOLDOUT = 56  # digits 200..255: the validation split, scored by train
TINY = {
    "latent_size": 4,
    "channels": 8,
    "hidden": 32,
    "batch_size": 32,
    "test": TEST,
    "holdout": HOLDOUT,
    "score_every": 1,
    "seed": 11,
}
EPOCHS = 2
NEG_ELBO = 94.25  # docs/vae.md: the bundled default on its test digits, evaluate k=5 seed 0
STEPS_PER_EPOCH = math.ceil((DIGITS - TEST - HOLDOUT) / TINY["batch_size"])


@dataclass
class Trained:
    idx: Path  # a 256-digit images IDX file
    outcome: JobOutcome  # the train job; its settings hold the store the model is in


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, mnist_dir: Path) -> Trained:
    folder = tmp_path_factory.mktemp("vae")
    idx = write_idx(folder / "digits-idx3-ubyte", load_mnist(mnist_dir, labels=False).images[:DIGITS])
    outcome = run_job("vae", "train", {**TINY, "epochs": EPOCHS, "data": str(idx)}, folder / "store")
    assert outcome.job.status == "succeeded", outcome.job.error
    return Trained(idx, outcome)


def job(trained: Trained, kind: str, params: dict[str, object], check_here: bool | None = None) -> JobOutcome:
    return run_job("vae", kind, params, settings=trained.outcome.settings, check_here=check_here)


def refused_at_submit_then_failed_when_run(trained: Trained, kind: str, params: dict[str, object]) -> str:
    """The plugin's check refuses the job at submit (embedded); stored anyway (queued), the job fails with
    the same line and no results. Returns that line."""
    with pytest.raises(UsageError) as refused:
        submit(trained.outcome.settings, "vae", kind, params)
    outcome = job(trained, kind, params, check_here=False)
    assert outcome.job.status == "failed" and outcome.job.error == str(refused.value)
    assert "\n" not in outcome.job.error and outcome.results == []
    return outcome.job.error


def model_tensors(outcome: JobOutcome) -> dict[str, object]:
    from aigc.core.artifacts import load_tensors

    (model,) = outcome.models
    return load_tensors(outcome.settings.artifacts / model.sha256[:2] / f"{model.sha256}.safetensors")[0]


# -- train -------------------------------------------------------------------------------------
def test_train_reports_curves_grids_and_a_model(trained: Trained) -> None:
    outcome = trained.outcome
    keys = {key for key, _, _ in outcome.metrics}
    assert {"train/loss", "train/bce", "train/kl", "train/epoch_loss", "val/neg_elbo"} <= keys
    heldout = [value for key, _, value in outcome.metrics if key == "val/neg_elbo"]
    assert len(heldout) == EPOCHS and all(math.isfinite(v) for v in heldout)
    samples = [r for r in outcome.results if r.role == "sample"]
    assert [(r.meta["epoch"], r.meta["content"]) for r in samples] == [
        (1, "prior samples"),
        (1, "reconstructions"),
        (2, "prior samples"),
        (2, "reconstructions"),
    ]
    assert read_png_text(samples[0].data)["epoch"] == "1"
    (model,) = outcome.models
    assert model.config["latent_size"] == 4 and (model.config["test"], model.config["holdout"]) == (TEST, HOLDOUT)
    assert outcome.summary["digits_trained"] == DIGITS - TEST - HOLDOUT
    assert model.metrics["val_neg_elbo"] == pytest.approx(heldout[-1])


def test_interrupted_training_resumes_to_the_same_model(trained: Trained, tmp_path: Path) -> None:
    settings = temporary_settings(tmp_path)
    params = {**TINY, "epochs": EPOCHS, "data": str(trained.idx)}
    job_id = submit(settings, "vae", "train", params, retries=1)

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
    assert [r.meta["epoch"] for r in resumed.results] == [1, 1, 2, 2]
    expected, got = model_tensors(trained.outcome), model_tensors(resumed)
    assert all(got[name].equal(tensor) for name, tensor in expected.items())


def test_held_out_digits_are_scored_every_few_epochs_and_after_the_last(trained: Trained) -> None:
    params = {**TINY, "epochs": 3, "score_every": 2, "data": str(trained.idx)}
    outcome = job(trained, "train", params)
    scored_at = [step for key, step, _ in outcome.metrics if key == "val/neg_elbo"]
    assert scored_at == [2 * STEPS_PER_EPOCH, 3 * STEPS_PER_EPOCH]


@pytest.mark.parametrize("test, holdout", [(0, DIGITS), (200, 56), (TEST, 300)])
def test_train_rejects_test_and_holdout_that_leave_nothing(trained: Trained, test: int, holdout: int) -> None:
    error = refused_at_submit_then_failed_when_run(
        trained, "train", {**TINY, "test": test, "holdout": holdout, "data": str(trained.idx)}
    )
    assert error == (
        f"test={test} and holdout={holdout} leave nothing to train on: {trained.idx} holds 256 digits; "
        "use test + holdout of at most 255"
    )


def test_train_never_uses_the_test_digits(trained: Trained, tmp_path: Path) -> None:
    """Blanking the test split's digits changes nothing the job computes: the same model, bit for bit."""
    digits = load_mnist(trained.idx, labels=False).images.copy()
    digits[:TEST] = 255
    blanked = write_idx(tmp_path / "blanked-idx3-ubyte", digits)
    outcome = job(trained, "train", {**TINY, "epochs": EPOCHS, "data": str(blanked)})
    expected, got = model_tensors(trained.outcome), model_tensors(outcome)
    assert all(got[name].equal(tensor) for name, tensor in expected.items())


# -- generate ----------------------------------------------------------------------------------
def test_sample_is_reproducible_and_each_digit_has_its_seed(trained: Trained) -> None:
    first = job(trained, "generate", {"mode": "sample", "n": 6, "seed": 5})
    again = job(trained, "generate", {"mode": "sample", "n": 6, "seed": 5})
    assert [unlabelled(r.data) for r in first.results] == [unlabelled(r.data) for r in again.results]
    assert [r.role for r in first.results] == ["item"] * 6 + ["grid"]
    assert [r.seed for r in first.items] == [5, 6, 7, 8, 9, 10]
    assert first.results[-1].seed == 5  # the grid's seed is the job's
    assert json.loads(read_png_text(first.items[2].data)["seed"]) == 7
    alone = job(trained, "generate", {"mode": "sample", "n": 1, "seed": 7})
    assert _pixels(alone.items[0].data) == _pixels(first.items[2].data)  # the same digit, drawn alone


def test_reconstruct_an_index_range(trained: Trained) -> None:
    outcome = job(trained, "generate", {"mode": "reconstruct", "data": str(trained.idx), "start": 250, "n": 6})
    assert outcome.job.status == "succeeded", outcome.job.error
    assert [r.meta["index"] for r in outcome.items] == list(range(250, 256))
    assert {r.seed for r in outcome.items} == {None}  # a reconstruction draws nothing at random
    (grid,) = [r for r in outcome.results if r.role == "grid"]
    assert read_png_text(grid.data)["layout"] == "digits over reconstructions"


def test_interpolate_between_two_digits(trained: Trained) -> None:
    params = {"mode": "interpolate", "data": str(trained.idx), "a": 3, "b": 200, "steps": 5}
    outcome = job(trained, "generate", params)
    assert outcome.job.status == "succeeded", outcome.job.error
    assert [r.meta["t"] for r in outcome.items] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert [r.role for r in outcome.results][-1] == "grid"


def test_interpolate_between_two_seeds_ends_on_their_samples(trained: Trained) -> None:
    outcome = job(trained, "generate", {"mode": "interpolate", "seed_a": 40, "seed_b": 41, "steps": 4})
    sampled = job(trained, "generate", {"mode": "sample", "n": 2, "seed": 40})
    assert outcome.items[0].data != sampled.items[0].data  # the metadata differs...
    pixels = [_pixels(r.data) for r in (outcome.items[0], outcome.items[-1], *sampled.items)]
    assert pixels[0] == pixels[2] and pixels[1] == pixels[3]  # ...the digits do not


def _pixels(png: bytes) -> bytes:
    import io

    from PIL import Image

    return Image.open(io.BytesIO(png)).tobytes()


@pytest.mark.parametrize(
    "params, message",
    [
        ({"mode": "sample", "a": 1}, "a not used by mode=sample"),
        ({"mode": "reconstruct", "steps": 3}, "steps not used by mode=reconstruct"),
        ({"mode": "interpolate", "a": 1}, "needs either a and b"),
        ({"mode": "interpolate", "a": 1, "seed_b": 2}, "needs either a and b"),
        ({"mode": "draw"}, "invalid param 'mode'"),
        ({"model": "999"}, "no vae model with id 999"),
    ],
)
def test_bad_generate_params_are_refused_before_the_job_is_stored(
    trained: Trained, params: dict[str, object], message: str
) -> None:
    with pytest.raises(UsageError, match=message) as caught:
        job(trained, "generate", params)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"mode": "reconstruct", "start": 250, "n": 10}, "reconstruct: indices 250..259 out of range; .* holds 256"),
        ({"mode": "interpolate", "a": 0, "b": 256}, r"interpolate b: index 256 out of range; .*\(indices 0..255\)"),
        ({"mode": "reconstruct", "data": "/nonexistent/digits"}, "^data /nonexistent/digits: no such file or folder"),
    ],
)
def test_bad_generate_input_is_refused_at_submit_and_fails_a_queued_job_with_one_line(
    trained: Trained, params: dict[str, object], message: str
) -> None:
    error = refused_at_submit_then_failed_when_run(trained, "generate", {"data": str(trained.idx), **params})
    assert re.search(message, error), error


# -- evaluate ----------------------------------------------------------------------------------
def test_evaluate_scores_the_test_digits_by_default_in_nats(trained: Trained) -> None:
    outcome = job(trained, "evaluate", {"data": str(trained.idx), "test": TEST, "k": 20, "seed": 1})
    summary = outcome.summary
    assert (summary["split"], summary["digits"], summary["first_index"]) == ("test", TEST, 0)
    assert summary["neg_elbo"] == pytest.approx(summary["bce"] + summary["kl"])
    # Two epochs leave the tiny model's posterior near the prior, where the two bounds nearly meet (the
    # bundled default's test below checks the 100-sample bound is the tighter one).
    assert summary["iw_nll"] == pytest.approx(summary["neg_elbo"], rel=0.05)


def test_evaluate_scores_the_validation_digits_as_train_did(trained: Trained) -> None:
    params = {"data": str(trained.idx), "split": "validation", "holdout": HOLDOUT, "k": 20, "seed": 1}
    summary = job(trained, "evaluate", params).summary
    assert (summary["split"], summary["digits"], summary["first_index"]) == ("validation", HOLDOUT, DIGITS - HOLDOUT)
    heldout = [value for key, _, value in trained.outcome.metrics if key == "val/neg_elbo"]
    assert summary["neg_elbo"] == pytest.approx(heldout[-1], rel=0.05)  # what train reported for them


def test_evaluate_scores_every_digit_of_a_smaller_file(trained: Trained) -> None:
    every = job(trained, "evaluate", {"data": str(trained.idx), "k": 2, "seed": 1})  # test 1000 > 256
    assert (every.summary["digits"], every.summary["first_index"]) == (DIGITS, 0)
    whole = job(trained, "evaluate", {"data": str(trained.idx), "split": "all", "k": 2, "seed": 1})
    assert {**whole.summary, "split": "test"} == every.summary


@pytest.mark.parametrize(
    "params, message",
    [
        ({"split": "test", "holdout": 5}, "holdout not used by split=test"),
        ({"split": "all", "test": 5}, "test not used by split=all"),
        ({"split": "validation", "test": 5}, "test not used by split=validation"),
        ({"split": "train"}, "invalid param 'split'"),
        ({"test": 0}, "invalid param 'test'"),
    ],
)
def test_bad_evaluate_params_are_refused_before_the_job_is_stored(
    trained: Trained, params: dict[str, object], message: str
) -> None:
    with pytest.raises(UsageError, match=message) as caught:
        job(trained, "evaluate", {"data": str(trained.idx), **params})
    assert "\n" not in str(caught.value)


def test_evaluate_a_missing_file_is_one_line_naming_the_param(trained: Trained, tmp_path: Path) -> None:
    missing = tmp_path / "nothing.gz"
    error = refused_at_submit_then_failed_when_run(trained, "evaluate", {"data": str(missing)})
    assert error == f"data {missing}: no such file or folder; expected an MNIST folder or images IDX file"


# -- the bundled default -------------------------------------------------------------------------
def test_bundled_default_loads_and_generates(tmp_path: Path) -> None:
    from aigc.plugins import vae

    bundled = Path(vae.__file__).parent / vae.VaePlugin.bundled_model
    assert bundled.stat().st_size <= 10 * 10**6
    outcome = run_job("vae", "generate", {"model": "default", "n": 4, "seed": 0}, tmp_path)
    assert outcome.job.status == "succeeded", outcome.job.error
    assert [r.meta["model"] for r in outcome.items] == ["default"] * 4


def test_bundled_default_meets_its_target_on_its_test_digits(tmp_path: Path, vae_test_digits: Path) -> None:
    """The first 1,000 shared digits, which its train job never used: docs/vae.md's NEG_ELBO nats (target 95)."""
    params = {"model": "default", "data": str(vae_test_digits), "k": 5, "seed": 0}
    outcome = run_job("vae", "evaluate", params, tmp_path)
    assert outcome.job.status == "succeeded", outcome.job.error
    summary = outcome.summary
    assert (summary["model"], summary["digits"], summary["first_index"]) == ("default", 1000, 0)
    assert summary["neg_elbo"] == pytest.approx(NEG_ELBO, abs=0.01)
    assert summary["iw_nll"] < summary["neg_elbo"]
