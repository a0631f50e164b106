"""The inbox index: order, paging, exact totals with shared groups, vekalet scope, and the
invariant that ``inbox_entry`` always equals what the task rows imply."""

from __future__ import annotations

from datetime import timedelta

from factories import act, deploy, open_tasks, read, start
from sqlalchemy import select

from engine import clock, people, tasks
from engine.models import HumanTask, InboxEntry, TaskState


def new_task(db, groups, due=None, priority=50, key=None):
    data = {"gruplar": groups, "son_tarih": due, "oncelik": priority}
    return start(db, "coklu_grup", username="admin", data=data, business_key=key)


def expected_entries(session) -> set[tuple[int, str]]:
    expected = set()
    for task in session.scalars(select(HumanTask)):
        if task.state == TaskState.CLAIMED:
            expected.add((task.id, f"u:{task.assignee}"))
        elif task.state == TaskState.OPEN:
            expected |= {(task.id, f"g:{g}") for g in task.candidate_groups}
    return expected


def assert_index_consistent(db):
    actual = read(db, lambda s: {tuple(r) for r in s.execute(select(InboxEntry.task_id, InboxEntry.audience))})
    assert actual == read(db, expected_entries)


def page(db, username, **kwargs):
    result = act(db, username, lambda s, a: tasks.inbox(s, a, **kwargs))
    return [t.business_key for t in result.items], result.total


def test_order_paging_and_shared_groups_count_once(db):
    deploy(db, "coklu_grup.bpmn")
    base = clock.now()
    new_task(db, "idari_isler", (base + timedelta(days=3)).isoformat(), key="c")
    new_task(db, "idari_isler,halkla_iliskiler", (base + timedelta(days=1)).isoformat(), key="a")
    new_task(db, ["halkla_iliskiler"], (base + timedelta(days=1)).isoformat(), priority=90, key="a-urgent")
    new_task(db, "halkla_iliskiler", None, key="no-due")
    new_task(db, "zabita", (base + timedelta(hours=1)).isoformat(), key="other")
    # ok.mudur is in both groups: the shared task appears and counts once.
    assert page(db, "ok.mudur") == (["a-urgent", "a", "c", "no-due"], 4)
    assert page(db, "ok.mudur", limit=2) == (["a-urgent", "a"], 4)
    assert page(db, "ok.mudur", limit=2, offset=2) == (["c", "no-due"], 4)
    assert page(db, "idari1") == (["a", "c"], 2)
    assert page(db, "zabita.memur") == (["other"], 1)
    assert_index_consistent(db)


def test_index_follows_claim_unclaim_assign_complete_and_cancel(db):
    deploy(db)
    deploy(db, "coklu_grup.bpmn")
    new_task(db, "idari_isler,halkla_iliskiler", key="x")
    task_id = open_tasks(db, "idari1")[0]["id"]
    act(db, "idari1", lambda s, a: tasks.claim(s, a, task_id))
    assert page(db, "hi1") == ([], 0) and page(db, "idari1") == (["x"], 1)
    assert_index_consistent(db)
    act(db, "idari1", lambda s, a: tasks.unclaim(s, a, task_id))
    assert page(db, "hi1") == (["x"], 1)
    act(db, "ok.mudur", lambda s, a: tasks.assign(s, a, task_id, "hi2"))
    assert page(db, "hi2") == (["x"], 1) and page(db, "idari1") == ([], 0)
    assert_index_consistent(db)
    act(db, "hi2", lambda s, a: tasks.complete(s, a, task_id, {}))
    assert page(db, "hi2") == ([], 0)
    assert_index_consistent(db)
    # A boundary timer cancels a task: its entries go too.
    start(db, business_key="T-1")
    kayit = open_tasks(db, "idari1")[0]["id"]
    form = {"konu": "k", "karar": "havale", "hedef_mudurluk": "zabita"}
    act(db, "idari1", lambda s, a: tasks.complete(s, a, kayit, form))
    from engine import timers

    timers.fire_due(db, clock.now() + timedelta(days=11))
    assert page(db, "zabita.memur") == ([], 0)
    assert_index_consistent(db)


def test_deputy_sees_only_the_processes_in_scope(db):
    deploy(db)
    deploy(db, "coklu_grup.bpmn")
    new_task(db, "idari_isler", key="coklu")
    start(db, business_key="havale")
    now = clock.now()
    act(
        db,
        "ok.mudur",
        lambda s, a: people.add_substitution(
            s, a, "idari1", "protokol1", now - timedelta(hours=1), now + timedelta(days=1), process_keys=["coklu_grup"]
        ),
    )
    assert page(db, "protokol1") == (["coklu"], 1)
    assert sorted(page(db, "idari2")[0]) == ["coklu", "havale"]
