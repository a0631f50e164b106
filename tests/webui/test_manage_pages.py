"""The Müdür pages: who may open them, the late-work overview, bulk reassign, escalate, devir-teslim with
its PDF, and vekalet; every refused form shows a Turkish message and changes nothing."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from factories import act, deploy, read, start
from sqlalchemy import func, select
from web_client import app, browser, signed_in

from engine import clock, people, tasks
from engine.models import AuditEvent, Group, Handover, HumanTask, Substitution, TaskState

# The web client's fixtures, imported so pytest finds them here by name.
FIXTURES = (app, browser, signed_in)


def late_task(db, group="zabita", due_in=timedelta(days=-1), key=None):
    data = {"gruplar": group, "son_tarih": (clock.now() + due_in).isoformat(), "oncelik": 50}
    instance_id = start(db, "coklu_grup", username="admin", data=data, business_key=key)
    return read(db, lambda s: s.scalar(select(HumanTask.id).where(HumanTask.instance_id == instance_id)))


def task(db, task_id):
    return read(db, lambda s: s.get(HumanTask, task_id))


def row_ids(response):
    return [int(x) for x in re.findall(r'data-task-id="(\d+)"', response.get_data(as_text=True))]


@pytest.fixture
def work(db):
    deploy(db, "coklu_grup.bpmn")
    return db


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/manage"),
        ("get", "/manage/handover"),
        ("get", "/manage/substitutions"),
        ("post", "/manage/reassign"),
        ("post", "/manage/handover"),
        ("post", "/manage/substitutions"),
    ],
)
def test_a_clerk_may_not_open_the_manager_pages(work, signed_in, method, path):
    clerk = signed_in("idari1")
    response = clerk.get(path) if method == "get" else clerk.post(path, {"task_ids": "1", "username": "idari2"})
    assert response.status_code == 403
    assert "yetki" in response.get_data(as_text=True).lower()


def test_signed_out_visitors_are_sent_to_the_login_page(work, browser):
    response = browser.get("/manage")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_overview_groups_late_work_by_directorate_and_person(work, signed_in):
    overdue, soon = late_task(work, key="Z-1"), late_task(work, due_in=timedelta(hours=2), key="Z-2")
    other = late_task(work, group="fen_isleri", key="F-1")
    page = signed_in("zabita.mudur").get("/manage")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert row_ids(page) == [overdue, soon] and other not in row_ids(page)
    assert 'data-group="zabita"' in html and "Zabıta Müdürlüğü" in html and 'data-group="fen_isleri"' not in html
    assert 'data-person="-"' in html  # the unclaimed work has its own line
    only_overdue = signed_in("zabita.mudur").get("/manage?status=overdue")
    assert row_ids(only_overdue) == [overdue]


def test_bulk_reassign_assigns_every_selected_task(work, signed_in):
    first, second = late_task(work), late_task(work)
    mudur = signed_in("zabita.mudur")
    response = mudur.post("/manage/reassign", {"task_ids": [first, second], "username": "zabita.memur"})
    assert response.status_code == 303
    assert [task(work, i).assignee for i in (first, second)] == ["zabita.memur", "zabita.memur"]
    assert "2 görev zabita.memur kullanıcısına atandı." in mudur.get("/manage").get_data(as_text=True)


def test_bulk_reassign_to_someone_who_may_not_do_a_task_changes_nothing(work, signed_in):
    first, second = late_task(work), late_task(work)
    mudur = signed_in("zabita.mudur")
    response = mudur.post("/manage/reassign", {"task_ids": [first, second], "username": "idari1"})
    assert response.status_code == 303
    page = mudur.get("/manage").get_data(as_text=True)
    assert f"Görev {first} atanamadı, hiçbir görev değiştirilmedi" in page
    assert [task(work, i).assignee for i in (first, second)] == [None, None]
    mudur.post("/manage/reassign", {"username": "zabita.memur"})
    assert "Atanacak görev seçilmedi." in mudur.get("/manage").get_data(as_text=True)


def test_escalate_needs_a_reason_then_raises_priority(work, signed_in):
    task_id = late_task(work)
    mudur = signed_in("zabita.mudur")
    form = mudur.get(f"/manage/tasks/{task_id}/escalate")
    assert form.status_code == 200 and "Gerekçe" in form.get_data(as_text=True)
    refused = mudur.post(f"/manage/tasks/{task_id}/escalate", {"reason": " "})
    assert refused.status_code == 400 and "Eskalasyon gerekçesi yazın." in refused.get_data(as_text=True)
    assert task(work, task_id).priority == 50
    done = mudur.post(f"/manage/tasks/{task_id}/escalate", {"reason": "Süre doldu", "move_up": "1"})
    assert done.status_code == 303
    escalated = task(work, task_id)
    assert (escalated.priority, escalated.escalation_level, escalated.candidate_groups) == (70, 1, ["zabita/yonetici"])
    # Another unit's task cannot even be seen.
    assert mudur.get(f"/manage/tasks/{late_task(work, group='fen_isleri')}/escalate").status_code == 404


def leaving_user(db, username):
    def create(s, _a):
        user = people.ensure_user(s, username, "Ayrılan Personel", email=f"{username}@kalem.local")
        people.set_membership(s, user, s.scalar(select(Group).where(Group.code == "zabita")))

    act(db, None, create)


def test_handover_moves_the_work_and_offers_the_tutanak(work, signed_in):
    leaving_user(work, "web.ayrilan1")
    task_id = late_task(work)
    act(work, "admin", lambda s, a: tasks.assign(s, a, task_id, "web.ayrilan1"))
    mudur = signed_in("zabita.mudur")
    inventory = mudur.get("/manage/handover?leaving=web.ayrilan1").get_data(as_text=True)
    assert "1 açık görev, 0 vekalet" in inventory
    form = {
        "leaving": "web.ayrilan1",
        "successor": "zabita.memur",
        "reason": "emeklilik",
        "last_day": "2026-12-31",
        "note": "Dolap anahtarı Şef'te",
        "deactivate": "1",
    }
    response = mudur.post("/manage/handover", form)
    assert response.status_code == 303
    record_id = read(work, lambda s: s.scalar(select(Handover.id)))
    assert response.headers["Location"].endswith(f"/manage/handover/{record_id}")
    assert (task(work, task_id).state, task(work, task_id).assignee) == (TaskState.CLAIMED, "zabita.memur")
    detail = mudur.get(f"/manage/handover/{record_id}").get_data(as_text=True)
    assert "Devredilen kalemler" in detail and "hesabı kapatıldı" in detail
    pdf = mudur.get(f"/manage/handover/{record_id}/tutanak.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert f"devir-teslim-{record_id}-web.ayrilan1.pdf" in pdf.headers["Content-Disposition"]
    assert signed_in("idari1").get(f"/manage/handover/{record_id}/tutanak.pdf").status_code == 404
    downloads = read(
        work,
        lambda s: s.execute(
            select(AuditEvent.actor, AuditEvent.details).where(AuditEvent.action == "handover.downloaded")
        ).all(),
    )
    assert downloads == [("zabita.mudur", {"handover_id": record_id})]  # the refused attempt left no trace


def test_a_refused_handover_shows_why_and_changes_nothing(work, signed_in):
    leaving_user(work, "web.ayrilan2")
    mudur = signed_in("zabita.mudur")
    form = {"leaving": "web.ayrilan2", "successor": "web.ayrilan2", "reason": "istifa", "last_day": "2026-12-31"}
    response = mudur.post("/manage/handover", form)
    assert response.status_code == 400
    assert "Devralan, devreden ile aynı kişi olamaz." in response.get_data(as_text=True)
    bad_day = mudur.post("/manage/handover", dict(form, successor="zabita.memur", last_day="31/12"))
    assert bad_day.status_code == 400 and "Tarih YYYY-AA-GG biçiminde olmalı." in bad_day.get_data(as_text=True)
    assert read(work, lambda s: s.scalar(select(func.count(Handover.id)))) == 0


def test_vekalet_is_defined_listed_as_x_adina_y_and_revoked(work, signed_in):
    mudur = signed_in("ok.mudur")
    form = {
        "principal": "idari1",
        "substitute": "idari2",
        "starts_at": "2030-01-06T09:00",
        "ends_at": "2030-01-10T18:00",
        "reason": "yillik_izin",
        "scope": "all",
    }
    response = mudur.post("/manage/substitutions", form)
    assert response.status_code == 303
    listing = mudur.get("/manage/substitutions").get_data(as_text=True)
    assert "Ali Koç adına Selin Yıldız" in listing and "Başlamadı" in listing
    sub = read(work, lambda s: s.scalars(select(Substitution)).one())
    assert sub.starts_at.isoformat() == "2030-01-06T06:00:00+00:00"  # 09:00 in Istanbul
    again = mudur.post("/manage/substitutions", dict(form, substitute="hi1"))
    assert again.status_code == 409 and "zaten bir vekalet var" in again.get_data(as_text=True)
    missing = mudur.post("/manage/substitutions", dict(form, ends_at="", scope="selected"))
    assert missing.status_code == 400
    text = missing.get_data(as_text=True)
    assert "Tarih ve saat girin." in text and "Kapsam için en az bir süreç seçin." in text
    assert mudur.post(f"/manage/substitutions/{sub.id}/revoke").status_code == 303
    assert read(work, lambda s: s.get(Substitution, sub.id).revoked_at) is not None
    assert read(work, lambda s: s.scalar(select(func.count(Substitution.id)))) == 1
