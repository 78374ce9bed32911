"""Job changes pushed to the clients that follow a job: one shared poll of the store, fanned out.

Every follower of any job is fed by the same loop: while anyone follows, it reads the followed jobs
in one query every `interval_s` (25 ms) and pushes each job whose state changed to its followers'
queues. A write to the store thus reaches a waiting client within about one interval plus a query,
whichever database it is and whichever process (a worker, this server, the CLI) wrote it; a server
followed by nobody does not poll at all. `GET /api/jobs/{id}/events` streams them as server-sent events;
`GET /jobs/changes` tells the jobs page when one of the newest jobs was added or changed.

A job this server runs itself may stream text (`ctx.stream`: a text model's tokens); the same loop sends
each follower the text it has not seen yet as `text` events, `{"offset": N, "text": "..."}`, always before
the job's state that follows it, so the text is complete by the time a follower sees the job end.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from aigc.cli.serialize import job_dict
from aigc.cli.serve.streamed import StreamedTexts
from aigc.core.status import JobStatus
from aigc.core.store import Store
from aigc.core.store.models import Job

log = logging.getLogger("aigc.serve")
KEEPALIVE_S = 15.0  # a comment line this often keeps proxies from closing an idle stream
Event = tuple[str, dict[str, Any]]  # (name, data): ("job", the job's state) or ("text", a piece of its text)


def _state(job: Job) -> dict[str, Any]:
    """The job as the API shows it (JobOut's JSON: times with their UTC offset)."""
    from aigc.cli.serve.schemas import JobOut

    return json.loads(JobOut.model_validate(job_dict(job)).model_dump_json())


def _fingerprint(job: Job) -> tuple[Any, ...]:
    """What a follower sees change; not the running duration, which changes at every read."""
    return (
        job.status,
        job.progress,
        json.dumps(job.progress_info, sort_keys=True, default=str),
        job.attempts,
        job.worker,
        job.device,
        job.error,
        job.finished_at,
        job.lease_lapsed,
        job.cancel_requested,
    )


class Follower:
    """One client following one job: its queue of events, and how much of the job's text it was sent."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Event] = asyncio.Queue()
        self.text_sent = 0


class JobEvents:
    def __init__(self, store: Store, texts: StreamedTexts | None = None, interval_s: float = 0.025) -> None:
        self.store, self.interval_s = store, interval_s
        self.texts = texts or StreamedTexts()
        self._followers: dict[int, set[Follower]] = {}
        self._last: dict[int, tuple[tuple[Any, ...], dict[str, Any]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._listings: set[asyncio.Queue[Event]] = set()  # followers of the jobs table
        self._listing: tuple[Any, ...] | None = None

    async def follow(self, job_id: int, keepalive_s: float = KEEPALIVE_S) -> AsyncIterator[Event | None]:
        """The job's state now, then each change (and its streamed text), until it has ended; None after
        `keepalive_s` of quiet."""
        follower = Follower()
        self._followers.setdefault(job_id, set()).add(follower)
        if job_id in self._last:  # another follower's loop already knows it: no need to wait for a change
            self._send_text(job_id, follower)
            follower.queue.put_nowait(("job", self._last[job_id][1]))
        self._start()
        try:
            while True:
                try:
                    event = await asyncio.wait_for(follower.queue.get(), keepalive_s)
                except TimeoutError:
                    yield None
                    continue
                yield event
                name, state = event
                if name == "job" and JobStatus(state["status"]).finished:
                    return
        finally:
            followers = self._followers.get(job_id, set())
            followers.discard(follower)
            if not followers:
                self._followers.pop(job_id, None)
                self._last.pop(job_id, None)

    def _send_text(self, job_id: int, follower: Follower) -> None:
        text = self.texts.since(job_id, follower.text_sent)
        if text:
            follower.queue.put_nowait(("text", {"offset": follower.text_sent, "text": text}))
            follower.text_sent += len(text)

    async def follow_listing(
        self, keepalive_s: float = KEEPALIVE_S, lifetime_s: float = 600.0
    ) -> AsyncIterator[Event | None]:
        """A notice each time one of the newest jobs is added or changes (the jobs page then reloads its rows).

        Ends after `lifetime_s` (a browser's EventSource reconnects), so no stream outlives a closed tab for long.
        """
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self._listings.add(queue)
        self._start()
        ends = asyncio.get_running_loop().time() + lifetime_s
        try:
            while asyncio.get_running_loop().time() < ends:
                try:
                    yield await asyncio.wait_for(queue.get(), keepalive_s)
                except TimeoutError:
                    yield None
        finally:
            self._listings.discard(queue)

    def _start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._poll())

    async def _poll(self) -> None:
        while self._followers or self._listings:
            ids = list(self._followers)
            try:
                if self._listings:
                    listing = await asyncio.to_thread(self._read_listing)
                    if listing != self._listing:
                        self._listing = listing
                        for queue in self._listings:
                            queue.put_nowait(("jobs", {"changed": True}))
                jobs = await asyncio.to_thread(self._read, ids) if ids else []
            except Exception:  # the store is away for a moment: followers wait (kept alive), the loop goes on
                log.warning("job events: the store could not be read", exc_info=True)
                await asyncio.sleep(1.0)
                continue
            for job in jobs:
                # Text first: all a job streamed was added before the store read that finds it ended.
                for follower in self._followers.get(job.id, ()):
                    self._send_text(job.id, follower)
                key = _fingerprint(job)
                known = self._last.get(job.id)
                if known is not None and known[0] == key:
                    continue
                state = _state(job)
                self._last[job.id] = (key, state)
                for follower in self._followers.get(job.id, ()):
                    follower.queue.put_nowait(("job", state))
            await asyncio.sleep(self.interval_s)

    def _read_listing(self, newest: int = 500) -> tuple[Any, ...]:
        """What the jobs page shows of the newest jobs, to notice a change (new job, status, progress)."""
        from sqlalchemy import select

        query = select(Job.id, Job.status, Job.progress, Job.attempts).order_by(Job.id.desc()).limit(newest)
        with self.store.transaction() as session:
            return tuple(session.execute(query).all())

    def _read(self, ids: list[int]) -> list[Job]:
        from sqlalchemy import select

        with self.store.transaction() as session:
            return list(session.execute(select(Job).where(Job.id.in_(ids))).scalars())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


async def sse(events: AsyncIterator[Event | None]) -> AsyncIterator[str]:
    """The events as server-sent events (`event: NAME`), a keep-alive comment for each quiet spell."""
    async for event in events:
        yield ": keep-alive\n\n" if event is None else f"event: {event[0]}\ndata: {json.dumps(event[1])}\n\n"
