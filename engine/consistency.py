"""Consistency check: do the projections of an instance equal what its stored workflow implies?

The serialized workflow state is the engine's truth; ``human_task``, ``timer``,
``message_subscription`` and ``inbox_entry`` rows are projections written in the same transaction.
This module reloads the state (``advance.load_runner`` + ``Runner.waiting()``), recomputes what the
instance waits on and compares it with the rows:

* every ready user task has exactly one active (open/claimed) ``human_task`` row, and no other
  active row exists;
* every waiting timer has exactly one ``waiting`` timer row with the same instant, and no other;
* every waiting message has exactly one subscription, and no other;
* every task has the inbox entries its state implies (group audiences while open, the assignee
  once claimed, none once completed or cancelled).

It only reads. ``check_all`` walks every instance in batches of ids, each batch in its own read
session, so memory stays flat with any number of instances (``kalem check``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from engine import advance, clock
from engine import db as dbmod
from engine.errors import NotFound
from engine.i18n import _
from engine.inbox_entries import group_audience, user_audience
from engine.models import (
    ACTIVE_TASK_STATES,
    HumanTask,
    InboxEntry,
    MessageSubscription,
    ProcessInstance,
    TaskState,
    Timer,
    TimerStatus,
)

DEFAULT_BATCH = 200


@dataclass(frozen=True)
class Difference:
    """One disagreement between an instance's state and its rows.

    ``kind``: task, timer, message, inbox or state. ``problem``: ``missing`` (the state waits on
    it, no row says so), ``extra`` (a row says the instance waits on it, the state does not),
    ``duplicate``, ``changed`` (both exist but differ) or ``unreadable`` (the state cannot be loaded).
    """

    instance_id: int
    kind: str
    problem: str
    ref: str
    detail: str = ""

    def __str__(self) -> str:
        extra = f": {self.detail}" if self.detail else ""
        return f"örnek {self.instance_id}: {self.kind} {self.problem} [{self.ref}]{extra}"

    def as_dict(self) -> dict[str, object]:
        return {
            "instance_id": self.instance_id,
            "kind": self.kind,
            "problem": self.problem,
            "ref": self.ref,
            "detail": self.detail,
        }


@dataclass
class Report:
    checked: int = 0
    differences: list[Difference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences


@dataclass
class _Rows:
    """The projection rows of one instance."""

    tasks: list[HumanTask] = field(default_factory=list)
    timers: list[Timer] = field(default_factory=list)
    messages: list[MessageSubscription] = field(default_factory=list)
    inbox: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))


def check(session: Session, instance_id: int) -> list[Difference]:
    """The differences of one instance (empty: consistent). Raises NotFound."""
    instance = session.get(ProcessInstance, instance_id)
    if instance is None:
        raise NotFound(_("Süreç örneği bulunamadı: {id}.", id=instance_id))
    return _check_batch(session, [instance])


def check_all(db: dbmod.Database, *, batch_size: int = DEFAULT_BATCH, after_id: int = 0) -> Report:
    """Check every instance with an id above ``after_id``, ``batch_size`` at a time."""
    report = Report()
    for batch in _batches(db, batch_size, after_id):
        report.checked += batch[0]
        report.differences += batch[1]
    return report


def _batches(db: dbmod.Database, batch_size: int, after_id: int) -> Iterator[tuple[int, list[Difference]]]:
    last = after_id
    while True:
        with dbmod.read_session(db) as session:
            instances = list(
                session.scalars(
                    select(ProcessInstance)
                    .where(ProcessInstance.id > last)
                    .options(selectinload(ProcessInstance.definition))
                    .order_by(ProcessInstance.id)
                    .limit(max(1, batch_size))
                )
            )
            if not instances:
                return
            last = instances[-1].id
            yield len(instances), _check_batch(session, instances)


def _check_batch(session: Session, instances: list[ProcessInstance]) -> list[Difference]:
    rows = _load_rows(session, [i.id for i in instances])
    differences: list[Difference] = []
    for instance in instances:
        differences += _compare(session, instance, rows[instance.id])
    return differences


def _load_rows(session: Session, ids: list[int]) -> dict[int, _Rows]:
    rows: dict[int, _Rows] = defaultdict(_Rows)
    tasks = session.scalars(
        select(HumanTask)
        .where(HumanTask.instance_id.in_(ids))
        .options(selectinload(HumanTask.candidates))
        .order_by(HumanTask.id)
    )
    by_task: dict[int, int] = {}
    for task in tasks:
        rows[task.instance_id].tasks.append(task)
        by_task[task.id] = task.instance_id
    waiting = select(Timer).where(Timer.instance_id.in_(ids), Timer.status == TimerStatus.WAITING)
    for timer in session.scalars(waiting.order_by(Timer.id)):
        rows[timer.instance_id].timers.append(timer)
    subscriptions = select(MessageSubscription).where(MessageSubscription.instance_id.in_(ids))
    for subscription in session.scalars(subscriptions.order_by(MessageSubscription.id)):
        rows[subscription.instance_id].messages.append(subscription)
    task_ids = sorted(by_task)
    for start in range(0, len(task_ids), 500):
        chunk = task_ids[start : start + 500]
        for task_id, audience in session.execute(
            select(InboxEntry.task_id, InboxEntry.audience).where(InboxEntry.task_id.in_(chunk))
        ):
            rows[by_task[task_id]].inbox[task_id].add(audience)
    return rows


def _compare(session: Session, instance: ProcessInstance, rows: _Rows) -> list[Difference]:
    out: list[Difference] = []
    try:
        ready, timers, messages = advance.load_runner(session, instance).waiting()
    except Exception as exc:  # any failure to load the truth is itself the finding
        out.append(Difference(instance.id, "state", "unreadable", "-", f"{type(exc).__name__}: {exc}"))
        ready, timers, messages = [], [], []
    else:
        out += _compare_tasks(instance.id, {t.spiff_id: t.bpmn_id for t in ready}, rows.tasks)
        out += _compare_timers(instance.id, {t.spiff_id: t.fire_at for t in timers}, rows.timers)
        out += _compare_messages(instance.id, {(m.spiff_id, m.name) for m in messages}, rows.messages)
    out += _compare_inbox(instance.id, rows.tasks, rows.inbox)
    return out


def _compare_tasks(instance_id: int, expected: dict[str, str], tasks: Iterable[HumanTask]) -> list[Difference]:
    out = []
    active: dict[str, list[HumanTask]] = defaultdict(list)
    for task in tasks:
        if task.state in ACTIVE_TASK_STATES:
            active[task.spiff_task_id].append(task)
    for spiff_id, bpmn_id in sorted(expected.items()):
        found = active.get(spiff_id, [])
        if not found:
            out.append(Difference(instance_id, "task", "missing", spiff_id, f"{bpmn_id} hazır, açık görev satırı yok"))
        elif len(found) > 1:
            ids = ", ".join(str(t.id) for t in found)
            out.append(Difference(instance_id, "task", "duplicate", spiff_id, f"{bpmn_id}: görev satırları {ids}"))
        elif found[0].bpmn_id != bpmn_id:
            out.append(Difference(instance_id, "task", "changed", spiff_id, f"{found[0].bpmn_id} ≠ {bpmn_id}"))
    for spiff_id in sorted(set(active) - set(expected)):
        for task in active[spiff_id]:
            detail = f"görev {task.id} ({task.bpmn_id}) {task.state}, süreç beklemiyor"
            out.append(Difference(instance_id, "task", "extra", spiff_id, detail))
    return out


def _compare_timers(instance_id: int, expected: dict[str, datetime], timers: Iterable[Timer]) -> list[Difference]:
    out = []
    waiting: dict[str, list[Timer]] = defaultdict(list)
    for timer in timers:
        waiting[timer.spiff_task_id].append(timer)
    for spiff_id, fire_at in sorted(expected.items()):
        found = waiting.get(spiff_id, [])
        if not found:
            out.append(Difference(instance_id, "timer", "missing", spiff_id, f"{fire_at.isoformat()} bekleniyor"))
        elif len(found) > 1:
            out.append(Difference(instance_id, "timer", "duplicate", spiff_id, f"{len(found)} bekleyen satır"))
        elif clock.as_utc(found[0].fire_at) != clock.as_utc(fire_at):
            detail = f"satır {clock.as_utc(found[0].fire_at).isoformat()} ≠ durum {clock.as_utc(fire_at).isoformat()}"
            out.append(Difference(instance_id, "timer", "changed", spiff_id, detail))
    for spiff_id in sorted(set(waiting) - set(expected)):
        for timer in waiting[spiff_id]:
            out.append(Difference(instance_id, "timer", "extra", spiff_id, f"zamanlayıcı {timer.id} ({timer.bpmn_id})"))
    return out


def _compare_messages(
    instance_id: int, expected: set[tuple[str, str]], subscriptions: Iterable[MessageSubscription]
) -> list[Difference]:
    out = []
    found: dict[tuple[str, str], int] = defaultdict(int)
    for row in subscriptions:
        found[(row.spiff_task_id, row.message_name)] += 1
    for key in sorted(expected):
        if key not in found:
            out.append(Difference(instance_id, "message", "missing", key[0], f"'{key[1]}' bekleniyor"))
        elif found[key] > 1:
            out.append(Difference(instance_id, "message", "duplicate", key[0], f"'{key[1]}': {found[key]} satır"))
    for key in sorted(set(found) - expected):
        out.append(Difference(instance_id, "message", "extra", key[0], f"'{key[1]}' beklenmiyor"))
    return out


def expected_audiences(task: HumanTask) -> set[str]:
    """The inbox audiences ``inbox_entries.reindex`` gives a task in its current state."""
    if task.state == TaskState.CLAIMED and task.assignee:
        return {user_audience(task.assignee)}
    if task.state == TaskState.OPEN:
        return {group_audience(g) for g in task.candidate_groups}
    return set()


def _compare_inbox(instance_id: int, tasks: Iterable[HumanTask], entries: dict[int, set[str]]) -> list[Difference]:
    out = []
    for task in tasks:
        want, have = expected_audiences(task), entries.get(task.id, set())
        if want != have:
            detail = f"görev {task.id} ({task.state}): beklenen {sorted(want)}, bulunan {sorted(have)}"
            problem = "missing" if want - have and not have - want else "extra" if not want - have else "changed"
            out.append(Difference(instance_id, "inbox", problem, task.spiff_task_id, detail))
    return out
