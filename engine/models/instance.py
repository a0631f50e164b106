"""Process instances (cases) and the incidents recorded on them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.models.base import Base, JSONType
from engine.models.definition import ProcessDefinition


class InstanceStatus(StrEnum):
    RUNNING = "running"
    SUSPENDED = "suspended"
    COMPLETED = "completed"
    TERMINATED = "terminated"
    ERROR = "error"


class ProcessInstance(Base):
    """One case. ``state`` (the serialized workflow, without its spec) is the engine's truth;
    the human_task, timer and message_subscription rows are projections of it."""

    __tablename__ = "process_instance"
    __table_args__ = (
        Index("ix_process_instance_status_started", "status", "started_at"),
        # A business key (a CİMER number, a registry number) names one live case per process;
        # a terminated case frees it.
        Index(
            "uq_process_instance_business_key",
            "process_key",
            "business_key",
            unique=True,
            sqlite_where=text("business_key IS NOT NULL AND status <> 'terminated'"),
            postgresql_where=text("business_key IS NOT NULL AND status <> 'terminated'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(200), index=True)
    business_key: Mapped[str | None] = mapped_column(String(200), index=True)
    subject: Mapped[str | None] = mapped_column(String(500))
    confidentiality: Mapped[str | None] = mapped_column(String(50))
    status: Mapped[InstanceStatus] = mapped_column(String(20))
    legal_due_at: Mapped[datetime | None]
    state: Mapped[str] = mapped_column(Text)
    state_version: Mapped[str] = mapped_column(String(20))
    version_id: Mapped[int] = mapped_column(default=1)
    started_by: Mapped[str] = mapped_column(String(150))
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]

    # Many-to-one: loaded from the identity map once read, and kept alive by the instance.
    definition: Mapped[ProcessDefinition] = relationship(lazy="select")

    __mapper_args__ = {"version_id_col": version_id}  # noqa: RUF012 - SQLAlchemy's declarative API


class Incident(Base):
    """A failure while the process ran (script, expression, service task); the change was
    rolled back and this row was written afterwards, in its own transaction."""

    __tablename__ = "incident"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    action: Mapped[str] = mapped_column(String(50))
    element_id: Mapped[str | None] = mapped_column(String(200))
    code: Mapped[str] = mapped_column(String(50))
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(150))
