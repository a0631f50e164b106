"""A failing script, an endless loop or a failing handler rolls the whole step back and leaves
a visible, retryable incident; Camunda attributes work as synonyms."""

from __future__ import annotations

import pytest
from factories import act, deploy, only_task, read, start
from sqlalchemy import func, select

from engine import audit, incidents, instances, tasks
from engine.errors import ProcessError
from engine.models import AuditEvent, HumanTask, InstanceStatus, Notification, ProcessInstance

FILES = ("hatali_adim.bpmn", "kayit_formu.form.json")


def snapshot(db, instance_id):
    def take(s):
        instance = s.get(ProcessInstance, instance_id)
        states = sorted((t.bpmn_id, str(t.state)) for t in s.scalars(select(HumanTask)))
        return instance.state, instance.version_id, states, s.scalar(select(func.count(Notification.id)))

    return read(db, take)


@pytest.mark.parametrize(
    ("data", "needle", "element"),
    [
        ({"yol": "bolme", "bolen": 0}, "ZeroDivisionError", "Script_bolme"),
        ({"yol": "dongu"}, "Süre sınırı", "Script_dongu"),
        ({"yol": "servis"}, "notify", "Service_bozuk"),
    ],
)
def test_failing_step_rolls_back_and_records_an_incident(db, data, needle, element):
    deploy(db, *FILES)
    instance_id = start(db, "hatali_adim")
    task = only_task(db, "idari1", "Task_giris")
    assert task["candidate_groups"] == ["halkla_iliskiler", "idari_isler"]  # camunda:candidateGroups
    before = snapshot(db, instance_id)
    with pytest.raises(ProcessError) as err:
        act(db, "idari1", lambda s, a: tasks.complete(s, a, task["id"], data))
    assert needle in str(err.value)
    state, _version, task_states, notifications = snapshot(db, instance_id)
    assert (state, task_states, notifications) == (before[0], before[2], before[3])
    detail = act(db, None, lambda s, a: instances.show(s, a, instance_id).as_dict())
    assert detail["status"] == "error"
    [incident] = detail["incidents"]
    assert incident["element_id"] == element and needle in incident["message"]
    assert detail["open_tasks"][0]["bpmn_id"] == "Task_giris"
    assert read(db, audit.verify).ok
    assert read(db, lambda s: s.scalar(select(func.count()).where(AuditEvent.action == "incident.recorded"))) == 1

    # The same person retries with data that works: the incident is resolved, the case moves on.
    act(db, "idari1", lambda s, a: tasks.complete(s, a, task["id"], {"yol": "bolme", "bolen": 4}))
    assert read(db, lambda s: s.get(ProcessInstance, instance_id).status) == InstanceStatus.COMPLETED
    assert read(db, lambda s: incidents.open_incidents(s, instance_id)) == []


def test_camunda_assignee_and_form_key_are_synonyms(db):
    deploy(db, *FILES)
    start(db, "hatali_adim", data={"sorumlu": "hi2"})
    task = only_task(db, "idari1", "Task_giris")
    act(db, "idari1", lambda s, a: tasks.complete(s, a, task["id"], {"yol": "tamam"}))
    later = only_task(db, "hi2", "Task_sonra")
    assert later["assignee"] == "hi2" and later["state"] == "claimed" and later["form_key"] == "kayit_formu"


def test_retry_after_suspend_keeps_the_error_status(db):
    deploy(db, *FILES)
    instance_id = start(db, "hatali_adim")
    task = only_task(db, "idari1", "Task_giris")
    with pytest.raises(ProcessError):
        act(db, "idari1", lambda s, a: tasks.complete(s, a, task["id"], {"yol": "bolme", "bolen": 0}))
    act(db, "admin", lambda s, a: instances.suspend(s, a, instance_id))
    act(db, "admin", lambda s, a: instances.resume(s, a, instance_id))
    assert read(db, lambda s: s.get(ProcessInstance, instance_id).status) == InstanceStatus.ERROR


def test_an_unknown_assignee_is_not_assigned(db):
    from sqlalchemy import select

    from engine.models import HumanTask

    deploy(db, *FILES)
    start(db, "hatali_adim", data={"sorumlu": "yok.boyle"})
    task = only_task(db, "idari1", "Task_giris")
    act(db, "idari1", lambda s, a: tasks.complete(s, a, task["id"], {"yol": "tamam"}))
    later = read(db, lambda s: s.scalar(select(HumanTask).where(HumanTask.bpmn_id == "Task_sonra")))
    assert later.assignee is None and later.state == "open"
