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

LEASE = "accepted: a number of seconds from 1 to 86400 (default 30)"
ATTEMPTS = "accepted: a whole number from 1 to 100 (default 3)"
BAD_VALUES = [
    ("AIGC_LEASE_SECONDS", "abc", LEASE),
    ("AIGC_LEASE_SECONDS", "-5", LEASE),  # once accepted: every job then gave up after 3 attempts within 3 s
    ("AIGC_LEASE_SECONDS", "0", LEASE),
    ("AIGC_LEASE_SECONDS", "0.2", LEASE),  # shorter than a renewal may take
    ("AIGC_LEASE_SECONDS", "1e20", LEASE),  # once accepted: the job's lease date overflowed
    ("AIGC_LEASE_SECONDS", "nan", LEASE),
    ("AIGC_MAX_ATTEMPTS", "x", ATTEMPTS),
    ("AIGC_MAX_ATTEMPTS", "0", ATTEMPTS),
    ("AIGC_MAX_ATTEMPTS", "2.5", ATTEMPTS),
    ("AIGC_MAX_ATTEMPTS", "99999999999", ATTEMPTS),  # more than the store's column holds
    ("AIGC_RESEND_SECONDS", "1e20", "accepted: a number of seconds from 1 to 604800 (default: two leases)"),
    ("AIGC_SOFT_SHUTDOWN_SECONDS", "1e20", "accepted: a number of seconds from 0 to 86400 (default 60)"),
    ("AIGC_DEVICE", "tpu", "accepted: auto, cpu, cuda, cuda:N or mps (default auto)"),
    ("AIGC_DEVICE", "cuda:١", "accepted: auto, cpu, cuda, cuda:N or mps (default auto)"),  # ASCII digits only
    ("AIGC_SERVE_LOG", "loud", "accepted: critical, error, warning, info, debug or trace (default warning)"),
    ("AIGC_TASK_EVENTS", "maybe", "accepted: 1 or 0 (also true/false, yes/no, on/off)"),
]
# The issue's examples, which once gave "unexpected ValueError" or were accepted.
ISSUE_EXAMPLES = [
    ("AIGC_LEASE_SECONDS", "abc", LEASE),
    ("AIGC_LEASE_SECONDS", "-5", LEASE),
    ("AIGC_LEASE_SECONDS", "0", LEASE),
    ("AIGC_MAX_ATTEMPTS", "x", ATTEMPTS),
    ("AIGC_MAX_ATTEMPTS", "0", ATTEMPTS),
]


@pytest.mark.parametrize(("variable", "value", "accepted"), BAD_VALUES, ids=[f"{v}={x}" for v, x, _ in BAD_VALUES])
def test_a_bad_value_is_one_line_naming_the_variable(sqlite_settings, variable, value, accepted):
    done = cli(sqlite_settings, "jobs", "list", env=env_for(sqlite_settings, **{variable: value}))
    assert done.returncode == 2, done.stderr
    assert done.stderr == f"error: {variable}='{value}' is not valid; {accepted}\n"


@pytest.mark.parametrize(
    ("variable", "value", "accepted"), ISSUE_EXAMPLES, ids=[f"{v}={x}" for v, x, _ in ISSUE_EXAMPLES]
)
def test_submit_refuses_a_bad_value_before_storing_anything(sqlite_settings, variable, value, accepted):
    env = env_for(sqlite_settings, **{variable: value})
    done = cli(sqlite_settings, "submit", "generate", "--plugin", "toy", "-p", "n=1", env=env)
    assert (done.returncode, done.stdout) == (2, ""), done.stderr
    assert done.stderr == f"error: {variable}='{value}' is not valid; {accepted}\n"
    assert json.loads(cli(sqlite_settings, "jobs", "list", "--json").stdout) == []


def test_a_device_index_is_ascii_digits_in_a_param_too():
    from aigc.core.errors import InvalidParams
    from aigc.core.params import validate_params
    from aigc.core.plugin import JobKind
    from aigc.core.registry import get_plugin

    toy = get_plugin("toy", Settings.from_env().plugin_path)
    assert validate_params(toy, JobKind.generate, {"device": "cuda:1"}).device == "cuda:1"
    with pytest.raises(InvalidParams, match="invalid param 'device'"):
        validate_params(toy, JobKind.generate, {"device": "cuda:١"})


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
