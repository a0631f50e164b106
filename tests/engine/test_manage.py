"""The Müdür's overview (late work by directorate and person), bulk reassignment and escalation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from factories import act, deploy, read, start
from sqlalchemy import select

from engine import clock, manage, outbox, tasks
from engine.errors import Conflict, InvalidInput, NotAllowed, NotFound
from engine.models import AuditEvent, HumanTask, Notification, TaskState
from engine.worklist import DeadlineStatus


def new_task(db, groups, due_in, key, priority=50):
    due = (clock.now() + due_in).isoformat() if due_in is not None else None
    start(
        db,
        "coklu_grup",
        username="admin",
        data={"gruplar": groups, "son_tarih": due, "oncelik": priority},
        business_key=key,
    )
    return read(db, lambda s: s.scalar(select(HumanTask.id).where(HumanTask.business_key == key)))


def task_row(db, task_id):
    return read(db, lambda s: s.get(HumanTask, task_id))


@pytest.fixture
def late_work(db):
    deploy(db, "coklu_grup.bpmn")
    ids = {
        "z_over_free": new_task(db, "zabita", timedelta(days=-2), "z1"),
        "z_over_mine": new_task(db, "zabita", timedelta(days=-1), "z2"),
        "z_soon": new_task(db, "zabita", timedelta(hours=1), "z3"),
        "z_later": new_task(db, "zabita", timedelta(days=40), "z4"),
        "f_over": new_task(db, "fen_isleri", timedelta(days=-3), "f1"),
    }
    act(db, "zabita.mudur", lambda s, a: tasks.assign(s, a, ids["z_over_mine"], "zabita.memur"))
    return ids


def test_overview_groups_late_work_by_directorate_and_person(db, late_work):
    view = act(db, "zabita.mudur", lambda s, a: manage.overview(s, a))
    assert [(d.code, d.overdue, d.approaching) for d in view.directorates] == [("zabita", 2, 1)]
    people = {p.username: (p.overdue, p.approaching) for p in view.directorates[0].people}
    assert people == {None: (1, 1), "zabita.memur": (1, 0)}
    assert view.directorates[0].name == "Zabıta Müdürlüğü"
    # Most late first; the on-time task and the other directorate's task are not listed.
    assert [t.task.business_key for t in view.tasks] == ["z1", "z2", "z3"]
    assert [t.status for t in view.tasks] == [
        DeadlineStatus.OVERDUE,
        DeadlineStatus.OVERDUE,
        DeadlineStatus.APPROACHING,
    ]
    assert view.total == 3 and all(t.can_reassign for t in view.tasks)


def test_overview_filters_and_pages_in_sql(db, late_work):
    def keys(**kwargs):
        view = act(db, "zabita.mudur", lambda s, a: manage.overview(s, a, **kwargs))
        return [t.task.business_key for t in view.tasks], view.total

    assert keys(status=DeadlineStatus.OVERDUE) == (["z1", "z2"], 2)
    assert keys(assignee="-") == (["z1", "z3"], 2)
    assert keys(assignee="zabita.memur") == (["z2"], 1)
    assert keys(per_page=1, page=2) == (["z2"], 3)
    assert keys(group="zabita") == (["z1", "z2", "z3"], 3)
    with pytest.raises(NotAllowed):
        keys(group="fen_isleri")
    admin = act(db, "admin", lambda s, a: manage.overview(s, a))
    assert {d.code for d in admin.directorates} == {"zabita", "fen_isleri"} and admin.total == 4


def test_only_managers_and_administrators_see_the_overview(db, late_work):
    for clerk in ("zabita.memur", "denetci1"):
        with pytest.raises(NotAllowed):
            act(db, clerk, lambda s, a: manage.overview(s, a))
    view = act(db, "fenisleri.mudur", lambda s, a: manage.overview(s, a))
    assert [t.task.business_key for t in view.tasks] == ["f1"]


def test_reassign_many_assigns_every_task(db, late_work):
    ids = [late_work["z_over_free"], late_work["z_soon"]]
    act(db, "zabita.mudur", lambda s, a: manage.reassign_many(s, a, ids, "zabita.memur"))
    for task_id in ids:
        task = task_row(db, task_id)
        assert (task.state, task.assignee) == (TaskState.CLAIMED, "zabita.memur")
    events = read(db, lambda s: s.scalars(select(AuditEvent).where(AuditEvent.action == "task.assigned")).all())
    assert {e.task_id for e in events} >= set(ids) and all(e.actor == "zabita.mudur" for e in events)


def test_reassign_many_is_all_or_nothing_and_names_the_failing_task(db, late_work):
    free, other = late_work["z_over_free"], late_work["f_over"]
    # Another directorate's task is hidden from this Müdür: "not found", like a missing one.
    with pytest.raises(NotFound) as err:
        act(db, "zabita.mudur", lambda s, a: manage.reassign_many(s, a, [free, other], "zabita.memur"))
    assert f"Görev {other} atanamadı" in str(err.value) and err.value.details == {"task_id": other}
    assert task_row(db, free).assignee is None  # the first assignment was rolled back with the rest
    # The target must be able to do the task (the rule of tasks.assign).
    with pytest.raises(NotAllowed) as err:
        act(db, "zabita.mudur", lambda s, a: manage.reassign_many(s, a, [free], "idari1"))
    assert f"Görev {free} atanamadı" in str(err.value) and "idari1" in str(err.value)
    with pytest.raises(InvalidInput) as err:
        act(db, "zabita.mudur", lambda s, a: manage.reassign_many(s, a, [free], "yok.boyle"))
    assert "username" in err.value.field_errors
    with pytest.raises(InvalidInput):
        act(db, "zabita.mudur", lambda s, a: manage.reassign_many(s, a, [], "zabita.memur"))
    assert task_row(db, free).assignee is None


def test_escalate_raises_priority_notifies_and_is_audited(db, late_work):
    task_id = late_work["z_over_mine"]
    act(db, "zabita.mudur", lambda s, a: manage.escalate(s, a, task_id, "Süre aşıldı, acil"))
    task = task_row(db, task_id)
    assert (task.priority, task.escalation_level, task.assignee) == (70, 1, "zabita.memur")
    mails = read(db, lambda s: s.scalars(select(Notification)).all())
    # The assignee is told; the escalating Müdür is not mailed about their own act.
    assert [m.recipient for m in mails] == ["zabita.memur@kalem.local"]
    assert "Süre aşıldı, acil" in mails[0].body and mails[0].instance_id == task.instance_id
    event = read(db, lambda s: s.scalars(select(AuditEvent).where(AuditEvent.action == "task.escalated")).one())
    assert event.actor == "zabita.mudur" and event.details["reason"] == "Süre aşıldı, acil"
    assert event.details["priority"] == {"from": 50, "to": 70} and event.details["notified"] == ["zabita.memur"]


def test_escalate_moves_the_task_to_the_managers_level(db, late_work):
    task_id = late_work["z_over_mine"]
    act(db, "admin", lambda s, a: manage.escalate(s, a, task_id, "Müdüre taşınsın", move_up=True))
    task = task_row(db, task_id)
    assert task.candidate_groups == ["zabita/yonetici"]
    assert (task.state, task.assignee) == (TaskState.OPEN, None)
    inbox = act(db, "zabita.mudur", lambda s, a: [t.id for t in tasks.inbox(s, a).items])
    assert task_id in inbox
    assert task_id not in act(db, "zabita.memur", lambda s, a: [t.id for t in tasks.inbox(s, a).items])
    recipients = read(db, lambda s: sorted(s.scalars(select(Notification.recipient))))
    assert recipients == ["zabita.memur@kalem.local", "zabita.mudur@kalem.local"]
    # The escalated task stays on the Müdür's overview.
    view = act(db, "zabita.mudur", lambda s, a: manage.overview(s, a))
    assert task_id in [t.task.id for t in view.tasks]
    with pytest.raises(Conflict):
        act(db, "admin", lambda s, a: manage.escalate(s, a, task_id, "tekrar", move_up=True))


def test_escalate_refuses_without_reason_or_right_and_changes_nothing(db, late_work):
    task_id = late_work["z_over_mine"]
    with pytest.raises(InvalidInput) as err:
        act(db, "zabita.mudur", lambda s, a: manage.escalate(s, a, task_id, "  "))
    assert "reason" in err.value.field_errors
    with pytest.raises(NotAllowed):
        act(db, "zabita.memur", lambda s, a: manage.escalate(s, a, task_id, "neden"))
    act(db, "zabita.memur", lambda s, a: tasks.complete(s, a, task_id, {}))
    with pytest.raises(Conflict):
        act(db, "zabita.mudur", lambda s, a: manage.escalate(s, a, task_id, "geç kaldı"))
    assert task_row(db, task_id).priority == 50
    assert read(db, lambda s: s.scalars(select(Notification)).all()) == []


def test_assignable_users_are_the_active_members_of_managed_groups(db):
    users = act(db, "zabita.mudur", lambda s, a: manage.assignable_users(s, a))
    names = {u.username for u in users}
    # Other tests may add people (the people tables are kept on PostgreSQL), so check the rule per user.
    assert {"zabita.mudur", "zabita.memur"} <= names and "idari1" not in names and "fenisleri.memur" not in names
    assert all(u.is_active and "zabita" in {m.group.code for m in u.memberships} for u in users)


def test_escalation_mail_honours_the_recipients_preferences(db, late_work):
    task_id = late_work["z_over_mine"]
    act(db, "zabita.memur", lambda s, a: outbox.set_preferences(s, a, "zabita.memur", email=False))
    act(db, "admin", lambda s, a: manage.escalate(s, a, task_id, "Süre aşıldı"))
    # The Müdür still hears of it; the assignee turned e-mail off.
    assert read(db, lambda s: list(s.scalars(select(Notification.recipient)))) == ["zabita.mudur@kalem.local"]
