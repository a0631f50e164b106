"""The inbox as staff see it: three tabs (mine, my groups', as a deputy) with counts, filters
(process, directorate, deadline status, Turkish-folded free text), two sort orders and SQL paging.

Reads start from the ``inbox_entry`` index (one row per audience of each active task), so a page never
loads more tasks than it shows. Deadline status thresholds live in ``thresholds`` only: the Python
``status_of`` and the SQL ``status_condition`` both derive from it. Each row also carries the highest
escalation step the deadline policy applied to its task (``deadlines.reached_steps``: one query for
the page's tasks), shown as a badge beside the colour.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Float, Select, and_, exists, false, func, literal, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.sql.functions import FunctionElement

from engine import calendar, clock, deadlines, definitions, permissions, search
from engine.actors import Actor
from engine.inbox_entries import group_audience, user_audience
from engine.models import Group, HumanTask, HumanTaskCandidate, InboxEntry, ProcessInstance, TaskState, User

MAX_PER_PAGE = 100
MAX_TEXT = 200


class Tab(StrEnum):
    MINE = "mine"
    GROUP = "group"
    DEPUTY = "deputy"


class Sort(StrEnum):
    DUE = "due"
    PRIORITY = "priority"


class DeadlineStatus(StrEnum):
    ON_TIME = "on_time"
    APPROACHING = "approaching"
    OVERDUE = "overdue"


# --- deadline status: the one place that says what "approaching" means ----------------------------


@dataclass(frozen=True)
class Thresholds:
    """A task is overdue after ``due_at``; approaching once ``elapsed_fraction`` of the time from its
    creation to ``due_at`` has passed, or when it is due by ``soon_until`` (``business_days`` business
    days from now: the deadline policy's red step); on time otherwise (and without a due date)."""

    now: datetime
    soon_until: datetime
    elapsed_fraction: float = 0.5
    business_days: int = 2


def thresholds(now: datetime | None = None) -> Thresholds:
    """The deadline thresholds at ``now`` (default: the engine clock), from the deadline policy's
    defaults: its yellow share of the window and its red number of business days."""
    now = now or clock.now()
    policy = deadlines.DEFAULT_POLICY
    soon = deadlines.business_days_after(calendar.default_calendar(), now, policy.red_business_days)
    return Thresholds(
        now=now,
        soon_until=clock.as_utc(soon),
        elapsed_fraction=policy.approaching,
        business_days=policy.red_business_days,
    )


def status_of(created_at: datetime, due_at: datetime | None, limits: Thresholds) -> DeadlineStatus:
    """The deadline status of one task."""
    if due_at is None:
        return DeadlineStatus.ON_TIME
    if due_at < limits.now:
        return DeadlineStatus.OVERDUE
    elapsed = (limits.now - created_at).total_seconds()
    span = (due_at - created_at).total_seconds()
    if due_at <= limits.soon_until or elapsed >= limits.elapsed_fraction * span:
        return DeadlineStatus.APPROACHING
    return DeadlineStatus.ON_TIME


class _Epoch(FunctionElement[float]):
    """Seconds since 1970 of a UTC datetime column, on SQLite and PostgreSQL."""

    type = Float()
    inherit_cache = True


@compiles(_Epoch, "sqlite")
def _epoch_sqlite(element: _Epoch, compiler: Any, **kw: Any) -> str:
    return f"((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 86400.0)"


@compiles(_Epoch)
def _epoch_default(element: _Epoch, compiler: Any, **kw: Any) -> str:
    return f"EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)})"


def status_condition(status: DeadlineStatus, limits: Thresholds) -> ColumnElement[bool]:
    """SQL on HumanTask equivalent to ``status_of(...) == status``."""
    due, created = HumanTask.due_at, HumanTask.created_at
    now_epoch = limits.now.timestamp()
    # elapsed >= f * span  <=>  now - created >= f * (due - created)
    elapsed_enough = literal(now_epoch) - _Epoch(created) >= literal(limits.elapsed_fraction) * (
        _Epoch(due) - _Epoch(created)
    )
    if status is DeadlineStatus.OVERDUE:
        return and_(due.is_not(None), due < limits.now)
    approaching = and_(due.is_not(None), due >= limits.now, or_(due <= limits.soon_until, elapsed_enough))
    if status is DeadlineStatus.APPROACHING:
        return approaching
    return or_(due.is_(None), and_(due >= limits.now, due > limits.soon_until, ~elapsed_enough))


# --- the inbox query ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    tab: Tab = Tab.MINE
    process_key: str | None = None
    directorate: str | None = None
    status: DeadlineStatus | None = None
    text: str | None = None
    sort: Sort = Sort.DUE
    page: int = 1
    per_page: int = 25

    @classmethod
    def parse(cls, params: dict[str, str]) -> Query:
        """A query from request parameters; unknown or malformed values fall back to defaults."""

        def choice(enum: type[StrEnum], value: str | None, default: Any) -> Any:
            return enum(value) if value in {e.value for e in enum} else default

        def number(value: str | None, default: int, high: int) -> int:
            return max(1, min(int(value), high)) if value and value.isdigit() else default

        text = (params.get("q") or "").strip()[:MAX_TEXT]
        return cls(
            tab=choice(Tab, params.get("tab"), Tab.MINE),
            process_key=(params.get("process") or "").strip() or None,
            directorate=(params.get("directorate") or "").strip() or None,
            status=choice(DeadlineStatus, params.get("status"), None),
            text=text or None,
            sort=choice(Sort, params.get("sort"), Sort.DUE),
            page=number(params.get("page"), 1, 100_000),
            per_page=number(params.get("per_page"), 25, MAX_PER_PAGE),
        )

    def params(self, **changes: Any) -> dict[str, str]:
        """Request parameters of this query (with ``changes``), defaults left out."""
        values = {
            "tab": self.tab.value,
            "process": self.process_key,
            "directorate": self.directorate,
            "status": self.status.value if self.status else None,
            "q": self.text,
            "sort": self.sort.value,
            "page": str(self.page),
            "per_page": str(self.per_page),
        }
        values.update({k: (str(v) if v is not None else None) for k, v in changes.items()})
        defaults = {"tab": Tab.MINE.value, "sort": Sort.DUE.value, "page": "1", "per_page": "25"}
        return {k: v for k, v in values.items() if v and defaults.get(k) != v}


@dataclass
class Row:
    task: HumanTask
    subject: str | None
    status: DeadlineStatus
    can_claim: bool
    can_unclaim: bool
    # The highest ladder step applied to the task (None: none yet).
    escalation: deadlines.Reached | None = None


@dataclass
class Page:
    query: Query
    rows: list[Row]
    total: int
    counts: dict[Tab, int]
    limits: Thresholds
    process_names: dict[str, str] = field(default_factory=dict)
    # Display names of the assignees (username → full name) and candidate groups (code → name) shown.
    names: dict[str, str] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.per_page))


def _audiences(session: Session, actor: Actor, tab: Tab) -> dict[str, frozenset[str]]:
    """Audience → process keys it is limited to (empty: all) for one tab."""
    if tab is Tab.MINE:
        return {user_audience(actor.username): frozenset()}
    if tab is Tab.GROUP:
        return {group_audience(g): frozenset() for g in sorted(actor.groups)}
    result: dict[str, frozenset[str]] = {}
    for who, scope in permissions.acting_as(session, actor):
        if who is actor:
            continue
        names = [user_audience(who.username), *(group_audience(g) for g in sorted(who.groups - actor.groups))]
        for audience in names:
            previous = result.get(audience)
            keys = frozenset(scope)
            result[audience] = (
                keys if previous is None else (frozenset() if not previous or not keys else previous | keys)
            )
    return result


def _audience_condition(audiences: dict[str, frozenset[str]]) -> ColumnElement[bool]:
    unscoped = sorted(a for a, scope in audiences.items() if not scope)
    parts: list[ColumnElement[bool]] = [InboxEntry.audience.in_(unscoped)] if unscoped else []
    parts += [
        and_(InboxEntry.audience == a, InboxEntry.process_key.in_(sorted(scope)))
        for a, scope in audiences.items()
        if scope
    ]
    return or_(*parts) if parts else false()


def _filtered(query: Query, audiences: dict[str, frozenset[str]], limits: Thresholds, *columns: Any) -> Select[Any]:
    stmt = select(*columns).where(_audience_condition(audiences))
    if query.process_key:
        stmt = stmt.where(InboxEntry.process_key == query.process_key)
    if query.directorate or query.status or query.text:
        stmt = stmt.join(HumanTask, HumanTask.id == InboxEntry.task_id)
    if query.directorate:
        stmt = stmt.where(
            exists().where(
                HumanTaskCandidate.task_id == HumanTask.id, HumanTaskCandidate.group_code == query.directorate
            )
        )
    if query.status:
        stmt = stmt.where(status_condition(query.status, limits))
    if query.text:
        # One folded text per task (fields joined by a line break, which a search text never holds).
        searched = func.coalesce(HumanTask.name, "") + "\n" + func.coalesce(HumanTask.business_key, "")
        searched = searched + "\n" + func.coalesce(ProcessInstance.subject, "")
        stmt = stmt.join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id).where(
            search.matches(searched, query.text)
        )
    return stmt


def _count(session: Session, query: Query, audiences: dict[str, frozenset[str]], limits: Thresholds) -> int:
    if not audiences:
        return 0
    ids = _filtered(query, audiences, limits, InboxEntry.task_id).distinct().subquery()
    return int(session.scalar(select(func.count()).select_from(ids)) or 0)


def page(session: Session, actor: Actor, query: Query) -> Page:
    """One page of the chosen tab, the count of every tab (with the same filters), newest deadline
    thresholds. Reads only tasks the actor may see: the tabs are built from their own audiences."""
    limits = thresholds()
    tab_audiences = {tab: _audiences(session, actor, tab) for tab in Tab}
    counts = {tab: _count(session, query, audiences, limits) for tab, audiences in tab_audiences.items()}
    audiences = tab_audiences[query.tab]
    rows: list[Row] = []
    if audiences and counts[query.tab]:
        ordered = _filtered(query, audiences, limits, InboxEntry.task_id, InboxEntry.due_sort, InboxEntry.priority)
        keys = ordered.distinct().subquery()
        order = (
            (keys.c.due_sort, keys.c.priority.desc(), keys.c.task_id)
            if query.sort is Sort.DUE
            else (keys.c.priority.desc(), keys.c.due_sort, keys.c.task_id)
        )
        ids = list(
            session.scalars(
                select(keys.c.task_id).order_by(*order).limit(query.per_page).offset((query.page - 1) * query.per_page)
            )
        )
        rows = _rows(session, actor, query.tab, ids, limits)
    processes = {d["key"]: d["name"] for d in definitions.list_definitions(session)}
    return Page(
        query, rows, counts[query.tab], counts, limits, processes, display_names(session, [r.task for r in rows])
    )


def display_names(session: Session, tasks: list[HumanTask]) -> dict[str, str]:
    """Full names of the tasks' assignees and names of their candidate groups, by username / code."""
    users = sorted({t.assignee for t in tasks if t.assignee})
    groups = sorted({g for t in tasks for g in t.candidate_groups})
    names: dict[str, str] = {}
    if users:
        names.update(session.execute(select(User.username, User.full_name).where(User.username.in_(users))).all())
    if groups:
        names.update(session.execute(select(Group.code, Group.name).where(Group.code.in_(groups))).all())
    return names


def _rows(session: Session, actor: Actor, tab: Tab, ids: list[int], limits: Thresholds) -> list[Row]:
    if not ids:
        return []
    found = {
        task.id: (task, subject)
        for task, subject in session.execute(
            select(HumanTask, ProcessInstance.subject)
            .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
            .options(joinedload(HumanTask.candidates))
            .where(HumanTask.id.in_(ids))
        ).unique()
    }
    reached = deadlines.reached_steps(session, ids)
    rows = []
    for task_id in ids:
        task, subject = found[task_id]
        is_open = task.state == TaskState.OPEN
        rows.append(
            Row(
                task=task,
                subject=subject,
                status=status_of(task.created_at, task.due_at, limits),
                can_claim=is_open and tab is not Tab.MINE,
                can_unclaim=not is_open and tab is not Tab.GROUP,
                escalation=reached.get(task_id),
            )
        )
    return rows


@dataclass(frozen=True)
class FilterOptions:
    processes: list[tuple[str, str]]
    directorates: list[tuple[str, str]]


def filter_options(session: Session) -> FilterOptions:
    """Choices of the process and directorate filters (deployed processes, directorate groups)."""
    processes = [(d["key"], d["name"]) for d in definitions.list_definitions(session)]
    directorates = [
        (code, name)
        for code, name in session.execute(
            select(Group.code, Group.name).where(Group.kind == "directorate").order_by(Group.name)
        )
    ]
    return FilterOptions(sorted(processes, key=lambda p: search.fold_tr(p[1])), directorates)
