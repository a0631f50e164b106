"""The designer pages (``/designer``, ``/designer/forms``): who gets in, the process list, the
template, drafts, checks and deploys through the JSON endpoints, upload and download, the diff and
the migration of running cases."""

from __future__ import annotations

import io
import json

import pytest
from factories import DATA, act, open_tasks, read, start
from sqlalchemy import func, select

from engine import definitions, tasks
from engine.models import AuditEvent, ProcessDefinition, ProcessInstance
from engine.models.design import DesignDraft

WEB = DATA / "web"
V1 = (WEB / "designer_surec.bpmn").read_text(encoding="utf-8")
FORM = (WEB / "designer_kayit.form.json").read_text(encoding="utf-8")


def with_task(form_key: str) -> str:
    """V1 with a user task Task_kontrol (form ``form_key``) between Task_kayit and the end."""
    xml = V1.replace(
        'sourceRef="Task_kayit" targetRef="End_tasarim"', 'sourceRef="Task_kayit" targetRef="Task_kontrol"'
    )
    xml = xml.replace(
        "<bpmn:incoming>Flow_2</bpmn:incoming></bpmn:endEvent>", "<bpmn:incoming>Flow_3</bpmn:incoming></bpmn:endEvent>"
    )
    task = (
        '<bpmn:userTask id="Task_kontrol" name="Kontrol et"><bpmn:extensionElements><spiffworkflow:properties>'
        f'<spiffworkflow:property name="formKey" value="{form_key}" /></spiffworkflow:properties>'
        "</bpmn:extensionElements><bpmn:incoming>Flow_2</bpmn:incoming><bpmn:outgoing>Flow_3</bpmn:outgoing>"
        '</bpmn:userTask><bpmn:sequenceFlow id="Flow_3" sourceRef="Task_kontrol" targetRef="End_tasarim" />'
    )
    xml = xml.replace(
        "<bpmn:flowNodeRef>End_tasarim</bpmn:flowNodeRef>",
        "<bpmn:flowNodeRef>Task_kontrol</bpmn:flowNodeRef><bpmn:flowNodeRef>End_tasarim</bpmn:flowNodeRef>",
    )
    return xml.replace("  </bpmn:process>", task + "\n  </bpmn:process>")


@pytest.fixture
def v1(db):
    files = [("designer_kayit.form.json", FORM.encode()), ("designer_surec.bpmn", V1.encode())]
    act(db, None, lambda s, a: definitions.deploy(s, a, files, change_note="ilk sürüm"))
    return db


@pytest.fixture
def designer(signed_in):
    return signed_in("tasarimci1")


def post_json(b, path: str, payload: dict) -> tuple[int, dict]:
    response = b.client.post(path, json=payload, headers={"X-CSRFToken": b.token("/designer")})
    return response.status_code, response.get_json()


def versions(db) -> list[int]:
    return read(db, lambda s: list(s.scalars(select(ProcessDefinition.version).order_by(ProcessDefinition.version))))


class TestAccess:
    @pytest.mark.parametrize("path", ["/designer", "/designer/forms", "/designer/processes/tasarim_testi/1"])
    def test_clerks_are_refused(self, v1, signed_in, path):
        assert signed_in("idari1").get(path).status_code == 403

    def test_json_endpoints_answer_json_refusals(self, v1, signed_in):
        status, body = post_json(signed_in("idari1"), "/designer/check", {"name": "a.bpmn", "content": V1})
        assert status == 403 and body["error"]["code"] == "not_allowed"

    def test_anonymous_users_go_to_the_login(self, v1, browser):
        response = browser.get("/designer")
        assert response.status_code == 302 and "/login" in response.headers["Location"]

    def test_json_posts_need_the_csrf_token(self, v1, designer):
        response = designer.client.post("/designer/check", json={"name": "a.bpmn", "content": V1})
        assert response.status_code == 400
        assert read(v1, lambda s: s.scalar(select(func.count(DesignDraft.id)))) == 0


class TestListAndTemplate:
    def test_lists_processes_with_versions_and_running_cases(self, v1, designer):
        start(v1, "tasarim_testi")
        html = designer.get("/designer").get_data(as_text=True)
        assert 'data-process="tasarim_testi" data-version="1"' in html
        assert "ilk sürüm" in html and "Tasarım testi" in html

    def test_new_process_from_the_template_opens_in_the_modeler(self, v1, designer):
        response = designer.post(
            "/designer/new",
            {"key": "dernek_talebi", "name": "Dernek talebi", "group": "idari_isler"},
            token_from="/designer",
        )
        assert response.status_code == 303
        editor = designer.get(response.headers["Location"]).get_data(as_text=True)
        assert 'data-name="dernek_talebi.bpmn"' in editor and "bpmn-modeler.production.min.js" in editor
        draft_id = response.headers["Location"].rsplit("/", 1)[1]
        xml = designer.get(f"/designer/drafts/{draft_id}/source").get_data(as_text=True)
        assert 'name="idari_isler"' in xml and "dernek_talebi_adim1" in xml
        assert "dernek_talebi_adim1.form.json" in designer.get("/designer").get_data(as_text=True)

    def test_bad_template_input_is_shown_beside_each_field(self, v1, designer):
        response = designer.post("/designer/new", {"key": "X", "name": "", "group": "yok"}, token_from="/designer")
        assert response.status_code == 400
        assert response.get_data(as_text=True).count('class="errors"') == 3
        assert read(v1, lambda s: s.scalar(select(func.count(DesignDraft.id)))) == 0


class TestCheckSaveDeploy:
    def test_check_reports_problems_by_element(self, v1, designer):
        status, body = post_json(
            designer, "/designer/check", {"name": "designer_surec.bpmn", "content": with_task("yok")}
        )
        assert status == 200
        assert [(p["element_id"], p["file"]) for p in body["problems"]] == [("Task_kontrol", "designer_surec.bpmn")]
        assert "yok" in body["problems"][0]["message"]
        _status, clean = post_json(designer, "/designer/check", {"name": "designer_surec.bpmn", "content": V1})
        assert clean == {"problems": []}
        assert versions(v1) == [1]

    def test_save_draft_then_update_it(self, v1, designer):
        status, body = post_json(
            designer, "/designer/drafts", {"name": "designer_surec.bpmn", "content": V1, "base_version": 1}
        )
        assert status == 200 and body["url"] == f"/designer/drafts/{body['id']}"
        _status, again = post_json(
            designer,
            "/designer/drafts",
            {"name": "designer_surec.bpmn", "content": with_task("x"), "draft_id": body["id"]},
        )
        assert again["id"] == body["id"]
        draft = read(v1, lambda s: (d := s.get(DesignDraft, body["id"])) and (d.base_version, d.content))
        assert draft[0] == 1 and "Task_kontrol" in draft[1]

    def test_bad_draft_name_is_a_json_error(self, v1, designer):
        status, body = post_json(designer, "/designer/drafts", {"name": "../x.bpmn", "content": V1})
        assert status == 400 and body["error"]["fields"]["name"]

    def test_deploy_needs_a_change_note(self, v1, designer):
        status, body = post_json(
            designer, "/designer/deploy", {"name": "designer_surec.bpmn", "content": with_task("designer_kayit")}
        )
        assert status == 400 and "change_note" in body["error"]["fields"]
        assert versions(v1) == [1]

    def test_deploy_refused_lists_the_problems_and_changes_nothing(self, v1, designer):
        payload = {"name": "designer_surec.bpmn", "content": with_task("yok"), "change_note": "kontrol"}
        status, body = post_json(designer, "/designer/deploy", payload)
        assert status == 400 and body["problems"][0]["element_id"] == "Task_kontrol"
        assert versions(v1) == [1]

    def test_deploy_creates_the_next_version_and_links_to_migration(self, v1, designer):
        payload = {
            "name": "designer_surec.bpmn",
            "content": with_task("designer_kayit"),
            "change_note": "Kontrol adımı eklendi",
            "base_version": 1,
        }
        status, body = post_json(designer, "/designer/deploy", payload)
        assert status == 200 and body["created"]
        assert body["links"][0]["migrate"] == "/designer/processes/tasarim_testi/migrate?to=2"
        assert versions(v1) == [1, 2]
        note = read(v1, lambda s: s.scalar(select(ProcessDefinition.change_note).where(ProcessDefinition.version == 2)))
        assert note == "Kontrol adımı eklendi"

    def test_deploy_over_a_newer_version_is_a_conflict(self, v1, designer, signed_in):
        first = {
            "name": "designer_surec.bpmn",
            "content": with_task("designer_kayit"),
            "change_note": "a",
            "base_version": 1,
        }
        assert post_json(signed_in("tasarimci2"), "/designer/deploy", first)[0] == 200
        status, body = post_json(designer, "/designer/deploy", {**first, "content": V1, "change_note": "b"})
        assert status == 409 and "v2" in body["error"]["message"]
        assert versions(v1) == [1, 2]


class TestFiles:
    def test_download_a_version(self, v1, designer):
        response = designer.get("/designer/processes/tasarim_testi/1/source.bpmn?download=1")
        assert response.headers["Content-Disposition"] == 'attachment; filename="designer_surec.bpmn"'
        assert b'id="Task_kayit"' in response.data

    def test_upload_keeps_the_file_as_a_draft_based_on_the_latest_version(self, v1, designer):
        data = {"file": (io.BytesIO(with_task("designer_kayit").encode()), "designer_surec.bpmn")}
        response = designer.post("/designer/upload", data, token_from="/designer", content_type="multipart/form-data")
        assert response.status_code == 303 and "/designer/drafts/" in response.headers["Location"]
        draft = read(v1, lambda s: s.scalars(select(DesignDraft)).one())
        assert (draft.name, draft.key, draft.base_version) == ("designer_surec.bpmn", "tasarim_testi", 1)

    def test_upload_of_another_file_type_is_refused(self, v1, designer):
        data = {"file": (io.BytesIO(b"x"), "notlar.txt")}
        response = designer.post("/designer/upload", data, token_from="/designer", content_type="multipart/form-data")
        assert response.status_code == 303
        assert "Dosya adı geçersiz" in designer.get("/designer").get_data(as_text=True)
        assert read(v1, lambda s: s.scalar(select(func.count(DesignDraft.id)))) == 0


@pytest.fixture
def v2_with_a_running_case(v1):
    instance_id = start(v1, "tasarim_testi")
    files = [("designer_surec.bpmn", with_task("designer_kayit").encode())]
    act(v1, None, lambda s, a: definitions.deploy(s, a, files, change_note="kontrol"))
    return instance_id


class TestDiffAndMigration:
    def test_diff_page_lists_the_changes(self, v1, designer, v2_with_a_running_case):
        html = designer.get("/designer/processes/tasarim_testi/diff?from=1&to=2").get_data(as_text=True)
        assert 'data-element-id="Task_kontrol" data-status="added"' in html
        assert 'data-element-id="Flow_2" data-status="changed"' in html
        assert designer.get("/designer/processes/yok/diff").status_code == 404

    def test_dry_run_then_move_then_the_case_continues_on_v2(self, v1, designer, v2_with_a_running_case):
        instance_id = v2_with_a_running_case
        plan = designer.get("/designer/processes/tasarim_testi/migrate?to=2").get_data(as_text=True)
        assert f'name="instance_ids" value="{instance_id}"' in plan
        assert read(v1, lambda s: s.get(ProcessInstance, instance_id).definition.version) == 1
        response = designer.post(
            "/designer/processes/tasarim_testi/migrate",
            {"to": "2", "instance_ids": [str(instance_id)], "mapping": ""},
            token_from="/designer",
        )
        assert response.status_code == 200 and "Taşındı" in response.get_data(as_text=True)
        assert read(v1, lambda s: s.get(ProcessInstance, instance_id).definition.version) == 2
        events = read(
            v1, lambda s: s.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "instance.migrated"))
        )
        assert events == 1
        [task] = [t for t in open_tasks(v1, "idari1") if t["instance_id"] == instance_id]
        act(v1, "idari1", lambda s, a: tasks.complete(s, a, task["id"], {"konu": "Deneme"}))
        assert [t["bpmn_id"] for t in open_tasks(v1, "idari1") if t["instance_id"] == instance_id] == ["Task_kontrol"]

    def test_a_bad_mapping_line_is_explained_and_nothing_moves(self, v1, designer, v2_with_a_running_case):
        page = designer.get("/designer/processes/tasarim_testi/migrate?to=2&mapping=sadece_bir_kelime")
        assert "eski_id=yeni_id" in page.get_data(as_text=True)
        response = designer.post(
            "/designer/processes/tasarim_testi/migrate",
            {"to": "2", "instance_ids": [str(v2_with_a_running_case)], "mapping": "bozuk"},
            token_from="/designer",
        )
        assert response.status_code == 303
        assert read(v1, lambda s: s.get(ProcessInstance, v2_with_a_running_case).definition.version) == 1


class TestFormDesigner:
    def test_lists_forms_and_opens_one(self, v1, designer):
        assert 'data-form="designer_kayit"' in designer.get("/designer/forms").get_data(as_text=True)
        editor = designer.get("/designer/forms/designer_kayit/1").get_data(as_text=True)
        assert 'data-name="designer_kayit.form.json"' in editor and "&#34;konu&#34;" in editor

    def test_new_form_draft_then_preview_and_deploy(self, v1, designer):
        response = designer.post(
            "/designer/forms/new", {"key": "ek_bilgi", "title": "Ek bilgi"}, token_from="/designer"
        )
        assert response.status_code == 303
        source = {
            "key": "ek_bilgi",
            "title": "Ek bilgi",
            "fields": [
                {"name": "not_metni", "type": "text", "label": "Not", "required": True},
                {
                    "name": "oncelik",
                    "type": "choice",
                    "label": "Öncelik",
                    "choices": [{"value": "acil", "label": "Acil"}],
                },
            ],
        }
        status, preview = post_json(designer, "/designer/forms/preview", {"content": json.dumps(source)})
        assert status == 200 and preview["problems"] == []
        assert 'id="f-not_metni"' in preview["html"] and "Acil" in preview["html"]
        status, body = post_json(
            designer, "/designer/deploy", {"name": "ek_bilgi.form.json", "content": json.dumps(source)}
        )
        assert status == 200 and body["deployed"] == [
            {"key": "ek_bilgi", "version": 1, "kind": "form", "created": True}
        ]

    def test_preview_names_the_bad_field(self, v1, designer):
        source = {"key": "k", "title": "T", "fields": [{"name": "a", "type": "int", "label": "A", "max_length": 3}]}
        _status, preview = post_json(designer, "/designer/forms/preview", {"content": json.dumps(source)})
        assert preview["html"] == "" and preview["problems"][0]["field"] == "a"

    def test_duplicate_form_key_is_refused(self, v1, designer):
        response = designer.post("/designer/forms/new", {"key": "designer_kayit", "title": "X"}, token_from="/designer")
        assert response.status_code == 400 and "zaten var" in response.get_data(as_text=True)
