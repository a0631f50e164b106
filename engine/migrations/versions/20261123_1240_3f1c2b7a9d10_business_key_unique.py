"""one live case per process and business key

Revision ID: 3f1c2b7a9d10
Revises: 6c7d2468ffec
Create Date: 2026-11-23 12:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "3f1c2b7a9d10"
down_revision = "6c7d2468ffec"
branch_labels = None
depends_on = None

LIVE = "business_key IS NOT NULL AND status <> 'terminated'"


def upgrade() -> None:
    op.create_index(
        "uq_process_instance_business_key",
        "process_instance",
        ["process_key", "business_key"],
        unique=True,
        sqlite_where=sa.text(LIVE),
        postgresql_where=sa.text(LIVE),
    )


def downgrade() -> None:
    op.drop_index("uq_process_instance_business_key", table_name="process_instance")
