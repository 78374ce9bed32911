"""The live text of the jobs this server runs itself (`ctx.stream`, e.g. a text model's tokens).

An embedded job's runner thread adds each piece as the plugin streams it; the job's event stream
(cli/serve/events.py) sends what each follower has not seen yet, so a remote `aigc submit --wait` prints
the text as it is produced, as the direct path does. Only this process sees it (a worker's job streams
to nobody, on both paths), and it is kept only for the last `KEEP` jobs: enough for a client that starts
following a job a moment after submitting it, or reconnects, to get all of it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

KEEP = 32  # jobs whose text is kept; the oldest is dropped first


class StreamedTexts:
    def __init__(self, keep: int = KEEP) -> None:
        self._keep = keep
        self._lock = threading.Lock()
        self._texts: OrderedDict[int, list[str]] = OrderedDict()  # job id -> its pieces, in order
        self._sizes: dict[int, int] = {}  # job id -> characters so far

    def add(self, job_id: int, text: str) -> None:
        """A piece of the job's text (called from the thread that runs it)."""
        with self._lock:
            pieces = self._texts.get(job_id)
            if pieces is None:
                pieces = self._texts[job_id] = []
                while len(self._texts) > self._keep:
                    dropped, _ = self._texts.popitem(last=False)
                    self._sizes.pop(dropped, None)
            pieces.append(text)
            self._sizes[job_id] = self._sizes.get(job_id, 0) + len(text)

    def size(self, job_id: int) -> int:
        with self._lock:
            return self._sizes.get(job_id, 0)

    def since(self, job_id: int, offset: int) -> str:
        """The job's text from character `offset` on ("" when there is nothing new)."""
        with self._lock:
            if self._sizes.get(job_id, 0) <= offset:
                return ""
            whole = "".join(self._texts[job_id])
            self._texts[job_id] = [whole]  # joined once; later calls join only what came since
        return whole[offset:]
