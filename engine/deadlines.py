"""The deadline policy (domain guide §4.4): colour in the inbox, reminders and escalation of
tasks and legally timed cases, each ladder step applied exactly once and recorded.

**Ladders.** A *task* is measured against its own due date (``human_task.due_at``, the internal
due), or the case's legal due when it has none; a *case* (an instance whose data carries a legal
due, ``yasal_son_tarih`` by default) against its legal due. Fractions are of *business time*:
working hours (08:30–17:30, eves until 13:00) on business days of :mod:`engine.calendar`.

=====================  ======================  ============================================================
step                   when                    action
=====================  ======================  ============================================================
``hatirlatma``         start + 1 business day  intake (havale) tasks only: remind the people who may do it
``hatirlatma_yonetici``start + 2 business days intake tasks only: remind them and the Şef and Müdür
``yuzde_50``           50 % of the window      yellow in the inbox; notify the assignee (or the group)
``yuzde_75``           75 %                    notify the managers of the task's groups and the ÖK Şef
``son_2_gun``          due − 2 business days   red; notify the assignee and the managers of its groups
``gecikti``            due                     flag "Süresi geçti" (the task stays open); notify them
case ``son_2_gun``     legal due − 2 b. days   deliver the BPMN message that opens the "Ara cevap hazırla"
                                               (3071) or "Süre uzatımı kararı" (4982) task; notify the
                                               Özel Kalem Müdürü
case ``gecikti``       legal due               flag the case overdue (overdue report); notify the
                                               Başkan Yardımcısı group and the Özel Kalem Müdürü
=====================  ======================  ============================================================

Thresholds, groups and messages are configurable per process (:func:`set_policy`). A user task
whose BPMN has its own timer or escalation boundary event is escalated by the BPMN, not by the
policy. Nothing here ever closes a task.

**Colour.** The inbox colours a task by ``engine.worklist.status_of`` (one definition, also used as
SQL for the status filter): approaching from the default policy's ``approaching`` share of the
window, or within ``red_business_days`` business days of the due. It measures the share in
calendar time, which SQL can compare; the steps here measure business time, so a yellow colour may
come a little before or after the 50 % notice.

**Exactly once.** The job reads the audit trail as a change feed (its ``seq`` is gap-free and
assigned under the chain-head lock, so it is also commit order) to keep one ``deadline_watch``
row per watched task or case, with the instant of its next step. A run takes the watches with
``next_at <= now`` (index scan, bounded batch), each in its own transaction, locked with
``SKIP LOCKED`` on PostgreSQL; each applied step is a ``deadline_step`` row unique on
(key, step), written with its notifications and audit event in that same transaction.
Steps whose instant passed while a later step of the same ladder is also due (the scheduler was
down, or the task was created late) are recorded as ``superseded`` without notifying anyone.

**Vekalet.** Everyone a step notifies (assignee, group members, managers, the policy's groups) who
has a vekil now — an unrevoked substitution in force whose scope is every process or lists this
one, the vekil an active user, no chains (as ``people.effective_principals`` and
``substitution_scope`` resolve it from the vekil's side) — is notified *and* their vekil gets the
same message, marked "(X adına)" with a line saying they receive it as X's vekil. The principal is
not skipped: they stay responsible for their work. Nobody gets two messages for one step: a vekil
who is notified in their own right gets only that one, and a vekil of several recipients gets one
naming them all. The step's details and audit event list everyone notified (``notified``, usernames)
and ``deputies`` (vekil → the principals they got it for).

**When the due changes.** The feed also reads the events after which a case's data may have changed
(:data:`CASE_CHANGES`: the workflow ran). For each such case it reads the legal due again (one
workflow load per case and feed batch) and brings the watches of the case and of its open tasks to
the current due (a task's own due, else the case's legal due); a watch whose due moved is re-planned
from the new due (the window still starts when the task or case started, so the 50/75 % points move
too) and ``deadline.replanned`` is audited. The rule: **each step applies at most once per key,
whatever happens to the due.** A step already recorded (applied or superseded) under the old due is
not repeated, even when its instant under the new due is still ahead — after a 4982 extension
(15 → 30 iş günü) the 50 % reminder already sent is not sent again. Every step not yet recorded
waits for its instant under the new due: an extension made before the red step moves
``son_2_gun`` and ``gecikti`` (case and tasks) to the new due − 2 business days and the new due, and
nothing fires at the old instants. (A red step already applied before the extension is therefore
not repeated before the new due; only ``gecikti`` is still ahead.) A due moved earlier makes the
steps whose new instant has passed due at once, the earlier ones superseded as above. A due that
can no longer be read (the variable was removed) leaves the watch as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import date, datetime, time, timedelta
from typing import Any

from lxml import etree
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import advance, audit, calendar, clock, incidents, outbox, people
from engine.actors import Actor
from engine.db import Database, per_transaction, read_session, transaction
from engine.errors import InvalidInput, KalemError, NotAllowed, ProcessError
from engine.i18n import _
from engine.models import (
    ACTIVE_TASK_STATES,
    AuditEvent,
    Group,
    HumanTask,
    InstanceStatus,
    Membership,
    MessageSubscription,
    ProcessDefinition,
    ProcessInstance,
    Substitution,
    User,
)
from engine.models.scheduling import DeadlinePolicySetting, DeadlineStep, DeadlineWatch, SchedulerCursor

logger = logging.getLogger(__name__)

FEED_CURSOR = "deadline_feed"
# Audit actions after which a case's data (its legal due) may have changed: the workflow ran.
CASE_CHANGES = frozenset(
    {
        "instance.started",
        "task.completed",
        "message.correlated",
        "timer.fired",
        "instance.migrated",
        "incident.resolved",
    }
)
WORKDAY_START = time(8, 30)
POLICY_EDITORS = frozenset({"surec_tasarimcisi", "ozel_kalem_muduru"})
ENDED = (InstanceStatus.COMPLETED, InstanceStatus.TERMINATED)


# Escalation level stored on the task (``human_task.escalation_level``) by each step.
LEVELS = {"hatirlatma": 0, "hatirlatma_yonetici": 0, "yuzde_50": 1, "yuzde_75": 2, "son_2_gun": 3, "gecikti": 4}


@dataclass(frozen=True)
class Policy:
    """The escalation ladder of one process; :func:`set_policy` stores overrides of these defaults."""

    enabled: bool = True
    approaching: float = 0.5
    escalate: float = 0.75
    red_business_days: int = 2
    # Law code of the process ("3071", "4982"); else read from the case data variable ``law_variable``.
    law: str | None = None
    law_variable: str = "kanun"
    legal_due_variable: str = "yasal_son_tarih"
    # BPMN ids of the intake (havale) tasks that get the "not routed after N business days" reminders.
    intake_tasks: tuple[str, ...] = ()
    intake_reminder_business_days: int = 1
    intake_escalate_business_days: int = 2
    intake_escalate_groups: tuple[str, ...] = ("ozel_kalem_sef", "ozel_kalem_muduru")
    escalate_groups: tuple[str, ...] = ("ozel_kalem_sef",)
    red_groups: tuple[str, ...] = ("ozel_kalem_muduru",)
    overdue_groups: tuple[str, ...] = ("baskan_yardimcisi", "ozel_kalem_muduru")
    # Message delivered to the case at legal due − N business days, by law (if the case waits for it).
    case_messages: tuple[tuple[str, str], ...] = (("3071", "ara_cevap_gerekli"), ("4982", "sure_uzatimi_gerekli"))

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Policy:
        """Defaults overridden by ``settings``; unknown keys and bad values are InvalidInput."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(settings) - set(known))
        if unknown:
            raise InvalidInput(_("Bilinmeyen süre politikası ayarları: {keys}.", keys=", ".join(unknown)))
        values: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        for name, raw in settings.items():
            try:
                values[name] = _coerce(name, raw)
            except (TypeError, ValueError):
                errors[name] = [_("Geçersiz değer: {value!r}.", value=raw)]
        policy = cls(**values)
        if not 0 < policy.approaching < policy.escalate < 1:
            errors.setdefault("escalate", []).append(_("0 < approaching < escalate < 1 olmalı."))
        if policy.red_business_days < 0:
            errors.setdefault("red_business_days", []).append(_("Negatif olamaz."))
        if errors:
            raise InvalidInput(_("Süre politikası geçersiz."), field_errors=errors)
        return policy

    def as_settings(self) -> dict[str, Any]:
        plain = asdict(self)
        plain["case_messages"] = dict(self.case_messages)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in plain.items()}

    def case_message(self, law: str | None) -> str | None:
        return dict(self.case_messages).get(law or "")


def _coerce(name: str, raw: Any) -> Any:
    if name == "enabled":
        if not isinstance(raw, bool):
            raise TypeError(name)
        return raw
    if name in ("approaching", "escalate"):
        return float(raw)
    if name.endswith("business_days"):
        if isinstance(raw, bool) or int(raw) != raw:
            raise ValueError(name)
        return int(raw)
    if name == "law":
        return None if raw in (None, "") else str(raw)
    if name == "case_messages":
        if not isinstance(raw, Mapping):
            raise TypeError(name)
        return tuple(sorted((str(k), str(v)) for k, v in raw.items()))
    if name.endswith(("_tasks", "_groups")):
        if isinstance(raw, str) or not isinstance(raw, Iterable):
            raise TypeError(name)
        return tuple(str(x) for x in raw)
    return str(raw)


DEFAULT_POLICY = Policy()


def policy_for(session: Session, process_key: str) -> Policy:
    """The process's policy (defaults when none is stored); read once per transaction."""

    def load() -> Policy:
        row = session.get(DeadlinePolicySetting, process_key)
        return DEFAULT_POLICY if row is None else Policy.from_settings(row.settings)

    return per_transaction(session, f"kalem_deadline_policy:{process_key}", load)


def set_policy(session: Session, actor: Actor, process_key: str, settings: Mapping[str, Any]) -> Policy:
    """Store a process's overrides (validated); audited. Raises NotAllowed, InvalidInput."""
    if not (actor.is_admin or actor.groups & POLICY_EDITORS):
        raise NotAllowed(_("Süre politikasını yalnız süreç tasarımcısı, Özel Kalem Müdürü ya da yönetici değiştirir."))
    policy = Policy.from_settings(settings)
    stored = {k: (dict(v) if k == "case_messages" else v) for k, v in settings.items()}
    row = session.get(DeadlinePolicySetting, process_key)
    if row is None:
        row = DeadlinePolicySetting(process_key=process_key, settings={}, updated_by=actor.username)
        session.add(row)
    row.settings, row.updated_by, row.updated_at = stored, actor.username, clock.now()
    session.flush()
    session.info.pop(f"kalem_deadline_policy:{process_key}", None)
    audit.append(session, actor, "deadline.policy_set", details={"process_key": process_key, "settings": stored})
    return policy


# --- business time ---------------------------------------------------------------------------------


def _hours(cal: calendar.BusinessCalendar, day: date) -> tuple[datetime, datetime] | None:
    """Working hours of ``day`` (Istanbul), or None on a non-business day."""
    if not cal.is_business_day(day):
        return None
    end = cal.half_day_end if cal.is_half_day(day) else cal.workday_end
    return datetime.combine(day, WORKDAY_START, cal.zone), datetime.combine(day, end, cal.zone)


def business_seconds(cal: calendar.BusinessCalendar, start: datetime, end: datetime) -> float:
    """Working seconds in ``[start, end]``."""
    if end <= start:
        return 0.0
    a, b = start.astimezone(cal.zone), end.astimezone(cal.zone)
    total, day = 0.0, a.date()
    while day <= b.date():
        hours = _hours(cal, day)
        if hours is not None:
            lo, hi = max(hours[0], a), min(hours[1], b)
            if hi > lo:
                total += (hi - lo).total_seconds()
        day += timedelta(days=1)
    return total


def add_business_seconds(cal: calendar.BusinessCalendar, start: datetime, seconds: float) -> datetime:
    """The instant ``seconds`` of working time after ``start``."""
    at = start.astimezone(cal.zone)
    day, remaining = at.date(), seconds
    while True:
        hours = _hours(cal, day)
        if hours is not None:
            lo = max(hours[0], at)
            available = (hours[1] - lo).total_seconds()
            if available >= remaining and available > 0:
                return lo + timedelta(seconds=remaining)
            remaining -= max(available, 0.0)
        day += timedelta(days=1)
        at = datetime.combine(day, time(0, 0), cal.zone)


def working_instant(cal: calendar.BusinessCalendar, instant: datetime) -> datetime:
    """``instant`` itself inside working hours; else the start of the next working period."""
    at = instant.astimezone(cal.zone)
    hours = _hours(cal, at.date())
    if hours is not None and at < hours[1]:
        return max(at, hours[0])
    day = cal.next_business_day(at.date())
    return datetime.combine(day, WORKDAY_START, cal.zone)


def business_days_after(cal: calendar.BusinessCalendar, start: datetime, n: int) -> datetime:
    """Same working time of day, ``n`` business days later (negative: earlier)."""
    at = working_instant(cal, start)
    day = cal.add_business_days(at.date(), n)
    return working_instant(cal, datetime.combine(day, at.timetz()))


# --- ladders ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    name: str
    chain: str
    at: datetime


def task_ladder(
    policy: Policy, start: datetime, due: datetime | None, *, intake: bool, cal: calendar.BusinessCalendar | None = None
) -> list[Step]:
    """The task's steps in order; instants never go back along a chain."""
    cal = cal or calendar.default_calendar()
    steps: list[Step] = []
    if intake:
        steps += _monotone(
            "intake",
            [
                ("hatirlatma", business_days_after(cal, start, policy.intake_reminder_business_days)),
                ("hatirlatma_yonetici", business_days_after(cal, start, policy.intake_escalate_business_days)),
            ],
        )
    if due is not None:
        total = business_seconds(cal, start, due)
        steps += _monotone(
            "due",
            [
                ("yuzde_50", _fraction(cal, start, due, total, policy.approaching)),
                ("yuzde_75", _fraction(cal, start, due, total, policy.escalate)),
                ("son_2_gun", min(business_days_after(cal, due, -policy.red_business_days), due)),
                ("gecikti", due),
            ],
        )
    return steps


def case_ladder(policy: Policy, legal_due: datetime, cal: calendar.BusinessCalendar | None = None) -> list[Step]:
    cal = cal or calendar.default_calendar()
    red = min(business_days_after(cal, legal_due, -policy.red_business_days), legal_due)
    return _monotone("case", [("son_2_gun", red), ("gecikti", legal_due)])


def _fraction(cal: calendar.BusinessCalendar, start: datetime, due: datetime, total: float, f: float) -> datetime:
    if total <= 0:
        return min(start, due)
    return min(working_instant(cal, add_business_seconds(cal, start, total * f)), due)


def _monotone(chain: str, items: list[tuple[str, datetime]]) -> list[Step]:
    steps, floor = [], None
    for name, at in items:
        at = clock.as_utc(at)
        floor = at if floor is None else max(floor, at)
        steps.append(Step(name, chain, floor))
    return steps


# --- what the BPMN escalates itself ----------------------------------------------------------------

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
_XML = etree.XMLParser(resolve_entities=False, no_network=True)


_escalated_cache: dict[tuple[int, str], frozenset[str]] = {}


def _bpmn_escalated(sources: Iterable[Mapping[str, str]]) -> frozenset[str]:
    """Ids of activities carrying a timer or escalation boundary event in these BPMN sources."""
    found: set[str] = set()
    for source in sources:
        if not str(source.get("name", "")).endswith(".bpmn"):
            continue
        try:
            root = etree.fromstring(source["content"].encode("utf-8"), _XML)
        except etree.XMLSyntaxError:
            continue
        for event in root.iter(f"{BPMN}boundaryEvent"):
            if event.find(f"{BPMN}timerEventDefinition") is not None or (
                event.find(f"{BPMN}escalationEventDefinition") is not None
            ):
                found.add(str(event.get("attachedToRef")))
    return frozenset(found)


def bpmn_escalates(definition: ProcessDefinition, bpmn_id: str) -> bool:
    """Whether the BPMN escalates this activity itself (a timer or escalation boundary event);
    the deployed sources are read once per definition version."""
    key = (definition.id, definition.sha256)
    found = _escalated_cache.get(key)
    if found is None:
        found = _escalated_cache[key] = _bpmn_escalated(definition.sources)
    return bpmn_id in found


# --- the change feed: keeping watches in step with tasks and cases --------------------------------


def _lock_cursor(session: Session, name: str) -> SchedulerCursor | None:
    """The job's cursor row, locked; None when another scheduler holds it (PostgreSQL)."""
    skip_locked = session.get_bind().dialect.name == "postgresql"
    query = select(SchedulerCursor).where(SchedulerCursor.name == name).with_for_update(skip_locked=skip_locked)
    cursor = session.scalar(query)
    if cursor is not None:
        return cursor
    if session.scalar(select(SchedulerCursor.name).where(SchedulerCursor.name == name)) is not None:
        return None
    try:
        with session.begin_nested():
            cursor = SchedulerCursor(name=name, position=0, updated_at=clock.now())
            session.add(cursor)
            session.flush()
    except IntegrityError:
        return None
    return session.scalar(query)


def sync_feed(session: Session, *, limit: int = 1000) -> int:
    """Read up to ``limit`` audit events after the cursor and create or drop watches; returns how
    many events were read (0 when another scheduler is reading the feed)."""
    cursor = _lock_cursor(session, FEED_CURSOR)
    if cursor is None:
        return 0
    rows = session.execute(
        select(AuditEvent.seq, AuditEvent.action, AuditEvent.instance_id, AuditEvent.task_id)
        .where(AuditEvent.seq > cursor.position)
        .order_by(AuditEvent.seq)
        .limit(limit)
    ).all()
    if not rows:
        return 0
    created = [r.task_id for r in rows if r.action == "task.created" and r.task_id is not None]
    changed = {r.instance_id for r in rows if r.action in CASE_CHANGES and r.instance_id is not None}
    ended_tasks = {r.task_id for r in rows if r.action in ("task.completed", "task.cancelled") and r.task_id}
    ended_cases = {r.instance_id for r in rows if r.action in ("instance.completed", "instance.terminate")}
    replanned = _sync_watches(session, created, changed) if created or changed else []
    if ended_tasks:
        session.execute(delete(DeadlineWatch).where(DeadlineWatch.key.in_([f"t:{i}" for i in sorted(ended_tasks)])))
    if ended_cases:
        keys = [f"c:{i}" for i in sorted(i for i in ended_cases if i is not None)]
        session.execute(delete(DeadlineWatch).where(DeadlineWatch.key.in_(keys)))
    # Audited last, once every watch row is written: the chain head is always locked after the watch
    # rows, as when a step is applied (no lock cycle with a concurrent run on PostgreSQL).
    for moved in replanned:
        audit.append(
            session,
            Actor.system(),
            "deadline.replanned",
            instance_id=moved["instance_id"],
            task_id=moved["task_id"],
            details={k: moved[k] for k in ("key", "scope", "from", "to")},
        )
    cursor.position, cursor.updated_at = rows[-1].seq, clock.now()
    return len(rows)


def _sync_watches(session: Session, task_ids: list[int], changed: set[int]) -> list[dict[str, Any]]:
    """Watch the new tasks; for the cases whose data may have changed, read the legal due again and
    re-plan the case's watch and those of its open tasks (one workflow load per case). Returns the
    watches whose due moved."""
    active = HumanTask.state.in_(ACTIVE_TASK_STATES)
    tasks: list[HumanTask] = []
    if task_ids:
        tasks = list(session.scalars(select(HumanTask).where(HumanTask.id.in_(task_ids), active)).unique())
    if changed:
        known = {t.id for t in tasks}
        opened = session.scalars(select(HumanTask).where(HumanTask.instance_id.in_(sorted(changed)), active)).unique()
        tasks += [t for t in opened if t.id not in known]
    by_instance: dict[int, list[HumanTask]] = {i: [] for i in changed}
    for task in tasks:
        by_instance.setdefault(task.instance_id, []).append(task)
    replanned: list[dict[str, Any]] = []
    for instance_id, group in sorted(by_instance.items()):
        instance = session.get(ProcessInstance, instance_id)
        if instance is None or instance.status in ENDED:
            continue
        policy = policy_for(session, instance.process_key)
        if not policy.enabled:
            continue
        legal_due, law = _case_clock(session, instance, policy)
        if legal_due is not None:
            replanned += _ensure_case_watch(session, instance, policy, legal_due, law)
        for task in sorted(group, key=lambda t: t.id):
            replanned += _ensure_task_watch(session, instance, task, policy, legal_due, law)
    return replanned


def _case_clock(session: Session, instance: ProcessInstance, policy: Policy) -> tuple[datetime | None, str | None]:
    """The case's legal due and law: the instance column, else the case data (one workflow load)."""
    legal_due, law = instance.legal_due_at, policy.law
    if legal_due is not None and law is not None:
        return legal_due, law
    data = advance.load_runner(session, instance).data() if instance.state else {}
    if legal_due is None:
        legal_due = _as_instant(data.get(policy.legal_due_variable))
    if law is None and data.get(policy.law_variable) not in (None, ""):
        law = str(data.get(policy.law_variable))
    return legal_due, law


def _as_instant(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return clock.as_utc(value)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return clock.as_utc(parsed if parsed.tzinfo else parsed.replace(tzinfo=calendar.default_calendar().zone))
    return None


def _ensure_case_watch(
    session: Session, instance: ProcessInstance, policy: Policy, legal_due: datetime, law: str | None
) -> list[dict[str, Any]]:
    key = f"c:{instance.id}"
    watch = session.scalar(select(DeadlineWatch).where(DeadlineWatch.key == key))
    if watch is not None and watch.due_at == legal_due and watch.law == law:
        return []
    moved = _moved(watch, legal_due) if watch is not None else []
    if watch is None:
        done = set(session.scalars(select(DeadlineStep.step).where(DeadlineStep.key == key)))
        remaining = [s for s in case_ladder(policy, legal_due) if s.name not in done]
        if not remaining:
            return []
        watch = DeadlineWatch(
            key=key,
            kind="case",
            instance_id=instance.id,
            process_key=instance.process_key,
            start_at=instance.started_at,
            created_at=clock.now(),
        )
        session.add(watch)
    # A new legal due (e.g. the 4982 extension) re-plans the steps not yet applied.
    watch.due_at, watch.law = legal_due, law
    _plan(session, watch, case_ladder(policy, legal_due))
    return moved


def _ensure_task_watch(
    session: Session,
    instance: ProcessInstance,
    task: HumanTask,
    policy: Policy,
    legal_due: datetime | None,
    law: str | None,
) -> list[dict[str, Any]]:
    intake = task.bpmn_id in policy.intake_tasks
    due = task.due_at or legal_due
    if due is None and not intake:
        return []  # nothing to measure (a due that can no longer be read leaves an existing watch as it is)
    if bpmn_escalates(instance.definition, task.bpmn_id):
        return []
    key = f"t:{task.id}"
    watch = session.scalar(select(DeadlineWatch).where(DeadlineWatch.key == key))
    if watch is not None:
        if due is None or (watch.due_at == due and watch.law == law):
            return []
        # The due moved (the case's legal due was extended, say): the steps not yet recorded are
        # planned at their instants under the new due; recorded ones are never repeated.
        moved = _moved(watch, due)
        watch.due_at, watch.law = due, law
        _plan(session, watch, task_ladder(policy, watch.start_at, due, intake=intake))
        return moved
    watch = DeadlineWatch(
        key=key,
        kind="task",
        instance_id=instance.id,
        task_id=task.id,
        process_key=instance.process_key,
        law=law,
        start_at=task.created_at,
        due_at=due,
        created_at=clock.now(),
    )
    session.add(watch)
    _plan(session, watch, task_ladder(policy, task.created_at, due, intake=intake))
    return []


def _moved(watch: DeadlineWatch, due: datetime) -> list[dict[str, Any]]:
    """The re-plan of a watch whose due changes to ``due`` (for the audit), if it does."""
    if watch.due_at == due:
        return []
    return [
        {
            "key": watch.key,
            "scope": watch.kind,
            "instance_id": watch.instance_id,
            "task_id": watch.task_id,
            "from": watch.due_at,
            "to": due,
        }
    ]


def _plan(session: Session, watch: DeadlineWatch, steps: list[Step], done: set[str] | None = None) -> bool:
    """Point the watch at its next step; delete it when none is left. Returns whether it remains."""
    if done is None:
        with session.no_autoflush:  # a new watch is flushed below, once it is complete
            done = set(session.scalars(select(DeadlineStep.step).where(DeadlineStep.key == watch.key)))
    remaining = sorted((s for s in steps if s.name not in done), key=lambda s: s.at)
    if not remaining:
        if watch.id is not None:
            session.delete(watch)
        else:
            session.expunge(watch)
        return False
    watch.next_step, watch.next_at = remaining[0].name, remaining[0].at
    session.flush()
    return True


# --- applying due steps ----------------------------------------------------------------------------


@dataclass
class DeadlineReport:
    feed_events: int = 0
    applied: list[tuple[str, str]] = field(default_factory=list)
    superseded: list[tuple[str, str]] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)


def feed_has_news(db: Database) -> bool:
    """Whether the audit trail moved past the feed's cursor (a read; no write transaction when idle)."""
    with read_session(db) as session:
        position = session.scalar(select(SchedulerCursor.position).where(SchedulerCursor.name == FEED_CURSOR)) or 0
        return session.scalar(select(AuditEvent.seq).where(AuditEvent.seq > position).limit(1)) is not None


def due_watch_ids(db: Database, at: datetime, limit: int = 500) -> list[int]:
    with read_session(db) as session:
        return list(
            session.scalars(
                select(DeadlineWatch.id)
                .where(DeadlineWatch.next_at <= at)
                .order_by(DeadlineWatch.next_at, DeadlineWatch.id)
                .limit(limit)
            )
        )


def run(db: Database, at: datetime | None = None, *, batch: int = 500, max_feed_batches: int = 20) -> DeadlineReport:
    """The deadline job: follow the feed, then apply every step due at ``at`` (default now)."""
    at = at or clock.now()
    report = DeadlineReport()
    actor = Actor.system()
    with clock.frozen_at(at):
        for _ in range(max_feed_batches if feed_has_news(db) else 0):
            with transaction(db) as session:
                read = sync_feed(session, limit=batch)
            report.feed_events += read
            if read < batch:
                break
        for watch_id in due_watch_ids(db, at, batch):
            try:
                with incidents.recorded_transaction(db, actor) as session:
                    applied, superseded = apply_watch(session, actor, watch_id, at)
            except KalemError as exc:
                report.failed[watch_id] = str(exc)
                logger.warning("deadline watch %s failed: %s", watch_id, exc)
                continue
            report.applied += applied
            report.superseded += superseded
    return report


def apply_watch(
    session: Session, actor: Actor, watch_id: int, at: datetime
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Apply the steps of one watch due at ``at``; a watch another scheduler holds is skipped."""
    skip_locked = session.get_bind().dialect.name == "postgresql"
    watch = session.scalar(
        select(DeadlineWatch)
        .where(DeadlineWatch.id == watch_id, DeadlineWatch.next_at <= at)
        .with_for_update(skip_locked=skip_locked)
    )
    if watch is None:
        return [], []
    policy = policy_for(session, watch.process_key)
    instance = session.get(ProcessInstance, watch.instance_id)
    task = session.get(HumanTask, watch.task_id) if watch.task_id is not None else None
    if (
        not policy.enabled
        or instance is None
        or instance.status in ENDED
        or (watch.kind == "task" and (task is None or not task.is_active))
    ):
        session.delete(watch)
        return [], []
    if watch.kind == "task":
        assert task is not None
        steps = task_ladder(policy, watch.start_at, watch.due_at, intake=task.bpmn_id in policy.intake_tasks)
    else:
        assert watch.due_at is not None
        steps = case_ladder(policy, watch.due_at)
    done = set(session.scalars(select(DeadlineStep.step).where(DeadlineStep.key == watch.key)))
    due = [s for s in steps if s.at <= at and s.name not in done]
    last_of_chain = {s.chain: s.name for s in due}
    applied, superseded = [], []
    for step in due:
        if last_of_chain[step.chain] == step.name:
            details = _act(session, actor, policy, watch, instance, task, step)
            outcome = "applied"
            applied.append((watch.key, step.name))
        else:
            details, outcome = {}, "superseded"
            superseded.append((watch.key, step.name))
        _record(session, actor, watch, step, outcome, details)
        done.add(step.name)
    _plan(session, watch, steps, done)
    return applied, superseded


def _record(
    session: Session, actor: Actor, watch: DeadlineWatch, step: Step, outcome: str, details: dict[str, Any]
) -> None:
    session.add(
        DeadlineStep(
            key=watch.key,
            step=step.name,
            instance_id=watch.instance_id,
            task_id=watch.task_id,
            due_at=step.at,
            applied_at=clock.now(),
            outcome=outcome,
            details=details,
        )
    )
    session.flush()  # the unique (key, step) index makes a second application fail here
    audit.append(
        session,
        actor,
        f"deadline.{step.name}" if watch.kind == "task" else f"deadline.case_{step.name}",
        instance_id=watch.instance_id,
        task_id=watch.task_id,
        details={"step": step.name, "scope": watch.kind, "outcome": outcome, "due_at": step.at, **details},
    )


def _act(
    session: Session,
    actor: Actor,
    policy: Policy,
    watch: DeadlineWatch,
    instance: ProcessInstance,
    task: HumanTask | None,
    step: Step,
) -> dict[str, Any]:
    """The step's action: level on the task, case message, notifications; returns what was done."""
    details: dict[str, Any] = {}
    values: dict[str, Any] = {
        "process": instance.process_key,
        "business_key": instance.business_key or f"#{instance.id}",
        "due": outbox.local_text(watch.due_at),
        "law": watch.law or "-",
        "days": policy.red_business_days,
    }
    if watch.kind == "task":
        assert task is not None
        level = LEVELS[step.name]
        if level:
            session.execute(
                update(HumanTask)
                .where(HumanTask.id == task.id, HumanTask.escalation_level < level)
                .values(escalation_level=level)
                .execution_options(synchronize_session=False)
            )
            details["level"] = level
        doers = _doers(session, task)
        managers = _members(session, [g.removesuffix("/yonetici") for g in task.candidate_groups], managers_only=True)
        recipients = {
            "hatirlatma": doers,
            "hatirlatma_yonetici": doers + _members(session, policy.intake_escalate_groups),
            "yuzde_50": doers,
            "yuzde_75": managers + _members(session, policy.escalate_groups),
            "son_2_gun": doers + managers,
            "gecikti": doers + managers,
        }[step.name]
        values |= {
            "task": task.name,
            "created": outbox.local_text(task.created_at),
            "doer": task.assignee or ", ".join(task.candidate_groups) or "-",
            "due_line": f"\nSon tarih: {outbox.local_text(watch.due_at)}" if watch.due_at else "",
        }
        if step.name == "hatirlatma_yonetici":
            values["days"] = policy.intake_escalate_business_days
        if step.name in ("yuzde_50", "yuzde_75"):
            fraction = policy.approaching if step.name == "yuzde_50" else policy.escalate
            details["percent"] = round(fraction * 100)
        template = f"deadline.{step.name}"
    else:
        if step.name == "son_2_gun":
            details |= _deliver_case_message(session, actor, instance, policy.case_message(watch.law))
            values["action"] = details["action_text"]
            recipients = _members(session, policy.red_groups)
        else:
            details["flag"] = "suresi_gecti"
            recipients = _members(session, policy.overdue_groups)
        template = f"case.{step.name}"
    if step.name == "son_2_gun":
        details["days"] = policy.red_business_days
    targets = _unique(recipients)
    notified = _notify(session, targets, template, values, instance.id)
    vekils = _deputies(session, targets, instance.process_key)
    deputies = _notify_deputies(session, vekils, template, values, instance.id)
    details["notified"] = sorted({*notified, *deputies})
    if deputies:
        details["deputies"] = deputies
    return details


def _deliver_case_message(
    session: Session, actor: Actor, instance: ProcessInstance, message: str | None
) -> dict[str, Any]:
    """Open the ara cevap / extension task by delivering the BPMN message the case waits for."""
    if message is None:
        return {"action_text": "Bu kanun için otomatik görev tanımlı değil; gereğini yapınız."}
    waiting = session.scalar(
        select(MessageSubscription.id)
        .where(MessageSubscription.instance_id == instance.id, MessageSubscription.message_name == message)
        .limit(1)
    )
    if waiting is None:
        return {
            "message": message,
            "task_created": False,
            "action_text": "Süreç bu adımı beklemiyor (karar verilmiş ya da modelde yok); görev açılmadı.",
        }
    try:
        with session.begin_nested():
            locked = advance.lock_instance(session, instance.id)
            if locked.status != InstanceStatus.RUNNING:
                raise ProcessError(_("Süreç örneği '{status}' durumunda.", status=locked.status))
            with advance.step(session, locked, actor, "deadline.message") as runner:
                runner.send_message(message, {"sebep": "yasal_sure"}, advance.dispatch_for(session, locked))
            audit.append(
                session, actor, "message.correlated", instance_id=instance.id, details={"name": message, "by": "policy"}
            )
    except KalemError as exc:
        if isinstance(exc, ProcessError) and "instance_id" in exc.details:
            incidents.record(session, actor, instance.id, exc)
        return {
            "message": message,
            "task_created": False,
            "error": str(exc),
            "action_text": f"Görev otomatik açılamadı ({exc}); gereğini yapınız.",
        }
    return {"message": message, "task_created": True, "action_text": "İlgili görev Özel Kalem'de açıldı."}


def _unique(users: list[User]) -> list[User]:
    return list({u.id: u for u in users}.values())


def _notify(session: Session, users: list[User], template: str, values: dict[str, Any], instance_id: int) -> list[str]:
    notified = []
    for user in sorted(users, key=lambda u: u.username):
        if outbox.notify_user(session, user, template, values, instance_id=instance_id):
            notified.append(user.username)
    return notified


def _deputies(session: Session, principals: list[User], process_key: str) -> list[tuple[User, list[User]]]:
    """Who stands in for these people now under a vekalet covering ``process_key`` (empty scope: every
    process), each with the principals they stand in for, by username. As everywhere
    (``people.effective_principals``): unrevoked and current, no chains (only the principals' own
    vekils), the vekil an active user. A vekil notified in their own right is left out (one message)."""
    if not principals:
        return []
    by_id = {u.id: u for u in principals}
    rows = session.scalars(
        select(Substitution)
        .where(Substitution.principal_id.in_(sorted(by_id)), people.in_force(clock.now()))
        .order_by(Substitution.id)
    ).unique()
    found: dict[int, tuple[User, list[User]]] = {}
    for sub in rows:
        deputy = sub.substitute
        if (sub.process_keys and process_key not in sub.process_keys) or not deputy.is_active or deputy.id in by_id:
            continue
        _user, stands_for = found.setdefault(deputy.id, (deputy, []))
        if by_id[sub.principal_id] not in stands_for:
            stands_for.append(by_id[sub.principal_id])
    return sorted(((d, sorted(p, key=lambda u: u.username)) for d, p in found.values()), key=lambda e: e[0].username)


def _notify_deputies(
    session: Session, deputies: list[tuple[User, list[User]]], template: str, values: dict[str, Any], instance_id: int
) -> dict[str, list[str]]:
    """The step's message to each vekil, saying on whose behalf ("X adına"); returns vekil → principals
    (usernames) of those it was queued for."""
    notified: dict[str, list[str]] = {}
    for deputy, principals in deputies:
        names = [p.full_name or p.username for p in principals]
        if outbox.notify_user(session, deputy, template, values, instance_id=instance_id, on_behalf_of=names):
            notified[deputy.username] = [p.username for p in principals]
    return notified


def _members(session: Session, codes: Iterable[str], *, managers_only: bool = False) -> list[User]:
    codes = sorted(set(codes))
    if not codes:
        return []
    query = (
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .join(Group, Group.id == Membership.group_id)
        .where(Group.code.in_(codes), User.is_active.is_(True))
    )
    if managers_only:
        query = query.where(Membership.is_manager.is_(True))
    return list(session.scalars(query.order_by(User.username)).unique())


def _doers(session: Session, task: HumanTask) -> list[User]:
    """Who may do the task now: its assignee, else the members of its groups (managers for
    ``<group>/yonetici``)."""
    if task.assignee:
        user = session.scalar(select(User).where(User.username == task.assignee, User.is_active.is_(True)))
        return [user] if user is not None else []
    plain = [g for g in task.candidate_groups if not g.endswith("/yonetici")]
    managed = [g.removesuffix("/yonetici") for g in task.candidate_groups if g.endswith("/yonetici")]
    return _members(session, plain) + _members(session, managed, managers_only=True)


# --- what the UI and reports read -------------------------------------------------------------------


@dataclass(frozen=True)
class Reached:
    """The highest ladder step applied to a task (the inbox badge): its name, when it was applied,
    and the numbers its label needs (``percent`` of the window for the 50/75 % steps, ``days``
    before the due for the red step; recorded with the step, the defaults for older rows)."""

    step: str
    applied_at: datetime
    percent: int | None = None
    days: int | None = None
    scope: str = "task"  # or "case": a step of the case's legal clock


# Ladder order: a later step is a higher escalation (the intake reminders come first).
STEP_ORDER = tuple(LEVELS)


def reached_steps(session: Session, task_ids: Iterable[int]) -> dict[int, Reached]:
    """Task id → the highest step *applied* to it (superseded steps never notified anyone, and are
    always below an applied one of the same chain); tasks without one are left out. One query,
    through the (key, step) index, for the given tasks only."""
    keys = [f"t:{i}" for i in sorted(set(task_ids))]
    if not keys:
        return {}
    rows = session.execute(
        select(
            DeadlineStep.key, DeadlineStep.task_id, DeadlineStep.step, DeadlineStep.applied_at, DeadlineStep.details
        ).where(DeadlineStep.key.in_(keys), DeadlineStep.outcome == "applied")
    ).all()
    best: dict[int, Any] = {}
    for row in rows:
        if row.task_id is None or row.step not in LEVELS:
            continue
        held = best.get(row.task_id)
        if held is None or STEP_ORDER.index(row.step) > STEP_ORDER.index(held.step):
            best[row.task_id] = row
    return {task_id: _reached(row.key, row.step, row.applied_at, row.details) for task_id, row in best.items()}


def applied_steps(session: Session, task: HumanTask) -> list[Reached]:
    """The steps applied to a task and to its case, oldest first (the task page lists them)."""
    rows = session.execute(
        select(DeadlineStep.key, DeadlineStep.step, DeadlineStep.applied_at, DeadlineStep.details)
        .where(DeadlineStep.key.in_([f"t:{task.id}", f"c:{task.instance_id}"]), DeadlineStep.outcome == "applied")
        .order_by(DeadlineStep.applied_at, DeadlineStep.id)
    ).all()
    return [_reached(r.key, r.step, r.applied_at, r.details) for r in rows if r.step in LEVELS]


def _reached(key: str, step: str, applied_at: datetime, details: Mapping[str, Any] | None) -> Reached:
    """A recorded step with the numbers its label needs (the policy defaults for older rows)."""
    details = details or {}
    fractions = {"yuzde_50": DEFAULT_POLICY.approaching, "yuzde_75": DEFAULT_POLICY.escalate}
    percent = details.get("percent", round(fractions[step] * 100)) if step in fractions else None
    days = details.get("days", DEFAULT_POLICY.red_business_days) if step == "son_2_gun" else None
    return Reached(step, applied_at, percent, days, "case" if key.startswith("c:") else "task")


def overdue_cases(session: Session, *, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
    """The Müdür's overdue report: open cases whose legal due passed, most overdue first."""
    rows = session.execute(
        select(DeadlineStep, ProcessInstance)
        .join(ProcessInstance, ProcessInstance.id == DeadlineStep.instance_id)
        .where(
            DeadlineStep.step == "gecikti",
            DeadlineStep.task_id.is_(None),
            ProcessInstance.status.not_in([s.value for s in ENDED]),
        )
        .order_by(DeadlineStep.due_at, DeadlineStep.id)
        .limit(min(limit, 500))
        .offset(offset)
    ).all()
    return [
        {
            "instance_id": instance.id,
            "process_key": instance.process_key,
            "business_key": instance.business_key,
            "legal_due_at": step.due_at.isoformat(),
            "flagged_at": step.applied_at.isoformat(),
        }
        for step, instance in rows
    ]
