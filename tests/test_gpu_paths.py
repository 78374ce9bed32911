"""The parts of the GPU path that run on any machine: precision resolution and autocast, warm models,
data placement, and generate jobs that store their results as they go."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from aigc.core.artifacts import sha256_of
from aigc.core.device_data import device_data_limit, place_data
from aigc.core.errors import UsageError
from aigc.core.precision import MixedPrecision, precision_for, resolve_precision
from aigc.core.testing import run_job
from aigc.core.warm_models import Limit, ModelCache, nbytes


# -- precision ---------------------------------------------------------------------------------
def test_auto_is_fp32_off_cuda_and_each_precision_is_checked_against_the_device() -> None:
    assert resolve_precision("auto", "cpu") == "fp32"
    assert resolve_precision("bf16", "cpu") == "bf16"
    assert resolve_precision("fp32", "cuda:0") == "fp32"
    with pytest.raises(UsageError, match="precision=fp16 needs a CUDA device, not cpu; use bf16 or fp32"):
        resolve_precision("fp16", "cpu")
    with pytest.raises(UsageError, match="not one of auto, fp32, bf16, fp16"):
        resolve_precision("fp8", "cpu")


def test_bf16_autocast_computes_in_bf16_and_fp32_as_written() -> None:
    a, b = torch.randn(8, 8), torch.randn(8, 8)
    with precision_for("bf16", "cpu").autocast():
        assert (a @ b).dtype == torch.bfloat16
    with precision_for("fp32", "cpu").autocast():
        assert (a @ b).dtype == torch.float32
    assert precision_for("bf16", "cpu").scaler is None


def test_backward_and_step_steps_the_optimiser_and_calls_the_clip_hook() -> None:
    layer = torch.nn.Linear(3, 1)
    before = layer.weight.detach().clone()
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    clipped = []
    amp = MixedPrecision("bf16", "cpu")
    with amp.autocast():
        loss = layer(torch.ones(2, 3)).float().pow(2).mean()
    amp.backward_and_step(loss, optimizer, lambda: clipped.append(True))
    assert clipped == [True] and not torch.equal(before, layer.weight)


@pytest.fixture(scope="module")
def gan_digits(tmp_path_factory: pytest.TempPathFactory, mnist_dir: Path) -> Path:
    from aigc.plugins.datasets.mnist import load_mnist, write_idx

    folder = tmp_path_factory.mktemp("digits")
    data = load_mnist(mnist_dir)
    assert data.labels is not None
    write_idx(folder / "train-images-idx3-ubyte.gz", data.images[:192])
    write_idx(folder / "train-labels-idx1-ubyte.gz", data.labels[:192])
    return folder


TINY_GAN = {"latent_size": 8, "g_channels": 8, "d_channels": 8, "batch_size": 64, "holdout": 64, "epochs": 1}


@pytest.mark.parametrize("plugin", ["gan", "vae"])
def test_precision_is_recorded_in_the_job_and_the_model(plugin: str, gan_digits: Path, tmp_path: Path) -> None:
    params: dict[str, object]
    if plugin == "gan":
        params = {**TINY_GAN, "calibrate": False}
    else:
        params = {
            "epochs": 1,
            "batch_size": 64,
            "test": 0,
            "holdout": 64,
            "channels": 4,
            "hidden": 16,
            "latent_size": 4,
        }
    trained = run_job(plugin, "train", {**params, "data": str(gan_digits), "precision": "bf16"}, tmp_path)
    assert trained.job.status == "succeeded", trained.job.error
    assert trained.summary["precision"] == "bf16"
    (model,) = trained.models
    assert model.config["precision"] == "bf16"
    generated = run_job(plugin, "generate", {"n": 4, "precision": "auto"}, settings=trained.settings)
    assert generated.job.status == "succeeded", generated.job.error
    assert generated.summary["precision"] == "fp32" and len(generated.items) == 4


def test_text_records_precision_too(shakespeare: Path, tmp_path: Path) -> None:
    params = {
        "corpus": str(shakespeare),
        "tokenizer": "char",
        "n_layer": 1,
        "n_head": 2,
        "n_embd": 16,
        "context": 16,
        "batch_size": 4,
        "steps": 3,
        "eval_every": 3,
        "eval_batches": 1,
        "warmup_steps": 1,
        "precision": "bf16",
    }
    trained = run_job("text", "train", params, tmp_path)
    assert trained.job.status == "succeeded", trained.job.error
    assert trained.summary["precision"] == "bf16" and trained.models[0].config["precision"] == "bf16"
    generated = run_job(
        "text", "generate", {"prompt": "RO", "max_new_tokens": 4, "precision": "bf16"}, settings=trained.settings
    )
    assert generated.job.status == "succeeded", generated.job.error
    assert generated.summary["precision"] == "bf16"


def test_fp16_on_a_cpu_fails_the_job_in_one_line(tmp_path: Path) -> None:
    outcome = run_job("gan", "generate", {"n": 2, "precision": "fp16", "device": "cpu"}, tmp_path)
    assert outcome.job.status == "failed"
    assert outcome.job.error == "precision=fp16 needs a CUDA device, not cpu; use bf16 or fp32"


# -- warm models --------------------------------------------------------------------------------
def test_limit_reads_a_count_or_a_size() -> None:
    assert Limit.parse("2") == Limit(2, None)
    assert Limit.parse("1500MB") == Limit(None, 1500) == Limit.parse("1500 MB")
    assert Limit.parse("0").off
    with pytest.raises(ValueError):
        Limit.parse("lots")


def test_cache_keeps_the_most_recently_used_models_within_its_count() -> None:
    cache = ModelCache(Limit(2, None))
    loads: list[str] = []

    def loader(name: str):  # type: ignore[no-untyped-def]
        return lambda: loads.append(name) or torch.nn.Linear(2, 2)

    a = cache.get_or_load(("a", "cpu", "fp32"), loader("a"))
    assert cache.get_or_load(("a", "cpu", "fp32"), loader("a")) is a
    cache.get_or_load(("a", "cpu", "bf16"), loader("a-bf16"))  # precision is part of the key
    cache.get_or_load(("a", "cpu", "fp32"), loader("a"))  # a is now the most recent
    cache.get_or_load(("b", "cpu", "fp32"), loader("b"))  # evicts a-bf16, the least recent
    assert loads == ["a", "a-bf16", "b"]
    assert cache.keys() == [("a", "cpu", "fp32"), ("b", "cpu", "fp32")]
    assert (cache.hits, cache.misses) == (2, 3)


def test_cache_bounded_by_size_drops_the_oldest_and_never_keeps_a_model_larger_than_itself() -> None:
    cache = ModelCache(Limit(None, 1))  # 1 MB
    cache.get_or_load(("small", "cpu", "fp32"), lambda: torch.nn.Linear(200, 200))  # 160 KB
    cache.get_or_load(("small2", "cpu", "fp32"), lambda: torch.nn.Linear(200, 200))
    assert len(cache.keys()) == 2 and cache.total_bytes() == 2 * nbytes(torch.nn.Linear(200, 200))
    cache.get_or_load(("big", "cpu", "fp32"), lambda: torch.nn.Linear(1000, 1000))  # 4 MB
    assert cache.keys() == []
    off = ModelCache(Limit(0, None))
    off.get_or_load(("a", "cpu", "fp32"), lambda: torch.nn.Linear(2, 2))
    assert off.keys() == []


def test_back_to_back_generate_jobs_reuse_the_loaded_model(tmp_path: Path) -> None:
    from aigc.core.warm_models import model_cache

    first = run_job("vae", "generate", {"n": 2, "seed": 1}, tmp_path)
    misses = model_cache().misses
    second = run_job("vae", "generate", {"n": 2, "seed": 1}, settings=first.settings)
    assert model_cache().misses == misses  # no load: the model came from the cache
    assert first.outputs == second.outputs


def test_a_changed_file_is_hashed_again(tmp_path: Path) -> None:
    file = tmp_path / "weights.bin"
    file.write_bytes(b"a" * 100)
    before = sha256_of(file)
    assert sha256_of(file) == before
    with open(file, "r+b") as handle:  # same size, new bytes
        handle.write(b"b")
    assert sha256_of(file) != before


# -- data on the device ----------------------------------------------------------------------------
def test_data_stays_where_it_is_used_on_a_cpu() -> None:
    data = torch.arange(10)
    assert device_data_limit("cpu") is None
    assert place_data(data, "cpu").device.type == "cpu"


# -- generate at scale -------------------------------------------------------------------------------
@pytest.mark.parametrize("plugin", ["gan", "vae"])
def test_large_generate_stores_every_digit_once_in_batches(plugin: str, tmp_path: Path) -> None:
    from aigc.plugins.gan import generation as gan_generation
    from aigc.plugins.vae import generation as vae_generation

    module = gan_generation if plugin == "gan" else vae_generation
    n = module.STORE_EVERY + 7  # one commit mid-way, the rest at the end
    outcome = run_job(plugin, "generate", {"n": n, "seed": 3}, tmp_path)
    assert outcome.job.status == "succeeded", outcome.job.error
    assert [r.index for r in outcome.items] == list(range(n))
    assert outcome.items[-1].seed == 3 + n - 1
    assert outcome.job.checkpoint_sha256 is not None  # the mid-way commit
    (grid,) = [r for r in outcome.results if r.role == "grid"]
    assert grid.index == n
