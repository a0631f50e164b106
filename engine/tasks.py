"""Human tasks: the inbox, claim, unclaim, assign, complete.

A task moves ``open → claimed → completed``, or to ``cancelled`` when the process no longer
waits for it. Claims are one conditional UPDATE, so of N concurrent claims exactly one wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from engine import advance, audit, clock, definitions, inbox_entries, people, permissions
from engine.actors import Actor
from engine.errors import Conflict, InvalidInput, NotAllowed, NotFound
from engine.i18n import _
from engine.models import HumanTask, InstanceStatus, TaskState
from engine.runtime.serializer import to_plain

MAX_PAGE = 500


def get(session: Session, task_id: int) -> HumanTask:
    task = session.get(HumanTask, task_id)
    if task is None:
        raise NotFound(_("Görev bulunamadı: {id}.", id=task_id))
    return task


def show(session: Session, actor: Actor, task_id: int) -> HumanTask:
    """A task the actor may see. Raises NotFound (also for tasks hidden from the actor)."""
    task = get(session, task_id)
    permissions.require_can_view_task(session, actor, task)
    return task


@dataclass
class Page:
    items: list[HumanTask]
    total: int


def inbox(
    session: Session,
    actor: Actor,
    *,
    limit: int = 50,
    offset: int = 0,
    process_key: str | None = None,
) -> Page:
    """Open tasks the actor may work on (assigned, claimable in their groups, as a deputy),
    ordered by due date, then priority; with the total for paging."""
    found = inbox_entries.page(
        session, actor, limit=max(1, min(limit, MAX_PAGE)), offset=max(0, offset), process_key=process_key
    )
    return Page(found.tasks, found.total)


def claim(session: Session, actor: Actor, task_id: int) -> HumanTask:
    """Take an unclaimed task. Raises NotFound, NotAllowed, Conflict (someone else was first)."""
    task = _active_task(session, task_id)
    behalf = permissions.require_can_claim(session, actor, task)
    _take(session, task, actor.username)
    inbox_entries.reindex(session, task)
    task.on_behalf_of = behalf
    audit.append(session, actor, "task.claimed", instance_id=task.instance_id, task_id=task.id, on_behalf_of=behalf)
    return task


def _take(session: Session, task: HumanTask, username: str) -> None:
    now = clock.now()
    result = session.execute(
        update(HumanTask)
        .where(HumanTask.id == task.id, HumanTask.state == TaskState.OPEN, HumanTask.assignee.is_(None))
        .values(state=TaskState.CLAIMED, assignee=username, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(_("Görev siz üstlenmeden önce başkası tarafından üstlenildi."))
    # The row now holds exactly these values; mirror them without reading it back.
    for name, value in (("state", TaskState.CLAIMED), ("assignee", username), ("claimed_at", now)):
        set_committed_value(task, name, value)


def unclaim(session: Session, actor: Actor, task_id: int) -> HumanTask:
    """Give a claimed task back to its groups."""
    task = _active_task(session, task_id)
    permissions.require_can_unclaim(session, actor, task)
    before = task.assignee
    if not task.candidates:
        raise Conflict(_("Görevin bırakılabileceği bir grup yok; yöneticiniz başka birine atayabilir."))
    task.state, task.assignee, task.claimed_at, task.on_behalf_of = TaskState.OPEN, None, None, None
    session.flush()
    inbox_entries.reindex(session, task)
    audit.append(
        session,
        actor,
        "task.unclaimed",
        instance_id=task.instance_id,
        task_id=task.id,
        details={"from": before},
    )
    return task


def may_do(task: HumanTask, who: Actor) -> bool:
    """Whether ``who`` may be given ``task``: in one of its groups (any user when it has none)."""
    groups = set(task.candidate_groups)
    return not groups or bool(groups & who.groups)


def hand_to(session: Session, actor: Actor, task: HumanTask, username: str, **details: Any) -> None:
    """Give ``task`` to ``username`` (claimed for them), re-index it and audit ``task.assigned``;
    ``details`` go into the audit row beside ``from`` and ``to``. The caller checked who may."""
    before = task.assignee
    task.state, task.assignee, task.claimed_at, task.on_behalf_of = (TaskState.CLAIMED, username, clock.now(), None)
    session.flush()
    inbox_entries.reindex(session, task)
    audit.append(
        session,
        actor,
        "task.assigned",
        instance_id=task.instance_id,
        task_id=task.id,
        details={"from": before, "to": username, **details},
    )


def assign(session: Session, actor: Actor, task_id: int, username: str) -> HumanTask:
    """A manager (re)assigns a task to a user who may do it. Raises NotFound, NotAllowed, Conflict."""
    task = _active_task(session, task_id)
    permissions.require_can_reassign(session, actor, task)
    target = people.actor_for(session, username)
    if not may_do(task, target):
        raise NotAllowed(
            _(
                "'{user}' bu görevi yapamaz: görevin gruplarından ({groups}) hiçbirinde değil.",
                user=username,
                groups=", ".join(sorted(task.candidate_groups)),
            )
        )
    hand_to(session, actor, task, username)
    return task


def complete(session: Session, actor: Actor, task_id: int, data: Mapping[str, Any] | None = None) -> HumanTask:
    """Complete a task with data validated by its form, then run the process until it waits.

    An unclaimed task's candidate claims and completes it in one step.
    Raises NotFound, NotAllowed, Conflict, InvalidInput, ProcessError.
    """
    instance_id = session.scalar(select(HumanTask.instance_id).where(HumanTask.id == task_id))
    if instance_id is None:
        raise NotFound(_("Görev bulunamadı: {id}.", id=task_id))
    # Lock the case first, then read the task: what we read cannot change until we commit.
    instance = advance.lock_instance(session, instance_id)
    task = _active_task(session, task_id)
    behalf = permissions.require_can_complete(session, actor, task)
    if instance.status in (InstanceStatus.SUSPENDED, InstanceStatus.TERMINATED, InstanceStatus.COMPLETED):
        raise Conflict(_("Süreç örneği '{status}' durumunda; görev tamamlanamaz.", status=instance.status))
    form = definitions.form_for_task(session, task)
    clean = validate_task_data(data or {}, form)
    if task.assignee is None:
        _take(session, task, actor.username)
    with advance.step(session, instance, actor, "task.complete") as runner:
        if form is not None:
            # Every field of the form gets a value in the case: one left empty (or not applicable) is
            # None, so a later gateway can test it and a stale answer from an earlier round is cleared.
            clean = {**dict.fromkeys(form.field_names), **clean}
            case_data = runner.task_data(task.spiff_task_id)
            people.check_form_references(session, form, clean, case_data)
            if form.checks:
                definitions.run_form_checks(form, case_data, clean)
        runner.complete_user_task(task.spiff_task_id, clean, advance.dispatch_for(session, instance))
        task.state, task.completed_at, task.completed_by = TaskState.COMPLETED, clock.now(), actor.username
        task.on_behalf_of = behalf
        inbox_entries.reindex(session, task)
    audit.append(
        session,
        actor,
        "task.completed",
        instance_id=instance.id,
        task_id=task.id,
        on_behalf_of=behalf,
        details={"bpmn_id": task.bpmn_id, "data": to_plain(clean)},
    )
    return task


def validate_task_data(data: Mapping[str, Any], form: Any) -> dict[str, Any]:
    """Clean data by the task's form; without a form, any JSON object of plain keys."""
    if form is None:
        if not isinstance(data, Mapping):
            raise InvalidInput(_("Görev verisi bir JSON nesnesi olmalı."))
        bad = [k for k in data if not isinstance(k, str) or k == "typename" or k.startswith("_")]
        if bad:
            raise InvalidInput(_("Geçersiz alan adları."), field_errors={str(k): [_("Ayrılmış ad.")] for k in bad})
        return dict(data)
    return definitions.validate_form(form, data)


def as_dict(task: HumanTask) -> dict[str, Any]:
    return {
        "id": task.id,
        "name": task.name,
        "bpmn_id": task.bpmn_id,
        "process_key": task.process_key,
        "instance_id": task.instance_id,
        "business_key": task.business_key,
        "state": str(task.state),
        "assignee": task.assignee,
        "candidate_groups": task.candidate_groups,
        "due_at": task.due_at.isoformat() if task.due_at else None,
        "priority": task.priority,
        "form_key": task.form_key,
        "lane": task.lane,
        "created_at": task.created_at.isoformat(),
        "completed_by": task.completed_by,
        "on_behalf_of": task.on_behalf_of,
    }


def _active_task(session: Session, task_id: int) -> HumanTask:
    task = get(session, task_id)
    if not task.is_active:
        raise Conflict(_("Görev zaten {state} durumunda.", state=_state_label(task.state)))
    return task


def _state_label(state: str) -> str:
    labels = {
        "completed": "tamamlanmış",
        "cancelled": "iptal edilmiş",
        "claimed": "üstlenilmiş",
        "open": "açık",
    }
    return labels.get(str(state), str(state))
