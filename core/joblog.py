"""What a job's plugin logs (through `ctx.logger`) and the Python warnings its thread raises, captured
for the store (core/store/joblogs.py), so they outlive the worker that ran the job."""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from aigc.core.masking import masked
from aigc.core.store.models import utcnow

WARNINGS_LOGGER = "py.warnings"  # where logging.captureWarnings sends warnings.warn


class JobLogHandler(logging.Handler):
    """Buffers the records of one attempt until the runner flushes them into the store."""

    def __init__(self, thread_id: int) -> None:
        super().__init__(logging.INFO)
        self.thread_id = thread_id
        self.pending: list[tuple[datetime, str, str]] = []
        self._pending_lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        # Warnings are process-wide: keep only those raised in the job's own thread.
        if record.name == WARNINGS_LOGGER and record.thread != self.thread_id:
            return
        try:
            text = record.getMessage()
            if record.exc_info:
                text += "\n" + logging.Formatter().formatException(record.exc_info)
        except Exception:  # a bad format string must not fail the job
            text = str(record.msg)
        with self._pending_lock:
            self.pending.append((utcnow(), record.levelname, masked(text.rstrip())))

    def take(self) -> list[tuple[datetime, str, str]]:
        with self._pending_lock:
            lines, self.pending = self.pending, []
        return lines


class Capture:
    """Attach a handler to the job's logger and to the warnings logger for one attempt."""

    def __init__(self, job_logger: logging.Logger) -> None:
        self.logger = job_logger
        self.handler = JobLogHandler(threading.get_ident())

    def __enter__(self) -> JobLogHandler:
        logging.captureWarnings(True)  # idempotent; warnings then reach WARNINGS_LOGGER as records
        if self.logger.level == logging.NOTSET:
            self.logger.setLevel(logging.INFO)  # a plugin's info lines are kept, whatever the root's level
        self.logger.addHandler(self.handler)
        logging.getLogger(WARNINGS_LOGGER).addHandler(self.handler)
        return self.handler

    def __exit__(self, *exc: object) -> None:
        self.logger.removeHandler(self.handler)
        logging.getLogger(WARNINGS_LOGGER).removeHandler(self.handler)
