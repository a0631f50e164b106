"""The task page: the form from its definition, validation beside each field (with ``when``
conditions), uploads with limits, the case around the task, and 404 for those who may not see it."""

from __future__ import annotations

import io
import re

import pytest
from factories import read, start
from sqlalchemy import func, select
from web_client import deploy_web

from engine import instances
from engine.actors import Actor
from engine.models import Attachment, AuditEvent, Comment, HumanTask, TaskState

APPLICANT = "Ayşe Yılmaz"


@pytest.fixture
def task_id(db):
    deploy_web(db)
    instance_id = start(
        db,
        "web_dilekce",
        username="idari1",
        business_key="DLK-2026-000042",
        subject="Park aydınlatması",
        data={"basvuran_ad_soyad": APPLICANT, "basvuran_tckn": "10000000146", "kanal": "dilekce"},
    )
    return read(db, lambda s: s.scalar(select(HumanTask.id).where(HumanTask.instance_id == instance_id)))


def field_block(html, name):
    """The HTML of one form field's block (label, input, help, errors)."""
    found = re.search(
        rf'<div class="field[^"]*" data-field="{name}".*?</div>\s*(?=<div class="field|<div class="actions)', html, re.S
    )
    assert found, f"no field {name}"
    return found.group(0)


def task(db, task_id):
    return read(db, lambda s: s.get(HumanTask, task_id))


def test_task_page_renders_the_form_and_the_case(task_id, signed_in):
    html = signed_in("idari1").get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "Dilekçeyi incele" in html and "Dilekçe incelemesi" in html
    sonuc = field_block(html, "sonuc")
    assert "Olumsuz ya da kısmen olumluysa gerekçe yazın." in sonuc
    assert '<option value="kismen_olumlu"' in sonuc and "Kısmen olumlu" in sonuc
    gerekce = field_block(html, "red_gerekcesi")
    assert "data-when=" in gerekce and "kismen_olumlu" in gerekce
    assert 'type="file"' in field_block(html, "ek") and 'enctype="multipart/form-data"' in html
    assert 'type="checkbox" name="acil"' in field_block(html, "acil")
    assert "DLK-2026-000042" in html and "Park aydınlatması" in html and APPLICANT in html
    assert "Görevin son tarihi" in html and "kaldı" in html
    assert 'data-current="[&#34;Task_inceleme&#34;]"' in html
    assert "Dosya açıldı" in html and "Görev oluştu" in html


def test_invalid_submission_shows_errors_beside_fields_and_changes_nothing(task_id, signed_in, db):
    b = signed_in("idari1")
    events_before = read(db, lambda s: s.scalar(select(func.count()).select_from(AuditEvent)))
    response = b.post(f"/tasks/{task_id}", {"sonuc": "olumsuz", "red_gerekcesi": "", "tutar": "12,345"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "hiçbir şey kaydedilmedi" in html
    assert 'class="errors"' in field_block(html, "red_gerekcesi")
    assert 'class="errors"' in field_block(html, "tutar")
    assert 'class="errors"' not in field_block(html, "sonuc")
    assert '<option value="olumsuz" selected' in field_block(html, "sonuc")
    assert task(db, task_id).state == TaskState.OPEN and task(db, task_id).assignee is None
    assert read(db, lambda s: s.scalar(select(func.count()).select_from(AuditEvent))) == events_before


def test_a_hidden_conditional_field_is_not_required_and_its_value_is_dropped(task_id, signed_in, db):
    b = signed_in("idari1")
    response = b.post(f"/tasks/{task_id}", {"sonuc": "olumlu", "red_gerekcesi": "eski yanıt", "acil__present": "1"})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    done = task(db, task_id)
    assert done.state == TaskState.COMPLETED and done.completed_by == "idari1"
    data = read(db, lambda s: instances.show(s, Actor.system(), done.instance_id).data)
    assert data["sonuc"] == "olumlu" and data["acil"] is False and data.get("red_gerekcesi") is None


def test_valid_submission_with_a_file_completes_the_task_and_stores_the_file(task_id, signed_in, db):
    b = signed_in("idari1")
    payload = {
        "sonuc": "kismen_olumlu",
        "red_gerekcesi": "Bütçe yetersiz.",
        "acil__present": "1",
        "acil": "true",
        "ek": (io.BytesIO(b"%PDF-1.4 test"), "cevap.pdf"),
    }
    response = b.post(f"/tasks/{task_id}", payload, content_type="multipart/form-data", follow_redirects=True)
    assert "Görev tamamlandı." in response.get_data(as_text=True)
    done = task(db, task_id)
    assert done.state == TaskState.COMPLETED
    data = read(db, lambda s: instances.show(s, Actor.system(), done.instance_id).data)
    assert data["ek"]["filename"] == "cevap.pdf" and data["acil"] is True
    row = read(db, lambda s: s.scalars(select(Attachment)).one())
    assert (row.content_type, row.task_id, row.field_name) == ("application/pdf", task_id, "ek")
    next_task = read(
        db,
        lambda s: s.scalar(select(HumanTask).where(HumanTask.instance_id == done.instance_id, HumanTask.id != task_id)),
    )
    assert next_task.bpmn_id == "Task_onay"


@pytest.mark.parametrize(
    ("filename", "content", "message"),
    [
        ("virus.exe", b"MZ\x90\x00", "Kabul edilen türler"),
        ("sahte.pdf", b"MZ\x90\x00 not a pdf", "yanlış adlandırılmış"),
    ],
)
def test_refused_uploads_leave_the_task_open(task_id, signed_in, db, filename, content, message):
    b = signed_in("idari1")
    payload = {"sonuc": "olumlu", "ek": (io.BytesIO(content), filename)}
    response = b.post(f"/tasks/{task_id}", payload, content_type="multipart/form-data")
    assert response.status_code == 400
    assert message in field_block(response.get_data(as_text=True), "ek")
    assert task(db, task_id).state == TaskState.OPEN
    assert read(db, lambda s: s.scalars(select(Attachment)).all()) == []


def test_too_large_upload_is_refused_with_a_turkish_message(task_id, signed_in, app):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    b = signed_in("idari1")
    payload = {"sonuc": "olumlu", "ek": (io.BytesIO(b"%PDF-" + b"x" * 5000), "buyuk.pdf")}
    response = b.post(f"/tasks/{task_id}", payload, content_type="multipart/form-data")
    assert response.status_code == 413 and "boyuttan büyük" in response.get_data(as_text=True)


@pytest.mark.parametrize("username", ["zabita.memur", "fenisleri.mudur"])
def test_users_who_may_not_see_the_task_get_404_and_no_data(task_id, signed_in, username):
    b = signed_in(username)
    for response in (b.get(f"/tasks/{task_id}"), b.post(f"/tasks/{task_id}", {"sonuc": "olumlu"})):
        assert response.status_code == 404
        html = response.get_data(as_text=True)
        assert APPLICANT not in html and "DLK-2026-000042" not in html


def test_an_auditor_sees_the_task_read_only_with_the_applicant_masked(task_id, signed_in, db):
    b = signed_in("denetci1")
    html = b.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert APPLICANT not in html and "A*** Y***" in html and "100******46" in html
    assert "yalnızca görüntüleyebilirsiniz" in html and 'id="task-form"' not in html
    assert b.post(f"/tasks/{task_id}", {"sonuc": "olumlu"}).status_code == 302
    assert task(db, task_id).state == TaskState.OPEN


def test_comments_on_the_task_page_are_saved_audited_and_refused_when_empty(task_id, signed_in, db):
    b = signed_in("idari1")
    instance_id = task(db, task_id).instance_id
    page = f"/tasks/{task_id}"
    response = b.post(
        f"/instances/{instance_id}/comments", {"body": "Muhtarlıkla görüşüldü.", "task_id": str(task_id), "next": page}
    )
    assert response.status_code == 302 and response.headers["Location"] == page + "#yorumlar"
    assert "Muhtarlıkla görüşüldü." in b.get(page).get_data(as_text=True)
    refused = b.post(f"/instances/{instance_id}/comments", {"body": "   ", "next": page}, follow_redirects=True)
    assert "Yorum boş olamaz." in refused.get_data(as_text=True)
    auditor = signed_in("denetci1")
    assert "Yorumu kaydet" not in auditor.get(page).get_data(as_text=True)
    auditor.post(f"/instances/{instance_id}/comments", {"body": "denetçi notu"})
    outsider = signed_in("zabita.memur")
    assert outsider.post(f"/instances/{instance_id}/comments", {"body": "sızma"}).status_code == 404
    bodies = read(db, lambda s: [c.body for c in s.scalars(select(Comment))])
    assert bodies == ["Muhtarlıkla görüşüldü."]
    assert (
        read(db, lambda s: s.scalar(select(AuditEvent.task_id).where(AuditEvent.action == "comment.added"))) == task_id
    )


def test_claim_and_unclaim_from_the_task_page(task_id, signed_in, db):
    b = signed_in("idari2")
    html = b.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "Üstlen" in html
    assert b.post(f"/tasks/{task_id}/claim", {"next": f"/tasks/{task_id}"}).headers["Location"] == f"/tasks/{task_id}"
    assert task(db, task_id).assignee == "idari2"
    other = signed_in("idari1")
    assert "siz tamamlayamazsınız" in other.get(f"/tasks/{task_id}").get_data(as_text=True)
    refused = other.post(f"/tasks/{task_id}", {"sonuc": "olumlu"}, follow_redirects=True)
    assert "idari2" in refused.get_data(as_text=True) and task(db, task_id).state == TaskState.CLAIMED
    b.post(f"/tasks/{task_id}/unclaim")
    assert task(db, task_id).assignee is None


def test_completed_task_page_says_it_is_closed(task_id, signed_in):
    b = signed_in("idari1")
    b.post(f"/tasks/{task_id}", {"sonuc": "olumlu"})
    html = b.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "Görev kapandı" in html and 'id="task-form"' not in html


def test_the_form_follows_the_chosen_language(task_id, signed_in):
    b = signed_in("idari1")
    b.get("/lang/en")
    html = b.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "Petition review" in html and "Outcome" in html and "Give a reason when negative" in html
    assert "Dilekçe incelemesi" not in html
    response = b.post(f"/tasks/{task_id}", {"sonuc": "olumsuz"})
    assert response.status_code == 400 and "Correct the errors and send again" in response.get_data(as_text=True)
