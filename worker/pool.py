"""The pool `aigc worker` runs each Celery process with: one job thread, safe for CUDA.

Celery's thread pool (no fork, so CUDA can be initialised freely; the main thread stays in Celery's
event loop, so signals and remote control never land inside a job). What Celery cannot do to a
thread is terminate it, which it tries on a cold shutdown and on `revoke(terminate=True)`: here that
hands the job back through the store instead, and the job stops at its next progress point.
"""

from __future__ import annotations

import logging
from typing import Any

from celery.concurrency.thread import TaskPool as ThreadTaskPool

log = logging.getLogger("aigc.worker")


class JobThreadPool(ThreadTaskPool):
    def terminate_job(self, pid: Any, signal: Any = None) -> None:
        from aigc.worker import node

        released = node.release_running()
        log.warning("released job(s) %s back to the queue: Celery asked to terminate them", released)
