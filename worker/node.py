"""What every worker process does besides running jobs, hooked onto Celery's worker signals.

- on start: register its row (name, host, pid, device, queues) and start the heartbeat thread, which
  also runs the reaper, so any live worker recovers the jobs of a dead one within one lease period;
- on SIGTERM (warm shutdown): give the running job the soft-shutdown window to end, then hand it
  back to the queue through the store (it resumes elsewhere from its last checkpoint);
- on exit: mark its row stopped.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from celery import signals

log = logging.getLogger("aigc.worker")


class _Node:
    """This process's identity once Celery is ready; None before (and in processes that only send)."""

    def __init__(self, name: str, queues: list[str]) -> None:
        from aigc.core.config import Settings
        from aigc.core.store import Store
        from aigc.worker.config import WorkerSettings
        from aigc.worker.dispatch import CeleryDispatcher

        settings = Settings.from_env()
        self.name, self.queues = name, queues
        self.store = Store(settings)
        self.ws = WorkerSettings.from_env(settings)
        self.dispatcher = CeleryDispatcher(settings)
        self.app = self.dispatcher.app
        self.heartbeat = Heartbeat(self)


_node: _Node | None = None


def release_running() -> list[int]:
    """Hand every job this worker runs back to the queue (stopping them at their next progress point)."""
    if _node is None:
        return []
    from aigc.core.recovery import load_jobs
    from aigc.core.store import lifecycle

    released = lifecycle.release_jobs_of(_node.store, _node.name)
    _node.dispatcher.send(_node.store, load_jobs(_node.store, released))
    return released


class Heartbeat(threading.Thread):
    def __init__(self, node: _Node) -> None:
        super().__init__(name="aigc-heartbeat", daemon=True)
        self.node = node
        self._stop_event = threading.Event()

    def run(self) -> None:
        from aigc.core.recovery import reap
        from aigc.core.store import workers

        node, rounds = self.node, 0
        while True:
            try:
                if not workers.beat(node.store, node.name):
                    workers.register(node.store, node.name, _device(), node.queues)
                reap(node.store, node.dispatcher, resend_after_s=node.ws.resend_after_s)
                recycle_if_overdue(node)
                if rounds % RETENTION_EVERY == 0:
                    apply_retention(node.store, node.name)
                if rounds % 1000 == 0:
                    workers.forget_old(node.store)
            except Exception as exc:  # the store or broker blinked: try again next beat
                log.warning("heartbeat/reaper round failed: %s", exc)
            rounds += 1
            if self._stop_event.wait(self._pause()):
                return

    def _pause(self) -> float:
        """A heartbeat period, or less: until just after the soonest lease runs out, so a dead
        worker's job is requeued within a lease of its last renewal rather than a period later."""
        from aigc.core.store import queries
        from aigc.core.store.models import utcnow

        try:
            with self.node.store.transaction() as session:
                expiry = queries.next_lease_expiry(session)
        except Exception:  # the store blinked: keep the plain period
            expiry = None
        if expiry is None:
            return self.node.ws.heartbeat_s
        until = (expiry - utcnow()).total_seconds() + 0.1
        return min(self.node.ws.heartbeat_s, max(0.1, until))

    def stop(self) -> None:
        self._stop_event.set()


# The retention policy (AIGC_RETENTION_DAYS) is tried every this many beats; a lock in the store lets
# one worker of the cluster apply it per round.
RETENTION_EVERY = 100
# Exit status of a worker process recycled for a job past its timeout; the supervisor restarts it.
RECYCLED = 75


def recycle_if_overdue(node: _Node) -> None:
    """A job past its timeout plus the grace period reaches no progress point: record it failed, then
    end this process (the only way to stop a thread stuck in a plugin); `aigc worker` starts a new one."""
    from aigc.core import timeouts
    from aigc.core.store import JobStatus, lifecycle
    from aigc.core.store.lifecycle import Outcome

    overdue = timeouts.overdue(node.ws.timeout_grace_s)
    if not overdue:
        return
    for entry in overdue:
        error = f"{timeouts.message(entry.timeout_s)} (it reached no progress point; its worker process was recycled)"
        lifecycle.finish_job(entry.store, entry.claim, Outcome(JobStatus.failed, error=error, final=True))
        log.error("job %s: %s", entry.claim.job_id, error)
    os._exit(RECYCLED)


def apply_retention(store: Any, holder: str) -> None:
    from aigc.core import retention

    try:
        report = retention.apply_policy(store, holder)
    except Exception as exc:  # the store blinked: the next round tries again
        log.warning("retention round failed: %s", exc)
        return
    if report is not None and report.jobs:
        log.warning("retention: %s", report.line())


def _device() -> str:
    from aigc.core.config import environment

    # Set by `aigc worker` from NVML; the worker itself never touches CUDA just to describe itself.
    described = environment().worker_device
    if described:
        return described
    pinned = os.environ.get("CUDA_VISIBLE_DEVICES")
    if pinned is None:
        return "auto"
    return "cpu" if pinned in ("", "-1") else f"cuda (CUDA_VISIBLE_DEVICES={pinned})"


@signals.worker_ready.connect
def _on_ready(sender: Any = None, **_kw: Any) -> None:
    global _node

    consumer = sender.task_consumer
    queues = [q.name for q in consumer.queues] if consumer is not None else []
    _node = _Node(sender.hostname, queues)
    import aigc.core.runner  # noqa: F401 - the first job should not pay for imports (no torch here)

    # The heartbeat registers the row on its first beat (and again if it ever goes missing).
    _node.heartbeat.start()
    from aigc.core.webhooks import sender_for

    sender_for(_node.store)  # notices of jobs that ended anywhere, also before this worker started
    log.info("worker %s ready on %s, queues %s", _node.name, _device(), ",".join(queues))


@signals.worker_process_init.connect
def _on_pool_child(**_kw: Any) -> None:
    # A prefork child must not reuse the connections its parent opened before forking.
    from aigc.core.store.engine import dispose_all

    dispose_all()


@signals.worker_init.connect
def _on_init(sender: Any = None, **_kw: Any) -> None:
    # Celery's soft shutdown sleeps in the main thread and then cancels tasks; only prefork can
    # cancel a task, so the other pools take their window from `_drain` below instead.
    pool = getattr(sender, "pool_cls", None)
    name = getattr(pool, "__module__", str(pool))
    if "prefork" not in name:
        sender.app.conf.worker_soft_shutdown_timeout = 0


@signals.worker_shutting_down.connect
def _on_shutting_down(how: str = "Warm", **_kw: Any) -> None:
    # Called inside a signal handler: start a thread and return at once. A cold shutdown keeps only
    # Celery's own window (prefork); the thread pool has none, so its job is handed back at once.
    if _node is not None:
        cold_window = float(_node.app.conf.worker_soft_shutdown_timeout or 0)
        window = _node.ws.soft_shutdown_s if how == "Warm" else cold_window
        threading.Thread(target=_drain, args=(window,), name="aigc-drain", daemon=True).start()


def _drain(window_s: float) -> None:
    from aigc.core.store import workers

    assert _node is not None
    deadline = time.monotonic() + window_s
    while time.monotonic() < deadline:
        if not workers.runs_jobs(_node.store, _node.name):
            return
        time.sleep(0.5)
    try:
        released = release_running()
    except Exception as exc:  # the lease will lapse and the reaper requeues instead
        log.warning("could not hand the running job back: %s", exc)
        return
    if released:
        log.warning("soft-shutdown window (%.0f s) over: job(s) %s handed back to the queue", window_s, released)


@signals.worker_shutdown.connect
def _on_shutdown(**_kw: Any) -> None:
    from aigc.core.store import workers

    if _node is not None:
        _node.heartbeat.stop()
        try:
            workers.stopped(_node.store, _node.name)
        except Exception as exc:  # a missing stop mark only ages out
            log.warning("could not mark worker %s stopped: %s", _node.name, exc)


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def _mask_secrets_in_logs(logger: logging.Logger | None = None, **_kw: object) -> None:
    # Every record goes out through these handlers: none shows a password, whoever logged it.
    from aigc.core.masking import MaskSecrets

    for handler in logger.handlers if logger is not None else ():
        handler.addFilter(MaskSecrets())
