"""Human tasks: the projection of the user tasks an instance waits on, indexed for inboxes."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.models.base import Base


class TaskState(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


ACTIVE_TASK_STATES = (TaskState.OPEN, TaskState.CLAIMED)


class HumanTask(Base):
    __tablename__ = "human_task"
    __table_args__ = (
        Index("ix_human_task_state_due", "state", "due_at"),
        Index("ix_human_task_assignee_state", "assignee", "state"),
        Index("ix_human_task_definition_created", "definition_id", "created_at"),
        Index("ix_human_task_completed_at", "completed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    # The process version the task belongs to: the instance's at creation, the new one when a
    # migration keeps the open task (statistics per version count each task once, where it ran).
    definition_id: Mapped[int | None] = mapped_column(ForeignKey("process_definition.id"))
    spiff_task_id: Mapped[str] = mapped_column(String(36), index=True)
    bpmn_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300))
    process_key: Mapped[str] = mapped_column(String(200))
    business_key: Mapped[str | None] = mapped_column(String(200))
    lane: Mapped[str | None] = mapped_column(String(200))
    form_key: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[TaskState] = mapped_column(String(20))
    assignee: Mapped[str | None] = mapped_column(String(150))
    priority: Mapped[int] = mapped_column(default=50)
    due_at: Mapped[datetime | None]
    escalation_level: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    completed_by: Mapped[str | None] = mapped_column(String(150))
    on_behalf_of: Mapped[str | None] = mapped_column(String(150))

    candidates: Mapped[list[HumanTaskCandidate]] = relationship(
        back_populates="task", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def candidate_groups(self) -> list[str]:
        return sorted(c.group_code for c in self.candidates)

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_TASK_STATES


class HumanTaskCandidate(Base):
    """One candidate group of a task; the inbox joins on (group_code, task_id)."""

    __tablename__ = "human_task_candidate"
    __table_args__ = (Index("ix_human_task_candidate_group", "group_code", "task_id"),)

    task_id: Mapped[int] = mapped_column(ForeignKey("human_task.id", ondelete="CASCADE"), primary_key=True)
    group_code: Mapped[str] = mapped_column(String(100), primary_key=True)

    task: Mapped[HumanTask] = relationship(back_populates="candidates")


# Sorts tasks without a due date last while keeping the inbox index free of NULL handling.
NO_DUE_DATE = datetime(9999, 12, 31, tzinfo=UTC)


class InboxEntry(Base):
    """Who an active task is waiting for, one row per audience: ``u:<username>`` once assigned,
    ``g:<group code>`` per candidate group while unclaimed. Completed and cancelled tasks have none.

    Inbox pages and counts read only this index ((audience, due_sort, priority, task_id)), so they
    cost the same with 1k or 100k open tasks. ``shared`` marks rows of a task that has several
    audiences, the only rows a count must de-duplicate.
    """

    __tablename__ = "inbox_entry"
    __table_args__ = (
        Index("ix_inbox_entry_page", "audience", "due_sort", text("priority DESC"), "task_id"),
        # Two equality columns, so planners pick it for the de-duplication count without statistics.
        Index("ix_inbox_entry_shared", "audience", "shared", "task_id"),
    )

    task_id: Mapped[int] = mapped_column(ForeignKey("human_task.id", ondelete="CASCADE"), primary_key=True)
    audience: Mapped[str] = mapped_column(String(160), primary_key=True)
    due_sort: Mapped[datetime]
    priority: Mapped[int]
    process_key: Mapped[str] = mapped_column(String(200))
    shared: Mapped[bool] = mapped_column(default=False)
