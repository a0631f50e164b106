"""human task: its process version, and an index for completion-time statistics

Revision ID: b4d8e2a6c1f3
Revises: f2b8c4d6e1a9
Create Date: 2026-11-25 09:00:00

Existing tasks take their instance's current version (a case migrated before this revision counts
its earlier tasks toward the version it moved to, as the statistics did until now).
"""

import sqlalchemy as sa
from alembic import op

revision = "b4d8e2a6c1f3"
down_revision = "f2b8c4d6e1a9"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        batch_op.add_column(sa.Column("definition_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_human_task_definition_id_process_definition"),
            "process_definition",
            ["definition_id"],
            ["id"],
        )
        batch_op.create_index("ix_human_task_definition_created", ["definition_id", "created_at"], unique=False)
        batch_op.create_index("ix_human_task_completed_at", ["completed_at"], unique=False)
    op.execute(
        "UPDATE human_task SET definition_id = "
        "(SELECT process_instance.definition_id FROM process_instance WHERE process_instance.id = human_task.instance_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        batch_op.drop_index("ix_human_task_completed_at")
        batch_op.drop_index("ix_human_task_definition_created")
        batch_op.drop_constraint(batch_op.f("fk_human_task_definition_id_process_definition"), type_="foreignkey")
        batch_op.drop_column("definition_id")
