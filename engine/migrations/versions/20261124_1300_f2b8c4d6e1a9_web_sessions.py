"""web sessions

Revision ID: f2b8c4d6e1a9
Revises: e5a1d7c3b9f2
Create Date: 2026-11-24 13:00:00
"""

import sqlalchemy as sa
from alembic import op

import engine.models.base

revision = "f2b8c4d6e1a9"
down_revision = "e5a1d7c3b9f2"
branch_labels = None
depends_on = None

WHEN = engine.models.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "web_session",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=150), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("ended_at", WHEN, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_session")),
    )
    with op.batch_alter_table("web_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_web_session_username"), ["username"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("web_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_session_username"))
    op.drop_table("web_session")
