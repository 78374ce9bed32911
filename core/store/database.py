"""`Store`: the database (system of record) and the artifact root, opened from settings."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import CursorResult, Engine, Result
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from aigc.core.artifacts import ArtifactStore
from aigc.core.config import Settings
from aigc.core.store.engine import engine_for, is_unusable, unusable


@functools.lru_cache(maxsize=16)
def _session_factory(engine: Engine) -> sessionmaker[Session]:
    """One factory per engine: building one sets up event dispatch, too slow to repeat per job."""
    return sessionmaker(engine, expire_on_commit=False)


class Store:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine: Engine = engine_for(settings.database_url)
        self._sessions = _session_factory(self.engine)
        self.artifacts = ArtifactStore(settings.artifacts)

    @classmethod
    def from_env(cls) -> Store:
        return cls(Settings.from_env())

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commits on success, rolls back on any error."""
        try:
            with self._sessions() as session, session.begin():
                yield session
        except DBAPIError as exc:
            if not is_unusable(exc):
                raise
            raise unusable(self.engine.url, exc) from exc


def rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE matched: `Session.execute` is typed as returning a plain `Result`."""
    assert isinstance(result, CursorResult)
    return result.rowcount
