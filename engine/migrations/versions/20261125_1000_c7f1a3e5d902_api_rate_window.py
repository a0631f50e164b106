"""api rate window shared by every web process

Revision ID: c7f1a3e5d902
Revises: b4d8e2a6c1f3
Create Date: 2026-11-25 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "c7f1a3e5d902"
down_revision = "b4d8e2a6c1f3"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_rate_window",
        sa.Column("token_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("window_start", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("token_id", name=op.f("pk_api_rate_window")),
    )


def downgrade() -> None:
    op.drop_table("api_rate_window")
