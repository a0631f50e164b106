"""scheduler: deadline policy, watches and steps; notification preferences; digests; job cursors

Revision ID: 5d2e8b7c4a61
Revises: a7e4c1d9b2f3
Create Date: 2026-11-24 09:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import engine.models.base

revision = "5d2e8b7c4a61"
down_revision = "a7e4c1d9b2f3"
branch_labels = None
depends_on = None

WHEN = engine.models.base.UTCDateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "deadline_policy",
        sa.Column("process_key", sa.String(length=200), nullable=False),
        sa.Column("settings", JSON, nullable=False),
        sa.Column("updated_by", sa.String(length=150), nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("process_key", name=op.f("pk_deadline_policy")),
    )
    op.create_table(
        "deadline_watch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("process_key", sa.String(length=200), nullable=False),
        sa.Column("law", sa.String(length=20), nullable=True),
        sa.Column("start_at", WHEN, nullable=False),
        sa.Column("due_at", WHEN, nullable=True),
        sa.Column("next_step", sa.String(length=40), nullable=False),
        sa.Column("next_at", WHEN, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"], ["process_instance.id"], name=op.f("fk_deadline_watch_instance_id_process_instance")
        ),
        sa.ForeignKeyConstraint(["task_id"], ["human_task.id"], name=op.f("fk_deadline_watch_task_id_human_task")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deadline_watch")),
        sa.UniqueConstraint("key", name=op.f("uq_deadline_watch_key")),
    )
    with op.batch_alter_table("deadline_watch", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deadline_watch_instance_id"), ["instance_id"], unique=False)
        batch_op.create_index("ix_deadline_watch_next_at", ["next_at"], unique=False)

    op.create_table(
        "deadline_step",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("step", sa.String(length=40), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("due_at", WHEN, nullable=False),
        sa.Column("applied_at", WHEN, nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("details", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"], ["process_instance.id"], name=op.f("fk_deadline_step_instance_id_process_instance")
        ),
        sa.ForeignKeyConstraint(["task_id"], ["human_task.id"], name=op.f("fk_deadline_step_task_id_human_task")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deadline_step")),
    )
    with op.batch_alter_table("deadline_step", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deadline_step_instance_id"), ["instance_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_deadline_step_task_id"), ["task_id"], unique=False)
        batch_op.create_index("ix_deadline_step_step_due", ["step", "due_at"], unique=False)
        batch_op.create_index("uq_deadline_step_key_step", ["key", "step"], unique=True)

    op.create_table(
        "notification_preference",
        sa.Column("username", sa.String(length=150), nullable=False),
        sa.Column("email_enabled", sa.Boolean(), nullable=False),
        sa.Column("sms_enabled", sa.Boolean(), nullable=False),
        sa.Column("digest_enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_notification_preference")),
    )
    op.create_table(
        "digest_sent",
        sa.Column("username", sa.String(length=150), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("task_count", sa.Integer(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("username", "day", name=op.f("pk_digest_sent")),
    )
    op.create_table(
        "scheduler_cursor",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("updated_at", WHEN, nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_scheduler_cursor")),
    )


def downgrade() -> None:
    op.drop_table("scheduler_cursor")
    op.drop_table("digest_sent")
    op.drop_table("notification_preference")
    with op.batch_alter_table("deadline_step", schema=None) as batch_op:
        batch_op.drop_index("uq_deadline_step_key_step")
        batch_op.drop_index("ix_deadline_step_step_due")
        batch_op.drop_index(batch_op.f("ix_deadline_step_task_id"))
        batch_op.drop_index(batch_op.f("ix_deadline_step_instance_id"))
    op.drop_table("deadline_step")
    with op.batch_alter_table("deadline_watch", schema=None) as batch_op:
        batch_op.drop_index("ix_deadline_watch_next_at")
        batch_op.drop_index(batch_op.f("ix_deadline_watch_instance_id"))
    op.drop_table("deadline_watch")
    op.drop_table("deadline_policy")
