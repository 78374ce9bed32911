"""The third-party example plugin, examples/aigc-markov: built and installed by pip (into a folder on
PYTHONPATH), found through its entry point, shown with every param, run end to end in-process, passes
its own tests, and runs the same way on a real Celery worker."""

from __future__ import annotations

import importlib.util
import inspect
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import cli, env_for
from worker_fixtures import Cluster

from aigc.core.artifacts import load_tensors
from aigc.core.registry import discover
from aigc.core.testing import run_job

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "aigc-markov"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`pip install --target`: a real build of the example's pyproject (entry point, package data)."""
    root = tmp_path_factory.mktemp("markov")
    source = root / "aigc-markov"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(root / "site"),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (root / "site" / "aigc_markov" / "default.safetensors").is_file()  # package data shipped
    return root / "site"


@pytest.fixture
def installed(site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The example visible to this process, as if pip had installed it here; the registry rescans."""
    monkeypatch.syspath_prepend(str(site))
    discover.cache_clear()
    yield site
    discover.cache_clear()
    for module in [m for m in sys.modules if m.split(".")[0] in ("aigc_markov", "markov_own_tests")]:
        monkeypatch.delitem(sys.modules, module)


def model_tensors(outcome: Any) -> dict[str, torch.Tensor]:
    """The tensors of the one model a train job registered, read from the artifact store."""
    [model] = outcome.models
    return load_tensors(outcome.settings.artifacts / model.sha256[:2] / f"{model.sha256}.safetensors")[0]


SHOW = """
import sys
from aigc.cli.main import main
try:
    main(sys.argv[1:])
finally:
    print("HEAVY", sorted(m for m in ("torch", "transformers") if m in sys.modules), file=sys.stderr)
"""


def test_listed_through_its_entry_point_and_shown_with_every_param(sqlite_settings, installed: Path) -> None:
    entry = discover()["markov"]  # what `aigc plugins` lists
    assert entry.ok, entry.error
    assert entry.package == "aigc-markov"
    assert entry.source == "aigc-markov 0.1.0 (entry point aigc_markov:MarkovPlugin)"

    env = env_for(sqlite_settings, PYTHONPATH=str(installed), COLUMNS="200")

    shown = subprocess.run(
        [sys.executable, "-c", SHOW, "plugins", "show", "markov"], env=env, capture_output=True, text=True, timeout=120
    )
    assert shown.returncode == 0, shown.stderr
    assert "HEAVY []" in shown.stderr  # showing a plugin imports neither torch nor transformers
    lines = [" ".join(line.split()) for line in shown.stdout.splitlines()]
    assert lines[0].startswith("markov (text, queue cpu): Character-level Markov chain")
    train = lines[lines.index("aigc submit train --plugin markov -p key=value") :]
    assert "corpus str required a UTF-8 text file to build the chain from" in train
    assert "order int 4 1≤x≤8 characters of context the chain looks back on" in train
    generate = lines[lines.index("aigc submit generate --plugin markov -p key=value") :]
    assert "temperature float 1.0 0<x≤10 below 1 favours frequent continuations, above 1 flattens them" in generate
    assert "n int 3 1≤x≤100 how many texts to write" in generate
    schema = json.loads(cli(sqlite_settings, "plugins", "show", "markov", "--json", env=env).stdout)
    assert schema["queue"] == "cpu" and schema["bundled_model"] == "default.safetensors"
    assert schema["params"]["train"]["required"] == ["corpus"]
    assert schema["params"]["train"]["properties"]["order"]["maximum"] == 8


def ngram_counts(tensors: dict[str, torch.Tensor]) -> dict[str, int]:
    """Every context + next character a chain counted, as a string, with its count: comparable between
    chains of different vocabularies. A pair code of order j is the j + 1 ids' base-V number (chain.py)."""
    vocab = [chr(point) for point in tensors["vocab"].tolist()]
    counted: dict[str, int] = {}
    j = 0
    while f"pairs.{j}" in tensors:
        for code, count in zip(tensors[f"pairs.{j}"].tolist(), tensors[f"counts.{j}"].tolist(), strict=False):
            chars = []
            for _ in range(j + 1):
                code, last = divmod(code, len(vocab))
                chars.append(vocab[last])
            counted["".join(reversed(chars))] = count
        j += 1
    return counted


def test_end_to_end_embedded_agrees_with_the_bundled_model(installed: Path, tmp_path: Path, shakespeare: Path) -> None:
    """Trained on the first 99,843 characters of Tiny Shakespeare; the bundled model was counted from its
    first 903,469 (the example's README rebuilds it exactly from the whole file)."""
    corpus = {"corpus": str(shakespeare)}
    trained = run_job("markov", "train", {**corpus, "order": 3, "seed": 0}, tmp_path)
    assert trained.job.status == "succeeded", trained.job.error
    [model] = trained.models
    assert model.config == {"order": 3, "vocab_size": 61, "train_chars": 89_859}
    # The bundled model's training text begins with this one: it saw every context + character seen
    # here, at least as often, and counted its own text to the last character.
    ours = ngram_counts(model_tensors(trained))
    shipped, metadata = load_tensors(installed / "aigc_markov" / "default.safetensors")
    theirs, config = ngram_counts(shipped), json.loads(metadata["config"])
    assert config.keys() == model.config.keys() and config["order"] == 3
    assert [gram for gram, count in ours.items() if theirs.get(gram, 0) < count] == []
    assert sum(count for gram, count in theirs.items() if len(gram) == 1) == config["train_chars"] > 89_859
    curve = [value for key, _, value in trained.metrics if key == "val/bits_per_char"]
    assert len(curve) == 4 and curve == sorted(curve, reverse=True)
    assert trained.summary["val_bits_per_char"] == pytest.approx(2.33, abs=0.01)

    scored = run_job("markov", "evaluate", corpus, tmp_path)
    assert scored.summary["bits_per_char"] == trained.summary["val_bits_per_char"]
    assert scored.summary["baseline_bits_per_char"] == pytest.approx(4.80, abs=0.01)
    assert scored.summary["unknown_chars"] == 0

    params = {"n": 2, "length": 300, "prompt": "ROMEO:", "seed": 42}
    first, again = (run_job("markov", "generate", params, tmp_path) for _ in range(2))
    assert [r.text for r in first.items] == [r.text for r in again.items]
    assert [r.seed for r in first.items] == [42, 43]
    assert all(r.text.startswith("ROMEO:") and len(r.text) == 306 for r in first.items)
    assert first.items[0].text != first.items[1].text
    words = set(shakespeare.read_text().split())
    written = first.items[0].text.split()
    assert sum(w in words for w in written) / len(written) > 0.6  # mostly real words at order 3


def test_a_retried_train_resumes_from_its_last_checkpoint(installed: Path, tmp_path: Path) -> None:
    """The first attempt dies while counting order 2 (raised from the runner's progress hook); the retry
    skips the orders the checkpoints hold, and the model is the one a run without a failure builds."""
    from aigc.core.runner import run_job as run_in_process
    from aigc.core.testing import outcome_of, submit, temporary_settings

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("peter piper picked a peck of pickled peppers.\n" * 300)
    params = {"corpus": str(corpus), "order": 3}
    settings = temporary_settings(tmp_path / "store")
    job_id = submit(settings, "markov", "train", params, retries=1)

    def die_in_order_2(report: Any) -> None:
        if report.info.get("order") == 2:
            raise RuntimeError("the worker died")

    assert run_in_process(job_id, settings=settings, on_progress=die_in_order_2) == "queued"
    time.sleep(2.1)  # the retry's backoff
    counted: list[Any] = []
    assert (
        run_in_process(job_id, settings=settings, on_progress=lambda r: counted.append(r.info["order"])) == "succeeded"
    )
    assert counted == [2, 3]  # orders 0 and 1 came from the first attempt's checkpoints
    resumed = outcome_of(settings, job_id)
    assert resumed.job.attempts == 2
    assert [step for key, step, _ in resumed.metrics if key == "train/pairs"] == [0, 1, 2, 3]

    straight = run_job("markov", "train", params, tmp_path / "straight")
    first, second = (model_tensors(outcome) for outcome in (resumed, straight))
    assert first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


def test_passes_its_own_tests(installed: Path, tmp_path: Path) -> None:
    path = EXAMPLE / "tests" / "test_markov.py"
    spec = importlib.util.spec_from_file_location("markov_own_tests", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tests = {name: fn for name, fn in vars(module).items() if name.startswith("test_")}
    assert len(tests) == 4
    for name, test in tests.items():
        assert list(inspect.signature(test).parameters) == ["tmp_path"], name
        (tmp_path / name).mkdir()
        test(tmp_path / name)


def test_runs_on_a_celery_worker_as_it_runs_embedded(installed: Path, tmp_path: Path, redis_db: int) -> None:
    """Found by the worker through the same entry point; the bundled model writes the same texts there."""
    from aigc.core.jobs import Submission, create_job, start
    from aigc.core.plugin import JobKind
    from aigc.core.store import Store

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("she sells sea shells by the sea shore.\n" * 200)
    params = {"n": 2, "length": 120, "seed": 9}
    embedded = run_job("markov", "generate", params, tmp_path / "embedded")

    cluster = Cluster(tmp_path / "cluster", redis_db, PYTHONPATH=str(installed))
    try:
        cluster.start("--gpus", "none", "--concurrency", "1", name="worker")
        store = Store(cluster.settings)
        jobs = [
            create_job(store, Submission(JobKind.generate, "markov", params)),
            create_job(store, Submission(JobKind.train, "markov", {"corpus": str(corpus), "order": 2})),
        ]
        assert {job.queue for job in jobs} == {"cpu"}  # the plugin's `queue`
        start(store, jobs)
        for job in jobs:
            done = cluster.wait_status(job.id, "succeeded", "failed", timeout=120)
            assert done.status == "succeeded", (done.error, cluster.log_of(cluster.processes[0][0])[-3000:])
        results, _ = cluster.outputs(jobs[0].id)
        assert [r.text for r in results] == [r.text for r in embedded.items]
        assert cluster.job(jobs[0].id).worker != embedded.job.worker

        evaluate = create_job(store, Submission(JobKind.evaluate, "markov", {"corpus": str(corpus)}))
        start(store, [evaluate])
        scored = cluster.wait_status(evaluate.id, "succeeded", "failed", timeout=60)
        assert scored.status == "succeeded", scored.error
        assert scored.summary["model"] != "default"  # the model the worker just trained
        assert scored.summary["bits_per_char"] < 0.5
    finally:
        cluster.close()
