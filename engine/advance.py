"""The core of every state change: lock the instance, load its workflow, let the caller act,
run it until it waits, re-sync the projections (human_task, timer, message_subscription)
and write the state back — all inside the caller's one transaction."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import audit, clock, people
from engine.actors import Actor
from engine.errors import NotFound, ProcessError
from engine.handlers import read_only, registry
from engine.i18n import _
from engine.models import (
    ACTIVE_TASK_STATES,
    Group,
    HumanTask,
    HumanTaskCandidate,
    InstanceStatus,
    MessageSubscription,
    Notification,
    ProcessDefinition,
    ProcessInstance,
    Sequence,
    TaskState,
    Timer,
    TimerStatus,
)
from engine.runtime import scripting
from engine.runtime.serializer import STATE_VERSION
from engine.runtime.spec_cache import spec_cache
from engine.runtime.workflow import ReadyUserTask, Runner
from engine.setup import config

ISTANBUL = ZoneInfo("Europe/Istanbul")
DEFAULT_PRIORITY = 50


def lock_instance(session: Session, instance_id: int) -> ProcessInstance:
    """Load an instance for change; PostgreSQL locks the row until commit. Raises NotFound."""
    instance = session.scalar(select(ProcessInstance).where(ProcessInstance.id == instance_id).with_for_update())
    if instance is None:
        raise NotFound(_("Süreç örneği bulunamadı: {id}.", id=instance_id))
    return instance


def specs_for(definition: ProcessDefinition) -> tuple[Any, dict[str, Any]]:
    return spec_cache.get(definition.id, definition.key, definition.sources)


def runner_options() -> dict[str, Any]:
    return {"helpers": config.helpers, "time_limit": config.script_time_limit}


def load_runner(session: Session, instance: ProcessInstance) -> Runner:
    definition = session.get_one(ProcessDefinition, instance.definition_id)
    spec, subs = specs_for(definition)
    return Runner.load(instance.state, instance.state_version, spec, subs, **runner_options())


@contextmanager
def step(session: Session, instance: ProcessInstance, actor: Actor, action: str) -> Iterator[Runner]:
    """Load → (caller acts) → sync → save. A ProcessError is tagged with the instance for the incident."""
    runner = load_runner(session, instance)
    try:
        yield runner
    except ProcessError as exc:
        exc.details.setdefault("instance_id", instance.id)
        exc.details.setdefault("action", action)
        raise
    save(session, instance, runner, actor)


def save(session: Session, instance: ProcessInstance, runner: Runner, actor: Actor) -> None:
    try:
        sync_projections(session, instance, runner, actor)
    except ProcessError as exc:
        exc.details.setdefault("instance_id", instance.id)
        raise
    now = clock.now()
    instance.state = runner.dumps()
    instance.state_version = STATE_VERSION
    instance.updated_at = now
    if runner.is_completed() and instance.status in (InstanceStatus.RUNNING, InstanceStatus.ERROR):
        instance.status = InstanceStatus.COMPLETED
        instance.ended_at = now
        audit.append(session, actor, "instance.completed", instance_id=instance.id)
    session.flush()


def dispatch_for(session: Session, instance: ProcessInstance) -> Any:
    """The service-task dispatcher for this instance's steps (handlers see a narrow context)."""

    def dispatch(name: str, params: dict[str, Any], task: Any) -> dict[str, Any]:
        fn = registry.get(name)
        if fn is None:
            raise ProcessError(_("Tanımsız servis görevi işleyicisi: '{name}'.", name=name))
        ctx = _Context(session, instance, task.data)
        try:
            result = fn(ctx, params)
        except ProcessError:
            raise
        except Exception as exc:
            raise ProcessError(
                _(
                    "Servis görevi '{name}' başarısız oldu: {err}",
                    name=name,
                    err=str(exc) or type(exc).__name__,
                ),
                details={"element_id": getattr(task.task_spec, "bpmn_id", None), "handler": name},
            ) from exc
        return dict(result or {})

    return dispatch


class _Context:
    def __init__(self, session: Session, instance: ProcessInstance, data: Mapping[str, Any]) -> None:
        self._session = session
        self._instance = instance
        self.instance_id = instance.id
        self.business_key = instance.business_key
        self.data = read_only(data)

    def now(self) -> datetime:
        return clock.now()

    def next_sequence(self, name: str, year: int) -> int:
        return next_sequence(self._session, name, year)

    def enqueue_notification(self, channel: str, recipient: str, subject: str, body: str) -> None:
        now = clock.now()
        self._session.add(
            Notification(
                channel=channel,
                recipient=recipient,
                subject=subject,
                body=body,
                instance_id=self.instance_id,
                status="pending",
                next_attempt_at=now,
                created_at=now,
            )
        )


def next_sequence(session: Session, name: str, year: int) -> int:
    """Next value of a per-year counter; the row lock makes it unique under concurrency."""
    row = session.scalar(select(Sequence).where(Sequence.name == name, Sequence.year == year).with_for_update())
    if row is None:
        row = Sequence(name=name, year=year, value=0)
        session.add(row)
    row.value += 1
    session.flush()
    return row.value


# --- projections ------------------------------------------------------------------------------------


def sync_projections(session: Session, instance: ProcessInstance, runner: Runner, actor: Actor) -> None:
    _sync_tasks(session, instance, runner, actor)
    _sync_timers(session, instance, runner)
    _sync_messages(session, instance, runner)


def _sync_tasks(session: Session, instance: ProcessInstance, runner: Runner, actor: Actor) -> None:
    ready = {t.spiff_id: t for t in runner.ready_user_tasks()}
    rows = session.scalars(
        select(HumanTask).where(HumanTask.instance_id == instance.id, HumanTask.state.in_(ACTIVE_TASK_STATES))
    ).all()
    known = set()
    for row in rows:
        known.add(row.spiff_task_id)
        if row.spiff_task_id not in ready:
            row.state = TaskState.CANCELLED
            audit.append(session, actor, "task.cancelled", instance_id=instance.id, task_id=row.id)
    lanes = _lane_groups(session)
    for spiff_id, ready_task in ready.items():
        if spiff_id not in known:
            task = _new_task(instance, ready_task, lanes)
            session.add(task)
            session.flush()
            audit.append(
                session,
                actor,
                "task.created",
                instance_id=instance.id,
                task_id=task.id,
                details={
                    "bpmn_id": task.bpmn_id,
                    "candidate_groups": task.candidate_groups,
                    "assignee": task.assignee,
                    "due_at": task.due_at.isoformat() if task.due_at else None,
                },
            )


def _lane_groups(session: Session) -> dict[str, str]:
    """Lane name → group code: a lane named by its group code, or by the group's display name."""
    mapping = {}
    for code, name in session.execute(select(Group.code, Group.name)):
        mapping[name.casefold()] = code
    return mapping


def _new_task(instance: ProcessInstance, ready: ReadyUserTask, lanes: Mapping[str, str]) -> HumanTask:
    props = ready.properties
    groups = _evaluate_groups(props.get("candidateGroups"), ready)
    assignee = _evaluate(props.get("assignee"), ready, "assignee")
    if not groups and not assignee and ready.lane:
        groups = [lanes.get(ready.lane.casefold(), ready.lane) if ready.lane not in lanes.values() else ready.lane]
    now = clock.now()
    task = HumanTask(
        instance_id=instance.id,
        spiff_task_id=ready.spiff_id,
        bpmn_id=ready.bpmn_id,
        name=ready.name,
        process_key=instance.process_key,
        business_key=instance.business_key,
        lane=ready.lane,
        form_key=props.get("formKey"),
        state=TaskState.CLAIMED if assignee else TaskState.OPEN,
        assignee=str(assignee) if assignee else None,
        priority=_as_priority(_evaluate(props.get("priority"), ready, "priority")),
        due_at=_as_instant(_evaluate(props.get("dueDate"), ready, "dueDate"), ready),
        created_at=now,
        claimed_at=now if assignee else None,
    )
    task.candidates = [HumanTaskCandidate(group_code=g) for g in groups]
    return task


def _evaluate(expression: str | None, ready: ReadyUserTask, what: str) -> Any:
    if not expression:
        return None
    try:
        return scripting.evaluate(expression, ready.data, config.helpers, time_limit=config.script_time_limit)
    except (scripting.ScriptFailed, scripting.ScriptRejected, scripting.ScriptTimeout) as exc:
        raise ProcessError(
            _(
                "'{task}' görevinin {what} ifadesi değerlendirilemedi: {err}",
                task=ready.name,
                what=what,
                err=exc,
            ),
            details={"element_id": ready.bpmn_id},
        ) from None


def _evaluate_groups(expression: str | None, ready: ReadyUserTask) -> list[str]:
    value = _evaluate(expression, ready, "candidateGroups")
    if value is None or value == "":
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return sorted({str(g).strip() for g in items if str(g).strip()})


def _as_priority(value: Any) -> int:
    if value is None or value == "":
        return DEFAULT_PRIORITY
    try:
        return int(value)
    except (TypeError, ValueError):
        return DEFAULT_PRIORITY


def _as_instant(value: Any, ready: ReadyUserTask) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        if isinstance(value, str):
            value = datetime.fromisoformat(value) if "T" in value or " " in value else date.fromisoformat(value)
        if isinstance(value, datetime):
            return clock.as_utc(value if value.tzinfo else value.replace(tzinfo=ISTANBUL))
        if isinstance(value, date):
            return clock.as_utc(datetime.combine(value, time(17, 30), ISTANBUL))
    except ValueError:
        pass
    raise ProcessError(
        _("'{task}' görevinin dueDate değeri tarih değil: {value!r}", task=ready.name, value=value),
        details={"element_id": ready.bpmn_id},
    )


def _sync_timers(session: Session, instance: ProcessInstance, runner: Runner) -> None:
    waiting = {t.spiff_id: t for t in runner.waiting_timers()}
    rows = session.scalars(
        select(Timer).where(Timer.instance_id == instance.id, Timer.status == TimerStatus.WAITING)
    ).all()
    now = clock.now()
    for row in rows:
        current = waiting.pop(row.spiff_task_id, None)
        if current is None:
            fired = clock.as_utc(row.fire_at) <= now
            row.status = TimerStatus.FIRED if fired else TimerStatus.CANCELLED
            row.fired_at = now if fired else None
        elif current.fire_at != row.fire_at:
            row.fire_at = current.fire_at  # a cycle timer moved on to its next tick
    for timer in waiting.values():
        session.add(
            Timer(
                instance_id=instance.id,
                spiff_task_id=timer.spiff_id,
                bpmn_id=timer.bpmn_id,
                fire_at=timer.fire_at,
                status=TimerStatus.WAITING,
            )
        )


def _sync_messages(session: Session, instance: ProcessInstance, runner: Runner) -> None:
    waiting = {(m.spiff_id, m.name): m for m in runner.waiting_messages()}
    rows = session.scalars(select(MessageSubscription).where(MessageSubscription.instance_id == instance.id)).all()
    for row in rows:
        if waiting.pop((row.spiff_task_id, row.message_name), None) is None:
            session.delete(row)
    for message in waiting.values():
        session.add(
            MessageSubscription(
                instance_id=instance.id,
                spiff_task_id=message.spiff_id,
                bpmn_id=message.bpmn_id,
                message_name=message.name,
                business_key=instance.business_key,
                created_at=clock.now(),
            )
        )


def effective_username(session: Session, actor: Actor) -> str:
    return people.get_user(session, actor.username).username
