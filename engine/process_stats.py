"""Where time goes: waiting time per user task of a process version (average, p90, overdue), volumes
and on-time rates per process and per candidate group (directorate), and an instance's path for its
diagram.

Every figure is one SQL aggregate over a bounded date range (at most ``MAX_RANGE_DAYS``); no function
here loads the task or instance rows it counts. Waiting time is ``human_task.created_at`` →
``completed_at`` of completed tasks; a task is late when it was completed after its ``due_at``, or is
still open past it. A task counts for the version it ran in (``human_task.definition_id``: a case
migrated to a new version leaves its finished tasks with the old one). Aggregates hold no personal
data, so the figures are shown unmasked.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from engine import advance, bpmn_xml, clock, incidents, instances, permissions
from engine.actors import Actor
from engine.designer import DESIGNER_GROUPS, definition_source, find_version
from engine.errors import InvalidInput, NotAllowed
from engine.i18n import _
from engine.models import (
    ACTIVE_TASK_STATES,
    Group,
    HumanTask,
    HumanTaskCandidate,
    InstanceStatus,
    ProcessDefinition,
    ProcessInstance,
    TaskState,
)
from engine.runtime import trail

ISTANBUL = ZoneInfo("Europe/Istanbul")
MAX_RANGE_DAYS = 400
DEFAULT_RANGE_DAYS = 30
STATS_GROUPS = DESIGNER_GROUPS | {"denetci", "baskan", "baskan_yardimcisi"}


def may_see_stats(actor: Actor) -> bool:
    """Whether the actor may see process statistics."""
    return actor.is_admin or bool(actor.manages) or bool(actor.groups & STATS_GROUPS)


def require_can_see_stats(actor: Actor) -> None:
    """Raises NotAllowed unless the actor manages a unit, designs processes, audits or administers."""
    if not may_see_stats(actor):
        raise NotAllowed(_("Süreç istatistiklerini yalnız yöneticiler, tasarımcılar ve denetçiler görebilir."))


@dataclass(frozen=True)
class Period:
    """A range of Istanbul calendar days, ``first`` to ``last`` inclusive, as UTC instants [since, until)."""

    first: date
    last: date

    @property
    def since(self) -> datetime:
        return datetime.combine(self.first, time.min, ISTANBUL).astimezone(UTC)

    @property
    def until(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time.min, ISTANBUL).astimezone(UTC)


def period(first: date | None = None, last: date | None = None) -> Period:
    """The days asked for (default: the last 30 days up to today). Raises InvalidInput for a reversed
    or too long range."""
    today = clock.now().astimezone(ISTANBUL).date()
    last = last or today
    first = first or last - timedelta(days=DEFAULT_RANGE_DAYS - 1)
    if first > last:
        raise InvalidInput(
            _("Başlangıç tarihi bitiş tarihinden sonra olamaz."), field_errors={"from": [str(_("Geçersiz aralık."))]}
        )
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise InvalidInput(
            _("Tarih aralığı en çok {days} gün olabilir.", days=MAX_RANGE_DAYS),
            field_errors={"from": [str(_("Aralık çok uzun."))]},
        )
    return Period(first, last)


def _seconds(session: Session, start: Any, end: Any) -> ColumnElement[Any]:
    """``end - start`` in seconds, in SQL, on SQLite and PostgreSQL."""
    if session.get_bind().dialect.name == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    return func.extract("epoch", end - start)


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _completed() -> ColumnElement[bool]:
    return HumanTask.state == TaskState.COMPLETED


def _late_completed() -> ColumnElement[bool]:
    return and_(_completed(), HumanTask.due_at.is_not(None), HumanTask.due_at < HumanTask.completed_at)


def _late_open(now: datetime) -> ColumnElement[bool]:
    return and_(HumanTask.state.in_(ACTIVE_TASK_STATES), HumanTask.due_at.is_not(None), HumanTask.due_at < now)


# --- per task of a process version (the heatmap) ----------------------------------------------------


@dataclass
class TaskStat:
    bpmn_id: str
    name: str
    created: int
    completed: int
    open: int
    avg_wait_s: float | None
    p90_wait_s: float | None
    late_completed: int
    late_open: int

    @property
    def overdue(self) -> int:
        return self.late_completed + self.late_open

    @property
    def on_time_rate(self) -> float | None:
        return _rate(self.completed - self.late_completed, self.completed)


def task_stats(session: Session, actor: Actor, key: str, version: int, when: Period) -> list[TaskStat]:
    """Per user task of ``key`` v``version``, for tasks created in ``when``: counts, average and p90
    (nearest rank) waiting time of the completed ones, and late counts. Raises NotFound."""
    require_can_see_stats(actor)
    definition = find_version(session, key, version)
    now = clock.now()
    wait = _seconds(session, HumanTask.created_at, HumanTask.completed_at)
    scope = (
        HumanTask.definition_id == definition.id,
        HumanTask.created_at >= when.since,
        HumanTask.created_at < when.until,
    )
    rows = session.execute(
        select(
            HumanTask.bpmn_id,
            func.max(HumanTask.name),
            func.count(HumanTask.id),
            _count_if(_completed()),
            _count_if(HumanTask.state.in_(ACTIVE_TASK_STATES)),
            func.avg(case((_completed(), wait))),
            _count_if(_late_completed()),
            _count_if(_late_open(now)),
        )
        .where(*scope)
        .group_by(HumanTask.bpmn_id)
    ).all()
    ranked = (
        select(
            HumanTask.bpmn_id.label("bpmn_id"),
            wait.label("wait"),
            func.row_number().over(partition_by=HumanTask.bpmn_id, order_by=wait).label("rank"),
            func.count().over(partition_by=HumanTask.bpmn_id).label("n"),
        )
        .select_from(HumanTask)
        .where(*scope, _completed())
        .subquery()
    )
    # Nearest-rank p90: the ceil(0.9 n)-th smallest wait, i.e. rank (9n + 9) div 10.
    p90 = dict(
        session.execute(
            select(ranked.c.bpmn_id, ranked.c.wait).where(ranked.c.rank == (ranked.c.n * 9 + 9) // 10)
        ).all()
    )
    stats = [
        TaskStat(
            bpmn_id=str(bpmn_id),
            name=str(name),
            created=int(created),
            completed=int(done),
            open=int(still_open),
            avg_wait_s=None if avg is None else round(float(avg), 1),
            p90_wait_s=None if p90.get(bpmn_id) is None else round(float(p90[bpmn_id]), 1),
            late_completed=int(late_done),
            late_open=int(late_open),
        )
        for bpmn_id, name, created, done, still_open, avg, late_done, late_open in rows
    ]
    return sorted(stats, key=lambda s: -(s.avg_wait_s or 0))


def heatmap(session: Session, actor: Actor, key: str, version: int, when: Period) -> dict[str, Any]:
    """``task_stats`` by BPMN id with a heat level 0–4 (average wait relative to the slowest task)."""
    stats = task_stats(session, actor, key, version, when)
    slowest = max((s.avg_wait_s or 0 for s in stats), default=0)
    return {
        "process_key": key,
        "version": version,
        "from": when.first.isoformat(),
        "to": when.last.isoformat(),
        "elements": {
            s.bpmn_id: {
                **asdict(s),
                "overdue": s.overdue,
                "on_time_rate": s.on_time_rate,
                "level": min(4, int(5 * (s.avg_wait_s or 0) / slowest)) if slowest else 0,
            }
            for s in stats
        },
    }


# --- volumes and on-time rates ----------------------------------------------------------------------


@dataclass
class ProcessVolume:
    key: str
    name: str
    started: int
    finished: int
    tasks_completed: int
    tasks_on_time: int
    tasks_late_open: int

    @property
    def on_time_rate(self) -> float | None:
        return _rate(self.tasks_on_time, self.tasks_completed)


def process_volumes(session: Session, actor: Actor, when: Period) -> list[ProcessVolume]:
    """Per process: cases started and finished in ``when``, tasks completed in it and how many on time,
    and tasks open past their due date now."""
    require_can_see_stats(actor)
    now = clock.now()
    started = dict(
        session.execute(
            select(ProcessInstance.process_key, func.count(ProcessInstance.id))
            .where(ProcessInstance.started_at >= when.since, ProcessInstance.started_at < when.until)
            .group_by(ProcessInstance.process_key)
        ).all()
    )
    finished = dict(
        session.execute(
            select(ProcessInstance.process_key, func.count(ProcessInstance.id))
            .where(
                ProcessInstance.status == InstanceStatus.COMPLETED,
                ProcessInstance.ended_at >= when.since,
                ProcessInstance.ended_at < when.until,
            )
            .group_by(ProcessInstance.process_key)
        ).all()
    )
    done = {
        k: (int(n), int(on_time))
        for k, n, on_time in session.execute(
            select(HumanTask.process_key, func.count(HumanTask.id), _count_if(~_late_completed()))
            .where(_completed(), HumanTask.completed_at >= when.since, HumanTask.completed_at < when.until)
            .group_by(HumanTask.process_key)
        )
    }
    late_open = dict(
        session.execute(
            select(HumanTask.process_key, func.count(HumanTask.id))
            .where(_late_open(now))
            .group_by(HumanTask.process_key)
        ).all()
    )
    names = _process_names(session)
    keys = set(started) | set(finished) | set(done) | set(late_open)
    rows = [
        ProcessVolume(
            key=k,
            name=names.get(k, k),
            started=int(started.get(k, 0)),
            finished=int(finished.get(k, 0)),
            tasks_completed=done.get(k, (0, 0))[0],
            tasks_on_time=done.get(k, (0, 0))[1],
            tasks_late_open=int(late_open.get(k, 0)),
        )
        for k in keys
    ]
    return sorted(rows, key=lambda r: (-r.started, r.name.casefold()))


def _process_names(session: Session) -> dict[str, str]:
    latest = (
        select(ProcessDefinition.key, func.max(ProcessDefinition.version).label("version"))
        .group_by(ProcessDefinition.key)
        .subquery()
    )
    return dict(
        session.execute(
            select(ProcessDefinition.key, ProcessDefinition.name).join(
                latest, (latest.c.key == ProcessDefinition.key) & (latest.c.version == ProcessDefinition.version)
            )
        ).all()
    )


@dataclass
class GroupVolume:
    code: str
    name: str
    kind: str
    tasks_created: int
    tasks_completed: int
    tasks_on_time: int
    tasks_late_open: int
    avg_wait_s: float | None

    @property
    def on_time_rate(self) -> float | None:
        return _rate(self.tasks_on_time, self.tasks_completed)


def group_volumes(session: Session, actor: Actor, when: Period, *, kind: str | None = None) -> list[GroupVolume]:
    """Per candidate group (``kind="directorate"``: directorates only): tasks created and completed in
    ``when``, how many of those completed were on time, their average wait, and tasks open past due now."""
    require_can_see_stats(actor)
    now = clock.now()
    wait = _seconds(session, HumanTask.created_at, HumanTask.completed_at)
    in_range = and_(_completed(), HumanTask.completed_at >= when.since, HumanTask.completed_at < when.until)
    created = and_(HumanTask.created_at >= when.since, HumanTask.created_at < when.until)
    query = (
        select(
            HumanTaskCandidate.group_code,
            _count_if(created),
            _count_if(in_range),
            _count_if(and_(in_range, ~_late_completed())),
            _count_if(_late_open(now)),
            func.avg(case((in_range, wait))),
        )
        .join(HumanTask, HumanTask.id == HumanTaskCandidate.task_id)
        .where(created | in_range | _late_open(now))
        .group_by(HumanTaskCandidate.group_code)
    )
    groups = {code: (name, kind_) for code, name, kind_ in session.execute(select(Group.code, Group.name, Group.kind))}
    rows = []
    for code, n_created, n_done, n_on_time, n_late, avg in session.execute(query):
        name, group_kind = groups.get(code, (code, "role"))
        if kind is not None and group_kind != kind:
            continue
        rows.append(
            GroupVolume(
                code=str(code),
                name=str(name),
                kind=str(group_kind),
                tasks_created=int(n_created),
                tasks_completed=int(n_done),
                tasks_on_time=int(n_on_time),
                tasks_late_open=int(n_late),
                avg_wait_s=None if avg is None else round(float(avg), 1),
            )
        )
    return sorted(rows, key=lambda r: (-r.tasks_completed, r.name.casefold()))


# --- CSV --------------------------------------------------------------------------------------------


def to_csv(rows: Sequence[Any], header: Sequence[str] | None = None) -> str:
    """Dataclass rows (with their rate properties) as CSV text with a UTF-8 BOM for spreadsheets."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if not rows:
        writer.writerow(header or [])
        return "\ufeff" + buffer.getvalue()
    names = [f.name for f in fields(rows[0])]
    extra = [n for n in ("overdue", "on_time_rate") if hasattr(rows[0], n)]
    writer.writerow(header or [*names, *extra])
    for row in rows:
        writer.writerow([_cell(getattr(row, n)) for n in [*names, *extra]])
    return "\ufeff" + buffer.getvalue()


def _cell(value: Any) -> Any:
    return "" if value is None else value


# --- one instance on its diagram --------------------------------------------------------------------


def instance_diagram(session: Session, actor: Actor, instance_id: int) -> dict[str, Any]:
    """What the diagram of a case shows: the steps it completed and the flows it took, where its
    tokens wait now (with how many), its open tasks and its open incidents. Raises NotFound (also for
    a case hidden from the actor)."""
    instance = instances.get(session, instance_id)
    permissions.require_can_see_instance(session, actor, instance)
    definition = instance.definition
    path = trail.trail(advance.load_runner(session, instance)) if instance.state else trail.Trail()
    flows = _flows_taken(definition_source(definition), path.passed)
    now = clock.now()
    open_tasks = session.scalars(
        select(HumanTask)
        .where(HumanTask.instance_id == instance.id, HumanTask.state.in_(ACTIVE_TASK_STATES))
        .order_by(HumanTask.id)
    )
    return {
        "instance_id": instance.id,
        "process_key": instance.process_key,
        "version": definition.version,
        "status": str(instance.status),
        "completed": sorted(path.completed - set(path.active)),
        "flows": sorted(flows),
        "current": [{"id": bpmn_id, "tokens": n} for bpmn_id, n in sorted(path.active.items())],
        "open_tasks": [
            {
                "bpmn_id": t.bpmn_id,
                "name": t.name,
                "due_at": t.due_at.isoformat() if t.due_at else None,
                "overdue": bool(t.due_at and t.due_at < now),
            }
            for t in open_tasks
        ],
        "incidents": [
            {"element_id": x.element_id, "code": x.code, "message": x.message, "at": x.created_at.isoformat()}
            for x in incidents.open_incidents(session, instance.id)
        ],
    }


def _flows_taken(source: str, passed: Iterable[tuple[str, str]]) -> set[str]:
    moves = set(passed)
    return {
        element.id
        for element in bpmn_xml.summarize(source).values()
        if element.type == "sequenceFlow" and (element.source, element.target) in moves
    }


def version_source(session: Session, actor: Actor, key: str, version: int) -> str:
    """The BPMN XML of a version for the heatmap (with a generated diagram when it has none)."""
    require_can_see_stats(actor)
    return bpmn_xml.ensure_diagram(definition_source(find_version(session, key, version))).decode("utf-8")


def list_versions(session: Session, actor: Actor) -> list[dict[str, Any]]:
    """Every deployed process version (key, version, name), for the heatmap picker."""
    require_can_see_stats(actor)
    return [
        {"key": key, "version": version, "name": name}
        for key, version, name in session.execute(
            select(ProcessDefinition.key, ProcessDefinition.version, ProcessDefinition.name).order_by(
                ProcessDefinition.key, ProcessDefinition.version.desc()
            )
        )
    ]
