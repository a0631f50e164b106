"""Form-level checks: compiled at deploy time, evaluated on completion over the case data."""

from __future__ import annotations

import json

import pytest
from factories import act, data_files, deploy, only_task, start

from engine import definitions, instances, tasks
from engine.errors import DeployError, InvalidInput


def _invoice_case(db) -> dict:
    deploy(db, "fatura_kontrol.bpmn", "fatura_formu.form.json")
    start(db, "fatura_kontrol", data={"onayli_tutar": "1000.00"})
    return only_task(db, "idari1", "Task_fatura")


def _complete(db, task_id: int, data: dict) -> None:
    act(db, "idari1", lambda s, a: tasks.complete(s, a, task_id, data))


def test_failed_checks_name_their_field_and_change_nothing(db) -> None:
    task = _invoice_case(db)
    with pytest.raises(InvalidInput) as err:
        _complete(db, task["id"], {"teslim_tarihi": "2026-03-10", "fatura_tarihi": "2026-03-09", "tutar": "1500"})
    assert err.value.field_errors == {
        "fatura_tarihi": ["Fatura tarihi teslim tarihinden önce olamaz."],
        "tutar": ["Fatura tutarı onaylanan tutarı aşamaz."],
    }
    again = only_task(db, "idari1", "Task_fatura")
    assert again["state"] == task["state"] and again["assignee"] is None


def test_passing_checks_complete_the_task(db) -> None:
    task = _invoice_case(db)
    _complete(db, task["id"], {"teslim_tarihi": "2026-03-10", "fatura_tarihi": "2026-03-12", "tutar": "999,99"})
    shown = act(db, "idari1", lambda s, a: instances.show(s, a, task["instance_id"]).as_dict())
    assert shown["status"] == "completed"


def test_a_check_that_cannot_be_evaluated_blocks(db) -> None:
    deploy(db, "fatura_kontrol.bpmn", "fatura_formu.form.json")
    start(db, "fatura_kontrol", data={"onayli_tutar": "bin lira"})
    task = only_task(db, "idari1", "Task_fatura")
    with pytest.raises(InvalidInput) as err:
        _complete(db, task["id"], {"teslim_tarihi": "2026-03-10", "fatura_tarihi": "2026-03-12", "tutar": "5"})
    assert err.value.field_errors == {"tutar": ["Fatura tutarı onaylanan tutarı aşamaz."]}


def test_a_check_that_does_not_compile_rejects_the_deployment(db) -> None:
    form = json.loads(data_files("fatura_formu.form.json")[0][1])
    form["checks"][0]["expression"] = "__import__('os').system('true')"
    files = [*data_files("fatura_kontrol.bpmn"), ("fatura_formu.form.json", json.dumps(form).encode())]
    with pytest.raises(DeployError) as err:
        act(db, None, lambda s, a: definitions.deploy(s, a, files))
    assert any("checks[0]" in str(p.message) and p.file == "fatura_formu.form.json" for p in err.value.problems)


def test_user_and_unit_fields_must_exist_and_match(db) -> None:
    form = {
        "key": "fatura_formu",
        "title": "İç havale",
        "fields": [
            {"name": "birim", "type": "unit", "label": "Birim", "required": True},
            {"name": "personel", "type": "user", "label": "Personel", "required": True, "group": "$birim"},
        ],
    }
    files = [*data_files("fatura_kontrol.bpmn"), ("fatura_formu.form.json", json.dumps(form).encode())]
    act(db, None, lambda s, a: definitions.deploy(s, a, files))
    start(db, "fatura_kontrol")
    task = only_task(db, "idari1", "Task_fatura")
    with pytest.raises(InvalidInput) as err:
        _complete(db, task["id"], {"birim": "uzay_isleri", "personel": "yok.kimse"})
    assert set(err.value.field_errors) == {"birim", "personel"}
    with pytest.raises(InvalidInput) as err:
        _complete(db, task["id"], {"birim": "zabita", "personel": "fenisleri.memur"})
    assert "zabita" in err.value.field_errors["personel"][0]
    _complete(db, task["id"], {"birim": "fen_isleri", "personel": "fenisleri.memur"})
