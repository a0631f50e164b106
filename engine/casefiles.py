"""A case as one page shows it: the instance (data masked for the viewer), its open tasks, deadlines,
comments, files, history and diagram steps; and a task with its form on top of that.

Read-only except ``complete_task``, which stores a task form's uploads and completes it in the
caller's one transaction. Everything here goes through the permission checks of the functions it
calls: a case or task the actor may not see is ``NotFound``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import (
    attachments,
    clock,
    comments,
    deadlines,
    definitions,
    instances,
    permissions,
    privacy,
    tasks,
    worklist,
)
from engine.actors import Actor
from engine.errors import KalemError, NotFound
from engine.i18n import _
from engine.models import (
    Attachment,
    AuditEvent,
    Comment,
    HumanTask,
    ProcessInstance,
    TaskState,
    User,
)

MAX_HISTORY = 200
READ_ACTIONS = ("attachment.downloaded",)  # in the audit trail, not in the case's history
ISTANBUL = ZoneInfo("Europe/Istanbul")
LEGAL_DUE_KEY = "yasal_son_tarih"
INTERNAL_DUE_KEY = "ic_son_tarih"


@dataclass
class HistoryEntry:
    at: datetime
    actor: str
    on_behalf_of: str | None
    action: str
    task_name: str | None
    details: dict[str, Any]


@dataclass
class CaseFile:
    instance: ProcessInstance
    process_name: str
    data: dict[str, Any]
    identity_visible: bool
    open_tasks: list[HumanTask]
    viewable_task_ids: set[int]
    waiting: list[dict[str, Any]]
    incidents: list[dict[str, Any]]
    legal_due_at: datetime | None
    internal_due_at: datetime | None
    comments: list[Comment]
    attachments: list[Attachment]
    history: list[HistoryEntry]
    current_steps: list[str]
    done_steps: list[str]
    may_contribute: bool
    # Display names: usernames → full names, group codes → group names.
    people: dict[str, str] = field(default_factory=dict)

    @property
    def applicant(self) -> dict[str, Any]:
        """The applicant's fields (``basvuran_*``) as the viewer may see them."""
        return {k: v for k, v in self.data.items() if privacy.is_personal(k) and v not in (None, "")}


@dataclass
class TaskFile:
    task: HumanTask
    case: CaseFile
    form: Any | None
    prefill: dict[str, Any]
    may_complete: bool
    may_claim: bool
    may_unclaim: bool
    escalations: list[deadlines.Reached]


def instance_file(session: Session, actor: Actor, instance_id: int) -> CaseFile:
    """Everything the instance page shows. Raises NotFound (also for a case hidden from the actor)."""
    detail = instances.show(session, actor, instance_id)
    instance = detail.instance
    works_on = permissions.works_on_instance(session, actor, instance)
    history = _history(session, instance.id)
    current = {t.bpmn_id for t in detail.open_tasks} | {str(w["bpmn_id"]) for w in detail.waiting if w.get("bpmn_id")}
    notes = comments.list_for_instance(session, actor, instance.id)
    files = attachments.list_for_instance(session, actor, instance.id)
    usernames = {e.actor for e in history} | {e.on_behalf_of for e in history if e.on_behalf_of}
    usernames |= {c.author for c in notes} | {f.uploaded_by for f in files} | {instance.started_by}
    usernames |= {t.assignee for t in detail.open_tasks if t.assignee}
    return CaseFile(
        instance=instance,
        process_name=instance.definition.name,
        data=detail.data,
        identity_visible=privacy.may_see_identity(actor, detail.data, works_on_case=works_on),
        open_tasks=detail.open_tasks,
        viewable_task_ids={t.id for t in detail.open_tasks if permissions.can_view_task(session, actor, t)},
        waiting=detail.waiting,
        incidents=detail.incidents,
        legal_due_at=instance.legal_due_at or _instant(detail.data.get(LEGAL_DUE_KEY)),
        internal_due_at=_instant(detail.data.get(INTERNAL_DUE_KEY)),
        comments=notes,
        attachments=files,
        history=history,
        current_steps=sorted(current),
        done_steps=_done_steps(session, instance.id, current),
        may_contribute=comments.may_contribute(session, actor, instance),
        people={**_full_names(session, usernames), **worklist.display_names(session, detail.open_tasks)},
    )


def task_file(session: Session, actor: Actor, task_id: int) -> TaskFile:
    """Everything the task page shows. Raises NotFound (also for a task hidden from the actor)."""
    task = tasks.show(session, actor, task_id)
    case = instance_file(session, actor, task.instance_id)
    case.people.update(worklist.display_names(session, [task]))
    form = definitions.form_for_task(session, task) if task.is_active else None
    prefill: dict[str, Any] = {}
    if form is not None:
        names = {f.name for f in form.fields if f.type != "file"}
        prefill = {
            k: v for k, v in case.data.items() if k in names and (case.identity_visible or not privacy.is_personal(k))
        }
    return TaskFile(
        task=task,
        case=case,
        form=form,
        prefill=prefill,
        may_complete=task.is_active and _passes(lambda: permissions.require_can_complete(session, actor, task)),
        may_claim=task.state == TaskState.OPEN and _passes(lambda: permissions.require_can_claim(session, actor, task)),
        may_unclaim=task.state == TaskState.CLAIMED
        and _passes(lambda: permissions.require_can_unclaim(session, actor, task)),
        escalations=deadlines.applied_steps(session, task),
    )


def complete_task(
    session: Session,
    actor: Actor,
    task_id: int,
    data: Mapping[str, Any],
    uploads: Iterable[tuple[str, str, bytes]] = (),
) -> HumanTask:
    """Store each upload ``(field, filename, content)`` of the task's form (checked by
    ``attachments.check_upload``), then complete the task with the data and the files' references.
    Raises what ``tasks.complete`` raises, and InvalidInput for a refused file."""
    payload = dict(data)
    for name, filename, content in uploads:
        payload[name] = attachments.upload_for_task(session, actor, task_id, name, filename, content)
    return tasks.complete(session, actor, task_id, payload)


def diagram_source(session: Session, actor: Actor, instance_id: int) -> str:
    """The BPMN XML of the file holding the case's process (its deployed version). Raises NotFound."""
    instance = instances.get(session, instance_id)
    permissions.require_can_see_instance(session, actor, instance)
    definition = instance.definition
    for source in definition.sources:
        if source["name"] == definition.file_name:
            return source["content"]
    raise NotFound(_("Süreç diyagramı bulunamadı."))


def _passes(check: Any) -> bool:
    try:
        check()
    except KalemError:
        return False
    return True


def _history(session: Session, instance_id: int) -> list[HistoryEntry]:
    """The case's latest audit events, oldest first; recorded form data is left out (it may hold
    personal data the viewer must not see unmasked; the case data shows what they may). Reads
    (downloads) are for the audit trail, not the case's story."""
    events = list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.instance_id == instance_id, AuditEvent.action.not_in(READ_ACTIONS))
            .order_by(AuditEvent.seq.desc())
            .limit(MAX_HISTORY)
        )
    )[::-1]
    task_ids = {e.task_id for e in events if e.task_id is not None}
    names = (
        dict(session.execute(select(HumanTask.id, HumanTask.name).where(HumanTask.id.in_(task_ids))).all())
        if task_ids
        else {}
    )
    return [
        HistoryEntry(
            at=e.at,
            actor=e.actor,
            on_behalf_of=e.on_behalf_of,
            action=e.action,
            task_name=names.get(e.task_id) if e.task_id is not None else None,
            details={k: v for k, v in (e.details or {}).items() if k != "data"},
        )
        for e in events
    ]


def _done_steps(session: Session, instance_id: int, current: set[str]) -> list[str]:
    """BPMN ids of the user tasks the case completed (and does not wait on again)."""
    done = session.scalars(
        select(HumanTask.bpmn_id)
        .where(HumanTask.instance_id == instance_id, HumanTask.state == TaskState.COMPLETED)
        .distinct()
    )
    return sorted(set(done) - current)


def _full_names(session: Session, usernames: set[str]) -> dict[str, str]:
    if not usernames:
        return {}
    rows = session.execute(select(User.username, User.full_name).where(User.username.in_(sorted(usernames))))
    return dict(rows.all())


def _instant(value: Any) -> datetime | None:
    """An aware UTC instant from an ISO text, a datetime or a date; wall-clock values are Istanbul's."""
    if isinstance(value, str) and value:
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=ISTANBUL)
    if isinstance(value, datetime):
        return clock.as_utc(value if value.tzinfo else value.replace(tzinfo=ISTANBUL))
    return None
