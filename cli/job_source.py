"""Where the user commands read jobs from: the store (direct) or an `aigc serve` (AIGC_SERVER_URL set).

The commands render one way whatever the source: each source hands them store-shaped `Job`s (a remote
one is rebuilt from the API's JSON, detached from any session), what a job produced (`JobFacts`), its
result rows, and writes them to a folder. The remote source is `aigc.core.client.Client`: the CLI's
remote mode and Python scripts share one implementation of the API's client side.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from aigc.core.client import Client
    from aigc.core.store import Job, Store


@dataclass
class JobFacts:
    """What a job produced, as `jobs show` and the summary after `submit` print it."""

    counts: dict[str, int]  # results per role
    texts: list[str]  # generated texts (items), in order
    models: list[tuple[str, str]] = field(default_factory=list)  # (id, name) of the models it registered
    metrics: list[tuple[str, int, float]] = field(default_factory=list)  # (key, step, value), step order
    parents: list[int] = field(default_factory=list)  # the jobs it waits for (--after)
    notices: list[dict[str, Any]] = field(default_factory=list)  # its webhook notices and their deliveries


@dataclass
class ResultRow:
    """A result with its bytes, as the preview and `--out` read it (the store's `Result` has the same fields)."""

    index: int
    kind: str
    role: str
    mime: str
    data: bytes | None
    text: str | None
    seed: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)


class JobSource(Protocol):
    def facts(self, job: Job, texts: bool = True) -> JobFacts: ...

    def rows(self, job: Job) -> list[Any]: ...

    def write(self, job: Job, out_dir: Path, force: bool = False) -> None: ...


class StoreSource:
    def __init__(self, store: Store) -> None:
        self.store = store

    def facts(self, job: Job, texts: bool = True) -> JobFacts:
        from aigc.core.store import notices as outbox
        from aigc.core.store import queries
        from aigc.core.store.dependencies import parents_of

        with self.store.transaction() as session:
            counts = queries.count_results(session, job.id)
            shown = (
                [r.text or "" for r in queries.results_of(session, job.id) if r.kind == "text" and r.role == "item"]
                if texts
                else []
            )
            models = [(str(m.id), m.name) for m in queries.models_of(session, job.plugin) if m.source_job_id == job.id]
            metrics = [(m.key, m.step, m.value) for m in queries.metrics_of(session, job.id)]
            parents = parents_of(session, [job.id]).get(job.id, [])
            notices = [outbox.describe(n) for n in outbox.notices_of(session, job.id)]
        return JobFacts(counts, shown, models, metrics, parents, notices)

    def rows(self, job: Job) -> list[Any]:
        from aigc.core.store import queries

        with self.store.transaction() as session:
            return list(queries.results_of(session, job.id))

    def write(self, job: Job, out_dir: Path, force: bool = False) -> None:
        from aigc.cli.results_cmd import write_results

        write_results(job, self.rows(job), out_dir, force=force)


class RemoteSource:
    def __init__(self, client: Client) -> None:
        self.client = client

    def facts(self, job: Job, texts: bool = True) -> JobFacts:
        counts: dict[str, int] = {}
        shown: list[str] = []
        for info in self.client.all_result_infos(job.id):
            counts[info["role"]] = counts.get(info["role"], 0) + 1
            if texts and info["kind"] == "text" and info["role"] == "item":
                shown.append(info["text"] or "")
        models = [(m["id"], m["name"]) for m in self.client.models(job.plugin) if m["source_job_id"] == job.id]
        metrics = [(p["key"], p["step"], p["value"]) for p in self.client.metrics(job.id)]
        metrics.sort(key=lambda p: (p[0], p[1]))
        detail = self.client.job(job.id)
        return JobFacts(counts, shown, models, metrics, detail.get("after", []), detail.get("webhooks", []))

    def rows(self, job: Job) -> list[Any]:
        return [
            ResultRow(
                info["index"],
                info["kind"],
                info["role"],
                info["mime"],
                None if info["kind"] == "text" else self.client.result_bytes(job.id, info["index"]),
                info["text"],
                info["seed"],
                info["meta"],
            )
            for info in self.client.all_result_infos(job.id)
        ]

    def write(self, job: Job, out_dir: Path, force: bool = False) -> None:
        """The server's zip streamed into the staged folder (never all in memory), plus the contact sheet."""
        from aigc.cli.output_folder import staged_folder
        from aigc.cli.render import err
        from aigc.cli.results_cmd import labelled_sheet, sidecar
        from aigc.core.errors import UsageError
        from aigc.core.images import sheet_png
        from aigc.core.provenance import LABEL_KEY

        total = sum(self.facts(job, texts=False).counts.values())
        if not total:
            raise UsageError(f"job {job.id} has no results (status {job.status})")
        with staged_folder(out_dir, force=force) as staged:
            files = self.client.download(job.id, staged.path)
            items = sorted(p for p in files if p.suffix == ".png" and p.stem.isdigit())
            if items and not any(p.name.startswith("grid-") for p in files):
                sheet = sheet_png([p.read_bytes() for p in items])
                (staged.path / "grid.png").write_bytes(labelled_sheet(job, sheet))
            for info in self.client.all_result_infos(job.id) if any(p.suffix == ".txt" for p in files) else []:
                if info["kind"] == "text" and LABEL_KEY in (info["meta"] or {}):  # as the direct path writes them
                    name = f"{info['index']:05d}" if info["role"] == "item" else f"{info['role']}-{info['index']:05d}"
                    row = ResultRow(
                        info["index"],
                        info["kind"],
                        info["role"],
                        info["mime"],
                        None,
                        info["text"],
                        info["seed"],
                        info["meta"],
                    )
                    (staged.path / f"{name}.json").write_text(json.dumps(sidecar(row), indent=2) + "\n")
        replaced = f" (replaced {len(staged.replaced)} files of the same names)" if staged.replaced else ""
        err.print(f"wrote {len(files)} results of job {job.id} to {out_dir}{replaced}")


def remote_client() -> Client | None:
    """The client of AIGC_SERVER_URL, or None: then the commands use the store directly."""
    from aigc.core.config import environment

    if environment().server_url is None:
        return None
    from aigc.core.client import Client

    return Client()


def job_from_api(data: dict[str, Any]) -> Job:
    """A job of the API's JSON as the store's `Job` (detached), so both paths render it one way."""
    from aigc.core.store import Job

    return Job(
        id=data["id"],
        kind=data["kind"],
        plugin=data["plugin"],
        status=data["status"],
        progress=data["progress"],
        progress_info=data["progress_info"],
        params=data["params"],
        seed=data["seed"],
        model_id=data["model_id"],
        queue=data["queue"],
        priority=data["priority"],
        attempts=data["attempts"],
        max_attempts=data["max_attempts"],
        worker=data["worker"],
        device=data["device"],
        error=data["error"],
        summary=data["summary"],
        created_at=api_time(data["created_at"]),
        started_at=api_time(data.get("started_at")),
        finished_at=api_time(data.get("finished_at")),
        lease_expires_at=api_time(data.get("lease_expires_at")),
        token_name=data.get("token"),
        sweep_id=data.get("sweep_id"),
        timeout_s=data.get("timeout_s"),
        label=None if data.get("label", "metadata") == "metadata" else data["label"],  # the store's None
    )


def api_time(text: str | None) -> datetime | None:
    """An API time (RFC 3339, with its offset) as the store keeps it: naive UTC."""
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
