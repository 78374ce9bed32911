"""The worker's pieces on their own: Celery settings, GPU selection and pinning, the CUDA-safe
start-up (no torch in any process that forks or supervises), routing, and the workers migration."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from aigc.core.errors import UsageError
from aigc.worker.app import celery_config
from aigc.worker.config import WorkerSettings
from aigc.worker.dispatch import broker_priority
from aigc.worker.gpus import Gpu, select
from aigc.worker.supervisor import celery_command, plan

GPUS = [Gpu("0", "NVIDIA H200", "GPU-aaa"), Gpu("1", "NVIDIA H200", "GPU-bbb")]


def _settings(**overrides: object) -> WorkerSettings:
    base = dict(
        broker_url="redis://127.0.0.1:6379/0",
        visibility_timeout=43200.0,
        soft_shutdown_s=60.0,
        resend_after_s=60.0,
        heartbeat_s=10.0,
        task_events=False,
    )
    return WorkerSettings(**{**base, **overrides})


def test_celery_settings_suit_long_gpu_jobs() -> None:
    conf = celery_config(_settings())
    assert conf["task_acks_late"] and conf["task_reject_on_worker_lost"]
    assert conf["worker_prefetch_multiplier"] == 1
    assert conf["task_serializer"] == "json" and conf["accept_content"] == ["json"]
    assert conf["worker_cancel_long_running_tasks_on_connection_loss"] is False
    assert conf["worker_soft_shutdown_timeout"] == 60.0
    assert conf["broker_transport_options"]["visibility_timeout"] == 43200.0
    assert conf["task_ignore_result"] and conf["result_backend"] is None


def test_priorities_map_to_redis_order() -> None:
    assert broker_priority(9) == 0 and broker_priority(0) == 9  # Redis serves 0 first
    assert broker_priority(42) == 0 and broker_priority(-1) == 9


def test_gpu_selection() -> None:
    assert select("none", GPUS) == []
    assert select("all", GPUS) == GPUS and select("auto", GPUS) == GPUS and select("auto", []) == []
    assert select("1", GPUS) == [GPUS[1]]
    with pytest.raises(UsageError, match="no NVIDIA GPU found"):
        select("all", [])
    with pytest.raises(UsageError, match="no GPU with index 3"):
        select("0,3", GPUS)
    with pytest.raises(UsageError, match="not understood"):
        select("cuda0", GPUS)


def test_one_pinned_process_per_gpu_with_one_job_at_a_time() -> None:
    slots = plan(GPUS, 1, hostname="node7")
    assert [s.name for s in slots] == ["gpu0@node7", "gpu1@node7"]
    assert [s.env["CUDA_VISIBLE_DEVICES"] for s in slots] == ["0", "1"]
    assert all(s.env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID" for s in slots)  # the same numbering as nvidia-smi
    command = celery_command(slots[0], ["gpu", "cpu"], "INFO")
    assert command[command.index("--concurrency") + 1] == "1"
    assert command[command.index("--pool") + 1] == "custom"
    assert slots[0].env["CELERY_CUSTOM_WORKER_POOL"] == "aigc.worker.pool:JobThreadPool"
    assert command[command.index("--queues") + 1] == "gpu,cpu"


def test_cpu_slots_hide_every_gpu_and_share_the_cores() -> None:
    slots = plan([], 2, hostname="node7")
    assert [s.name for s in slots] == ["cpu0@node7", "cpu1@node7"]
    assert all(s.env["CUDA_VISIBLE_DEVICES"] == "" and s.device == "cpu" for s in slots)


def test_nothing_that_forks_or_supervises_imports_torch() -> None:
    """CUDA initialised in a parent poisons its forked children: the supervisor, the Celery app (the
    prefork parent) and the task module must not even import torch."""
    code = (
        "import sys, aigc.cli.main, aigc.cli.worker_cmd, aigc.worker.app, aigc.worker.tasks, aigc.worker.dispatch, "
        "aigc.worker.supervisor, aigc.worker.node, aigc.worker.pool, aigc.core.recovery, aigc.core.cluster; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "False"


def test_workers_table_migration_is_the_head(tmp_path: Path) -> None:
    from sqlalchemy import inspect

    from aigc.core.store.engine import SCHEMA_REVISION, current_revision, engine_for

    engine = engine_for(f"sqlite:///{tmp_path / 'fresh.db'}")  # migrates a new SQLite store
    assert current_revision(engine) == SCHEMA_REVISION == "0005_operations"
    columns = {c["name"] for c in inspect(engine).get_columns("workers")}
    assert {"name", "hostname", "pid", "device", "queues", "heartbeat_at", "stopped_at"} <= columns
