"""A real `aigc serve` in a subprocess over a test's store, with a named token: what remote clients talk to."""

from __future__ import annotations

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
from conftest import env_for

from aigc.core.config import Settings
from aigc.core.store import Store
from aigc.core.tokens import create


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
