"""The Müdür's view of their units: late and approaching work grouped by directorate (candidate group)
and person, bulk reassignment and escalation.

A manager's units are the groups they manage plus those groups' manager level (``<code>/yonetici``,
where escalated tasks go); administrators see every group. Lists and totals are computed in SQL, so
no call loads more tasks than one page shows. Deadline status comes from ``engine.worklist`` (the one
place that defines "approaching").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, case, exists, func, or_, select, true
from sqlalchemy.orm import Session

from engine import audit, calendar, inbox_entries, outbox, people, permissions, tasks, worklist
from engine.actors import Actor
from engine.errors import Conflict, InvalidInput, KalemError, NotAllowed, NotFound
from engine.i18n import _
from engine.models import (
    ACTIVE_TASK_STATES,
    Group,
    HumanTask,
    HumanTaskCandidate,
    Membership,
    ProcessInstance,
    TaskState,
    User,
)
from engine.people import MANAGER_SUFFIX
from engine.worklist import DeadlineStatus

MAX_PER_PAGE = 100
MAX_BULK = 200
MAX_REASON = 1000
PRIORITY_STEP = 20
MAX_PRIORITY = 100
UNASSIGNED = "-"


def require_manager(actor: Actor) -> None:
    """Managers of at least one group, and administrators. Raises NotAllowed."""
    if not (actor.is_admin or actor.manages):
        raise NotAllowed(_("Bu sayfa yalnızca birim yöneticileri içindir."))


def managed_codes(actor: Actor) -> list[str] | None:
    """Group codes whose tasks the actor oversees; None means every group (administrators)."""
    if actor.is_admin:
        return None
    return sorted(actor.manages | {code + MANAGER_SUFFIX for code in actor.manages})


def _in_scope(codes: list[str] | None, group: str | None = None) -> ColumnElement[bool]:
    """A condition on HumanTask: offered to ``group`` when given, else to one of ``codes`` (None: any)."""
    wanted = [group] if group else codes
    if wanted is None:
        return true()
    return exists().where(HumanTaskCandidate.task_id == HumanTask.id, HumanTaskCandidate.group_code.in_(wanted))


# --- overview ---------------------------------------------------------------------------------------


@dataclass
class PersonLoad:
    username: str | None
    full_name: str
    overdue: int
    approaching: int


@dataclass
class DirectorateLoad:
    code: str
    name: str
    overdue: int = 0
    approaching: int = 0
    people: list[PersonLoad] = field(default_factory=list)


@dataclass
class LateTask:
    task: HumanTask
    subject: str | None
    status: DeadlineStatus
    can_reassign: bool


@dataclass
class Overview:
    directorates: list[DirectorateLoad]
    tasks: list[LateTask]
    total: int
    page: int
    per_page: int
    limits: worklist.Thresholds

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def group_names(self) -> dict[str, str]:
        return {d.code: d.name for d in self.directorates}


def _late(limits: worklist.Thresholds, status: DeadlineStatus | None) -> ColumnElement[bool]:
    if status is DeadlineStatus.OVERDUE or status is DeadlineStatus.APPROACHING:
        return worklist.status_condition(status, limits)
    return or_(
        worklist.status_condition(DeadlineStatus.OVERDUE, limits),
        worklist.status_condition(DeadlineStatus.APPROACHING, limits),
    )


def group_label(code: str, names: dict[str, str]) -> str:
    """A group's display name; a manager level reads "<name> (yönetici)"."""
    base = code.removesuffix(MANAGER_SUFFIX)
    name = names.get(base, base)
    return f"{name} (yönetici)" if code.endswith(MANAGER_SUFFIX) else name


def workload(session: Session, actor: Actor, limits: worklist.Thresholds) -> list[DirectorateLoad]:
    """Overdue and approaching counts per directorate (candidate group) and person, aggregated in SQL.

    A task offered to two of the actor's groups counts in both. Raises NotAllowed.
    """
    require_manager(actor)
    codes = managed_codes(actor)
    overdue = worklist.status_condition(DeadlineStatus.OVERDUE, limits)
    cand = HumanTaskCandidate
    query = (
        select(
            cand.group_code,
            HumanTask.assignee,
            func.sum(case((overdue, 1), else_=0)),
            func.count(),
        )
        .join(cand, cand.task_id == HumanTask.id)
        .where(HumanTask.state.in_(ACTIVE_TASK_STATES), _late(limits, None))
        .group_by(cand.group_code, HumanTask.assignee)
        .order_by(cand.group_code, HumanTask.assignee)
    )
    if codes is not None:
        query = query.where(cand.group_code.in_(codes))
    rows = session.execute(query).all()
    bases = sorted({str(code).removesuffix(MANAGER_SUFFIX) for code, *_rest in rows})
    names = dict(session.execute(select(Group.code, Group.name).where(Group.code.in_(bases))).all())
    usernames = sorted({str(a) for _c, a, *_rest in rows if a})
    full_names = dict(session.execute(select(User.username, User.full_name).where(User.username.in_(usernames))).all())
    result: dict[str, DirectorateLoad] = {}
    for code, assignee, late_count, total in rows:
        load = result.setdefault(code, DirectorateLoad(code, group_label(code, names)))
        over = int(late_count or 0)
        person = PersonLoad(
            assignee,
            full_names.get(assignee, assignee) if assignee else str(_("Atanmamış (grupta bekliyor)")),
            over,
            int(total) - over,
        )
        load.people.append(person)
        load.overdue += person.overdue
        load.approaching += person.approaching
    return sorted(result.values(), key=lambda d: (-d.overdue, -d.approaching, d.name))


def late_tasks(
    session: Session,
    actor: Actor,
    limits: worklist.Thresholds,
    *,
    status: DeadlineStatus | None = None,
    group: str | None = None,
    assignee: str | None = None,
    page: int = 1,
    per_page: int = 25,
) -> tuple[list[LateTask], int]:
    """One page of the overdue and approaching tasks of the actor's units (most late first), and the
    total. ``assignee`` ``"-"`` means unclaimed. Raises NotAllowed."""
    require_manager(actor)
    codes = managed_codes(actor)
    if group and codes is not None and group not in codes:
        raise NotAllowed(_("Bu grubu yönetmiyorsunuz: '{group}'.", group=group))
    where = [HumanTask.state.in_(ACTIVE_TASK_STATES), _late(limits, status), _in_scope(codes, group)]
    if assignee == UNASSIGNED:
        where.append(HumanTask.assignee.is_(None))
    elif assignee:
        where.append(HumanTask.assignee == assignee)
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    page = max(1, page)
    total = int(session.scalar(select(func.count()).select_from(HumanTask).where(*where)) or 0)
    rows = session.execute(
        select(HumanTask, ProcessInstance.subject)
        .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
        .where(*where)
        .order_by(HumanTask.due_at, HumanTask.priority.desc(), HumanTask.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    items = [
        LateTask(
            task,
            subject,
            worklist.status_of(task.created_at, task.due_at, limits),
            permissions.can_reassign(actor, task),
        )
        for task, subject in rows
    ]
    return items, total


def overview(
    session: Session,
    actor: Actor,
    *,
    status: DeadlineStatus | None = None,
    group: str | None = None,
    assignee: str | None = None,
    page: int = 1,
    per_page: int = 25,
    now: datetime | None = None,
) -> Overview:
    """The Müdür page in one call: workload per directorate and person, and one page of late tasks."""
    limits = worklist.thresholds(now)
    loads = workload(session, actor, limits)
    items, total = late_tasks(
        session, actor, limits, status=status, group=group, assignee=assignee, page=page, per_page=per_page
    )
    return Overview(loads, items, total, max(1, page), max(1, min(per_page, MAX_PER_PAGE)), limits)


def assignable_users(session: Session, actor: Actor) -> list[User]:
    """Active members of the groups the actor manages (everyone for administrators), by name."""
    require_manager(actor)
    query = select(User).where(User.is_active.is_(True)).order_by(User.full_name, User.username)
    if not actor.is_admin:
        query = query.where(
            exists().where(
                Membership.user_id == User.id,
                Membership.group_id == Group.id,
                Group.code.in_(sorted(actor.manages)),
            )
        )
    return list(session.scalars(query).unique())


# --- actions ----------------------------------------------------------------------------------------


def reassign_many(session: Session, actor: Actor, task_ids: Iterable[int], username: str) -> list[HumanTask]:
    """Assign every listed task to ``username``, each through ``tasks.assign``'s rule (the actor manages
    the task's group; the user is in one of its groups). All or nothing: the first refusal raises an
    error naming that task, and the caller's transaction rolls back every assignment made before it.

    Raises InvalidInput (no tasks, too many, unknown user), NotFound, NotAllowed, Conflict.
    """
    require_manager(actor)
    ids = list(dict.fromkeys(int(i) for i in task_ids))
    if not ids:
        raise InvalidInput(_("Atanacak görev seçilmedi."), field_errors={"task_ids": [_("En az bir görev seçin.")]})
    if len(ids) > MAX_BULK:
        raise InvalidInput(
            _("Bir seferde en fazla {n} görev atanabilir.", n=MAX_BULK),
            field_errors={"task_ids": [_("Çok fazla görev seçildi.")]},
        )
    username = (username or "").strip()
    try:
        people.actor_for(session, username)
    except NotFound as exc:
        raise InvalidInput(exc.message, field_errors={"username": [exc.message]}) from None
    done = []
    for task_id in ids:
        try:
            done.append(tasks.assign(session, actor, task_id, username))
        except KalemError as exc:
            raise _failed_on(task_id, exc) from exc
    return done


def _failed_on(task_id: int, exc: KalemError) -> KalemError:
    """The same kind of error, saying which task stopped the whole batch."""
    cls = type(exc) if isinstance(exc, (NotFound, NotAllowed, Conflict, InvalidInput)) else Conflict
    message = _("Görev {id} atanamadı, hiçbir görev değiştirilmedi: {reason}", id=task_id, reason=exc.message)
    return cls(message, code=exc.code, details={"task_id": task_id}, field_errors=exc.field_errors)


def escalate(session: Session, actor: Actor, task_id: int, reason: str, *, move_up: bool = False) -> HumanTask:
    """Raise a late task's priority and escalation level, notify its assignee and its groups' managers
    (outbox), and with ``move_up`` offer it to the managers' level (``<group>/yonetici``, unclaimed).

    The actor must manage one of the task's groups. Raises InvalidInput (no reason), NotFound,
    NotAllowed, Conflict (task not active; nothing above the manager level).
    """
    reason = (reason or "").strip()
    if not reason or len(reason) > MAX_REASON:
        message = _("Eskalasyon gerekçesi yazın.") if not reason else _("Gerekçe en fazla {n} karakter.", n=MAX_REASON)
        raise InvalidInput(message, field_errors={"reason": [message]})
    task = tasks.get(session, task_id)
    permissions.require_can_reassign(session, actor, task)
    if not task.is_active:
        raise Conflict(_("Görev artık açık değil; eskale edilemez."))
    groups_before, assignee_before, priority_before = task.candidate_groups, task.assignee, task.priority
    moved_to: list[str] | None = None
    if move_up:
        moved_to = _move_up(task)
    task.priority = min(MAX_PRIORITY, task.priority + PRIORITY_STEP)
    task.escalation_level += 1
    session.flush()
    inbox_entries.reindex(session, task)
    notified = _notify_escalation(session, actor, task, reason, assignee_before, groups_before, moved_to)
    audit.append(
        session,
        actor,
        "task.escalated",
        instance_id=task.instance_id,
        task_id=task.id,
        details={
            "reason": reason,
            "level": task.escalation_level,
            "priority": {"from": priority_before, "to": task.priority},
            "groups": {"from": groups_before, "to": moved_to or groups_before},
            "assignee_before": assignee_before,
            "notified": notified,
        },
    )
    return task


def _move_up(task: HumanTask) -> list[str]:
    groups = task.candidate_groups
    if not groups:
        raise Conflict(_("Görevin bir grubu yok; bir üst düzeye taşınamaz. Bir kişiye atayın."))
    upper = sorted({g if g.endswith(MANAGER_SUFFIX) else g + MANAGER_SUFFIX for g in groups})
    if upper == groups:
        raise Conflict(_("Görev zaten yöneticiler düzeyinde; daha üst bir düzey yok."))
    task.candidates = [c for c in task.candidates if c.group_code in upper] + [
        HumanTaskCandidate(group_code=g) for g in upper if g not in groups
    ]
    # The next level picks it up afresh: it waits unclaimed in the managers' inbox.
    task.state, task.assignee, task.claimed_at, task.on_behalf_of = TaskState.OPEN, None, None, None
    return upper


def _notify_escalation(
    session: Session,
    actor: Actor,
    task: HumanTask,
    reason: str,
    assignee: str | None,
    groups: list[str],
    moved_to: list[str] | None,
) -> list[str]:
    """Outbox messages to the assignee and each manager of the task's groups (not the actor), on the
    channels each keeps on (``outbox.preferences``); returns who was notified."""
    bases = sorted({g.removesuffix(MANAGER_SUFFIX) for g in groups})
    managed_by = exists().where(
        Membership.user_id == User.id,
        Membership.is_manager.is_(True),
        Membership.group_id == Group.id,
        Group.code.in_(bases),
    )
    wanted = or_(managed_by, User.username == assignee) if assignee else managed_by
    users = session.scalars(
        select(User).where(wanted, User.is_active.is_(True), User.username != actor.username).order_by(User.username)
    ).unique()
    due = task.due_at.astimezone(calendar.default_calendar().zone) if task.due_at else None
    subject = f"Eskalasyon: {task.name}" + (f" ({task.business_key})" if task.business_key else "")
    lines = [
        f"'{task.name}' görevi {actor.username} tarafından eskale edildi (düzey {task.escalation_level}).",
        f"Gerekçe: {reason}",
        f"Son tarih: {due:%d.%m.%Y %H:%M}" if due else "Son tarih: yok",
        f"Öncelik: {task.priority}",
    ]
    if moved_to:
        lines.append("Görev yöneticiler düzeyine taşındı: " + ", ".join(moved_to))
    body = "\n".join(lines)
    notified = []
    for user in users:
        prefs = outbox.preferences(session, user.username)
        channels = [(outbox.EMAIL, user.email, body)] if prefs.email and user.email else []
        channels += [(outbox.SMS, user.phone, subject)] if prefs.sms and user.phone else []
        for channel, address, text in channels:
            outbox.enqueue(session, channel, str(address), subject, text, instance_id=task.instance_id)
        if channels:
            notified.append(user.username)
    return notified
