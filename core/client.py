"""`Client(url, token)`: aigc from Python through an `aigc serve` (its /api), with only a URL and a token.

    from aigc.core.client import Client

    with Client("http://gpu-box:8000", "aigc_...") as aigc:
        job = aigc.submit("generate", "gan", n=16, seed=7)
        done = aigc.wait(job, on_progress=lambda j: print(f"{j['progress']:.0%}"))
        images = aigc.results(done)           # PIL images; str for text, bytes for anything else
        aigc.download(done, "digits/")        # every result as a file, streamed

Errors are the core's typed ones, with the server's one-line message: ServerUnreachable, Unauthorized
(401), NotAllowed (403), OverLimit (413, 429), UsageError (404, 409, 422: an unknown job or plugin, a
bad param named by the server), StoreUnavailable (503). The CLI's remote mode is built on this class.
No torch: a laptop needs only aigc's light dependencies to drive a GPU cluster.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from aigc.core.errors import (
    AigcError,
    NotAllowed,
    OverLimit,
    ServerUnreachable,
    StoreUnavailable,
    Unauthorized,
    UsageError,
)

if TYPE_CHECKING:
    from PIL.Image import Image

JobRef = int | dict[str, Any]  # a job id, or a job as the server returned it
FINISHED = frozenset({"succeeded", "failed", "cancelled"})
PAGE = 1000  # results listed per request
RECONNECTS = 10  # a dropped event stream is opened again this many times (a server restart)


def job_id(job: JobRef) -> int:
    return int(job["id"]) if isinstance(job, dict) else int(job)


class Client:
    def __init__(self, url: str | None = None, token: str | None = None, *, timeout_s: float = 30.0) -> None:
        """`url` and `token` default to AIGC_SERVER_URL and AIGC_TOKEN (else AIGC_API_TOKEN)."""
        if url is None or token is None:
            from aigc.core.config import environment

            env = environment()
            url = url or env.server_url
            if token is None:
                secret = env.token or env.api_token
                token = secret.get_secret_value() if secret is not None else None
        if not url:
            raise UsageError("no server to talk to: pass Client(url, token), or set AIGC_SERVER_URL")
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout_s)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- plugins and models --------------------------------------------------------------------------
    def plugins(self) -> list[dict[str, Any]]:
        """Every plugin of the server: name, modality, package, status, error."""
        return self._json("GET", "/api/plugins")

    def plugin(self, name: str) -> dict[str, Any]:
        """One plugin with the JSON schema of each job kind's params."""
        return self._json("GET", f"/api/plugins/{name}")

    def models(self, plugin: str | None = None) -> list[dict[str, Any]]:
        return self._json("GET", "/api/models", params=_given(plugin=plugin))

    def workers(self) -> dict[str, Any]:
        """Whether the server has a broker, its live workers and queue depths."""
        return self._json("GET", "/api/workers")

    # -- jobs ----------------------------------------------------------------------------------------
    def submit(
        self,
        kind: str,
        plugin: str,
        *,
        priority: int = 0,
        retries: int = 0,
        after: Sequence[int] = (),
        timeout_s: float | None = None,
        notify: str | None = None,
        label: str | None = None,
        **params: Any,
    ) -> dict[str, Any]:
        """Store and start a job; the server checks the params first (UsageError names a bad one).

        `after`: jobs that must succeed first; `timeout_s`: seconds it may run; `notify`: a webhook URL;
        `label="visible"`: a visible AI mark on its results. Every other keyword is a param of the plugin.
        """
        body: dict[str, Any] = {"kind": kind, "plugin": plugin, "params": params, "priority": priority}
        body |= {"retries": retries, "after": list(after), "timeout_s": timeout_s, "notify": notify, "label": label}
        return self._json("POST", "/api/jobs", json=body)

    def sweep(
        self,
        kind: str,
        plugin: str,
        *,
        random: int | None = None,
        seeds: int | None = None,
        max_parallel: int | None = None,
        then: Sequence[dict[str, Any]] = (),
        **params: Any,
    ) -> dict[str, Any]:
        """Store a sweep: each param a list of values, or a string as on the command line ('1e-4,2e-4',
        'log:1e-4..1e-2'); `then=[{"kind": "evaluate", "params": {...}}]` chains a job on each trained model.
        Every combination is checked first (UsageError names a bad one). Returns {"id", "jobs"}."""
        body: dict[str, Any] = {"kind": kind, "plugin": plugin, "params": params, "random": random, "seeds": seeds}
        body |= {"max_parallel": max_parallel, "then": list(then)}
        return self._json("POST", "/api/sweeps", json=body)

    def sweeps(self, limit: int = 20) -> list[dict[str, Any]]:
        return self._json("GET", "/api/sweeps", params={"limit": limit})

    def sweep_table(self, sweep: int, by: str | None = None, highest: bool = False) -> dict[str, Any]:
        """A sweep's points with their params and final metrics, sorted by `by` (best first)."""
        return self._json("GET", f"/api/sweeps/{sweep}", params=_given(by=by, highest=highest or None))

    def cancel_sweep(self, sweep: int) -> dict[str, int]:
        return self._json("POST", f"/api/sweeps/{sweep}/cancel")

    def job(self, job: JobRef) -> dict[str, Any]:
        return self._json("GET", f"/api/jobs/{job_id(job)}")

    def jobs(
        self, status: str | None = None, plugin: str | None = None, limit: int = 20, before: int | None = None
    ) -> list[dict[str, Any]]:
        """The newest jobs, newest first; `before` (a job id) pages back."""
        return self._json("GET", "/api/jobs", params=_given(status=status, plugin=plugin, limit=limit, before=before))

    def cancel(self, job: JobRef) -> dict[str, Any]:
        """{"id", "was", "status", "lease_lapsed", "message"}: a queued job never runs, a running one stops at
        its next progress point (status stays `running` until then), one whose lease lapsed ends at once."""
        return self._json("POST", f"/api/jobs/{job_id(job)}/cancel")

    def rerun(self, job: JobRef) -> dict[str, Any]:
        return self._json("POST", f"/api/jobs/{job_id(job)}/rerun")

    def metrics(self, job: JobRef) -> list[dict[str, Any]]:
        return self._json("GET", f"/api/jobs/{job_id(job)}/metrics")

    def events(self, job: JobRef, on_text: Callable[[str], object] | None = None) -> Iterator[dict[str, Any]]:
        """The job now, then at each change the server pushes, until it ends; a dropped stream is reopened.

        `on_text` gets the text the job streams as it is produced (a text model's tokens; only jobs the
        server runs itself stream), each character once, all of it before the job's end is yielded.
        """
        path = f"/api/jobs/{job_id(job)}/events"
        drops, text_seen = 0, 0
        while True:
            try:
                with self._http.stream("GET", path, timeout=httpx.Timeout(10.0, read=None)) as response:
                    if response.status_code != 200:
                        response.read()
                        _raise_for(response, self.url)
                    for event, data in _server_sent(response.iter_lines()):
                        drops = 0
                        if event == "text":  # a reopened stream sends the text from its start again
                            new = data["text"][max(0, text_seen - data["offset"]) :]
                            text_seen = max(text_seen, data["offset"] + len(data["text"]))
                            if new and on_text is not None:
                                on_text(new)
                            continue
                        if event != "job":
                            continue
                        yield data
                        if data["status"] in FINISHED:
                            return
            except (httpx.TransportError, ServerUnreachable) as exc:
                drops += 1
                if drops > RECONNECTS:
                    raise ServerUnreachable(f"lost {self.url} while following job {job_id(job)}: {exc}") from None
                time.sleep(min(2.0, 0.1 * 2**drops))

    def wait(
        self,
        job: JobRef,
        on_progress: Callable[[dict[str, Any]], object] | None = None,
        timeout_s: float | None = None,
        on_text: Callable[[str], object] | None = None,
    ) -> dict[str, Any]:
        """Follow the job's pushed events until it ends; returns it as it ended (or as it stood at `timeout_s`).

        `on_text`: each piece of text the job streams, as it comes (`print(t, end="", flush=True)`).
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        state = job if isinstance(job, dict) else {"id": job}
        for state in self.events(job, on_text=on_text):
            if on_progress is not None:
                on_progress(state)
            if deadline is not None and time.monotonic() > deadline:
                break
        return state

    # -- results -------------------------------------------------------------------------------------
    def result_infos(self, job: JobRef, offset: int = 0, limit: int = PAGE) -> list[dict[str, Any]]:
        """One page of the job's results (without their bytes): index, kind, role, mime, bytes, text, url."""
        return self._json("GET", f"/api/jobs/{job_id(job)}/results", params={"offset": offset, "limit": limit})

    def all_result_infos(self, job: JobRef) -> Iterator[dict[str, Any]]:
        offset = 0
        while page := self.result_infos(job, offset, PAGE):
            yield from page
            offset += len(page)

    def result_bytes(self, job: JobRef, index: int) -> bytes:
        return self._request("GET", f"/api/jobs/{job_id(job)}/results/{index}").content

    def results(self, job: JobRef) -> list[Image | str | bytes]:
        """The job's items in order: PIL images, str for texts, bytes for any other kind (grids left out)."""
        from PIL import Image as PILImage

        items: list[Image | str | bytes] = []
        for info in self.all_result_infos(job):
            if info["role"] != "item":
                continue
            if info["kind"] == "text":
                items.append(info["text"] or "")
                continue
            data = self.result_bytes(job, info["index"])
            if info["mime"].startswith("image/"):
                import io

                image = PILImage.open(io.BytesIO(data))
                image.load()
                items.append(image)
            else:
                items.append(data)
        return items

    def download(self, job: JobRef, folder: str | Path) -> list[Path]:
        """Every result of the job into `folder` (created if missing) as `00000.png`, `grid-00064.png`,
        `00000.txt`...: the server's zip streamed to a temporary file, never held in memory."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        with tempfile.TemporaryFile() as spool:
            with self._http.stream("GET", f"/api/jobs/{job_id(job)}/results.zip", timeout=None) as response:
                if response.status_code != 200:
                    response.read()
                    _raise_for(response, self.url)
                for chunk in response.iter_bytes(1 << 20):
                    spool.write(chunk)
            spool.seek(0)
            with zipfile.ZipFile(spool) as archive:
                for member in archive.infolist():
                    name = Path(member.filename).name  # the server names files plainly; never a path out of `folder`
                    if name == "results.json" or not name:
                        continue
                    with archive.open(member) as source, open(folder / name, "wb") as target:
                        shutil.copyfileobj(source, target, 1 << 20)
                    written.append(folder / name)
        return written

    # -- HTTP ----------------------------------------------------------------------------------------
    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._request(method, path, **kwargs).json()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ServerUnreachable(f"cannot reach aigc serve at {self.url}: {_reason(exc)}") from None
        if response.status_code >= 400:
            _raise_for(response, self.url)
        return response


def _given(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _reason(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def _detail(response: httpx.Response) -> str:
    """The server's one line: its JSON `detail` (FastAPI's field errors as `where: what`), else the text."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return response.text.strip().splitlines()[0] if response.text.strip() else response.reason_phrase
    if isinstance(detail, list):
        return "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body')}: {e.get('msg', 'invalid')}" for e in detail
        )
    return str(detail)


def _raise_for(response: httpx.Response, url: str) -> None:
    status, detail = response.status_code, _detail(response)
    if status == 401:
        raise Unauthorized(f"{url} refused the token (401): set AIGC_TOKEN to a token of `aigc tokens create`")
    if status == 403:
        raise NotAllowed(detail)
    if status in (413, 429):
        wait = response.headers.get("retry-after")
        raise OverLimit(detail + (f" (retry after {wait} s)" if wait and wait not in detail else ""), status)
    if status == 503:
        raise StoreUnavailable(detail)
    if status in (400, 404, 409, 421, 422):
        raise UsageError(detail)
    raise AigcError(f"{url} answered {status}: {detail}")


def _server_sent(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The events of a server-sent-events stream as (name, data as a dict); comments skipped."""
    event, data = "message", list[str]()
    for line in lines:
        if not line:
            if data:
                yield event, json.loads("\n".join(data))
            event, data = "message", []
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)
