"""The core of every state change: lock the instance, load its workflow, let the caller act,
run it until it waits, re-sync the projections (human_task, timer, message_subscription)
and write the state back — all inside the caller's one transaction."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, delete, select, update
from sqlalchemy.orm import Session

from engine import audit, clock, inbox_entries, incidents
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
    User,
)
from engine.runtime import scripting
from engine.runtime.serializer import STATE_VERSION
from engine.runtime.spec_cache import spec_cache
from engine.runtime.workflow import ReadyUserTask, Runner, WaitingMessage, WaitingTimer
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
    """Cached specs of a version; its (large, deferred) sources are read only on a cache miss."""
    return spec_cache.get((definition.id, definition.sha256), definition.key, lambda: definition.sources)


def runner_options() -> dict[str, Any]:
    return {"helpers": config.helpers, "time_limit": config.script_time_limit}


def load_runner(session: Session, instance: ProcessInstance) -> Runner:
    spec, subs = specs_for(instance.definition)
    return Runner.load(instance.state, instance.state_version, spec, subs, **runner_options())


@contextmanager
def step(session: Session, instance: ProcessInstance, actor: Actor, action: str) -> Iterator[Runner]:
    """Load → (caller acts) → sync → save. A ProcessError is tagged with the instance for the incident."""
    runner = load_runner(session, instance)
    before = Waiting.of(runner)
    try:
        yield runner
    except ProcessError as exc:
        exc.details.setdefault("instance_id", instance.id)
        exc.details.setdefault("action", action)
        raise
    save(session, instance, runner, actor, before)


def save(session: Session, instance: ProcessInstance, runner: Runner, actor: Actor, before: Waiting) -> None:
    """Write the workflow state and bring the projections from ``before`` to what it waits on now."""
    try:
        sync_projections(session, instance, runner, actor, before)
    except ProcessError as exc:
        exc.details.setdefault("instance_id", instance.id)
        raise
    # The step succeeded: whatever failed before on this instance is resolved by it.
    incidents.resolve_all(session, actor, instance)
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

    def attach(self, file_name: str, content: bytes, content_type: str) -> dict[str, Any]:
        """Store a file the handler produced (e.g. a PDF) as an attachment of the case."""
        from engine import attachments

        return attachments.store(
            self._session, self.instance_id, file_name, content, uploaded_by="system", content_type=content_type
        )

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


@dataclass(frozen=True)
class Waiting:
    """What a workflow waits on: ready user tasks, timers and message subscriptions by spiff id.

    Every save brings the projection rows to exactly this, so the ``Waiting`` of a freshly loaded
    workflow is what its rows say, and a step only writes the difference (no read-back queries).
    """

    tasks: dict[str, ReadyUserTask]
    timers: dict[str, WaitingTimer]
    messages: dict[tuple[str, str], WaitingMessage]

    @classmethod
    def of(cls, runner: Runner) -> Waiting:
        ready, timers, messages = runner.waiting()
        return cls(
            {t.spiff_id: t for t in ready},
            {t.spiff_id: t for t in timers},
            {(m.spiff_id, m.name): m for m in messages},
        )

    @classmethod
    def nothing(cls) -> Waiting:
        return cls({}, {}, {})


def sync_projections(
    session: Session, instance: ProcessInstance, runner: Runner, actor: Actor, before: Waiting
) -> None:
    after = Waiting.of(runner)
    _sync_tasks(session, instance, actor, before, after, runner.completed_ids)
    _sync_timers(session, instance, before, after)
    _sync_messages(session, instance, before, after)


def _sync_tasks(
    session: Session, instance: ProcessInstance, actor: Actor, before: Waiting, after: Waiting, completed: set[str]
) -> None:
    gone = sorted(set(before.tasks) - set(after.tasks) - completed)
    if gone:
        # Tasks this action completed were marked by the caller; the others that vanished were
        # cancelled (a boundary event, a terminate, another branch).
        cancelled = session.scalars(
            select(HumanTask).where(
                HumanTask.instance_id == instance.id,
                HumanTask.spiff_task_id.in_(gone),
                HumanTask.state.in_(ACTIVE_TASK_STATES),
            )
        ).all()
        for row in cancelled:
            row.state = TaskState.CANCELLED
            inbox_entries.reindex(session, row)
            audit.append(session, actor, "task.cancelled", instance_id=instance.id, task_id=row.id)
    for spiff_id, ready_task in after.tasks.items():
        if spiff_id in before.tasks:
            continue
        task = _new_task(session, instance, ready_task)
        session.add(task)
        session.flush()
        inbox_entries.reindex(session, task, is_new=True)
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


def lane_group(session: Session, lane: str) -> str:
    """A lane is named by its group code, or else by the group's display name (case-insensitive)."""
    if session.scalar(select(Group.code).where(Group.code == lane)) is not None:
        return lane
    for code, name in session.execute(select(Group.code, Group.name)):
        if name.casefold() == lane.casefold():
            return str(code)
    return lane


def _new_task(session: Session, instance: ProcessInstance, ready: ReadyUserTask) -> HumanTask:
    props = ready.properties
    groups = _evaluate_groups(props.get("candidateGroups"), ready)
    assignee = _evaluate(props.get("assignee"), ready, "assignee")
    if assignee and not session.scalar(select(User.is_active).where(User.username == str(assignee))):
        # An unknown or inactive assignee would strand the task: it goes to its groups or lane instead.
        assignee = None
    if not groups and not assignee and ready.lane:
        groups = [lane_group(session, ready.lane)]
    now = clock.now()
    task = HumanTask(
        instance_id=instance.id,
        definition_id=instance.definition_id,
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


def _sync_timers(session: Session, instance: ProcessInstance, before: Waiting, after: Waiting) -> None:
    now = clock.now()
    gone = sorted(set(before.timers) - set(after.timers))
    if gone:
        session.execute(
            update(Timer)
            .where(Timer.instance_id == instance.id, Timer.spiff_task_id.in_(gone), Timer.status == TimerStatus.WAITING)
            .values(
                status=case((Timer.fire_at <= now, TimerStatus.FIRED.value), else_=TimerStatus.CANCELLED.value),
                fired_at=case((Timer.fire_at <= now, now), else_=None),
            )
            .execution_options(synchronize_session=False)
        )
    for spiff_id, timer in after.timers.items():
        previous = before.timers.get(spiff_id)
        if previous is None:
            session.add(
                Timer(
                    instance_id=instance.id,
                    spiff_task_id=spiff_id,
                    bpmn_id=timer.bpmn_id,
                    fire_at=timer.fire_at,
                    status=TimerStatus.WAITING,
                )
            )
        elif previous.fire_at != timer.fire_at:  # a cycle timer moved on to its next tick
            session.execute(
                update(Timer)
                .where(
                    Timer.instance_id == instance.id,
                    Timer.spiff_task_id == spiff_id,
                    Timer.status == TimerStatus.WAITING,
                )
                .values(fire_at=timer.fire_at)
                .execution_options(synchronize_session=False)
            )


def _sync_messages(session: Session, instance: ProcessInstance, before: Waiting, after: Waiting) -> None:
    gone = set(before.messages) - set(after.messages)
    for spiff_id, name in sorted(gone):
        session.execute(
            delete(MessageSubscription)
            .where(
                MessageSubscription.instance_id == instance.id,
                MessageSubscription.spiff_task_id == spiff_id,
                MessageSubscription.message_name == name,
            )
            .execution_options(synchronize_session=False)
        )
    for key, message in after.messages.items():
        if key not in before.messages:
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
