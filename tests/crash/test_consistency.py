"""engine.consistency and ``kalem check``: a consistent database has no difference; each kind of damage
to the projections (a lost, extra or duplicated task row, a moved, lost or extra timer, a lost or
extra message subscription, a missing inbox entry, an unreadable state) is found and named."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from factories import act, deploy, only_task, read, start
from sqlalchemy import delete, select, update

from engine import clock, consistency, messages, tasks
from engine.models import HumanTask, InboxEntry, MessageSubscription, ProcessInstance, TaskState, Timer


@pytest.fixture
def cases(db) -> dict[str, int]:
    """Three cases: at the intake task, at the directorate task (with its timer), waiting for the message."""
    deploy(db)
    intake = start(db, business_key="C-1")
    routed = start(db, business_key="C-2")
    waiting = start(db, business_key="C-3")
    data = {"konu": "Yol", "karar": "havale", "hedef_mudurluk": "fen_isleri"}
    for instance_id in (waiting, routed):
        task_id = read(db, lambda s, i=instance_id: s.scalar(select(HumanTask.id).where(HumanTask.instance_id == i)))
        act(db, "idari1", lambda s, a, t=task_id: tasks.complete(s, a, t, data))
        if instance_id == waiting:
            answer = only_task(db, "fenisleri.memur", "Task_cevap")
            act(db, "fenisleri.memur", lambda s, a, t=answer["id"]: tasks.complete(s, a, t, {}))
    return {"intake": intake, "routed": routed, "waiting": waiting}


def differences(db: Any) -> list[tuple[int, str, str]]:
    return [(d.instance_id, d.kind, d.problem) for d in consistency.check_all(db, batch_size=2).differences]


def change(db: Any, statement: Any) -> None:
    act(db, None, lambda s, a: s.execute(statement))


def test_a_consistent_database_has_no_difference(db, cases) -> None:
    report = consistency.check_all(db, batch_size=2)
    assert report.checked == 3 and report.ok
    # and still none after the message ends the waiting case
    act(db, None, lambda s, a: messages.correlate(s, a, "mudurluk_yaniti", "C-3", {"metin": "tamam"}))
    assert consistency.check_all(db).ok


def test_a_lost_task_row_is_found(db, cases) -> None:
    change(db, update(HumanTask).where(HumanTask.instance_id == cases["intake"]).values(state=TaskState.CANCELLED))
    found = differences(db)
    assert (cases["intake"], "task", "missing") in found


def test_an_extra_and_a_duplicate_task_row_are_found(db, cases) -> None:
    def copy_task(session: Any, actor: Any) -> None:
        original = session.scalar(
            select(HumanTask).where(HumanTask.instance_id == cases["routed"], HumanTask.state == "open")
        )
        for spiff_id in (original.spiff_task_id, "00000000-0000-0000-0000-000000000000"):
            session.add(
                HumanTask(
                    instance_id=original.instance_id,
                    spiff_task_id=spiff_id,
                    bpmn_id=original.bpmn_id,
                    name=original.name,
                    process_key=original.process_key,
                    state=TaskState.CLAIMED,
                    assignee="idari2",
                    created_at=clock.now(),
                )
            )

    act(db, None, copy_task)
    found = differences(db)
    assert (cases["routed"], "task", "duplicate") in found
    assert (cases["routed"], "task", "extra") in found
    assert (cases["routed"], "inbox", "missing") in found  # the copies have no inbox entries


def test_timer_damage_is_found(db, cases) -> None:
    change(
        db, update(Timer).where(Timer.instance_id == cases["routed"]).values(fire_at=clock.now() + timedelta(days=99))
    )
    assert (cases["routed"], "timer", "changed") in differences(db)
    change(db, delete(Timer).where(Timer.instance_id == cases["routed"]))
    assert (cases["routed"], "timer", "missing") in differences(db)

    def extra_timer(session: Any, actor: Any) -> None:
        session.add(
            Timer(
                instance_id=cases["intake"], spiff_task_id="x", bpmn_id="Timer_x", fire_at=clock.now(), status="waiting"
            )
        )

    act(db, None, extra_timer)
    assert (cases["intake"], "timer", "extra") in differences(db)


def test_message_damage_is_found(db, cases) -> None:
    change(db, delete(MessageSubscription).where(MessageSubscription.instance_id == cases["waiting"]))
    assert (cases["waiting"], "message", "missing") in differences(db)

    def extra_subscription(session: Any, actor: Any) -> None:
        session.add(
            MessageSubscription(
                instance_id=cases["intake"],
                spiff_task_id="y",
                bpmn_id="Catch_y",
                message_name="mudurluk_yaniti",
                business_key="C-1",
                created_at=clock.now(),
            )
        )

    act(db, None, extra_subscription)
    assert (cases["intake"], "message", "extra") in differences(db)


def test_inbox_damage_and_an_unreadable_state_are_found(db, cases) -> None:
    task_id = read(db, lambda s: s.scalar(select(HumanTask.id).where(HumanTask.instance_id == cases["intake"])))
    change(db, delete(InboxEntry).where(InboxEntry.task_id == task_id))
    change(db, update(ProcessInstance).where(ProcessInstance.id == cases["routed"]).values(state="{bozuk"))
    found = differences(db)
    assert (cases["intake"], "inbox", "missing") in found
    assert (cases["routed"], "state", "unreadable") in found
    one = act(db, None, lambda s, a: consistency.check(s, cases["intake"]))
    assert [d.kind for d in one] == ["inbox"] and "idari_isler" in one[0].detail


def test_kalem_check_exits_non_zero_on_a_difference(db, settings, cases, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "KALEM_DATABASE_URL": db.process_url,
        "KALEM_INSTANCE_DIR": str(tmp_path),
        "KALEM_AUDIT_KEY": settings.audit_key,
    }
    kalem = str(Path(sys.executable).parent / "kalem")
    clean = subprocess.run([kalem, "check"], env=env, capture_output=True, text=True, timeout=60)
    assert clean.returncode == 0 and "3 örnek denetlendi, 0 fark" in clean.stdout
    change(db, delete(Timer).where(Timer.instance_id == cases["routed"]))
    broken = subprocess.run([kalem, "check", "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert broken.returncode == 10
    assert '"kind": "timer"' in broken.stdout and '"problem": "missing"' in broken.stdout
    one = subprocess.run(
        [kalem, "check", "--instance", str(cases["intake"])], env=env, capture_output=True, text=True, timeout=60
    )
    assert one.returncode == 0 and "1 örnek denetlendi" in one.stdout
