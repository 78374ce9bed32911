"""One way to start a job: `aigc.core.jobs.start` runs it here, or hands it to the dispatcher that
the worker package registers (an entry point), which the core never imports by name."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from dataclasses import replace
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from conftest import cli

from aigc.core.dispatch import GROUP, dispatcher_for, uses_broker
from aigc.core.errors import UsageError
from aigc.core.jobs import start
from aigc.core.store import Store, queries
from aigc.core.testing import submit

ROOT = Path(__file__).parent.parent


def _imports(folder: Path) -> dict[Path, set[str]]:
    found: dict[Path, set[str]] = {}
    for file in folder.rglob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        found[file] = names
    return found


def test_the_core_never_imports_the_worker_and_only_aigc_worker_does_on_the_command_line():
    for file, names in _imports(ROOT / "core").items():
        assert not any(n.startswith("aigc.worker") or n.startswith("aigc.cli") for n in names), file
    importers = {
        file.name for file, names in _imports(ROOT / "cli").items() if any(n.startswith("aigc.worker") for n in names)
    }
    assert importers == {"worker_cmd.py"}


def test_the_worker_package_registers_its_dispatcher(sqlite_settings):
    (entry,) = entry_points(group=GROUP)
    assert entry.value == "aigc.worker.dispatch:CeleryDispatcher"
    queued = replace(sqlite_settings, broker_url="redis://127.0.0.1:6379/15")
    dispatcher = dispatcher_for(queued)  # built without talking to the broker
    assert type(dispatcher).__name__ == "CeleryDispatcher" and dispatcher.queues == ("gpu", "cpu")
    assert uses_broker(queued) and not uses_broker(sqlite_settings)
    with pytest.raises(UsageError, match="^aigc jobs recover needs a broker: set AIGC_BROKER_URL"):
        dispatcher_for(sqlite_settings, "aigc jobs recover")


def test_without_a_broker_start_runs_the_jobs_here(sqlite_settings):
    store = Store(sqlite_settings)
    first, second = (submit(sqlite_settings, "toy", "generate", {"n": 1}) for _ in range(2))
    with store.transaction() as session:
        jobs = [queries.get_job(session, first), queries.get_job(session, second)]
    handed: list[int] = []
    assert start(store, jobs, run_here=handed.append) is False
    assert handed == [first, second]
    assert start(store, jobs[:1]) is False  # the default: the runner, in this thread
    with store.transaction() as session:
        assert queries.get_job(session, first).status == "succeeded"
        assert queries.get_job(session, second).status == "queued"


def test_queue_commands_without_a_broker(sqlite_settings):
    recover = cli(sqlite_settings, "jobs", "recover")  # only requeues lapsed embedded jobs, for `aigc jobs resume`
    assert (recover.returncode, recover.stdout, recover.stderr) == (0, "0 requeued, 0 failed, 0 sent\n", "")
    workers = cli(sqlite_settings, "workers", "--json")
    assert workers.returncode == 0, workers.stderr
    assert '"workers": []' in workers.stdout and '"broker_error": null' in workers.stdout
    listed = cli(sqlite_settings, "workers")
    assert "no broker configured (AIGC_BROKER_URL)" in listed.stderr


def test_importing_the_worker_app_builds_no_app_until_celery_asks_for_it(sqlite_settings):
    code = (
        "import sys, aigc.worker.app as m, aigc.worker.tasks, aigc.worker.dispatch; "
        "print(len(m._apps), 'aigc.worker.node' in sys.modules); "
        "from celery.app.utils import find_app; app = find_app('aigc.worker.app'); "  # what `celery -A` does
        "print(type(app).__name__, app.conf.broker_url, 'aigc.run_job' in app.tasks, 'aigc.worker.node' in sys.modules)"
    )
    env = {**os.environ, "AIGC_BROKER_URL": "redis://127.0.0.1:6379/15"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["0", "False", "Celery", "redis://127.0.0.1:6379/15", "True", "True"]
