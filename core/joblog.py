"""What a job's plugin logs (through `ctx.logger`) and the Python warnings its thread raises, captured
for the store (core/store/joblogs.py), so they outlive the worker that ran the job."""

from __future__ import annotations

import logging
import threading
import warnings
from datetime import datetime
from typing import TextIO

from aigc.core.masking import masked
from aigc.core.store.models import utcnow


class JobLogHandler(logging.Handler):
    """Buffers the records of one attempt until the runner flushes them into the store."""

    def __init__(self, thread_id: int) -> None:
        super().__init__(logging.INFO)
        self.thread_id = thread_id
        self.pending: list[tuple[datetime, str, str]] = []
        self._pending_lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
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
    """Attach a handler to the job's logger, and catch the warnings of the job's thread, for one attempt.

    Warnings are caught by wrapping `warnings.showwarning` (what prints them): they are still shown as
    before, and the wrapper of an attempt that ended passes them on untouched, so attempts overlapping in
    threads of one process each keep their own.
    """

    def __init__(self, job_logger: logging.Logger) -> None:
        self.logger = job_logger
        self.handler = JobLogHandler(threading.get_ident())
        self.active = False

    def __enter__(self) -> JobLogHandler:
        if self.logger.level == logging.NOTSET:
            self.logger.setLevel(logging.INFO)  # a plugin's info lines are kept, whatever the root's level
        self.logger.addHandler(self.handler)
        self.previous = warnings.showwarning
        self.active = True
        warnings.showwarning = self._show
        return self.handler

    def _show(
        self,
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        if self.active and threading.get_ident() == self.handler.thread_id:
            text = warnings.formatwarning(message, category, filename, lineno).strip()
            record = logging.LogRecord(self.logger.name, logging.WARNING, filename, lineno, text, None, None)
            self.handler.handle(record)
        self.previous(message, category, filename, lineno, file, line)

    def __exit__(self, *exc: object) -> None:
        self.logger.removeHandler(self.handler)
        self.active = False
        if warnings.showwarning == self._show:
            warnings.showwarning = self.previous
