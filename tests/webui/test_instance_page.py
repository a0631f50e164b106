"""Start pages (``/start``, ``/start/<key>``) and the instance page (``/instances/<id>``): who may
start what, initial form validation, the case with its files and diagram, 404 for outsiders."""

from __future__ import annotations

import io

import pytest
from factories import deploy, read, start
from sqlalchemy import func, select
from web_client import deploy_web

from engine.models import Attachment, AuditEvent, HumanTask, ProcessInstance

APPLICANT = "Mehmet Öztürk"


@pytest.fixture
def web(db):
    deploy_web(db)
    return db


def start_case(db, **kwargs):
    data = {"basvuran_ad_soyad": APPLICANT, "kanal": "eposta"}
    return start(db, "web_dilekce", username="idari1", data=data, business_key="DLK-9", **kwargs)


class TestStartPages:
    def test_lists_only_what_the_user_may_start(self, web, signed_in):
        deploy(web, "coklu_grup.bpmn")
        idari = signed_in("idari1").get("/start").get_data(as_text=True)
        assert "Web test dilekçesi" in idari and "Çok gruplu görev" in idari
        zabita = signed_in("zabita.memur").get("/start").get_data(as_text=True)
        assert "Web test dilekçesi" not in zabita and "Çok gruplu görev" in zabita
        assert signed_in("zabita.memur").get("/start/web_dilekce").status_code == 403
        assert signed_in("idari1").get("/start/yok_boyle").status_code == 404

    def test_start_form_shows_the_initial_fields(self, web, signed_in):
        html = signed_in("idari1").get("/start/web_dilekce").get_data(as_text=True)
        for text in ('name="business_key"', 'name="subject"', 'name="basvuran_ad_soyad"', 'name="kanal"', "CİMER"):
            assert text in html

    def test_invalid_start_shows_errors_and_starts_nothing(self, web, signed_in):
        b = signed_in("idari1")
        response = b.post("/start/web_dilekce", {"business_key": "DLK-1", "basvuran_tckn": "12345678901"})
        assert response.status_code == 400
        html = response.get_data(as_text=True)
        assert html.count('class="errors"') == 3  # applicant name, TCKN, channel
        assert 'value="DLK-1"' in html
        assert read(web, lambda s: s.scalar(select(func.count()).select_from(ProcessInstance))) == 0

    def test_start_opens_the_first_task_when_it_is_the_users(self, web, signed_in):
        b = signed_in("idari1")
        data = {"business_key": "DLK-2026-1", "subject": "Gürültü", "basvuran_ad_soyad": APPLICANT, "kanal": "cimer"}
        response = b.post("/start/web_dilekce", data)
        instance = read(web, lambda s: s.scalars(select(ProcessInstance)).one())
        assert (instance.business_key, instance.subject, instance.started_by) == ("DLK-2026-1", "Gürültü", "idari1")
        task_id = read(web, lambda s: s.scalar(select(HumanTask.id).where(HumanTask.instance_id == instance.id)))
        assert response.status_code == 302 and response.headers["Location"] == f"/tasks/{task_id}"
        duplicate = b.post("/start/web_dilekce", data)
        assert duplicate.status_code == 409 and "zaten kayıtlı" in duplicate.get_data(as_text=True)
        assert read(web, lambda s: s.scalar(select(func.count()).select_from(ProcessInstance))) == 1

    def test_start_goes_to_the_case_when_the_first_task_is_someone_elses(self, web, signed_in):
        b = signed_in("zabita.memur")
        response = b.post("/start/web_yonlendirme", {"business_key": "X-1"}, follow_redirects=True)
        instance_id = read(web, lambda s: s.scalar(select(ProcessInstance.id)))
        assert response.request.path == f"/instances/{instance_id}"
        html = response.get_data(as_text=True)
        assert "Süreç başlatıldı" in html and "Şef değerlendirsin" in html
        # The starter sees the case but the task's page is not theirs.
        assert 'href="/tasks/' not in html


class TestInstancePage:
    def test_shows_status_data_open_tasks_history_and_diagram(self, web, signed_in):
        instance_id = start_case(web, subject="Kaldırım")
        html = signed_in("idari1").get(f"/instances/{instance_id}").get_data(as_text=True)
        for text in ("Sürüyor", "Kaldırım", "DLK-9", APPLICANT, "Dilekçeyi incele", "Dosya açıldı", "eposta"):
            assert text in html
        assert 'id="bpmn-canvas"' in html and f"/instances/{instance_id}/diagram.bpmn" in html

    def test_the_auditor_sees_personal_data_masked(self, web, signed_in):
        instance_id = start_case(web)
        html = signed_in("denetci1").get(f"/instances/{instance_id}").get_data(as_text=True)
        assert APPLICANT not in html and "M*** Ö***" in html

    @pytest.mark.parametrize("username", ["zabita.memur", "sekreter1"])
    def test_outsiders_get_404_for_the_page_its_diagram_and_its_files(self, web, signed_in, username):
        instance_id = start_case(web)
        insider = signed_in("idari1")
        insider.post(
            f"/instances/{instance_id}/attachments",
            {"file": (io.BytesIO(b"%PDF-1.7 ek"), "ek.pdf")},
            content_type="multipart/form-data",
        )
        attachment_id = read(web, lambda s: s.scalar(select(Attachment.id)))
        b = signed_in(username)
        for path in (
            f"/instances/{instance_id}",
            f"/instances/{instance_id}/diagram.bpmn",
            f"/attachments/{attachment_id}",
        ):
            response = b.get(path)
            assert response.status_code == 404, path
            assert APPLICANT not in response.get_data(as_text=True)
        assert b.get("/instances/999999").status_code == 404

    def test_diagram_source_is_the_deployed_bpmn(self, web, signed_in):
        instance_id = start_case(web)
        response = signed_in("idari1").get(f"/instances/{instance_id}/diagram.bpmn")
        assert response.status_code == 200 and response.mimetype == "application/xml"
        assert b"BPMNDiagram" in response.data and b'id="Task_inceleme"' in response.data

    def test_upload_and_download_an_attachment(self, web, signed_in):
        instance_id = start_case(web)
        b = signed_in("idari1")
        response = b.post(
            f"/instances/{instance_id}/attachments",
            {"file": (io.BytesIO(b"Tutanak metni\n"), "tutanak.txt"), "next": f"/instances/{instance_id}"},
            content_type="multipart/form-data",
        )
        assert response.headers["Location"] == f"/instances/{instance_id}#ekler"
        row = read(web, lambda s: s.scalars(select(Attachment)).one())
        assert row.content_type.startswith("text/plain") and row.uploaded_by == "idari1"
        assert read(web, lambda s: s.scalar(select(AuditEvent.action).where(AuditEvent.action == "attachment.added")))
        assert "tutanak.txt" in b.get(f"/instances/{instance_id}").get_data(as_text=True)
        with signed_in("denetci1").get(f"/attachments/{row.id}") as download:
            assert download.status_code == 200 and download.data == b"Tutanak metni\n"
            assert "attachment" in download.headers["Content-Disposition"]
            assert download.headers["X-Content-Type-Options"] == "nosniff"
        downloaded = read(
            web,
            lambda s: s.execute(
                select(AuditEvent.actor, AuditEvent.instance_id, AuditEvent.details).where(
                    AuditEvent.action == "attachment.downloaded"
                )
            ).all(),
        )
        assert downloaded == [("denetci1", instance_id, {"attachment_id": row.id, "filename": "tutanak.txt"})]

    def test_refused_upload_says_why_and_stores_nothing(self, web, signed_in):
        instance_id = start_case(web)
        b = signed_in("idari1")
        response = b.post(
            f"/instances/{instance_id}/attachments",
            {"file": (io.BytesIO(b"<script>alert(1)</script>"), "sayfa.html")},
            content_type="multipart/form-data",
            follow_redirects=True,
        )
        assert "Bu dosya türü kabul edilmiyor." in response.get_data(as_text=True)
        assert read(web, lambda s: s.scalars(select(Attachment)).all()) == []
        auditor = signed_in("denetci1")
        auditor.post(
            f"/instances/{instance_id}/attachments",
            {"file": (io.BytesIO(b"%PDF-1.4"), "x.pdf")},
            content_type="multipart/form-data",
        )
        assert read(web, lambda s: s.scalars(select(Attachment)).all()) == []

    def test_unknown_pages_answer_in_turkish(self, web, signed_in):
        response = signed_in("idari1").get("/boyle-bir-sayfa-yok")
        assert response.status_code == 404 and "bulunamadı" in response.get_data(as_text=True)
