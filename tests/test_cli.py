"""The `aigc` command as a user runs it: real subprocesses against a real store."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
from conftest import cli, env_for
from PIL import Image

from aigc.core.store import Store, queries


def job_count(settings) -> int:
    with Store(settings).transaction() as session:
        return len(queries.list_jobs(session, limit=10_000))


def test_submit_runs_embedded_and_reports(settings, tmp_path):
    done = cli(settings, "submit", "generate", "--plugin", "toy", "-p", "n=6", "-p", "seed=1")
    assert done.returncode == 0, done.stderr
    assert "job 1 succeeded: toy generate, 6 items" in done.stderr
    out = tmp_path / "out"
    written = cli(settings, "results", "1", "--out", str(out))
    assert written.returncode == 0, written.stderr
    assert sorted(p.name for p in out.iterdir()) == [f"{i:05d}.png" for i in range(6)] + ["grid.png"]
    assert Image.open(out / "00000.png").size == (8, 8)
    assert Image.open(out / "grid.png").size == (32, 22)  # 3 x 2 tiles of 8 px with 2 px gaps


def test_json_everywhere(sqlite_settings):
    job = json.loads(cli(sqlite_settings, "submit", "generate", "--plugin", "toy", "--json").stdout)
    assert job["status"] == "succeeded" and job["params"]["n"] == 4
    listed = json.loads(cli(sqlite_settings, "jobs", "list", "--json").stdout)
    assert [j["id"] for j in listed] == [job["id"]]
    shown = json.loads(cli(sqlite_settings, "jobs", "show", str(job["id"]), "--json").stdout)
    assert shown["seed"] == job["seed"]
    results = json.loads(cli(sqlite_settings, "results", str(job["id"]), "--json").stdout)
    assert [r["mime"] for r in results] == ["image/png"] * 4
    models = json.loads(cli(sqlite_settings, "models", "--json").stdout)
    assert isinstance(models, list)


def test_jobs_list_filters_and_show(sqlite_settings):
    cli(sqlite_settings, "submit", "generate", "--plugin", "toy")
    cli(sqlite_settings, "submit", "generate", "--plugin", "toy", "-p", "fail=true")
    failed = json.loads(cli(sqlite_settings, "jobs", "list", "--status", "failed", "--json").stdout)
    assert [j["id"] for j in failed] == [2]
    assert json.loads(cli(sqlite_settings, "jobs", "list", "--plugin", "chatter", "--json").stdout) == []
    shown = cli(sqlite_settings, "jobs", "show", "2")
    assert "RuntimeError: toy failure on purpose" in shown.stdout


def test_text_results_are_printed_and_streamed(sqlite_settings):
    done = cli(sqlite_settings, "submit", "generate", "--plugin", "chatter", "--prompt", "hi there", "-p", "n=2")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["hi there #0", "hi there #1"]


def test_train_then_models_then_export(sqlite_settings, tmp_path):
    assert cli(sqlite_settings, "submit", "train", "--plugin", "toy", "-p", "epochs=2").returncode == 0
    models = json.loads(cli(sqlite_settings, "models", "--plugin", "toy", "--json").stdout)
    assert [(m["id"], m["plugin"], m["source_job_id"]) for m in models] == [("1", "toy", 1)]
    bundled = json.loads(cli(sqlite_settings, "models", "--plugin", "gan", "--json").stdout)
    assert [(m["id"], m["bundled"]) for m in bundled] == [("default", True)]
    target = tmp_path / "exported.safetensors"
    done = cli(sqlite_settings, "models", "export", "1", str(target))
    assert done.returncode == 0, done.stderr
    from safetensors.torch import load_file

    assert load_file(target)["weight"].tolist() == [2.0, 2.0, 2.0, 2.0]
    evaluate = cli(sqlite_settings, "submit", "evaluate", "--plugin", "toy", "--model", "1")
    assert evaluate.returncode == 0 and "weight_sum: 8" in evaluate.stderr


def test_cancel_and_wait(sqlite_settings):
    env = env_for(sqlite_settings)
    runner = subprocess.Popen(
        [sys.executable, "-m", "aigc.cli", "submit", "generate", "--plugin", "toy", "-p", "n=400", "-p", "sleep=0.05"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for_status(sqlite_settings, 1, "running")
    waiter = subprocess.Popen(
        [sys.executable, "-m", "aigc.cli", "jobs", "wait", "1"], env=env, stderr=subprocess.PIPE, text=True
    )
    cancelled = cli(sqlite_settings, "jobs", "cancel", "1")
    assert cancelled.returncode == 0 and "will stop at its next progress point" in cancelled.stderr
    assert runner.wait(timeout=30) == 1
    assert waiter.wait(timeout=30) == 1
    assert "job 1 cancelled" in waiter.stderr.read()
    assert "cancelled" in cli(sqlite_settings, "jobs", "cancel", "1").stderr


def test_ctrl_c_during_embedded_job_ends_it_cancelled(settings):
    runner = subprocess.Popen(
        [sys.executable, "-m", "aigc.cli", "submit", "generate", "--plugin", "toy", "-p", "n=400", "-p", "sleep=0.05"],
        env=env_for(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for_status(settings, 1, "running")
    runner.send_signal(signal.SIGINT)
    code, stderr = runner.wait(timeout=30), runner.stderr.read()
    assert code == 130, stderr
    assert stderr.strip().endswith("error: interrupted")
    job = json.loads(cli(settings, "jobs", "show", "1", "--json").stdout)
    assert (job["status"], job["error"]) == ("cancelled", "interrupted (Ctrl-C)")
    assert json.loads(cli(settings, "results", "1", "--json").stdout) == []


def _wait_for_status(settings, job_id: int, status: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with Store(settings).transaction() as session:
            try:
                if queries.get_job(session, job_id).status == status:
                    return
            except Exception:
                pass
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never became {status}")


BAD_INPUT = [
    (["submit", "generate", "--plugin", "nope"], 2, "error: unknown plugin 'nope'; available: chatter, "),
    (
        ["submit", "generate", "--plugin", "toy", "-p", "colour=red"],
        2,
        "error: unknown param 'colour' for toy generate; accepted: seed",
    ),
    (
        ["submit", "generate", "--plugin", "toy", "-p", "n=many"],
        2,
        "error: invalid param 'n' for toy generate: Input should be a valid integer",
    ),
    (
        ["submit", "generate", "--plugin", "toy", "-p", "n=0"],
        2,
        "error: invalid param 'n' for toy generate: Input should be greater than or equal to 1 (got '0'); expected int, 1≤x≤10000",
    ),
    (["submit", "generate", "--plugin", "toy", "-p", "n"], 2, "error: param 'n' is not of the form key=value"),
    (["submit", "generate", "--plugin", "toy", "-p", "n=1", "-p", "n=2"], 2, "error: param 'n' is given twice"),
    (
        ["submit", "generate", "--plugin", "toy", "-p", "device=tpu"],
        2,
        "error: invalid param 'device' for toy generate: String should match pattern",
    ),
    (
        ["submit", "evaluate", "--plugin", "toy", "--model", "9"],
        2,
        "error: no toy model with id 9; see `aigc models --plugin toy`",
    ),
    (
        ["submit", "evaluate", "--plugin", "toy"],
        2,
        "error: plugin 'toy' has no trained model and no bundled one; train one first: aigc submit train --plugin toy",
    ),
    (
        ["submit", "generate", "--plugin", "toy", "--no-wait"],
        2,
        "error: --no-wait needs a broker (set AIGC_BROKER_URL)",
    ),
    (["jobs", "show", "abc"], 2, "error: malformed job id 'abc'; a job id is a positive integer such as 42"),
    (["jobs", "show", "-3"], 2, None),
    (["jobs", "show", "12345"], 2, "error: no job with id 12345"),
    (["jobs", "cancel", "12345"], 2, "error: no job with id 12345"),
    (
        ["jobs", "list", "--status", "lost"],
        2,
        "error: unknown status 'lost'; accepted: queued, running, succeeded, failed, cancelled",
    ),
    (["results", "12345", "--out", "x"], 2, "error: no job with id 12345"),
    (["plugins", "show", "nope"], 2, "error: unknown plugin 'nope'"),
    (["models", "export", "77", "out.safetensors"], 2, "error: no model with id 77; see `aigc models`"),
    (["models", "export", "default", "out.safetensors"], 2, "error: model 'default' needs --plugin NAME"),
    (["models", "export", "default", "out", "--plugin", "toy"], 2, "error: plugin 'toy' ships no bundled model"),
]


@pytest.mark.parametrize(("args", "code", "message"), BAD_INPUT, ids=[" ".join(a[:4]) for a, _, _ in BAD_INPUT])
def test_bad_input_gets_one_line_and_writes_nothing(sqlite_settings, args, code, message):
    done = cli(sqlite_settings, *args)
    assert done.returncode == code, done.stderr
    if message is not None:
        assert done.stderr.startswith(message), done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert job_count(sqlite_settings) == 0


def test_job_failure_exits_1_with_the_error(sqlite_settings):
    done = cli(sqlite_settings, "submit", "generate", "--plugin", "toy", "-p", "fail=true")
    assert done.returncode == 1
    assert "job 1 failed" in done.stderr and "error: RuntimeError: toy failure on purpose" in done.stderr


def test_unreachable_database_is_one_clear_line(sqlite_settings):
    env = env_for(sqlite_settings, AIGC_DATABASE_URL="postgresql://postgres@127.0.0.1:1/none")
    done = cli(sqlite_settings, "jobs", "list", env=env)
    assert done.returncode == 2
    assert done.stderr.startswith("error: cannot reach database postgresql+psycopg://postgres@127.0.0.1:1/none: ")
    assert len(done.stderr.strip().splitlines()) == 1
    bad = cli(sqlite_settings, "jobs", "list", env=env_for(sqlite_settings, AIGC_DATABASE_URL="nonsense"))
    assert bad.returncode == 2 and bad.stderr.startswith("error: invalid database URL 'nonsense'")


def test_db_upgrade_on_fresh_postgres_then_refuses_nothing(tmp_path):
    import os

    from service_fixtures import scratch_database

    with scratch_database("aigc_upgrade") as url:
        env = dict(os.environ, AIGC_DATABASE_URL=url, AIGC_ARTIFACTS=str(tmp_path))
        before = subprocess.run(
            [sys.executable, "-m", "aigc.cli", "jobs", "list"], env=env, capture_output=True, text=True
        )
        assert before.returncode == 2 and "run `aigc db upgrade`" in before.stderr
        upgraded = subprocess.run(
            [sys.executable, "-m", "aigc.cli", "db", "upgrade"], env=env, capture_output=True, text=True
        )
        assert upgraded.returncode == 0 and "upgraded from revision none to" in upgraded.stdout
        again = subprocess.run(
            [sys.executable, "-m", "aigc.cli", "db", "upgrade"], env=env, capture_output=True, text=True
        )
        assert "already at revision" in again.stdout
        works = subprocess.run(
            [sys.executable, "-m", "aigc.cli", "submit", "generate", "--plugin", "toy"],
            env=env,
            capture_output=True,
            text=True,
        )
        assert works.returncode == 0, works.stderr


def test_fresh_sqlite_file_migrates_itself(tmp_path):
    import os

    env = dict(os.environ, AIGC_HOME=str(tmp_path / "home"))
    done = subprocess.run(
        [sys.executable, "-m", "aigc.cli", "jobs", "list", "--json"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "home" / "aigc.db").exists()
