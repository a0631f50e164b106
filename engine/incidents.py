"""Incidents: failures of scripts, expressions or handlers while a process ran.

The failing action was rolled back whole; ``recorded_transaction`` then writes the incident
(and the instance's ``error`` status) in a second, short transaction so it stays visible
and retryable.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine import audit, clock
from engine.actors import Actor
from engine.db import Database, transaction
from engine.errors import ProcessError
from engine.models import Incident, InstanceStatus, ProcessInstance

logger = logging.getLogger(__name__)


@contextmanager
def recorded_transaction(db: Database, actor: Actor | None = None) -> Iterator[Session]:
    """``transaction`` for actions that run a process: a ProcessError is recorded as an incident."""
    try:
        with transaction(db) as session:
            yield session
    except ProcessError as exc:
        instance_id = exc.details.get("instance_id")
        if isinstance(instance_id, int):
            try:
                with transaction(db) as session:
                    record(session, actor or Actor.system(), instance_id, exc)
            except Exception:
                # Never let a failure to record hide the error the user must see.
                logger.exception("could not record the incident of instance %s", instance_id)
        raise


def record(session: Session, actor: Actor, instance_id: int, error: ProcessError) -> Incident:
    now = clock.now()
    incident = Incident(
        instance_id=instance_id,
        action=str(error.details.get("action", "")),
        element_id=_str_or_none(error.details.get("element_id")),
        code=error.code,
        message=str(error.message),
        details={k: str(v) for k, v in error.details.items()},
        created_at=now,
    )
    session.add(incident)
    # A direct UPDATE: the instance's optimistic version must not move for a status flag.
    session.execute(
        update(ProcessInstance)
        .where(ProcessInstance.id == instance_id, ProcessInstance.status == InstanceStatus.RUNNING)
        .values(status=InstanceStatus.ERROR)
    )
    session.flush()
    audit.append(
        session,
        actor,
        "incident.recorded",
        instance_id=instance_id,
        details={"incident_id": incident.id, "code": error.code, "message": str(error.message)},
    )
    return incident


def open_incidents(session: Session, instance_id: int) -> list[Incident]:
    return list(
        session.scalars(select(Incident).where(Incident.instance_id == instance_id, Incident.resolved_at.is_(None)))
    )


def resolve_all(session: Session, actor: Actor, instance: ProcessInstance) -> int:
    """Mark open incidents resolved after a successful step; returns how many."""
    if instance.status != InstanceStatus.ERROR:
        return 0  # incidents are only open while the instance is in error (resume keeps that)
    incidents = open_incidents(session, instance.id)
    now = clock.now()
    for incident in incidents:
        incident.resolved_at, incident.resolved_by = now, actor.username
    if instance.status == InstanceStatus.ERROR:
        instance.status = InstanceStatus.RUNNING
    if incidents:
        audit.append(session, actor, "incident.resolved", instance_id=instance.id, details={"count": len(incidents)})
    return len(incidents)


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)
