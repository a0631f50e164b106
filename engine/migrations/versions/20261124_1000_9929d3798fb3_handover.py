"""devir-teslim (handover) records with their tutanak PDF

Revision ID: 9929d3798fb3
Revises: 5d2e8b7c4a61
Create Date: 2026-11-24 10:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import engine.models.base

revision = "9929d3798fb3"
down_revision = "5d2e8b7c4a61"
branch_labels = None
depends_on = None

WHEN = engine.models.base.UTCDateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "handover",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("leaving_username", sa.String(length=150), nullable=False),
        sa.Column("successor_username", sa.String(length=150), nullable=False),
        sa.Column("reason", sa.String(length=30), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("items", JSON, nullable=False),
        sa.Column("task_count", sa.Integer(), nullable=False),
        sa.Column("substitution_count", sa.Integer(), nullable=False),
        sa.Column("deactivated", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=150), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handover")),
    )
    with op.batch_alter_table("handover", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_handover_leaving_username"), ["leaving_username"], unique=False)
        batch_op.create_index(batch_op.f("ix_handover_successor_username"), ["successor_username"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("handover", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_handover_successor_username"))
        batch_op.drop_index(batch_op.f("ix_handover_leaving_username"))
    op.drop_table("handover")
