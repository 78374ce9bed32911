"""The diffusion plugin's three jobs, run for real (a tiny diffusers UNet, 256 real digits) through `run_job`,
and on a Celery worker."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from digit_jobs import digits_folder, pixels, refused_at_submit_then_failed_when_run

from aigc.core.errors import InvalidParams
from aigc.core.images import read_png_text
from aigc.core.provenance import unlabelled
from aigc.core.runner import run_job as run_attempt
from aigc.core.testing import JobOutcome, outcome_of, run_job, submit, temporary_settings
from aigc.plugins.datasets.mnist import load_mnist, write_idx
from aigc.plugins.diffusion.params import DEFAULT_GUIDANCE

DIGITS, HOLDOUT = 256, 64
TINY = {"channels": 4, "batch_size": 64, "train_timesteps": 50, "holdout": HOLDOUT, "seed": 11}
EPOCHS = 2
STEPS_PER_EPOCH = (DIGITS - HOLDOUT) // TINY["batch_size"]
FEW = {"steps": 3}  # sampler steps: enough to exercise the solver, quick on a tiny UNet


@dataclass
class Trained:
    folder: Path  # 256 labelled digits as IDX files
    outcome: JobOutcome  # the train job; its settings hold the store the model is in

    @property
    def model_folder(self) -> Path:
        (model,) = self.outcome.models
        return self.outcome.settings.artifacts / model.sha256[:2] / model.sha256


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, mnist_dir: Path) -> Trained:
    folder = tmp_path_factory.mktemp("diffusion")
    digits_folder(mnist_dir, folder / "digits", DIGITS)
    outcome = run_job(
        "diffusion", "train", {**TINY, "epochs": EPOCHS, "data": str(folder / "digits")}, folder / "store"
    )
    assert outcome.job.status == "succeeded", outcome.job.error
    return Trained(folder / "digits", outcome)


def job(trained: Trained, kind: str, params: dict[str, object], check_here: bool | None = None) -> JobOutcome:
    return run_job("diffusion", kind, params, settings=trained.outcome.settings, check_here=check_here)


def refused_job(trained: Trained, kind: str, params: dict[str, object]) -> str:
    return refused_at_submit_then_failed_when_run(trained.outcome.settings, "diffusion", kind, params)


# -- train -------------------------------------------------------------------------------------
def test_train_reports_losses_grids_checkpoints_and_a_diffusers_folder(trained: Trained) -> None:
    outcome = trained.outcome
    keys = {key for key, _, _ in outcome.metrics}
    assert {"train/loss", "train/epoch_loss", "train/lr", "train/images_per_s"} <= keys
    steps = [step for key, step, _ in outcome.metrics if key == "train/loss"]
    assert steps == list(range(1, EPOCHS * STEPS_PER_EPOCH + 1))
    assert [step for key, step, _ in outcome.metrics if key == "train/epoch_loss"] == [
        STEPS_PER_EPOCH,
        2 * STEPS_PER_EPOCH,
    ]
    assert all(math.isfinite(v) for _, _, v in outcome.metrics)
    samples = [r for r in outcome.results if r.role == "sample"]
    assert [r.meta["epoch"] for r in samples] == [1, 2]
    assert pixels(samples[0].data).shape == pixels(samples[1].data).shape and samples[0].data[:4] == b"\x89PNG"
    assert outcome.job.checkpoint_sha256 is not None  # the last epoch's checkpoint
    (model,) = outcome.models
    assert model.format == "hf" and model.config["channels"] == 4 and model.config["train_digits"] == DIGITS - HOLDOUT
    files = {p.relative_to(trained.model_folder).as_posix() for p in trained.model_folder.rglob("*") if p.is_file()}
    assert files == {
        "model_index.json",
        "unet/config.json",
        "unet/diffusion_pytorch_model.safetensors",
        "scheduler/scheduler_config.json",
    }


def test_plain_diffusers_loads_the_saved_model_without_aigc(trained: Trained) -> None:
    """A fresh interpreter that never imports aigc loads the pipeline and runs its UNet, with the null class."""
    script = (
        "import sys, torch\n"
        "from diffusers import DDPMPipeline\n"
        "pipe = DDPMPipeline.from_pretrained(sys.argv[1])\n"
        "unet = pipe.unet\n"
        "out = unet(torch.zeros(2, 1, 28, 28), 10, class_labels=torch.tensor([3, 10])).sample\n"
        "assert 'aigc' not in sys.modules\n"
        "print(unet.config.num_class_embeds, unet.config.sample_size, tuple(out.shape),"
        " pipe.scheduler.config.num_train_timesteps)\n"
    )
    run = subprocess.run([sys.executable, "-c", script, str(trained.model_folder)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["11", "28", "(2,", "1,", "28,", "28)", "50"]


def test_interrupted_training_resumes_to_the_same_model(trained: Trained, tmp_path: Path) -> None:
    settings = temporary_settings(tmp_path)
    params = {**TINY, "epochs": EPOCHS, "data": str(trained.folder)}
    job_id = submit(settings, "diffusion", "train", params, retries=1)

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
    # Bit-exact: the same folder digest (every file's bytes) as the uninterrupted run.
    assert resumed.models[0].sha256 == trained.outcome.models[0].sha256


def test_train_without_labels_is_one_line(trained: Trained, tmp_path: Path) -> None:
    images = write_idx(tmp_path / "train-images-idx3-ubyte", load_mnist(trained.folder).images[:64])
    refused = run_job("diffusion", "train", {**TINY, "holdout": 0, "data": str(images)}, tmp_path / "store")
    assert refused.job.status == "failed"
    assert refused.job.error.endswith("no labels file beside the images; the diffusion model is class-conditional")
    assert refused.models == []


def test_holdout_that_leaves_nothing_is_one_line(trained: Trained) -> None:
    error = refused_job(trained, "train", {**TINY, "holdout": DIGITS, "data": str(trained.folder)})
    assert error == "holdout 256 leaves none of the 256 digits to train on; lower it"


@pytest.mark.parametrize("bad", [{"channels": 6}, {"channels": 0}, {"epochs": 0}, {"label_dropout": 1}, {"lr": 0}])
def test_bad_train_params_are_refused_before_the_job_is_stored(trained: Trained, bad: dict[str, object]) -> None:
    with pytest.raises(InvalidParams):
        submit(trained.outcome.settings, "diffusion", "train", bad)


# -- generate ----------------------------------------------------------------------------------
def test_generate_is_reproducible_with_each_digits_seed_in_its_png(trained: Trained) -> None:
    first = job(trained, "generate", {"n": 12, "seed": 5, **FEW})
    again = job(trained, "generate", {"n": 12, "seed": 5, **FEW})
    assert first.job.status == "succeeded", first.job.error
    assert [r.role for r in first.results] == ["item"] * 12 + ["grid"]
    assert [unlabelled(r.data) for r in first.results] == [unlabelled(r.data) for r in again.results]
    other = job(trained, "generate", {"n": 12, "seed": 6, **FEW})
    assert other.outputs != first.outputs
    model_id = str(trained.outcome.models[0].id)
    for index, result in enumerate(first.items):
        text = read_png_text(result.data)
        assert int(text["seed"]) == 5 + index == result.seed == result.meta["seed"]
        assert text["index"] == str(index) and text["model"] == model_id and text["plugin"] == "diffusion"
        assert text["steps"] == "3" and float(text["guidance"]) == DEFAULT_GUIDANCE
        assert 0 <= int(text["digit"]) <= 9
        assert pixels(result.data).shape == (28, 28)
    assert len({r.meta["digit"] for r in first.items}) > 1
    grid = first.results[-1]
    assert grid.meta["count"] == 12 and read_png_text(grid.data)["model"] == model_id and grid.seed == 5
    alone = job(trained, "generate", {"n": 1, "seed": first.items[7].seed, **FEW})  # digit 7, drawn again alone
    assert pixels(alone.items[0].data).tobytes() == pixels(first.items[7].data).tobytes()
    assert alone.items[0].meta["digit"] == first.items[7].meta["digit"]


def test_digit_and_guidance_change_what_is_drawn(trained: Trained) -> None:
    small = job(trained, "generate", {"n": 3, "seed": 9, "digit": 7, **FEW})
    large = job(trained, "generate", {"n": 20, "seed": 9, "digit": 7, **FEW})
    assert {r.meta["digit"] for r in large.items} == {7}
    assert small.outputs == large.outputs[:3]
    guided = job(trained, "generate", {"n": 3, "seed": 9, "digit": 7, "guidance": 3.0, **FEW})
    assert guided.job.status == "succeeded", guided.job.error
    assert {r.meta["guidance"] for r in guided.items} == {3.0}
    assert [pixels(r.data).tobytes() for r in guided.items] != [pixels(r.data).tobytes() for r in small.items]


def test_progress_is_reported_per_denoising_step_and_a_cancel_stops_sampling(trained: Trained, tmp_path: Path) -> None:
    from aigc.core.jobs import cancel_job
    from aigc.core.store import Store

    settings = trained.outcome.settings
    job_id = submit(settings, "diffusion", "generate", {"n": 150, "seed": 1, "steps": 4})
    reports: list[tuple[float, float, object]] = []

    def record(report: object) -> None:
        reports.append((report.done, report.total, report.info.get("step")))
        if report.done == 5:  # the first step of the second batch of 100: cancel
            cancel_job(Store(settings), job_id)

    assert run_attempt(job_id, settings=settings, on_progress=record) == "cancelled"
    assert reports[:5] == [(1, 8, 1), (2, 8, 2), (3, 8, 3), (4, 8, 4), (5, 8, 1)]
    cancelled = outcome_of(settings, job_id)
    assert cancelled.job.status == "cancelled" and cancelled.results == []  # nothing half-written


def test_a_local_diffusers_folder_is_sampled_when_it_fits(trained: Trained, tmp_path: Path) -> None:
    by_id = job(trained, "generate", {"n": 4, "seed": 3, **FEW})
    by_path = job(trained, "generate", {"n": 4, "seed": 3, "pipeline": str(trained.model_folder), **FEW})
    assert by_path.job.status == "succeeded", by_path.job.error
    assert [pixels(r.data).tobytes() for r in by_path.items] == [pixels(r.data).tobytes() for r in by_id.items]
    assert by_path.items[0].meta["model"] == str(trained.model_folder)
    # No model of the store is pinned or needed: a fresh store with none samples the folder too.
    fresh = run_job(
        "diffusion", "generate", {"n": 4, "seed": 3, "pipeline": str(trained.model_folder), **FEW}, tmp_path
    )
    assert fresh.job.status == "succeeded", fresh.job.error
    assert fresh.job.model_id is None
    assert fresh.outputs == by_path.outputs
    with pytest.raises(InvalidParams, match="give model or pipeline, not both"):
        submit(trained.outcome.settings, "diffusion", "generate", {"model": "1", "pipeline": str(tmp_path)})


def plain_unet_folder(folder: Path, size: int, channels: int, widths: tuple[int, int]) -> Path:
    """A bare diffusers UNet folder (no class embedding), as any diffusers user might have one."""
    from diffusers import UNet2DModel

    UNet2DModel(
        sample_size=size,
        in_channels=channels,
        out_channels=channels,
        block_out_channels=widths,
        down_block_types=("DownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "UpBlock2D"),
        norm_num_groups=4,
        layers_per_block=1,
    ).save_pretrained(folder)
    return folder


def test_a_folder_that_does_not_fit_is_refused_in_one_line(trained: Trained, tmp_path: Path) -> None:
    plain_unet_folder(tmp_path / "rgb", size=32, channels=3, widths=(8, 8))
    outcome = job(trained, "generate", {"n": 2, "pipeline": str(tmp_path / "rgb")})
    assert outcome.job.status == "failed" and outcome.results == []
    assert outcome.job.error == (
        f"pipeline {tmp_path / 'rgb'} draws 32-pixel images of 3 channel(s); "
        "the diffusion plugin samples 28x28 images of 1 channel"
    )
    (tmp_path / "empty").mkdir()
    empty = job(trained, "generate", {"n": 2, "pipeline": str(tmp_path / "empty")})
    assert empty.job.error == (
        f"pipeline {tmp_path / 'empty'} is not a diffusers folder: it has neither unet/config.json nor config.json"
    )
    error = refused_job(trained, "generate", {"pipeline": str(tmp_path / "nowhere")})
    assert error.startswith(f"pipeline {tmp_path / 'nowhere'}: no such") and "\n" not in error


def test_an_unconditional_folder_samples_unguided_and_refuses_a_digit_or_guidance(
    trained: Trained, tmp_path: Path
) -> None:
    """A plain diffusers DDPM UNet (no class embedding): the default guidance falls back to 1 for it."""
    folder = str(plain_unet_folder(tmp_path / "plain", size=28, channels=1, widths=(4, 8)))
    plain = job(trained, "generate", {"n": 2, "seed": 1, "pipeline": folder, **FEW})
    assert plain.job.status == "succeeded", plain.job.error
    assert {r.meta["guidance"] for r in plain.items} == {1.0} and "digit" not in plain.items[0].meta
    guided = job(trained, "generate", {"n": 2, "pipeline": folder, "guidance": 2.0, **FEW})
    assert guided.job.error == f"pipeline {folder} has no null class to guide against; use guidance=1"
    asked = job(trained, "generate", {"n": 2, "pipeline": folder, "digit": 3, **FEW})
    assert asked.job.error == f"pipeline {folder} is unconditional: it cannot be asked for digit 3"
    assert guided.results == asked.results == []


@pytest.mark.parametrize(
    "bad", [{"n": 0}, {"n": 10_001}, {"digit": 10}, {"steps": 0}, {"guidance": -1}, {"guidance": 21}, {"nope": 1}]
)
def test_bad_generate_params_are_refused_before_the_job_is_stored(trained: Trained, bad: dict[str, object]) -> None:
    with pytest.raises(InvalidParams):
        submit(trained.outcome.settings, "diffusion", "generate", bad)


def test_bundled_default_generates_on_a_fresh_store(tmp_path: Path) -> None:
    outcome = run_job("diffusion", "generate", {"n": 4, "seed": 1, "digit": 7}, tmp_path)
    assert outcome.job.status == "succeeded", outcome.job.error
    assert {r.meta["model"] for r in outcome.items} == {"default"}
    assert len(outcome.items) == 4 and outcome.results[-1].role == "grid"


# -- evaluate ----------------------------------------------------------------------------------
def test_evaluate_reports_generated_and_real_side_by_side(trained: Trained) -> None:
    params = {"data": str(trained.folder), "samples": 64, "holdout": 64, "seed": 2, **FEW}
    outcome = job(trained, "evaluate", params)
    assert outcome.job.status == "succeeded", outcome.job.error
    summary = outcome.summary
    for key in ("fid", "confident", "coverage", "real_fid", "real_confident", "real_coverage", "fid_ratio"):
        assert math.isfinite(summary[key]), key
    assert summary["samples"] == summary["real_samples"] == summary["reference"] == 64
    assert summary["real_confident"] >= 0.9 and summary["real_coverage"] >= 0.9  # real digits, known classifier
    assert summary["reference_accuracy"] >= 0.95 and 0 <= summary["digit_accuracy"] <= 1
    assert summary["fid"] > summary["real_fid"]  # two epochs of a tiny UNet are far from real digits


def test_evaluate_scores_with_the_gans_code(trained: Trained) -> None:
    """One scoring module: the same digits give the same figures whichever plugin's job asks."""
    from aigc.plugins.datasets import digit_quality
    from aigc.plugins.diffusion import evaluation as diffusion_eval
    from aigc.plugins.gan import evaluation as gan_eval

    assert diffusion_eval.digit_quality is gan_eval.digit_quality is digit_quality.digit_quality


def test_evaluate_refuses_a_holdout_as_large_as_the_data(trained: Trained) -> None:
    error = refused_job(trained, "evaluate", {"data": str(trained.folder), "holdout": DIGITS})
    assert error == "holdout 256 leaves none of the 256 digits for the real sample"


def test_bundled_default_meets_its_quality_targets_on_500_digits(tmp_path: Path, mnist_dir: Path) -> None:
    """Scored against digits it never trained on (the test subset is MNIST digits 6,000-7,999; the default
    trained on the first 6,000), at the default steps and guidance."""
    params = {"data": str(mnist_dir), "samples": 500, "holdout": 1000, "seed": 0}
    outcome = run_job("diffusion", "evaluate", params, tmp_path)
    assert outcome.job.status == "succeeded", outcome.job.error
    summary = outcome.summary
    assert summary["model"] == "default"
    assert summary["confident"] >= 0.9 and summary["coverage"] >= 0.97 and summary["digit_accuracy"] >= 0.9


# -- the CLI and a worker ----------------------------------------------------------------------
def test_plugins_show_lists_every_param_with_its_limits() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "aigc.cli", "plugins", "show", "diffusion", "--json"], capture_output=True, text=True
    )
    assert shown.returncode == 0, shown.stderr
    schema = json.loads(shown.stdout)
    assert schema["name"] == "diffusion" and schema["modality"] == "image"
    text = json.dumps(schema)
    for name in ("epochs", "channels", "label_dropout", "ema", "steps", "guidance", "pipeline", "samples", "holdout"):
        assert f'"{name}"' in text, name


def test_runs_on_a_celery_worker_as_it_runs_embedded(trained: Trained, tmp_path: Path, redis_db: int) -> None:
    """Train, generate and evaluate on a real worker: the worker's digits are byte-identical to embedded ones."""
    from worker_fixtures import Cluster

    from aigc.core.jobs import Submission, create_job, start
    from aigc.core.plugin import JobKind
    from aigc.core.store import Store

    cluster = Cluster(tmp_path / "cluster", redis_db)
    try:
        cluster.start("--gpus", "none", "--queues", "gpu,cpu", "--concurrency", "1", name="worker")
        store = Store(cluster.settings)
        train = create_job(
            store, Submission(JobKind.train, "diffusion", {**TINY, "epochs": 1, "data": str(trained.folder)})
        )
        assert train.queue == "gpu"
        start(store, [train])
        done = cluster.wait_status(train.id, "succeeded", "failed", timeout=300)
        assert done.status == "succeeded", (done.error, cluster.log_of(cluster.processes[0][0])[-3000:])
        params = {"n": 5, "seed": 4, **FEW}
        generate = create_job(store, Submission(JobKind.generate, "diffusion", params))
        evaluate = create_job(
            store,
            Submission(
                JobKind.evaluate, "diffusion", {"data": str(trained.folder), "samples": 16, "holdout": HOLDOUT, **FEW}
            ),
        )
        start(store, [generate, evaluate])
        for queued in (generate, evaluate):
            finished = cluster.wait_status(queued.id, "succeeded", "failed", timeout=300)
            assert finished.status == "succeeded", finished.error
        results, _ = cluster.outputs(generate.id)
        embedded = run_job("diffusion", "generate", params, settings=replace(cluster.settings, broker_url=None))
        assert [unlabelled(r.data) for r in results] == [unlabelled(r.data) for r in embedded.results]
        assert cluster.job(evaluate.id).summary["model"] == cluster.job(generate.id).model_id != "default"
    finally:
        cluster.close()


def test_the_web_gallery_shows_its_digits_and_their_provenance(trained: Trained) -> None:
    from fastapi.testclient import TestClient

    from aigc.cli.serve import create_app

    outcome = job(trained, "generate", {"n": 6, "seed": 8, **FEW})
    job_id = outcome.job.id
    with TestClient(create_app(trained.outcome.settings), base_url="http://127.0.0.1") as client:
        page = client.get(f"/jobs/{job_id}")
        assert page.status_code == 200
        for result in outcome.items:
            assert f'<img src="/api/jobs/{job_id}/results/{result.index}"' in page.text
        png = client.get(f"/api/jobs/{job_id}/results/{outcome.items[2].index}")
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        assert png.content == outcome.items[2].data
        detail = client.get(f"/jobs/{job_id}/results/{outcome.items[2].index}")
        assert detail.status_code == 200 and "guidance" in detail.text and str(outcome.items[2].seed) in detail.text
