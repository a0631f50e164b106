"""Firing due timers. The ``timer`` table is the truth the scheduler scans; each instance is
fired in its own transaction, and a timer already handled is a no-op, so claiming a timer
at least once gives its effects exactly once."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from engine import advance, audit, clock, incidents
from engine.actors import Actor
from engine.db import Database
from engine.errors import KalemError
from engine.models import InstanceStatus, ProcessInstance, Timer, TimerStatus

FIRE_MARGIN = timedelta(milliseconds=1)


@dataclass
class FireReport:
    fired_instances: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)


def due_instance_ids(db: Database, at: datetime, limit: int = 500) -> list[int]:
    with db.read_sessions() as session:
        rows = session.scalars(
            select(Timer.instance_id)
            .join(ProcessInstance, ProcessInstance.id == Timer.instance_id)
            .where(
                Timer.status == TimerStatus.WAITING,
                Timer.fire_at <= at,
                ProcessInstance.status == InstanceStatus.RUNNING,
            )
            .order_by(Timer.fire_at)
            .limit(limit)
        ).all()
    return list(dict.fromkeys(rows))


def fire_due(db: Database, at: datetime | None = None, *, limit: int = 500) -> FireReport:
    """Fire every timer due at ``at`` (default now), one transaction per instance."""
    at = at or clock.now()
    report = FireReport()
    actor = Actor.system()
    # SpiffWorkflow fires a timer only once its time is strictly past: run the steps a moment after
    # ``at`` so that a timer due exactly at ``at`` fires, as the timer table says it is due.
    with clock.frozen_at(at + FIRE_MARGIN):
        for instance_id in due_instance_ids(db, at, limit):
            try:
                with incidents.recorded_transaction(db, actor) as session:
                    if fire_instance(session, actor, instance_id, at):
                        report.fired_instances.append(instance_id)
            except KalemError as exc:
                report.failed[instance_id] = str(exc)
    return report


def fire_instance(session, actor: Actor, instance_id: int, at: datetime) -> bool:  # type: ignore[no-untyped-def]
    """Fire one instance's due timers; False when another worker already did (no-op)."""
    skip_locked = session.get_bind().dialect.name == "postgresql"
    due = session.scalars(
        select(Timer)
        .where(Timer.instance_id == instance_id, Timer.status == TimerStatus.WAITING, Timer.fire_at <= at)
        .with_for_update(skip_locked=skip_locked)
    ).all()
    if not due:
        return False
    instance = advance.lock_instance(session, instance_id)
    if instance.status != InstanceStatus.RUNNING:
        return False
    with advance.step(session, instance, actor, "timer.fire") as runner:
        runner.fire_due_timers(advance.dispatch_for(session, instance))
    for timer in due:
        audit.append(
            session,
            actor,
            "timer.fired",
            instance_id=instance_id,
            details={"bpmn_id": timer.bpmn_id, "fire_at": timer.fire_at.isoformat()},
        )
    return True
