"""compose.yaml is valid against the Compose Specification and wires the cluster as documented.

No Docker engine runs here, so the file is checked, not started: schema first, then the few
properties that keep jobs safe (persistence, GPU reservation, migration order, grace period).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "compose.yaml").read_text())


def test_compose_file_is_valid_against_the_compose_spec(
    compose: dict[str, Any], compose_schema: dict[str, Any]
) -> None:
    errors = sorted(jsonschema.Draft7Validator(compose_schema).iter_errors(compose), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)


def test_redis_and_postgres_keep_their_data(compose: dict[str, Any]) -> None:
    services, volumes = compose["services"], compose["volumes"]
    redis = services["redis"]
    assert "--appendonly" in redis["command"] and redis["command"][redis["command"].index("--appendonly") + 1] == "yes"
    assert _named_volume(redis, "/data") in volumes
    assert _named_volume(services["postgres"], "/var/lib/postgresql/data") in volumes


def test_workers_start_after_the_migration_and_reserve_gpus(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["migrate"]["command"] == ["aigc", "db", "upgrade"]
    assert services["migrate"]["restart"] == "no"
    worker = services["worker"]
    assert worker["command"][:4] == ["aigc", "worker", "--gpus", "all"]
    assert worker["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    (device,) = worker["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"] and device["count"] == "all"
    assert "replicas" not in worker["deploy"]  # replicas stack on one GPU: one container, one process per GPU
    cpu = services["cpu-worker"]
    assert cpu["profiles"] == ["cpu"] and "--gpus" in cpu["command"] and "none" in cpu["command"]


def test_grace_period_covers_the_soft_shutdown_window(compose: dict[str, Any]) -> None:
    for name in ("worker", "cpu-worker"):
        service = compose["services"][name]
        window = float(service["environment"]["AIGC_SOFT_SHUTDOWN_SECONDS"])
        assert _seconds(service["stop_grace_period"]) > window


def test_every_aigc_container_shares_the_artifact_volume_and_the_store(compose: dict[str, Any]) -> None:
    for name in ("migrate", "worker", "cpu-worker", "serve"):
        service = compose["services"][name]
        env = service["environment"]
        assert _named_volume(service, env["AIGC_ARTIFACTS"]) == "artifacts"
        assert env["AIGC_BROKER_URL"].startswith("redis://redis:6379/")
        assert env["AIGC_DATABASE_URL"].startswith("postgresql+psycopg://")


def test_flower_watches_the_same_broker(compose: dict[str, Any]) -> None:
    flower = compose["services"]["flower"]
    assert "flower" in flower["command"] and "--broker=redis://redis:6379/0" in flower["command"]
    assert compose["services"]["worker"]["environment"]["AIGC_TASK_EVENTS"] == "1"


def test_dockerfile_installs_the_package_and_drops_root() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert re.search(r"^RUN pip install \.", text, re.M)
    assert re.search(r"^USER aigc", text, re.M)
    for folder in ("core", "plugins", "worker", "cli"):
        assert re.search(rf"^COPY {folder} {folder}$", text, re.M)


def _named_volume(service: dict[str, Any], target: str) -> str:
    for volume in service.get("volumes", []):
        source, _, mounted = volume.partition(":")
        if mounted.split(":")[0] == target:
            return source
    raise AssertionError(f"nothing mounted at {target}")


def _seconds(duration: str) -> float:
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s)", duration):
        total += float(number) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001}[unit]
    return total


def test_serve_is_the_front_door_with_its_admin_token_from_an_env_file(compose: dict[str, Any]) -> None:
    serve = compose["services"]["serve"]
    assert serve["command"][:2] == ["aigc", "serve"] and "0.0.0.0" in serve["command"]
    assert serve["env_file"] == [{"path": "serve.env", "required": True}]
    assert "AIGC_API_TOKEN" not in serve["environment"]  # never in the file itself
    assert serve["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert serve["ports"] == ["8000:8000"]
