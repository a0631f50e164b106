"""Process instances: start, suspend, resume, terminate, retry, and what an instance shows.

The instance state machine lives here: running ⇄ suspended, running → completed | terminated,
running ⇄ error (an open incident).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import advance, audit, clock, definitions, incidents, permissions, privacy
from engine.actors import Actor
from engine.errors import Conflict, InvalidInput, NotFound, ProcessError
from engine.i18n import _
from engine.models import (
    ACTIVE_TASK_STATES,
    HumanTask,
    InstanceStatus,
    MessageSubscription,
    ProcessInstance,
    Timer,
    TimerStatus,
)
from engine.runtime.serializer import STATE_VERSION, to_plain
from engine.runtime.workflow import Runner

ALLOWED_MOVES = {
    "suspend": {InstanceStatus.RUNNING, InstanceStatus.ERROR},
    "resume": {InstanceStatus.SUSPENDED},
    "terminate": {InstanceStatus.RUNNING, InstanceStatus.SUSPENDED, InstanceStatus.ERROR},
}
# Keys reserved for the engine's own bookkeeping in process data.
RESERVED_KEYS = frozenset({"typename"})


def start(
    session: Session,
    actor: Actor,
    process_key: str,
    *,
    business_key: str | None = None,
    data: Mapping[str, Any] | None = None,
    subject: str | None = None,
) -> ProcessInstance:
    """Start the latest version of a process and run it until it first waits.

    Raises NotFound (unknown process), InvalidInput (bad data), ProcessError (a step failed).
    """
    definition = definitions.get_latest(session, process_key)
    payload = _check_data(data or {})
    if business_key:
        _refuse_duplicate(session, definition.key, business_key)
    now = clock.now()
    instance = ProcessInstance(
        definition_id=definition.id,
        process_key=definition.key,
        business_key=business_key or None,
        subject=subject,
        status=InstanceStatus.RUNNING,
        state="",
        state_version=STATE_VERSION,
        started_by=actor.username,
        started_at=now,
        updated_at=now,
    )
    session.add(instance)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        # A concurrent start took the business key between our check and our insert.
        raise Conflict(
            _("Bu iş anahtarı zaten kayıtlı: '{key}'.", key=business_key), code="duplicate_business_key"
        ) from None
    audit.append(
        session,
        actor,
        "instance.started",
        instance_id=instance.id,
        details={"process_key": definition.key, "version": definition.version, "business_key": business_key},
    )
    spec, subs = advance.specs_for(definition)
    runner = Runner.start(spec, subs, payload, **advance.runner_options())
    try:
        runner.run(advance.dispatch_for(session, instance))
        advance.save(session, instance, runner, actor, advance.Waiting.nothing())
    except ProcessError as exc:
        # Nothing of a failed start survives the rollback, so there is no instance to hold an incident:
        # the caller gets the error itself.
        exc.details.pop("instance_id", None)
        raise
    return instance


def _refuse_duplicate(session: Session, process_key: str, business_key: str) -> None:
    """A business key names one live case per process (the unique index enforces it under concurrency)."""
    existing = session.scalar(
        select(ProcessInstance.id).where(
            ProcessInstance.process_key == process_key,
            ProcessInstance.business_key == business_key,
            ProcessInstance.status != InstanceStatus.TERMINATED,
        )
    )
    if existing is not None:
        raise Conflict(
            _("Bu iş anahtarı zaten kayıtlı: '{key}' (süreç örneği {id}).", key=business_key, id=existing),
            code="duplicate_business_key",
        )


def _check_data(data: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise InvalidInput(_("Başlangıç verisi bir JSON nesnesi olmalı."))
    bad = [k for k in data if not isinstance(k, str) or k in RESERVED_KEYS or k.startswith("_")]
    if bad:
        raise InvalidInput(
            _("Bu veri alanları kullanılamaz: {keys}", keys=", ".join(map(str, bad))),
            field_errors={str(k): [_("Ayrılmış ad.")] for k in bad},
        )
    return dict(data)


def get(session: Session, instance_id: int) -> ProcessInstance:
    instance = session.get(ProcessInstance, instance_id)
    if instance is None:
        raise NotFound(_("Süreç örneği bulunamadı: {id}.", id=instance_id))
    return instance


def suspend(session: Session, actor: Actor, instance_id: int) -> ProcessInstance:
    """Pause an instance: its timers do not fire and its tasks cannot be completed."""
    return _move(session, actor, instance_id, "suspend", InstanceStatus.SUSPENDED)


def resume(session: Session, actor: Actor, instance_id: int) -> ProcessInstance:
    """Continue a suspended instance; back to ``error`` if it still has an open incident."""
    instance = _move(session, actor, instance_id, "resume", InstanceStatus.RUNNING)
    if incidents.open_incidents(session, instance.id):
        instance.status = InstanceStatus.ERROR
    return instance


def terminate(session: Session, actor: Actor, instance_id: int, reason: str | None = None) -> ProcessInstance:
    """End an instance for good: open tasks are cancelled, timers and subscriptions dropped."""
    instance = _move(session, actor, instance_id, "terminate", InstanceStatus.TERMINATED, reason=reason)
    instance.ended_at = clock.now()
    runner = advance.load_runner(session, instance)
    before = advance.Waiting.of(runner)
    runner.cancel()
    instance.state = runner.dumps()
    advance.sync_projections(session, instance, runner, actor, before)
    return instance


def _move(
    session: Session, actor: Actor, instance_id: int, verb: str, to: InstanceStatus, reason: str | None = None
) -> ProcessInstance:
    instance = advance.lock_instance(session, instance_id)
    permissions.require_can_manage_instance(session, actor, instance)
    if instance.status not in ALLOWED_MOVES[verb]:
        raise Conflict(
            _(
                "Süreç örneği {id} '{status}' durumunda; bu işlem yapılamaz.",
                id=instance.id,
                status=instance.status,
            )
        )
    before = instance.status
    instance.status = to
    instance.updated_at = clock.now()
    session.flush()
    audit.append(
        session,
        actor,
        f"instance.{verb}",
        instance_id=instance.id,
        details={"from": str(before), "to": str(to), "reason": reason},
    )
    return instance


def retry(session: Session, actor: Actor, instance_id: int) -> ProcessInstance:
    """Run an instance with an incident again: due timers and pending engine steps."""
    instance = advance.lock_instance(session, instance_id)
    permissions.require_can_manage_instance(session, actor, instance)
    if instance.status != InstanceStatus.ERROR:
        raise Conflict(_("Süreç örneğinde açık bir hata kaydı yok."))
    with advance.step(session, instance, actor, "retry") as runner:
        runner.fire_due_timers(advance.dispatch_for(session, instance))
    return instance


@dataclass
class InstanceDetail:
    instance: ProcessInstance
    open_tasks: list[HumanTask]
    waiting: list[dict[str, Any]]
    data: dict[str, Any]
    incidents: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        i = self.instance
        return {
            "id": i.id,
            "process_key": i.process_key,
            "definition_id": i.definition_id,
            "business_key": i.business_key,
            "subject": i.subject,
            "status": str(i.status),
            "started_by": i.started_by,
            "started_at": i.started_at.isoformat(),
            "ended_at": i.ended_at.isoformat() if i.ended_at else None,
            "open_tasks": [
                {
                    "id": t.id,
                    "name": t.name,
                    "bpmn_id": t.bpmn_id,
                    "state": str(t.state),
                    "assignee": t.assignee,
                    "candidate_groups": t.candidate_groups,
                    "due_at": t.due_at.isoformat() if t.due_at else None,
                }
                for t in self.open_tasks
            ],
            "waiting": self.waiting,
            "incidents": self.incidents,
            "data": self.data,
        }


def show(session: Session, actor: Actor, instance_id: int) -> InstanceDetail:
    """What an instance is doing; ``data`` only for those who may see the case. Raises NotFound."""
    instance = get(session, instance_id)
    permissions.require_can_see_instance(session, actor, instance)
    open_tasks = list(
        session.scalars(
            select(HumanTask)
            .where(HumanTask.instance_id == instance.id, HumanTask.state.in_(ACTIVE_TASK_STATES))
            .order_by(HumanTask.id)
        )
    )
    waiting: list[dict[str, Any]] = [
        {"type": "timer", "fire_at": t.fire_at.isoformat(), "bpmn_id": t.bpmn_id}
        for t in session.scalars(
            select(Timer)
            .where(Timer.instance_id == instance.id, Timer.status == TimerStatus.WAITING)
            .order_by(Timer.fire_at)
        )
    ]
    waiting += [
        {"type": "message", "name": m.message_name, "bpmn_id": m.bpmn_id}
        for m in session.scalars(select(MessageSubscription).where(MessageSubscription.instance_id == instance.id))
    ]
    data = to_plain(advance.load_runner(session, instance).data()) if instance.state else {}
    data = privacy.visible(data, actor, works_on_case=permissions.works_on_instance(session, actor, instance))
    open_incidents = [
        {
            "id": x.id,
            "code": x.code,
            "message": x.message,
            "element_id": x.element_id,
            "at": x.created_at.isoformat(),
        }
        for x in incidents.open_incidents(session, instance.id)
    ]
    return InstanceDetail(instance, open_tasks, waiting, data, open_incidents)


def list_visible(
    session: Session,
    actor: Actor,
    *,
    status: str | None = None,
    process_key: str | None = None,
    business_key: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[ProcessInstance], int]:
    """A page of the cases the actor may see, newest first, and their total."""
    where = [permissions.visible_instances(session, actor)]
    if status:
        where.append(ProcessInstance.status == status)
    if process_key:
        where.append(ProcessInstance.process_key == process_key)
    if business_key:
        where.append(ProcessInstance.business_key == business_key)
    total = session.scalar(select(func.count()).select_from(ProcessInstance).where(*where)) or 0
    rows = session.scalars(
        select(ProcessInstance)
        .where(*where)
        .order_by(ProcessInstance.id.desc())
        .limit(max(1, min(limit, 200)))
        .offset(max(0, offset))
    )
    return list(rows), total


def count(session: Session, *, status: InstanceStatus | None = None) -> int:
    query = select(func.count(ProcessInstance.id))
    if status is not None:
        query = query.where(ProcessInstance.status == status)
    return int(session.scalar(query) or 0)
