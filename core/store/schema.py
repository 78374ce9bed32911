"""The schema revision this code needs: the newest migration's id (a test checks it equals Alembic's head).

A module of its own, so that `aigc doctor` can compare a database with it without importing SQLAlchemy.
"""

SCHEMA_REVISION = "0005_operations"
