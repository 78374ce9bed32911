"""tokens: named API tokens (hashed) with their limits; jobs record the token that submitted them

Revision ID: 0003_tokens
Revises: 0002
Create Date: 2026-12-01 05:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_tokens"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("admin", sa.Boolean(), nullable=False),
        sa.Column("max_queued", sa.Integer(), nullable=True),
        sa.Column("max_request_bytes", sa.Integer(), nullable=True),
        sa.Column("max_n", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name", name="uq_tokens_name"),
        sa.UniqueConstraint("digest", name="uq_tokens_digest"),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token_name", sa.String(length=100), nullable=True))
        batch_op.create_index(batch_op.f("ix_jobs_token_name"), ["token_name"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jobs_token_name"))
        batch_op.drop_column("token_name")
    op.drop_table("tokens")
