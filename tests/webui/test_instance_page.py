"""Start pages (``/start``, ``/start/<key>``) and the instance page (``/instances/<id>``): who may
start what, initial form validation, the case with its files and diagram, 404 for outsiders, and the
events a case waits for, recorded from its page by those who work on it."""

from __future__ import annotations

import io
from zoneinfo import ZoneInfo

import pytest
from factories import act, deploy, deploy_flow, read, start
from sqlalchemy import func, select
from web_client import deploy_web

from engine import clock, definitions, instances, tasks
from engine.models import Attachment, AuditEvent, HumanTask, MessageSubscription, ProcessInstance, TaskState

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


# ---------------------------------------------------------------- events the case waits for

EVENT_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="Definitions_web_olay" targetNamespace="http://kalem.local/bpmn">
  <bpmn:message id="Message_belge" name="belge_geldi">
    <bpmn:extensionElements><spiffworkflow:messageVariable>belge</spiffworkflow:messageVariable></bpmn:extensionElements>
  </bpmn:message>
  <bpmn:process id="web_olay" name="Eksik belge bekleyen dosya" isExecutable="true">
    <bpmn:laneSet id="LaneSet_1">
      <bpmn:lane id="Lane_idari" name="idari_isler">
        <bpmn:flowNodeRef>Start_olay</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>Task_incele</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>Catch_belge</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>Task_degerlendir</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>End_olay</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="Start_olay"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="Task_incele" name="Eksik belgeyi iste">
      <bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:intermediateCatchEvent id="Catch_belge" name="Eksik belge geldi">
      <bpmn:incoming>F2</bpmn:incoming><bpmn:outgoing>F3</bpmn:outgoing>
      <bpmn:messageEventDefinition messageRef="Message_belge" />
    </bpmn:intermediateCatchEvent>
    <bpmn:userTask id="Task_degerlendir" name="Belgeyi değerlendir">
      <bpmn:incoming>F3</bpmn:incoming><bpmn:outgoing>F4</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="End_olay"><bpmn:incoming>F4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Start_olay" targetRef="Task_incele" />
    <bpmn:sequenceFlow id="F2" sourceRef="Task_incele" targetRef="Catch_belge" />
    <bpmn:sequenceFlow id="F3" sourceRef="Catch_belge" targetRef="Task_degerlendir" />
    <bpmn:sequenceFlow id="F4" sourceRef="Task_degerlendir" targetRef="End_olay" />
  </bpmn:process>
</bpmn:definitions>
""".encode()
EVENT_FORM = 'name="message" value="belge_geldi"'
WITHDRAWAL_FORM = 'name="message" value="basvuru_geri_cekildi"'


def complete_only_task(db, username: str, instance_id: int, data: dict | None = None) -> None:
    def do(session, actor):
        [task] = instances.show(session, actor, instance_id).open_tasks
        tasks.complete(session, actor, task.id, data or {})

    act(db, username, do)


def audit_rows(db, action: str) -> list[dict]:
    return read(db, lambda s: [e.details for e in s.scalars(select(AuditEvent).where(AuditEvent.action == action))])


def audit_total(db, instance_id: int) -> int:
    """Audit rows about the case (signing in is audited too, but about no case)."""
    return read(
        db,
        lambda s: s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.instance_id == instance_id)),
    )


@pytest.fixture
def waiting_case(db) -> int:
    """A case of idari_isler that waits for the message ``belge_geldi`` ("Eksik belge geldi")."""
    act(db, None, lambda s, a: definitions.deploy(s, a, [("web_olay.bpmn", EVENT_BPMN)]))
    instance_id = start(db, "web_olay", username="idari1", business_key="OLAY-1")
    complete_only_task(db, "idari1", instance_id)
    return instance_id


class TestAwaitedEvents:
    def test_the_form_is_there_for_those_who_may_act_and_only_while_the_case_waits(self, db, signed_in, waiting_case):
        page = f"/instances/{waiting_case}"
        # The clerk who worked on it, a colleague of the group the case is offered to, the Özel Kalem Müdürü.
        for username in ("idari1", "idari2", "ok.mudur"):
            html = signed_in(username).get(page).get_data(as_text=True)
            assert EVENT_FORM in html, username
            assert "Eksik belge geldi" in html and 'name="aciklama"' in html and "Beklenen olayı kaydet" in html
        # The auditor sees the case, not the form; outsiders do not see the case at all.
        auditor = signed_in("denetci1").get(page)
        assert auditor.status_code == 200 and EVENT_FORM not in auditor.get_data(as_text=True)
        assert signed_in("zabita.memur").get(page).status_code == 404
        # A case that does not wait for the message yet has no form.
        not_yet = start(db, "web_olay", username="idari1", business_key="OLAY-2")
        html = signed_in("idari1").get(f"/instances/{not_yet}").get_data(as_text=True)
        assert "Eksik belgeyi iste" in html and 'name="message"' not in html

    def test_recording_the_event_delivers_the_message_and_is_audited(self, db, signed_in, waiting_case):
        browser = signed_in("idari2")
        response = browser.post(
            f"/instances/{waiting_case}/messages", {"message": "belge_geldi", "aciklama": "Tapu fotokopisi geldi."}
        )
        assert response.status_code == 302
        assert response.headers["Location"] == f"/instances/{waiting_case}#beklenenler"
        html = browser.get(f"/instances/{waiting_case}").get_data(as_text=True)
        assert "Olay kaydedildi: Eksik belge geldi" in html
        assert EVENT_FORM not in html and "Belgeyi değerlendir" in html
        [details] = audit_rows(db, "message.correlated")
        assert details["name"] == "belge_geldi" and details["business_key"] == "OLAY-1"
        assert details["payload"] == {"aciklama": "Tapu fotokopisi geldi."}
        data = act(db, None, lambda s, a: instances.show(s, a, waiting_case).data)
        assert data["belge"] == {"aciklama": "Tapu fotokopisi geldi."}
        assert read(
            db, lambda s: s.scalars(select(AuditEvent.actor).where(AuditEvent.action == "message.correlated")).all()
        ) == ["idari2"]

        # Sent again (a second tab, a double click): nothing waits any more; refused, nothing changes.
        before = audit_total(db, waiting_case)
        again = browser.post(f"/instances/{waiting_case}/messages", {"message": "belge_geldi", "aciklama": "tekrar"})
        assert again.status_code == 302
        html = browser.get(again.headers["Location"]).get_data(as_text=True)
        assert "Süreç &#39;belge_geldi&#39; mesajını beklemiyor." in html
        assert audit_total(db, waiting_case) == before and len(audit_rows(db, "message.correlated")) == 1

    def test_refusals_change_nothing(self, db, signed_in, waiting_case):
        path = f"/instances/{waiting_case}/messages"
        before = audit_total(db, waiting_case)
        # Without the CSRF token.
        plain = signed_in("idari1").client.post(path, data={"message": "belge_geldi", "aciklama": "x"})
        assert plain.status_code == 400
        # The auditor may see the case but does not work on it.
        auditor = signed_in("denetci1")
        refused = auditor.post(path, {"message": "belge_geldi", "aciklama": "x"})
        assert refused.status_code == 302
        assert "yalnız dosyada görevi olanlar" in auditor.get(refused.headers["Location"]).get_data(as_text=True)
        # An outsider: as if the case did not exist.
        assert signed_in("zabita.memur").post(path, {"message": "belge_geldi", "aciklama": "x"}).status_code == 404
        # A message the case does not wait for.
        clerk = signed_in("idari1")
        other = clerk.post(path, {"message": "ucret_odendi", "aciklama": "x"})
        assert "mesajını beklemiyor" in clerk.get(other.headers["Location"]).get_data(as_text=True)
        assert audit_total(db, waiting_case) == before
        waiting = read(db, lambda s: s.scalars(select(MessageSubscription.message_name)).all())
        assert waiting == ["belge_geldi"]

    def test_a_withdrawal_is_recorded_with_its_own_fields(self, db, signed_in):
        deploy_flow(db, "basvuru")
        today = clock.now().astimezone(ZoneInfo("Europe/Istanbul")).date().isoformat()
        # No business key: the page delivers to the case itself.
        instance_id = start(db, "f1_dilekce", username="idari1")
        register = {
            "kanal": "dilekce_elden",
            "alinma_tarihi": today,
            "basvuru_turu": "sikayet",
            "imza_var": True,
            "cevap_kanali": "posta",
            "kisi_turu": "gercek",
            "basvuran_ad_soyad": APPLICANT,
            "basvuran_adres": "Atatürk Cad. No 5, Konak",
            "konu": "Kaldırım",
            "konu_kategorisi": "yol",
            "basvuru_metni": "Kaldırım taşları kırık.",
            "sdp_kodu": "642.02",
        }
        complete_only_task(db, "idari1", instance_id, register)
        browser = signed_in("idari1")
        html = browser.get(f"/instances/{instance_id}").get_data(as_text=True)
        assert WITHDRAWAL_FORM in html and "Başvuru geri çekildi" in html
        for field in ('name="tarih"', 'name="kanal"', 'value="telefon_tutanagi"', 'name="aciklama"'):
            assert field in html
        path = f"/instances/{instance_id}/messages"
        before = audit_total(db, instance_id)
        bad = browser.post(path, {"message": "basvuru_geri_cekildi", "tarih": "2099-01-01", "kanal": "faks"})
        assert bad.status_code == 302 and audit_total(db, instance_id) == before
        assert "Form verisi geçersiz." in browser.get(bad.headers["Location"]).get_data(as_text=True)
        ok = browser.post(path, {"message": "basvuru_geri_cekildi", "tarih": today, "kanal": "telefon_tutanagi"})
        assert ok.status_code == 302
        assert "Olay kaydedildi: Başvuru geri çekildi" in browser.get(ok.headers["Location"]).get_data(as_text=True)
        states = read(
            db,
            lambda s: {
                t.bpmn_id: t.state for t in s.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id))
            },
        )
        assert states["Task_prereview"] == TaskState.CANCELLED and states["Task_geri_cekme"] == TaskState.OPEN
        [details] = audit_rows(db, "message.correlated")
        assert details["payload"] == {"tarih": today, "kanal": "telefon_tutanagi", "aciklama": None}
        assert details["business_key"] is None
