"""What the scheduler keeps besides timers: the deadline policy per process, the deadline
watches it scans, the ladder steps it applied (each exactly once), notification preferences,
the daily digests sent, and the cursors of its jobs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.models.base import Base, JSONType


class DeadlinePolicySetting(Base):
    """Per-process overrides of the default escalation ladder (domain guide §4.4)."""

    __tablename__ = "deadline_policy"

    process_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    updated_by: Mapped[str] = mapped_column(String(150))
    updated_at: Mapped[datetime]


class DeadlineWatch(Base):
    """One active task (``t:<task id>``) or legally timed case (``c:<instance id>``) whose next
    ladder step falls due at ``next_at``; the deadline job scans ``next_at <= now`` only."""

    __tablename__ = "deadline_watch"
    __table_args__ = (Index("ix_deadline_watch_next_at", "next_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("human_task.id"))
    process_key: Mapped[str] = mapped_column(String(200))
    law: Mapped[str | None] = mapped_column(String(20))
    start_at: Mapped[datetime]
    due_at: Mapped[datetime | None]
    next_step: Mapped[str] = mapped_column(String(40))
    next_at: Mapped[datetime]
    created_at: Mapped[datetime]


class DeadlineStep(Base):
    """A ladder step applied to a task or case; the unique (key, step) makes it exactly once."""

    __tablename__ = "deadline_step"
    __table_args__ = (
        Index("uq_deadline_step_key_step", "key", "step", unique=True),
        Index("ix_deadline_step_step_due", "step", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(40))
    step: Mapped[str] = mapped_column(String(40))
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("human_task.id"), index=True)
    due_at: Mapped[datetime]
    applied_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(20))
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class NotificationPreference(Base):
    """A user's choices; no row means e-mail on, SMS off, daily digest on."""

    __tablename__ = "notification_preference"

    username: Mapped[str] = mapped_column(String(150), primary_key=True)
    email_enabled: Mapped[bool] = mapped_column(default=True)
    sms_enabled: Mapped[bool] = mapped_column(default=False)
    digest_enabled: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime]


class DigestSent(Base):
    """One daily digest per user and day (Europe/Istanbul), however many schedulers run."""

    __tablename__ = "digest_sent"

    username: Mapped[str] = mapped_column(String(150), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    task_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]


class SchedulerCursor(Base):
    """Where a feed-reading job stopped (e.g. the last audit ``seq`` the deadline job read)."""

    __tablename__ = "scheduler_cursor"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    position: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime | None]
