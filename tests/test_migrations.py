"""The shipped Alembic migrations are the schema: head matches the code, and the models match the tables."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

import aigc.core.store.engine as engine_module
from aigc.core.store import Store
from aigc.core.store.models import Base


def test_schema_revision_constant_is_alembic_head():
    config = Config()
    config.set_main_option("script_location", str(Path(engine_module.__file__).parent / "migrations"))
    assert ScriptDirectory.from_config(config).get_current_head() == engine_module.SCHEMA_REVISION


def test_migrated_database_matches_the_models(settings):
    store = Store(settings)  # SQLite migrates itself; the PostgreSQL fixture ran `aigc db upgrade`'s code
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
