"""Deployments: versions, no-op redeploys, and precise rejections that change nothing."""

from __future__ import annotations

import pytest
from factories import DATA, act, data_files, deploy, read, start
from sqlalchemy import func, select

from engine import definitions, instances, tasks
from engine.errors import DeployError, InvalidInput
from engine.models import FormDefinitionVersion, ProcessDefinition, ProcessInstance

BPMN = (DATA / "havale_test.bpmn").read_text(encoding="utf-8")
FORM = ("kayit_formu.form.json", (DATA / "kayit_formu.form.json").read_bytes())


def deploy_text(db, bpmn_text: str, *extra):
    files = [("degisik.bpmn", bpmn_text.encode("utf-8")), *extra]
    return [str(d) for d in act(db, None, lambda s, a: definitions.deploy(s, a, files)) if d.kind == "process"]


def counts(db):
    return read(
        db,
        lambda s: (
            s.scalar(select(func.count(ProcessDefinition.id))),
            s.scalar(select(func.count(FormDefinitionVersion.id))),
        ),
    )


def test_redeploy_is_noop_and_change_makes_next_version_while_instances_stay(db):
    assert deploy(db) == ["test_havale v1"]
    assert deploy(db) == ["test_havale v1"]
    instance_id = start(db)
    assert deploy_text(db, BPMN.replace("Başvuruyu kaydet", "Başvuruyu kaydet (yeni)"), FORM) == ["test_havale v2"]
    old = read(db, lambda s: s.get(ProcessInstance, instance_id))
    definition = read(db, lambda s: s.get(ProcessDefinition, old.definition_id))
    assert definition.version == 1
    new_instance = start(db)
    assert read(db, lambda s: s.get(ProcessInstance, new_instance).definition_id) != old.definition_id


@pytest.mark.parametrize(
    ("change", "element", "needle"),
    [
        (("sayac = 1", "import os"), "Script_init", "import"),
        (("sayac = 1", "x = = 1"), "Script_init", "Betik"),
        (("karar == 'red'", "__import__('os')"), "Gateway_karar", "Koşul"),
        (('"P10D"', '"P1X"'), "Timer_sla", "ISO 8601"),
        (('"P10D"', "PT1S"), "Timer_sla", "Zamanlayıcı"),
        (('value="kayit_formu"', 'value="olmayan_form"'), "Task_kayit", "olmayan_form"),
        (
            ('serviceTaskOperator id="notify"', 'serviceTaskOperator id="olmayan_isleyici"'),
            "Service_bildir",
            "olmayan_isleyici",
        ),
        (('value="hedef_mudurluk"', 'value="().__class__.__base__"'), "Task_cevap", "candidateGroups"),
    ],
)
def test_invalid_process_is_rejected_with_file_element_and_line(db, change, element, needle):
    before = counts(db)
    with pytest.raises(DeployError) as err:
        deploy_text(db, BPMN.replace(*change), FORM)
    problems = err.value.problems
    assert any(p.element_id == element and p.file == "degisik.bpmn" and p.line for p in problems), problems
    assert needle in str(err.value)
    assert counts(db) == before


def test_malformed_xml_names_the_line(db):
    with pytest.raises(DeployError) as err:
        deploy_text(db, BPMN.replace("</bpmn:process>", "</bpmn:proces>"), FORM)
    problem = err.value.problems[0]
    assert problem.file == "degisik.bpmn" and problem.line and "XML" in str(problem)
    assert counts(db) == (0, 0)


def test_structural_error_and_missing_lane_are_located(db):
    with pytest.raises(DeployError) as err:
        deploy_text(db, BPMN.replace('targetRef="End_red"', 'targetRef="Hayalet"'), FORM)
    assert "BPMN" in str(err.value)
    no_lane = BPMN.replace("<bpmn:flowNodeRef>Task_eskalasyon</bpmn:flowNodeRef>", "")
    with pytest.raises(DeployError) as err:
        deploy_text(db, no_lane, FORM)
    assert any(p.element_id == "Task_eskalasyon" for p in err.value.problems)


def test_xxe_and_entity_expansion_are_not_resolved(db):
    xxe = BPMN.replace(
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
    ).replace("Başvuruyu kaydet", "&x;")
    with pytest.raises(DeployError):
        deploy_text(db, xxe, FORM)
    assert counts(db) == (0, 0)


def test_bad_form_definition_is_rejected_with_its_file(db):
    bad = ("bozuk.form.json", b'{"key": "bozuk", "title": "B", "fields": [{"name": "a", "type": "renk"}]}')
    with pytest.raises(DeployError) as err:
        act(db, None, lambda s, a: definitions.deploy(s, a, [*data_files("havale_test.bpmn"), FORM, bad]))
    assert any(p.file == "bozuk.form.json" for p in err.value.problems)
    assert counts(db) == (0, 0)


def test_a_process_with_an_embedded_subprocess_deploys_and_runs(db) -> None:
    from factories import only_task

    assert deploy(db, "alt_surec.bpmn") == ["alt_surec v1"]
    instance_id = start(db, "alt_surec")
    task = only_task(db, "idari1", "t")
    act(db, "idari1", lambda s, a: tasks.complete(s, a, task["id"], {}))
    assert act(db, "idari1", lambda s, a: instances.show(s, a, instance_id).as_dict())["status"] == "completed"


def test_form_dates_follow_the_engine_clock(db) -> None:
    import json
    from datetime import datetime

    from factories import only_task

    from engine import clock
    from forms.values import ISTANBUL

    form = {
        "key": "fatura_formu",
        "title": "Randevu",
        "fields": [{"name": "gun", "type": "date", "label": "Gün", "required": True, "not_past": True}],
    }
    files = [*data_files("fatura_kontrol.bpmn"), ("fatura_formu.form.json", json.dumps(form).encode())]
    act(db, None, lambda s, a: definitions.deploy(s, a, files))
    start(db, "fatura_kontrol")
    task = only_task(db, "idari1", "Task_fatura")
    with clock.frozen_at(datetime(2031, 1, 6, 12, 0, tzinfo=ISTANBUL)):
        with pytest.raises(InvalidInput):
            act(db, "idari1", lambda s, a: tasks.complete(s, a, task["id"], {"gun": "2031-01-05"}))
        act(db, "idari1", lambda s, a: tasks.complete(s, a, task["id"], {"gun": "2031-01-06"}))


def test_a_called_only_process_is_not_started_by_hand(db) -> None:
    from factories import deploy_flow

    from engine import starting
    from engine.errors import NotFound

    deploy_flow(db, "basvuru")
    keys = act(db, "ok.mudur", lambda s, a: [o.key for o in starting.list_startable(s, a)])
    assert "f1_dilekce" in keys and "basvuru_isleme" not in keys
    with pytest.raises(NotFound):
        act(db, "ok.mudur", lambda s, a: starting.start(s, a, "basvuru_isleme"))
