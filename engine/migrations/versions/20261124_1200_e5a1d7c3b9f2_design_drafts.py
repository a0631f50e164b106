"""process designers' drafts (BPMN and form files edited in the browser)

Revision ID: e5a1d7c3b9f2
Revises: c3b9e1f4a7d2
Create Date: 2026-11-24 12:00:00
"""

import sqlalchemy as sa
from alembic import op

import engine.models.base

revision = "e5a1d7c3b9f2"
down_revision = "c3b9e1f4a7d2"
branch_labels = None
depends_on = None

WHEN = engine.models.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "design_draft",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=150), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=True),
        sa.Column("base_version", sa.Integer(), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_design_draft")),
        sa.UniqueConstraint("owner", "name", name=op.f("uq_design_draft_owner_name")),
    )
    with op.batch_alter_table("design_draft", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_design_draft_owner"), ["owner"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("design_draft", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_design_draft_owner"))
    op.drop_table("design_draft")
