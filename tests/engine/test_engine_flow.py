"""End-to-end behaviour of the engine foundation on the test havale process."""

from __future__ import annotations

from datetime import timedelta

import pytest
from factories import act, deploy, only_task, open_tasks, read, start
from sqlalchemy import func, select, text

from engine import audit, clock, instances, messages, people, tasks, timers
from engine.db import transaction
from engine.errors import Conflict, InvalidInput, NotAllowed, NotFound
from engine.models import AuditEvent, HumanTask, InstanceStatus, Notification, ProcessInstance

VALID = {"konu": "Kaldırım onarımı", "karar": "havale", "hedef_mudurluk": "fen_isleri"}


def register(db, **overrides):
    instance_id = start(db, business_key=overrides.pop("business_key", "EVR-1"))
    task = only_task(db, "idari1", "Task_kayit")
    return instance_id, task


def test_start_creates_a_task_for_the_lane_group_only(db):
    deploy(db)
    instance_id, task = register(db)
    assert task["candidate_groups"] == ["idari_isler"]
    assert task["priority"] == 70 and task["form_key"] == "kayit_formu" and task["business_key"] == "EVR-1"
    assert open_tasks(db, "fenisleri.memur") == []
    detail = act(db, None, lambda s, a: instances.show(s, a, instance_id).as_dict())
    assert detail["status"] == "running"
    assert detail["data"]["sayac"] == 1 and detail["data"]["etiketler"] == ["A", "B"]


def test_complete_validates_form_and_changes_nothing_when_invalid(db):
    deploy(db)
    instance_id, task = register(db)
    before = read(db, lambda s: s.get(ProcessInstance, instance_id).version_id)
    with pytest.raises(InvalidInput) as err:
        act(db, "idari1", lambda s, a: tasks.complete(s, a, task["id"], {"karar": "belki", "basvuran_tckn": "123"}))
    assert {"konu", "karar", "basvuran_tckn"} <= set(err.value.field_errors)
    assert read(db, lambda s: s.get(ProcessInstance, instance_id).version_id) == before
    assert only_task(db, "idari1", "Task_kayit")["state"] == "open"


def test_candidate_completes_unclaimed_task_and_routing_expression_picks_directorate(db):
    deploy(db)
    with clock.frozen_at(clock.now().replace(year=2026, month=3, day=13, hour=9)):
        _instance_id, task = register(db)
        act(db, "idari2", lambda s, a: tasks.complete(s, a, task["id"], VALID))
    answer = only_task(db, "fenisleri.memur", "Task_cevap")
    assert answer["candidate_groups"] == ["fen_isleri"]
    # 15 business days after 2026-03-13 (a Friday, Ramazan Bayramı in between): 2026-04-06 17:30 +03:00.
    assert answer["due_at"] == "2026-04-06T14:30:00+00:00"
    assert open_tasks(db, "zabita.memur") == []
    done = read(db, lambda s: s.get(HumanTask, task["id"]))
    assert done.state == "completed" and done.completed_by == "idari2" and done.assignee == "idari2"


def test_claim_conflicts_and_permissions(db):
    deploy(db)
    _instance_id, task = register(db)
    with pytest.raises(NotFound):
        act(db, "fenisleri.memur", lambda s, a: tasks.claim(s, a, task["id"]))
    act(db, "idari1", lambda s, a: tasks.claim(s, a, task["id"]))
    with pytest.raises(Conflict):
        act(db, "idari2", lambda s, a: tasks.claim(s, a, task["id"]))
    with pytest.raises(Conflict):
        act(db, "idari2", lambda s, a: tasks.complete(s, a, task["id"], VALID))
    assert [t["id"] for t in open_tasks(db, "idari2")] == []
    act(db, "idari1", lambda s, a: tasks.unclaim(s, a, task["id"]))
    assert only_task(db, "idari2", "Task_kayit")["state"] == "open"


def test_manager_assigns_only_to_users_who_may_do_the_task(db):
    deploy(db)
    _instance_id, task = register(db)
    with pytest.raises(NotAllowed):
        act(db, "idari1", lambda s, a: tasks.assign(s, a, task["id"], "idari2"))
    with pytest.raises(NotAllowed):
        act(db, "ok.mudur", lambda s, a: tasks.assign(s, a, task["id"], "fenisleri.memur"))
    with pytest.raises(NotFound):
        act(db, "ok.mudur", lambda s, a: tasks.assign(s, a, task["id"], "yok.boyle.biri"))
    act(db, "ok.mudur", lambda s, a: tasks.assign(s, a, task["id"], "idari2"))
    assert only_task(db, "idari2", "Task_kayit")["assignee"] == "idari2"
    assert open_tasks(db, "idari1") == []


def test_boundary_timer_fires_once_by_time_travel_into_the_escalation_lane(db):
    deploy(db)
    instance_id, task = register(db)
    act(db, "idari1", lambda s, a: tasks.complete(s, a, task["id"], VALID))
    detail = act(db, None, lambda s, a: instances.show(s, a, instance_id).as_dict())
    timer = next(w for w in detail["waiting"] if w["type"] == "timer")
    assert timers.fire_due(db).fired_instances == []
    later = clock.now() + timedelta(days=11)
    assert timers.fire_due(db, later).fired_instances == [instance_id]
    assert timers.fire_due(db, later).fired_instances == []
    escalation = only_task(db, "ok.mudur", "Task_eskalasyon")
    assert escalation["candidate_groups"] == ["ozel_kalem_muduru"]
    assert open_tasks(db, "fenisleri.memur") == []
    assert timer["fire_at"] < later.isoformat()


def test_message_delivers_payload_and_service_task_fills_the_outbox(db):
    deploy(db)
    instance_id, task = register(db, business_key="CIMER-42")
    act(db, "idari1", lambda s, a: tasks.complete(s, a, task["id"], VALID))
    answer = only_task(db, "fenisleri.memur", "Task_cevap")
    with pytest.raises(NotFound):
        act(db, None, lambda s, a: messages.correlate(s, a, "mudurluk_yaniti", "CIMER-42", {"metin": "erken"}))
    act(db, "fenisleri.memur", lambda s, a: tasks.complete(s, a, answer["id"], {"not": "hazır"}))
    detail = act(db, None, lambda s, a: instances.show(s, a, instance_id).as_dict())
    assert {"type": "message", "name": "mudurluk_yaniti", "bpmn_id": "Catch_yanit"} in detail["waiting"]
    act(db, None, lambda s, a: messages.correlate(s, a, "mudurluk_yaniti", "CIMER-42", {"metin": "Onarıldı."}))
    detail = act(db, None, lambda s, a: instances.show(s, a, instance_id).as_dict())
    assert detail["status"] == "completed" and detail["waiting"] == [] and detail["open_tasks"] == []
    assert detail["data"]["yanit"] == {"metin": "Onarıldı."}
    outbox = read(db, lambda s: s.scalars(select(Notification)).all())
    assert [(n.recipient, n.body, n.status) for n in outbox] == [("vatandas@example.org", "Onarıldı.", "pending")]


def test_only_those_who_see_the_case_or_integrations_may_deliver_a_message(db):
    deploy(db)
    _instance_id, task = register(db, business_key="CIMER-43")
    act(db, "idari1", lambda s, a: tasks.complete(s, a, task["id"], VALID))
    answer = only_task(db, "fenisleri.memur", "Task_cevap")
    act(db, "fenisleri.memur", lambda s, a: tasks.complete(s, a, answer["id"], {"not": "hazır"}))
    # A directorate clerk elsewhere learns nothing, not even that the case waits.
    with pytest.raises(NotFound) as err:
        act(db, "zabita.memur", lambda s, a: messages.correlate(s, a, "mudurluk_yaniti", "CIMER-43", {"metin": "x"}))
    assert "bekleyen süreç yok" in str(err.value)
    assert read(db, lambda s: s.scalar(select(func.count()).where(AuditEvent.action == "message.correlated"))) == 0
    # An integration account (EBYS) delivers to any case.
    instance = act(
        db, "ebys", lambda s, a: messages.correlate(s, a, "mudurluk_yaniti", "CIMER-43", {"metin": "Tamam."})
    )
    assert instance.status == InstanceStatus.COMPLETED


def test_rejection_path_completes_instance(db):
    deploy(db)
    instance_id, task = register(db)
    act(db, "idari1", lambda s, a: tasks.complete(s, a, task["id"], {"konu": "x", "karar": "red"}))
    assert read(db, lambda s: s.get(ProcessInstance, instance_id).status) == InstanceStatus.COMPLETED


def test_suspended_instance_blocks_completion_and_timers(db):
    deploy(db)
    instance_id, task = register(db)
    with pytest.raises(NotAllowed):
        act(db, "idari1", lambda s, a: instances.suspend(s, a, instance_id))
    act(db, "admin", lambda s, a: instances.suspend(s, a, instance_id))
    with pytest.raises(Conflict):
        act(db, "idari1", lambda s, a: tasks.complete(s, a, task["id"], VALID))
    with pytest.raises(Conflict):
        act(db, "admin", lambda s, a: instances.suspend(s, a, instance_id))
    act(db, "admin", lambda s, a: instances.resume(s, a, instance_id))
    act(db, "admin", lambda s, a: instances.terminate(s, a, instance_id))
    assert open_tasks(db, "idari1") == []
    assert read(db, lambda s: s.get(ProcessInstance, instance_id).status) == InstanceStatus.TERMINATED


def test_stale_instance_version_is_a_conflict_not_a_lost_update(db):
    deploy(db)
    instance_id, _task = register(db)
    with pytest.raises(Conflict), transaction(db) as session:
        stale = session.get(ProcessInstance, instance_id)
        # Another writer got there first: the row's version moved on under us.
        session.execute(
            text("UPDATE process_instance SET version_id = version_id + 1 WHERE id = :i"), {"i": instance_id}
        )
        stale.subject = "ben"
        session.flush()
    assert read(db, lambda s: s.get(ProcessInstance, instance_id).subject) is None


def test_deputy_sees_and_completes_principal_tasks_on_their_behalf(db):
    deploy(db)
    _instance_id, task = register(db)
    assert open_tasks(db, "hi1") == []
    now = clock.now()
    act(
        db,
        "ok.mudur",
        lambda s, a: people.add_substitution(
            s, a, "idari1", "hi1", now - timedelta(hours=1), now + timedelta(days=3), reason="yillik_izin"
        ),
    )
    assert [t["id"] for t in open_tasks(db, "hi1")] == [task["id"]]
    act(db, "hi1", lambda s, a: tasks.complete(s, a, task["id"], VALID))
    done = read(db, lambda s: s.get(HumanTask, task["id"]))
    assert done.completed_by == "hi1" and done.on_behalf_of == "idari1"
    event = read(db, lambda s: s.scalars(select(AuditEvent).where(AuditEvent.action == "task.completed")).one())
    assert (event.actor, event.on_behalf_of) == ("hi1", "idari1")


def test_audit_chain_verifies_and_names_the_first_tampered_row(db):
    deploy(db)
    _instance_id, task = register(db)
    act(db, "idari1", lambda s, a: tasks.complete(s, a, task["id"], VALID))
    report = read(db, audit.verify)
    count = read(db, lambda s: s.scalar(select(func.count(AuditEvent.id))))
    assert report.ok and report.count == count >= 5
    with db.write_engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET actor = 'sahte' WHERE seq = 3"))
    report = read(db, audit.verify)
    assert not report.ok and report.bad_seq == 3


def test_deleted_audit_rows_break_the_chain(db):
    deploy(db)
    register(db)
    with db.write_engine.begin() as conn:
        last = conn.execute(text("SELECT max(seq) FROM audit_event")).scalar()
        conn.execute(text("DELETE FROM audit_event WHERE seq = :s"), {"s": last})
    report = read(db, audit.verify)
    assert not report.ok and report.bad_seq == last
    with db.write_engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE seq = 2"))
    assert read(db, audit.verify).bad_seq == 2


def test_unknown_user_is_a_clear_error(db):
    deploy(db)
    with pytest.raises(NotFound, match="Kullanıcı bulunamadı"):
        start(db, username="kimse")
    assert read(db, lambda s: s.scalar(select(func.count(ProcessInstance.id)))) == 0


def test_a_business_key_names_one_live_case_per_process(db) -> None:
    deploy(db)
    first = start(db, business_key="CIMER-123")
    with pytest.raises(Conflict, match="CIMER-123"):
        start(db, business_key="CIMER-123")
    act(db, "admin", lambda s, a: instances.terminate(s, a, first, "yanlış kayıt"))
    assert start(db, business_key="CIMER-123") != first


def test_a_timer_fires_at_exactly_its_time(db):
    from datetime import datetime

    deploy(db)
    instance_id, task = register(db)
    act(db, "idari1", lambda s, a: tasks.complete(s, a, task["id"], VALID))
    detail = act(db, None, lambda s, a: instances.show(s, a, instance_id).as_dict())
    fire_at = datetime.fromisoformat(next(w for w in detail["waiting"] if w["type"] == "timer")["fire_at"])
    assert timers.fire_due(db, fire_at - timedelta(seconds=1)).fired_instances == []
    assert timers.fire_due(db, fire_at).fired_instances == [instance_id]
    assert only_task(db, "ok.mudur", "Task_eskalasyon")


@pytest.mark.parametrize("event", ["message", "timer"])
def test_an_event_based_gateway_waits_on_each_of_its_events(db, event):
    from factories import data_files

    from engine import definitions

    act(db, None, lambda s, a: definitions.deploy(s, a, data_files("olay_gecidi.bpmn")))
    instance_id = start(db, "olay_gecidi", business_key="EBG-1")
    waiting = act(db, None, lambda s, a: instances.show(s, a, instance_id).as_dict())["waiting"]
    assert {w["type"] for w in waiting} == {"message", "timer"}
    if event == "message":
        act(db, "idari1", lambda s, a: messages.correlate(s, a, "odendi", "EBG-1", {}))
        expected = "odendi"
    else:
        assert timers.fire_due(db, clock.now() + timedelta(days=1, minutes=1)).fired_instances == [instance_id]
        expected = "vazgecildi"
    shown = act(db, None, lambda s, a: instances.show(s, a, instance_id).as_dict())
    assert shown["status"] == "completed" and shown["data"]["sonuc"] == expected and shown["waiting"] == []


def test_an_awaited_event_is_recorded_on_the_case_only_by_those_who_work_on_or_manage_it(db):
    from factories import data_files

    from engine import definitions

    act(db, None, lambda s, a: definitions.deploy(s, a, data_files("olay_gecidi.bpmn")))
    instance_id = start(db, "olay_gecidi", username="idari1")  # no business key: delivered to the case itself
    deliver = lambda username, values: act(  # noqa: E731
        db, username, lambda s, a: messages.deliver_to_instance(s, a, instance_id, "odendi", values)
    )
    with pytest.raises(NotFound):  # outsiders learn nothing
        deliver("zabita.memur", {"aciklama": "x"})
    # The starter sees the case but holds no task of it: shown nothing to record, and refused.
    assert act(db, "idari1", lambda s, a: messages.awaited_messages(s, a, instance_id)) == []
    with pytest.raises(NotAllowed):
        deliver("idari1", {"aciklama": "x"})
    # An administrator manages every case; the event gateway's message is labelled by its event.
    [awaited] = act(db, "admin", lambda s, a: messages.awaited_messages(s, a, instance_id))
    assert (awaited.name, awaited.label, awaited.form.field_names) == ("odendi", "Ödendi", ("aciklama",))
    with pytest.raises(InvalidInput) as err:
        deliver("admin", {"aciklama": "x" * 2001})
    assert list(err.value.field_errors) == ["aciklama"]
    assert read(db, lambda s: s.scalar(select(func.count()).where(AuditEvent.action == "message.correlated"))) == 0
    instance = deliver("admin", {"aciklama": "Vezne makbuzu 118."})
    assert instance.status == InstanceStatus.COMPLETED
    shown = act(db, None, lambda s, a: instances.show(s, a, instance_id).as_dict())
    assert shown["data"]["sonuc"] == "odendi"
    [details] = read(
        db, lambda s: s.scalars(select(AuditEvent.details).where(AuditEvent.action == "message.correlated")).all()
    )
    assert details == {
        "name": "odendi",
        "business_key": None,
        "from": "instance_page",
        "payload": {"aciklama": "Vezne makbuzu 118."},
    }
    with pytest.raises(Conflict):  # nothing waits any more
        deliver("admin", {"aciklama": "tekrar"})
