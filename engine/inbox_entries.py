"""The inbox index: keeping ``inbox_entry`` in step with task states, and reading pages and
counts from it with index-ordered queries only (the cost does not grow with open tasks)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, delete, func, insert, select, true, union_all
from sqlalchemy.orm import Session, joinedload

from engine import permissions
from engine.actors import Actor
from engine.models import HumanTask, InboxEntry, TaskState
from engine.models.human_task import NO_DUE_DATE


def user_audience(username: str) -> str:
    return f"u:{username}"


def group_audience(code: str) -> str:
    return f"g:{code}"


def reindex(session: Session, task: HumanTask, *, is_new: bool = False) -> None:
    """Rewrite the task's entries from its state: one per candidate group while open, one for the
    assignee while claimed, none once completed or cancelled."""
    if not is_new:
        session.execute(delete(InboxEntry).where(InboxEntry.task_id == task.id))
    if task.state == TaskState.CLAIMED and task.assignee:
        audiences = [user_audience(task.assignee)]
    elif task.state == TaskState.OPEN:
        audiences = [group_audience(g) for g in task.candidate_groups]
    else:
        return
    if not audiences:
        return
    due = task.due_at or NO_DUE_DATE
    session.execute(
        insert(InboxEntry),
        [
            {
                "task_id": task.id,
                "audience": audience,
                "due_sort": due,
                "priority": task.priority,
                "process_key": task.process_key,
                "shared": len(audiences) > 1,
            }
            for audience in audiences
        ],
    )


def audiences_for(session: Session, actor: Actor) -> dict[str, frozenset[str]]:
    """Audience → process keys it is limited to (empty: all), for the actor and their principals."""
    result: dict[str, frozenset[str]] = {}
    for who, scope in permissions.acting_as(session, actor):
        keys = frozenset(scope)
        for audience in [user_audience(who.username), *(group_audience(g) for g in sorted(who.groups))]:
            if audience in result:
                previous = result[audience]
                keys_merged = frozenset() if not previous or not keys else previous | keys
                result[audience] = keys_merged
            else:
                result[audience] = keys
    return result


@dataclass
class InboxPage:
    tasks: list[HumanTask]
    total: int


def _entries(audience: str, scope: frozenset[str], process_key: str | None, *columns: object) -> Select[tuple]:
    query = select(*columns).where(InboxEntry.audience == audience)  # type: ignore[call-overload]
    if scope:
        query = query.where(InboxEntry.process_key.in_(sorted(scope)))
    if process_key:
        query = query.where(InboxEntry.process_key == process_key)
    return query


def page(session: Session, actor: Actor, *, limit: int, offset: int = 0, process_key: str | None = None) -> InboxPage:
    """One inbox page of tasks (by due date, then priority) and the exact total."""
    audiences = audiences_for(session, actor)
    if not audiences:
        return InboxPage([], 0)
    order = (InboxEntry.due_sort, InboxEntry.priority.desc(), InboxEntry.task_id)
    # A task among the first `want` overall is among the first `want` of every audience it has (all
    # tasks before it there are before it overall), so `want` rows per audience always suffice.
    want = offset + limit
    parts = [
        _entries(a, scope, process_key, InboxEntry.task_id, InboxEntry.due_sort, InboxEntry.priority)
        .order_by(*order)
        .limit(want)
        .subquery()
        for a, scope in audiences.items()
    ]
    merged = union_all(*(select(p) for p in parts)).subquery()
    # The tasks and their candidate groups come back in the same round trip as the page itself.
    rows = session.scalars(
        select(HumanTask)
        .join(merged, merged.c.task_id == HumanTask.id)
        .options(joinedload(HumanTask.candidates))
        .order_by(merged.c.due_sort, merged.c.priority.desc(), merged.c.task_id)
    ).unique()
    found = list(dict.fromkeys(rows))  # a task shared by two of the audiences appears twice
    return InboxPage(found[offset:want], _count(session, audiences, process_key))


def _count(session: Session, audiences: dict[str, frozenset[str]], process_key: str | None) -> int:
    counts = [_entries(a, scope, process_key, func.count()).scalar_subquery() for a, scope in audiences.items()]
    total_expr = counts[0]
    for extra in counts[1:]:
        total_expr = total_expr + extra
    shared = union_all(
        *(
            _entries(a, scope, process_key, InboxEntry.task_id).where(InboxEntry.shared == true())
            for a, scope in audiences.items()
        )
    ).subquery()
    duplicates = select(func.count() - func.count(func.distinct(shared.c.task_id))).select_from(shared)
    return int(session.scalar(select(total_expr - duplicates.scalar_subquery())) or 0)
