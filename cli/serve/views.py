"""What the pages and the API show beyond a stored row: results in batches, the models a form may name."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy.orm import Session

from aigc.core.store import Result, Store, queries


def result_batches(store: Store, job_id: int, batch: int = 200) -> Iterator[list[Result]]:
    """All results with their bytes, a batch per short transaction (a long download holds no lock)."""
    after = -1
    while True:
        with store.transaction() as session:
            rows = queries.results_after(session, job_id, after, batch)
        if not rows:
            return
        yield rows
        after = rows[-1].index


def model_choices(session: Session, plugin: str) -> list[tuple[str, str]]:
    """(id, label) of the models a job of `plugin` may name, newest trained first."""
    return [(str(m.id), f"{m.id}: {m.name}") for m in queries.models_of(session, plugin)[:200]]
