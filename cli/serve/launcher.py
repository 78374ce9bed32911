"""Starting a submitted job (`aigc.core.jobs.start`): queued when a broker is configured, else run in a thread here.

Embedded jobs run one at a time, in submission order, in a background thread: a request never waits for
a job. Stopping the server cancels the embedded jobs it still holds, so none is left `running` with
nobody renewing its lease; jobs that must outlive the server belong on a broker and workers. What a
job streams as it runs (`ctx.stream`) is kept in `texts` for the clients following it (events.py).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from aigc.cli.serve.streamed import StreamedTexts
from aigc.core.config import Settings
from aigc.core.jobs import start
from aigc.core.store import Job, Store

log = logging.getLogger("aigc.serve")


class Launcher:
    def __init__(self, store: Store, slots: int = 1) -> None:
        self.store = store
        self.settings: Settings = store.settings
        self._pool: ThreadPoolExecutor | None = None
        self._slots = slots
        self._lock = threading.Lock()
        self._held: set[int] = set()  # embedded jobs accepted and not yet ended
        self._running: set[int] = set()
        self.texts = StreamedTexts()  # what its jobs stream (ctx.stream), for the clients following them

    def start(self, job: Job) -> None:
        """Send the job on its way, as the CLI does; BrokerUnavailable leaves it queued in the store."""
        self.start_all([job])

    def start_all(self, jobs: list[Job]) -> None:
        """Several jobs (a sweep's), in order: a job's queued parents run before it."""
        start(self.store, jobs, run_here=self._hold)

    def _hold(self, job_id: int) -> None:
        """Accept an embedded job: it runs in the background, after those accepted before it."""
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self._slots, thread_name_prefix="aigc-embedded")
            if job_id in self._held:  # a parent accepted earlier, named again by its dependent
                return
            self._held.add(job_id)
            self._pool.submit(self._run, job_id)

    def _run(self, job_id: int) -> None:
        from aigc.core.runner import run_to_end

        with self._lock:
            self._running.add(job_id)
        try:
            run_to_end(job_id, settings=self.settings, on_stream=lambda text: self.texts.add(job_id, text))
        except Exception:  # the runner records job failures itself; this is a store outage or a bug
            log.exception("embedded job %s could not be run", job_id)
        finally:
            with self._lock:
                self._running.discard(job_id)
                self._held.discard(job_id)

    def snapshot(self) -> tuple[list[int], list[int]]:
        """(running, waiting) embedded job ids, for the workers page."""
        with self._lock:
            return sorted(self._running), sorted(self._held - self._running)

    def stop(self) -> None:
        """Cancel what this server still holds, then wait for the running job to reach a progress point."""
        from aigc.core.jobs import cancel_job

        with self._lock:
            held, pool, self._pool = sorted(self._held), self._pool, None
        for job_id in held:
            try:
                cancel_job(self.store, job_id)
            except Exception:
                log.exception("could not cancel embedded job %s on shutdown", job_id)
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
