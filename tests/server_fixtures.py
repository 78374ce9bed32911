"""A real `aigc serve` in a subprocess over a test's store, with a named token: what remote clients talk to."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest
from conftest import cli, env_for

from aigc.core.config import Settings
from aigc.core.store import Store
from aigc.core.tokens import create

# Any command that touched a store here would fail: remote mode must not need one.
NO_STORE = "postgresql://nobody@127.0.0.1:1/none"


@dataclass
class Served:
    url: str
    token: str  # a named, non-admin token ('alice')
    process: subprocess.Popen[str]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving(settings: Settings, **env: str) -> Iterator[Served]:
    token = create(Store(settings), "alice")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "aigc.cli", "serve", "--port", str(port)],
        env=env_for(settings, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"aigc serve exited {process.returncode}: {process.stdout.read() if process.stdout else ''}"
                )
            try:
                if httpx.get(url + "/static/style.css", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "aigc serve did not start within 60 s"
            time.sleep(0.2)
        yield Served(url, token, process)
    finally:
        process.send_signal(signal.SIGINT)  # uvicorn's graceful shutdown: embedded jobs end cancelled
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def served(sqlite_settings: Settings) -> Iterator[Served]:
    with serving(sqlite_settings) as server:
        yield server


def remote(served: Served, *args: str, token: str | None = None, **extra: str) -> subprocess.CompletedProcess[str]:
    """`aigc ARGS` in remote mode: AIGC_SERVER_URL and a token, and no store it could reach."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIGC_") or k in ("AIGC_HOME", "AIGC_PLUGIN_PATH")}
    env.update(AIGC_SERVER_URL=served.url, AIGC_TOKEN=token or served.token, AIGC_DATABASE_URL=NO_STORE, COLUMNS="200")
    env.update(extra)
    return subprocess.run(
        [sys.executable, "-m", "aigc.cli", *args], env=env, capture_output=True, text=True, timeout=300
    )


def direct(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """`aigc ARGS` on the direct path, against the store the server serves."""
    return cli(settings, *args, env=env_for(settings, COLUMNS="200"))


def aged(text: str) -> str:
    """The text with ages ("3s ago") made alike, and the padding they change: the two runs are a moment apart."""
    return "\n".join(" ".join(line.split()) for line in re.sub(r"\b\d+[smhd] ago", "_ ago", text).splitlines())
