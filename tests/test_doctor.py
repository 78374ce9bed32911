"""`aigc doctor` as a newcomer runs it: one line per check, what to do about each problem, exit 1 on a failure;
and `aigc submit` saying when no live worker serves the queue a job waits in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace

import pytest
from conftest import TOY_PLUGINS, cli, env_for
from service_fixtures import scratch_database
from test_serve_browser import start_server, stop_server

from aigc.core.gpus import detect
from aigc.core.store import Store
from aigc.core.store import workers as worker_rows

LEVELS = ("ok", "warn", "fail")


def lines_of(done: subprocess.CompletedProcess[str]) -> dict[str, tuple[str, str]]:
    """check name -> (level, rest of the line); every line is one check."""
    checks = {}
    for line in done.stdout.splitlines():
        level, name, rest = line[:4].strip(), line[6:].split("  ")[0], line[6:].split("  ", 1)[1].strip()
        assert level in LEVELS, line
        checks[name] = (level, rest)
    return checks


def fresh_env(tmp_path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIGC_")}
    env.update(AIGC_HOME=str(tmp_path / "home"), AIGC_PLUGIN_PATH=str(TOY_PLUGINS), **extra)
    return env


def doctor(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "aigc.cli", "doctor", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def imported(done: subprocess.CompletedProcess[str], module: str) -> bool:
    return any(line.split("|")[-1].strip() == module for line in done.stderr.splitlines() if "|" in line)


def test_a_fresh_home_is_fine_and_doctor_changes_nothing_nor_imports_torch(tmp_path):
    done = doctor(env=fresh_env(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    checks = lines_of(done)
    for name in ("aigc", "python", "torch", "transformers", "cuda", "settings", "store", "artifacts", "broker", "gpus"):
        assert checks[name][0] == "ok", (name, checks[name])
    assert "not created yet (the first job creates it)" in checks["store"][1]
    assert "created on first use" in checks["artifacts"][1] and "free" in checks["artifacts"][1]
    assert checks["broker"][1].startswith("none: jobs run in the process that submits them")
    assert checks["plugins"] == ("ok", "6 working: chatter, diffusion, gan, text, toy, vae")
    level, broken = checks["plugin broken"]
    assert level == "warn" and broken.startswith("broken: ImportError: this plugin is broken on purpose")
    assert broken.endswith(f"→ fix or remove {TOY_PLUGINS / 'broken.py'} (AIGC_PLUGIN_PATH)")
    gpus = checks["gpus"][1]
    assert gpus.startswith("none seen by NVML") if not detect() else "seen by NVML" in gpus
    assert not (tmp_path / "home").exists()  # no store, no artifact folder created
    assert not imported(done, "torch") and not imported(done, "transformers")


def test_json_lists_the_same_checks(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "aigc.cli", "doctor", "--json"], env=fresh_env(tmp_path), capture_output=True, text=True
    )
    report = json.loads(done.stdout)
    assert report["ok"] is True and done.returncode == 0
    assert {c["level"] for c in report["checks"]} <= set(LEVELS)
    assert [c["name"] for c in report["checks"]][:5] == ["aigc", "python", "torch", "transformers", "cuda"]
    assert all(set(c) == {"name", "level", "message", "fix"} for c in report["checks"])


def test_a_used_store_is_described(sqlite_settings):
    assert cli(sqlite_settings, "submit", "generate", "--plugin", "toy").returncode == 0
    done = doctor(env=env_for(sqlite_settings))
    level, found = lines_of(done)["store"]
    assert level == "ok" and found.startswith(f"{sqlite_settings.database_url}: schema 0005_operations, 1 job, ")


@pytest.mark.parametrize(
    ("extra", "name", "message", "fix"),
    [
        (
            {"AIGC_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/none"},
            "store",
            "cannot read database postgresql://postgres@127.0.0.1:1/none: ",
            "check AIGC_DATABASE_URL",
        ),
        ({"AIGC_LEASE_SECONDS": "abc"}, "settings", "AIGC_LEASE_SECONDS='abc' is not valid", "correct or unset it"),
        (
            {"AIGC_BROKER_URL": "redis://127.0.0.1:1/0"},
            "broker",
            "cannot reach the broker at redis://127.0.0.1:1/0",
            "start Redis",
        ),
        (
            {"AIGC_SERVER_URL": "http://127.0.0.1:1"},
            "server",
            "http://127.0.0.1:1: unreachable: ",
            "start it (aigc serve)",
        ),
    ],
    ids=["store", "setting", "broker", "server"],
)
def test_a_failed_check_says_what_to_do_and_exits_1(tmp_path, extra, name, message, fix):
    done = doctor(env=fresh_env(tmp_path, **extra))
    assert done.returncode == 1, done.stdout
    level, rest = lines_of(done)[name]
    assert level == "fail" and rest.startswith(message) and f"→ {fix}" in rest, rest


def test_artifacts_on_a_file_fail(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    done = doctor(env=fresh_env(tmp_path, AIGC_ARTIFACTS=str(blocker / "artifacts")))
    assert done.returncode == 1
    level, rest = lines_of(done)["artifacts"]
    assert level == "fail" and "is a file, not a folder  → point AIGC_ARTIFACTS at a folder" in rest


def test_an_unmigrated_postgres_store_asks_for_db_upgrade(tmp_path):
    with scratch_database("aigc_doctor") as url:
        done = doctor(env=fresh_env(tmp_path, AIGC_DATABASE_URL=url))
    assert done.returncode == 1
    level, rest = lines_of(done)["store"]
    assert (
        level == "fail" and "at schema revision none, this aigc needs 0005_operations  → run `aigc db upgrade`" in rest
    )


def test_queues_without_a_live_worker_are_named(tmp_path, redis_db):
    broker = f"redis://127.0.0.1:6379/{redis_db}"
    env = fresh_env(tmp_path, AIGC_BROKER_URL=broker)
    submitted = subprocess.run(
        [sys.executable, "-m", "aigc.cli", "submit", "generate", "--plugin", "gan", "-p", "n=1"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert submitted.returncode == 0, submitted.stderr  # queued all the same
    assert submitted.stderr.splitlines()[0] == (
        "warning: no live worker serves queue 'gpu'; start one on a GPU node (aigc worker), "
        "or let CPUs take GPU jobs: aigc worker --gpus none -Q gpu,cpu"
    )
    none_live = lines_of(doctor(env=env))
    assert none_live["broker"] == ("ok", f"{broker}: reachable")
    assert none_live["workers"][0] == "warn" and none_live["workers"][1].startswith("none live; 1 queued job wait")

    # A CPU-only worker (`aigc worker --gpus none`) beats: the GPU job still has nobody to run it.
    from aigc.core.config import Settings

    settings = replace(Settings.from_env(), database_url=f"sqlite:///{tmp_path / 'home' / 'aigc.db'}")
    worker_rows.register(Store(settings), "cpu0@node", "cpu", ["cpu"])
    done = doctor(env=env)
    assert done.returncode == 0  # warnings only
    checks = lines_of(done)
    assert checks["workers"] == ("ok", "1 live (cpu0@node on cpu), serving cpu")
    assert checks["queue gpu"] == (
        "warn",
        "1 job waiting, no live worker serves it  → start one on a GPU node (aigc worker), "
        "or let CPUs take GPU jobs: aigc worker --gpus none -Q gpu,cpu",
    )
    served = subprocess.run(
        [sys.executable, "-m", "aigc.cli", "submit", "generate", "--plugin", "toy"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert served.returncode == 0 and "warning" not in served.stderr  # the cpu queue has its worker


def test_a_running_server_answers_with_the_token_only(tmp_path):
    token = "doctor-test-token-0123456789"
    served = start_server(tmp_path / "served", AIGC_API_TOKEN=token)
    try:
        good = lines_of(doctor(env=fresh_env(tmp_path, AIGC_SERVER_URL=served.url + "/", AIGC_API_TOKEN=token)))
        assert good["server"] == ("ok", f"{served.url}: answers (GET /api/jobs)")
        bad = doctor(env=fresh_env(tmp_path, AIGC_SERVER_URL=served.url, AIGC_API_TOKEN="wrong-token-0123456789"))
        assert bad.returncode == 1
        level, rest = lines_of(bad)["server"]
        assert level == "fail" and rest.startswith(f"{served.url}: HTTP 401: missing or wrong token")
        assert rest.endswith("→ set AIGC_TOKEN to a token of the server's (`aigc tokens create`)")
    finally:
        stop_server(served)


def test_gpu_flag_tries_cuda(tmp_path):
    done = doctor("--gpu", env=fresh_env(tmp_path))
    level, rest = lines_of(done)["cuda"]
    assert imported(done, "torch")
    if detect():
        assert level == "ok" and rest.startswith("CUDA ") and "a matmul ran on cuda:0" in rest
    else:
        assert done.returncode == 0 and rest.startswith("not available (torch is ")


def test_a_damaged_sqlite_file_fails_and_is_left_alone(tmp_path):
    damaged = tmp_path / "aigc.db"
    damaged.write_bytes(b"not a database " * 400)
    done = doctor(env=fresh_env(tmp_path, AIGC_DATABASE_URL=f"sqlite:///{damaged}"))
    assert done.returncode == 1
    level, rest = lines_of(done)["store"]
    assert level == "fail" and rest.startswith(f"cannot read database sqlite:///{damaged}: file is not a database")
    assert damaged.read_bytes() == b"not a database " * 400
