"""`aigc worker`: one Celery worker process per GPU (or per CPU slot), restarted if it dies.

Each process is started with fork+exec (never a bare fork), pinned to its GPU with
CUDA_VISIBLE_DEVICES, and runs one job at a time in a thread pool, so CUDA is only ever initialised
in the process that uses it. The supervisor itself imports neither torch nor Celery's worker.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from aigc.core.gpu_faults import POISONED_EXIT
from aigc.core.gpus import Gpu

POOL = "aigc.worker.pool:JobThreadPool"
# A child that dies sooner than this after starting is restarted with a growing delay (up to 30 s).
STABLE_AFTER_S = 10.0


@dataclass
class Slot:
    name: str  # Celery node name: gpu0@host, cpu1@host
    device: str
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    delay: float = 0.5
    restart_at: float | None = None


def plan(gpus: Sequence[Gpu], concurrency: int, hostname: str | None = None) -> list[Slot]:
    """The processes to run: `concurrency` per GPU, or `concurrency` CPU processes without GPUs."""
    host = hostname or socket.gethostname()
    cores = os.cpu_count() or 1
    slots: list[Slot] = []
    if gpus:
        for gpu in gpus:
            for k in range(concurrency):
                suffix = f"-{k}" if concurrency > 1 else ""
                env = {"CUDA_VISIBLE_DEVICES": gpu.index, "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
                slots.append(Slot(f"gpu{gpu.index}{suffix}@{host}", gpu.label, env))
    else:
        for k in range(concurrency):
            # An empty CUDA_VISIBLE_DEVICES hides any GPU: a CPU slot must not grab one by accident.
            slots.append(Slot(f"cpu{k}@{host}", "cpu", {"CUDA_VISIBLE_DEVICES": ""}))
    threads = str(max(1, cores // len(slots)))
    for slot in slots:
        # N processes each using every core would oversubscribe the CPU (torch/numpy thread pools).
        slot.env.setdefault("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", threads))
        slot.env["AIGC_WORKER_DEVICE"] = slot.device
        slot.env["CELERY_CUSTOM_WORKER_POOL"] = POOL
    return slots


def celery_command(slot: Slot, queues: Sequence[str], loglevel: str) -> list[str]:
    command = [sys.executable, "-m", "celery", "-A", "aigc.worker.app", "worker"]
    command += ["--pool", "custom", "--concurrency", "1", "--queues", ",".join(queues), "--hostname", slot.name]
    # Gossip and mingle are worker-to-worker chatter we do not use (the store knows who is alive);
    # skipping mingle also saves a second at start-up.
    command += ["--loglevel", loglevel, "--without-gossip", "--without-mingle"]
    return command


class Supervisor:
    def __init__(self, slots: list[Slot], queues: Sequence[str], loglevel: str = "INFO") -> None:
        self.slots, self.queues, self.loglevel = slots, list(queues), loglevel
        self.stopping = 0  # signals received: 1 = warm shutdown sent, 2 = cold

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        for slot in self.slots:
            self._start(slot)
        while True:
            alive = 0
            for slot in self.slots:
                alive += self._tend(slot)
            if self.stopping and alive == 0:
                return 0
            time.sleep(0.2)

    def _start(self, slot: Slot) -> None:
        env = {**os.environ, **slot.env}
        slot.process = subprocess.Popen(
            celery_command(slot, self.queues, self.loglevel), env=env, preexec_fn=_die_with_parent
        )
        slot.started, slot.restart_at = time.monotonic(), None
        _say(f"started {slot.name} (pid {slot.process.pid}) on {slot.device}")

    def _tend(self, slot: Slot) -> int:
        """Restart a dead child (after its delay) unless stopping; returns 1 while it runs."""
        process = slot.process
        if process is not None and process.poll() is None:
            return 1
        if self.stopping:
            return 0
        now = time.monotonic()
        if slot.restart_at is None:
            code = process.returncode if process else None
            quick = now - slot.started < STABLE_AFTER_S
            slot.delay = min(30.0, slot.delay * 2) if quick else 0.5
            slot.restart_at = now + slot.delay
            _say(f"{slot.name} exited ({_describe(code)}); restarting in {slot.delay:g} s")
        elif now >= slot.restart_at:
            self._start(slot)
            return 1
        return 0

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.stopping += 1
        # First signal: warm shutdown (each job gets the soft-shutdown window, then is handed back).
        # Second: cold shutdown (jobs handed back at once). Third: kill.
        forward = {1: signal.SIGTERM, 2: signal.SIGQUIT}.get(self.stopping, signal.SIGKILL)
        _say(f"stopping workers ({signal.Signals(forward).name})")
        for slot in self.slots:
            if slot.process is not None and slot.process.poll() is None:
                try:
                    slot.process.send_signal(forward)
                except ProcessLookupError:
                    pass


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM (a warm shutdown) if the supervisor dies, even by SIGKILL."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass  # not Linux: the children outlive a killed supervisor


def _describe(code: int | None) -> str:
    if code is None:
        return "unknown status"
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    if code == POISONED_EXIT:
        return f"exit code {code}, after a CUDA error"
    return f"exit code {code}"


def _say(message: str) -> None:
    print(f"aigc worker: {message}", file=sys.stderr, flush=True)
