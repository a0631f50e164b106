"""Timers and message subscriptions: what an instance waits on besides people."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.models.base import Base


class TimerStatus(StrEnum):
    WAITING = "waiting"
    FIRED = "fired"
    CANCELLED = "cancelled"


class Timer(Base):
    """One waiting timer event; the scheduler scans ``status='waiting' AND fire_at <= now``."""

    __tablename__ = "timer"
    __table_args__ = (Index("ix_timer_status_fire_at", "status", "fire_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    spiff_task_id: Mapped[str] = mapped_column(String(36))
    bpmn_id: Mapped[str] = mapped_column(String(200))
    fire_at: Mapped[datetime]
    status: Mapped[TimerStatus] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    fired_at: Mapped[datetime | None]


class MessageSubscription(Base):
    """A message name an instance waits for; correlated by the instance's business key."""

    __tablename__ = "message_subscription"
    __table_args__ = (Index("ix_message_subscription_name_key", "message_name", "business_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    spiff_task_id: Mapped[str] = mapped_column(String(36))
    bpmn_id: Mapped[str] = mapped_column(String(200))
    message_name: Mapped[str] = mapped_column(String(200))
    business_key: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
