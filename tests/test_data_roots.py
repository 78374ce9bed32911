"""Files a job may read: `AIGC_DATA_ROOTS` confines every path param (data=, corpus=, prompts_file=...) once
`..`, `~` and symlinks are resolved; `aigc serve` takes none from its clients while it is unset, and a
worker with roots refuses a job that names a file outside them, whoever queued it."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from conftest import cli, env_for, write_module
from fastapi.testclient import TestClient
from worker_fixtures import Cluster

from aigc.cli.serve import create_app
from aigc.core.errors import InvalidParams
from aigc.core.jobs import Submission, create_job, start
from aigc.core.params import path_params
from aigc.core.plugin import JobKind
from aigc.core.store import Store, queries
from aigc.core.testing import submit
from aigc.plugins.datasets.mnist import load_mnist, write_idx


def job_count(settings) -> int:
    with Store(settings).transaction() as session:
        return len(queries.list_jobs(session, limit=10_000))


@pytest.fixture
def layout(tmp_path: Path, mnist_dir: Path) -> dict[str, Path]:
    """A data root holding 16 digits, a folder beside it holding the same, and a symlink from one to the other."""
    roots, elsewhere = tmp_path / "roots", tmp_path / "elsewhere"
    roots.mkdir()
    elsewhere.mkdir()
    digits = load_mnist(mnist_dir, labels=False).images[:16]
    inside = write_idx(roots / "digits-idx3-ubyte", digits)
    outside = write_idx(elsewhere / "digits-idx3-ubyte", digits)
    (roots / "link").symlink_to(elsewhere)
    (elsewhere / "secret.txt").write_text("s3cret\n")
    return {"roots": roots, "inside": inside, "outside": outside, "elsewhere": elsewhere}


def reconstruct(data: str) -> dict[str, object]:
    return {"kind": "generate", "plugin": "vae", "params": {"mode": "reconstruct", "n": 1, "data": data}}


def test_path_params_are_marked_in_the_params_models():
    from aigc.plugins.gan.params import TrainParams as GanTrain
    from aigc.plugins.text.params import EvaluateParams as TextEvaluate
    from aigc.plugins.text.params import GenerateParams as TextGenerate
    from aigc.plugins.text.params import TrainParams as TextTrain
    from aigc.plugins.vae.params import GenerateParams as VaeGenerate

    assert set(path_params(GanTrain)) == {"data"}
    assert set(path_params(VaeGenerate)) == {"data"}
    assert set(path_params(TextTrain)) == {"corpus", "validation", "base"} and path_params(TextTrain)["base"].hub_names
    assert set(path_params(TextGenerate)) == {"prompts_file"}
    assert set(path_params(TextEvaluate)) == {"corpus"}
    assert TextTrain.model_json_schema()["properties"]["corpus"]["format"] == "path"


def test_without_roots_the_server_takes_no_path_params(sqlite_settings, layout, monkeypatch):
    monkeypatch.delenv("AIGC_DATA_ROOTS", raising=False)
    with TestClient(create_app(sqlite_settings), base_url="http://127.0.0.1") as client:
        refused = client.post("/api/jobs", json=reconstruct("/etc/passwd"))
        assert refused.status_code == 422
        assert refused.json()["detail"] == (
            "invalid param 'data' for vae generate: this server reads no files for its clients; "
            "its operator can allow folders with AIGC_DATA_ROOTS"
        )
        form = client.post("/plugins/gan/train", data={"data": str(layout["inside"]), "epochs": "1"})
        assert form.status_code == 422 and "this server reads no files for its clients" in form.text
        # Params that name no file are taken as before.
        assert (
            client.post("/api/jobs", json={"kind": "generate", "plugin": "toy", "params": {"n": 1}}).status_code == 201
        )
    assert job_count(sqlite_settings) == 1


def test_with_roots_the_server_takes_paths_inside_them_only(sqlite_settings, layout, monkeypatch):
    roots = layout["roots"]
    monkeypatch.setenv("AIGC_DATA_ROOTS", f"{roots}{os.pathsep}/nonexistent/other-root")
    with TestClient(create_app(sqlite_settings), base_url="http://127.0.0.1") as client:
        accepted = client.post("/api/jobs", json=reconstruct(str(layout["inside"])))
        assert accepted.status_code == 201, accepted.text
        escapes = {
            str(layout["outside"]): str(layout["outside"]),
            f"{roots}/../elsewhere/digits-idx3-ubyte": f"{roots}/../elsewhere/digits-idx3-ubyte",
            f"{roots}/link/digits-idx3-ubyte": f"{roots}/link/digits-idx3-ubyte",  # a symlink out of the root
            "/etc/passwd": "/etc/passwd",
            "relative/digits": "relative/digits",  # relative to the server's folder, which is no root
        }
        for given, shown in escapes.items():
            refused = client.post("/api/jobs", json=reconstruct(given))
            assert refused.status_code == 422, given
            assert refused.json()["detail"] == (
                f"invalid param 'data' for vae generate: '{shown}' is outside the data roots "
                f"({roots}, /nonexistent/other-root); AIGC_DATA_ROOTS lists the folders jobs may read"
            )
        # A glob whose literal part is inside, but whose matches are not.
        glob = client.post(
            "/api/jobs", json={"kind": "train", "plugin": "text", "params": {"corpus": f"{roots}/*/secret.txt"}}
        )
        assert glob.status_code == 422
        assert f"'{layout['roots']}/link/secret.txt' is outside the data roots" in glob.json()["detail"]
        # A hub name is a model name, not a file (the check that follows fails: no such model offline).
        hub = client.post(
            "/api/jobs",
            json={
                "kind": "train",
                "plugin": "text",
                "params": {"corpus": str(layout["inside"]), "base": "no-org/none"},
            },
        )
        assert hub.status_code == 422 and "outside the data roots" not in hub.json()["detail"]
    assert job_count(sqlite_settings) == 1


def test_a_rerun_from_the_server_is_checked_like_a_new_job(sqlite_settings, layout, monkeypatch):
    monkeypatch.delenv("AIGC_DATA_ROOTS", raising=False)
    old = submit(sqlite_settings, "vae", "generate", reconstruct(str(layout["outside"]))["params"], check_here=False)
    with TestClient(create_app(sqlite_settings), base_url="http://127.0.0.1") as client:
        assert client.post(f"/api/jobs/{old}/rerun").status_code == 422
    assert job_count(sqlite_settings) == 1


def test_the_cli_confines_paths_too_when_roots_are_set(sqlite_settings, layout):
    env = env_for(sqlite_settings, AIGC_DATA_ROOTS=str(layout["roots"]))
    params = ["-p", "mode=reconstruct", "-p", "n=1"]
    done = cli(
        sqlite_settings, "submit", "generate", "--plugin", "vae", *params, "-p", f"data={layout['outside']}", env=env
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"error: invalid param 'data' for vae generate: '{layout['outside']}' is outside the data roots "
        f"({layout['roots']}); AIGC_DATA_ROOTS lists the folders jobs may read"
    )
    inside = cli(
        sqlite_settings, "submit", "generate", "--plugin", "vae", *params, "-p", f"data={layout['inside']}", env=env
    )
    assert inside.returncode == 0, inside.stderr
    # Unset, the command line reads what its user can.
    assert (
        cli(
            sqlite_settings, "submit", "generate", "--plugin", "vae", *params, "-p", f"data={layout['outside']}"
        ).returncode
        == 0
    )
    bad = cli(sqlite_settings, "config", env=env_for(sqlite_settings, AIGC_DATA_ROOTS="data"))
    assert bad.returncode == 2 and bad.stderr.startswith(
        "error: AIGC_DATA_ROOTS='data' is not valid (not absolute); accepted: absolute folders, separated by ':'"
    )


def test_the_machine_that_runs_a_job_checks_its_paths_before_each_attempt(tmp_path, layout, monkeypatch):
    monkeypatch.delenv("AIGC_DATA_ROOTS", raising=False)
    from aigc.core.runner import run_job as run_attempt
    from aigc.core.testing import outcome_of, temporary_settings

    settings = temporary_settings(tmp_path / "store")
    job_id = submit(settings, "vae", "generate", reconstruct(str(layout["outside"]))["params"])  # no roots here
    monkeypatch.setenv("AIGC_DATA_ROOTS", str(layout["roots"]))  # the runner's machine has them
    run_attempt(job_id, settings=settings)
    outcome = outcome_of(settings, job_id)
    assert outcome.job.status == "failed" and outcome.results == []
    assert outcome.job.error.startswith(f"invalid param 'data' for vae generate: '{layout['outside']}' is outside")


READER = '''
"""wread: reads one file named by a path param, for the data-roots test."""

from pydantic import Field

from aigc.core.plugin_api import DataPath, JobParams, Modality, Plugin


class Read(JobParams):
    path: DataPath = Field(description="a text file")


class WRead(Plugin):
    name = "wread"
    modality = Modality.text
    description = "reads a file"
    queue = "cpu"
    GenerateParams = Read

    def generate(self, ctx, params):
        with open(params.path) as handle:
            ctx.add_text(handle.read(), seed=ctx.seed)
'''


def test_a_worker_with_roots_refuses_a_queued_job_naming_a_file_outside_them(cluster: Cluster, layout):
    write_module(cluster.root / "plugins" / "wread.py", textwrap.dedent(READER))
    (layout["roots"] / "ok.txt").write_text("fine\n")
    store = Store(cluster.settings)
    # Queued by someone who may queue jobs; the worker reads with its own rights, so it decides.
    jobs = [
        create_job(store, Submission(JobKind.generate, "wread", {"path": str(path)}))
        for path in (layout["roots"] / "ok.txt", layout["elsewhere"] / "secret.txt")
    ]
    start(store, jobs)
    cluster.start("--gpus", "none", AIGC_DATA_ROOTS=str(layout["roots"]))
    read = cluster.wait_status(jobs[0].id, "succeeded", "failed")
    assert read.status == "succeeded", read.error
    assert [r.text for r in cluster.outputs(jobs[0].id)[0]] == ["fine\n"]
    refused = cluster.wait_status(jobs[1].id, "succeeded", "failed")
    assert refused.status == "failed" and cluster.outputs(jobs[1].id)[0] == []
    assert refused.error == (
        f"invalid param 'path' for wread generate: '{layout['elsewhere'] / 'secret.txt'}' is outside the "
        f"data roots ({layout['roots']}); AIGC_DATA_ROOTS lists the folders jobs may read"
    )


def test_check_paths_refuses_what_a_glob_or_hub_name_could_smuggle(layout, monkeypatch):
    from aigc.core.data_roots import check_paths
    from aigc.core.registry import get_plugin
    from aigc.plugins.text.params import TrainParams

    monkeypatch.setenv("AIGC_DATA_ROOTS", str(layout["roots"]))
    text = get_plugin("text", ())
    ok = TrainParams(corpus=f"{layout['roots']}/*.txt", base="gpt2")
    check_paths(text, JobKind.train, ok)
    for corpus in (f"{layout['roots']}/../elsewhere/*.txt", f"{layout['roots']}/*/*.txt", "~/*.txt"):
        with pytest.raises(InvalidParams, match="is outside the data roots"):
            check_paths(text, JobKind.train, TrainParams(corpus=corpus))
    with pytest.raises(InvalidParams, match="is outside the data roots"):
        check_paths(text, JobKind.train, TrainParams(corpus=str(layout["inside"]), base=str(layout["elsewhere"])))
    monkeypatch.delenv("AIGC_DATA_ROOTS")
    check_paths(text, JobKind.train, TrainParams(corpus="/etc/passwd"))  # unset, and not remote: as before
    with pytest.raises(InvalidParams, match="this server reads no files"):
        check_paths(text, JobKind.train, TrainParams(corpus="/etc/passwd"), remote=True)
