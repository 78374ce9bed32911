"""Settings: every AIGC_* variable read and checked in one place, a bad value refused in one line,
and `aigc config` showing what is in effect with passwords and tokens masked."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import cli, env_for

from aigc.core.config import Settings, environment
from aigc.core.errors import InvalidSetting

BAD_VALUES = [
    ("AIGC_LEASE_SECONDS", "abc", "accepted: a number of seconds above 0 (default 30)"),
    ("AIGC_LEASE_SECONDS", "-5", "accepted: a number of seconds above 0 (default 30)"),
    ("AIGC_LEASE_SECONDS", "nan", "accepted: a number of seconds above 0 (default 30)"),
    ("AIGC_MAX_ATTEMPTS", "0", "accepted: a whole number, 1 or more (default 3)"),
    ("AIGC_MAX_ATTEMPTS", "2.5", "accepted: a whole number, 1 or more (default 3)"),
    ("AIGC_DEVICE", "tpu", "accepted: auto, cpu, cuda, cuda:N or mps (default auto)"),
    ("AIGC_BROKER_URL", "localhost", "accepted: a broker URL such as redis://127.0.0.1:6379/0, or nothing"),
    ("AIGC_SERVE_LOG", "loud", "accepted: critical, error, warning, info, debug or trace (default warning)"),
    ("AIGC_TASK_EVENTS", "maybe", "accepted: 1 or 0 (also true/false, yes/no, on/off)"),
]


@pytest.mark.parametrize(("variable", "value", "accepted"), BAD_VALUES, ids=[f"{v}={x}" for v, x, _ in BAD_VALUES])
def test_a_bad_value_is_one_line_naming_the_variable(sqlite_settings, variable, value, accepted):
    done = cli(sqlite_settings, "jobs", "list", env=env_for(sqlite_settings, **{variable: value}))
    assert done.returncode == 2, done.stderr
    assert done.stderr == f"error: {variable}='{value}' is not valid; {accepted}\n"


def test_the_settings_follow_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("AIGC_HOME", str(tmp_path))
    monkeypatch.delenv("AIGC_PLUGIN_PATH")
    settings = Settings.from_env()
    assert settings.database_url == f"sqlite:///{tmp_path / 'aigc.db'}" and settings.artifacts == tmp_path / "artifacts"
    assert (settings.broker_url, settings.plugin_path, settings.lease_seconds, settings.max_attempts) == (
        None,
        (),
        30.0,
        3,
    )
    monkeypatch.setenv("AIGC_LEASE_SECONDS", "12")
    monkeypatch.setenv("AIGC_MAX_ATTEMPTS", "")  # empty counts as unset
    assert Settings.from_env().lease_seconds == 12.0 and Settings.from_env().heartbeat_s == 4.0
    assert Settings.from_env().max_attempts == 3
    monkeypatch.setenv("AIGC_LEASE_SECONDS", "0")
    with pytest.raises(InvalidSetting, match="AIGC_LEASE_SECONDS='0' is not valid"):
        Settings.from_env()
    monkeypatch.setenv("AIGC_LEASE_SECONDS", "30")
    monkeypatch.setenv("AIGC_DEVICE", "cuda:1")
    assert environment().device == "cuda:1"


def test_config_shows_what_is_in_effect_with_secrets_masked(sqlite_settings, tmp_path):
    env = env_for(
        sqlite_settings,
        AIGC_DATABASE_URL="postgresql://aigc:s3cret-db@db-host/aigc",
        AIGC_BROKER_URL="redis://:s3cret-redis@redis-host:6379/0",
        AIGC_API_TOKEN="s3cret-token-0123456789",
        AIGC_LEASE_SECONDS="12",
        AIGC_HOME=str(tmp_path),
    )
    done = cli(sqlite_settings, "config", "--json", env=env)
    assert done.returncode == 0, done.stderr
    assert "s3cret" not in done.stdout
    shown = json.loads(done.stdout)
    assert shown["AIGC_DATABASE_URL"] == "postgresql://aigc:***@db-host/aigc"
    assert shown["AIGC_BROKER_URL"] == "redis://:***@redis-host:6379/0"
    assert shown["AIGC_API_TOKEN"] == "***"
    assert shown["AIGC_LEASE_SECONDS"] == 12.0 and shown["AIGC_RESEND_SECONDS"] == 24.0  # two leases
    assert shown["AIGC_HOME"] == str(tmp_path) and shown["AIGC_DATA_DIR"] == str(tmp_path / "data")
    assert shown["AIGC_MAX_ATTEMPTS"] == 3 and shown["AIGC_DEBUG"] is False

    table = cli(sqlite_settings, "config", env=env)
    assert table.returncode == 0 and "s3cret" not in table.stdout
    lines = {line.split()[0]: line.split() for line in table.stdout.splitlines()[1:]}
    assert lines["AIGC_LEASE_SECONDS"][1:] == ["environment", "12"]
    assert lines["AIGC_MAX_ATTEMPTS"][1:] == ["default", "3"]


def test_the_command_line_help_does_not_load_pydantic():
    code = "import sys, aigc.cli.main; print(sorted(m for m in ('pydantic', 'pydantic_settings') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"
