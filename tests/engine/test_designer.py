"""The process designer's engine functions: checks without deploying, drafts, deploys with a change
note, the new-process template, version diffs, diagrams for files without one, form previews."""

from __future__ import annotations

import json

import pytest
from factories import DATA, act, read, start
from sqlalchemy import func, select

from engine import audit, bpmn_xml, designer
from engine.errors import Conflict, InvalidInput, NotAllowed, NotFound
from engine.models import AuditEvent, FormDefinitionVersion, ProcessDefinition
from engine.models.design import DesignDraft

WEB = DATA / "web"
V1 = (WEB / "designer_surec.bpmn").read_text(encoding="utf-8")
FORM = ("designer_kayit.form.json", (WEB / "designer_kayit.form.json").read_bytes())
NEW_TASK = """<bpmn:userTask id="Task_kontrol" name="Kontrol et">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formKey" value="{form}" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>Flow_2</bpmn:incoming>
      <bpmn:outgoing>Flow_3</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="Flow_3" sourceRef="Task_kontrol" targetRef="End_tasarim" />"""


def with_new_task(form: str = "designer_kayit") -> str:
    """V1 with a user task "Task_kontrol" inserted between Task_kayit and the end."""
    xml = V1.replace('targetRef="End_tasarim" />', 'targetRef="Task_kontrol" />', 1)
    xml = xml.replace(
        "<bpmn:incoming>Flow_2</bpmn:incoming></bpmn:endEvent>", "<bpmn:incoming>Flow_3</bpmn:incoming></bpmn:endEvent>"
    )
    xml = xml.replace(
        "<bpmn:flowNodeRef>End_tasarim</bpmn:flowNodeRef>",
        "<bpmn:flowNodeRef>Task_kontrol</bpmn:flowNodeRef><bpmn:flowNodeRef>End_tasarim</bpmn:flowNodeRef>",
    )
    return xml.replace("  </bpmn:process>", "    " + NEW_TASK.format(form=form) + "\n  </bpmn:process>")


def deploy_v1(db) -> None:
    act(
        db,
        "tasarimci1",
        lambda s, a: designer.deploy(s, a, "designer_surec.bpmn", V1.encode(), change_note="ilk") and None,
    )


@pytest.fixture
def v1(db):
    act(db, None, lambda s, a: designer.definitions.deploy(s, a, [FORM]))
    deploy_v1(db)
    return db


def counts(db) -> tuple[int, int, int]:
    return read(
        db,
        lambda s: (
            s.scalar(select(func.count(ProcessDefinition.id))),
            s.scalar(select(func.count(FormDefinitionVersion.id))),
            s.scalar(select(func.count(AuditEvent.id))),
        ),
    )


class TestCheck:
    def test_unknown_form_is_reported_on_its_element_and_nothing_is_stored(self, v1):
        before = counts(v1)
        xml = with_new_task("olmayan_form").encode()
        problems = act(v1, "tasarimci1", lambda s, a: designer.check(s, a, "designer_surec.bpmn", xml))
        assert [(p.element_id, p.file) for p in problems] == [("Task_kontrol", "designer_surec.bpmn")]
        assert "olmayan_form" in str(problems[0].message)
        assert problems[0].line is not None
        assert counts(v1) == before

    def test_a_deployable_file_has_no_problems_and_is_not_deployed(self, v1):
        before = counts(v1)
        problems = act(
            v1, "tasarimci1", lambda s, a: designer.check(s, a, "designer_surec.bpmn", with_new_task().encode())
        )
        assert problems == []
        assert counts(v1) == before

    def test_checks_then_a_deploy_in_one_transaction_keep_the_audit_chain_whole(self, v1):
        def both(s, a):
            assert designer.check(s, a, "designer_surec.bpmn", with_new_task().encode()) == []
            assert designer.check(s, a, "designer_surec.bpmn", with_new_task("x_yok").encode())
            return designer.deploy(s, a, "designer_surec.bpmn", with_new_task().encode(), change_note="kontrol adımı")

        deployed = act(v1, "tasarimci1", both)
        assert [str(d) for d in deployed if d.kind == "process"] == ["tasarim_testi v2"]
        assert read(v1, audit.verify).ok

    def test_broken_xml_is_a_located_problem(self, v1):
        problems = act(v1, "tasarimci1", lambda s, a: designer.check(s, a, "x.bpmn", b"<bpmn:definitions"))
        assert len(problems) == 1 and problems[0].file == "x.bpmn" and problems[0].line == 1

    @pytest.mark.parametrize("name", ["../x.bpmn", "x.txt", "", "a b.bpmn"])
    def test_bad_file_names_are_refused(self, v1, name):
        with pytest.raises(InvalidInput):
            act(v1, "tasarimci1", lambda s, a: designer.check(s, a, name, V1.encode()))

    def test_only_designers_and_admins(self, v1):
        with pytest.raises(NotAllowed):
            act(v1, "idari1", lambda s, a: designer.check(s, a, "designer_surec.bpmn", V1.encode()))
        assert act(v1, "admin", lambda s, a: designer.check(s, a, "designer_surec.bpmn", V1.encode())) == []


class TestDeploy:
    def test_deploy_makes_a_new_version_with_its_change_note(self, v1):
        act(
            v1,
            "tasarimci1",
            lambda s, a: designer.deploy(
                s, a, "designer_surec.bpmn", with_new_task().encode(), change_note=" Kontrol eklendi ", base_version=1
            ),
        )
        versions = act(v1, "tasarimci1", designer.list_processes)[0].versions
        assert [(v.version, v.change_note) for v in versions] == [(2, "Kontrol eklendi"), (1, "ilk")]

    def test_change_note_is_required(self, v1):
        with pytest.raises(InvalidInput) as info:
            act(
                v1,
                "tasarimci1",
                lambda s, a: designer.deploy(s, a, "designer_surec.bpmn", with_new_task().encode(), change_note="  "),
            )
        assert "change_note" in info.value.field_errors

    def test_a_stale_base_version_is_a_conflict(self, v1):
        act(
            v1,
            "tasarimci2",
            lambda s, a: designer.deploy(
                s, a, "designer_surec.bpmn", with_new_task().encode(), change_note="v2", base_version=1
            ),
        )
        before = counts(v1)
        with pytest.raises(Conflict):
            act(
                v1,
                "tasarimci1",
                lambda s, a: designer.deploy(
                    s,
                    a,
                    "designer_surec.bpmn",
                    V1.replace("Kaydı yap", "Kaydet").encode(),
                    change_note="ad",
                    base_version=1,
                ),
            )
        assert counts(v1) == before

    def test_the_draft_used_is_deleted_after_deploy(self, v1):
        draft_id = act(
            v1,
            "tasarimci1",
            lambda s, a: designer.save_draft(s, a, "designer_surec.bpmn", with_new_task(), base_version=1).id,
        )
        act(
            v1,
            "tasarimci1",
            lambda s, a: designer.deploy(
                s, a, "designer_surec.bpmn", with_new_task().encode(), change_note="x", draft_id=draft_id
            ),
        )
        assert read(v1, lambda s: s.get(DesignDraft, draft_id)) is None


class TestDrafts:
    def test_save_list_load_and_update(self, db):
        first = act(db, "tasarimci1", lambda s, a: designer.save_draft(s, a, "a.bpmn", V1).id)
        again = act(
            db, "tasarimci1", lambda s, a: designer.save_draft(s, a, "a.bpmn", V1.replace("Geldi", "Başladı")).id
        )
        assert again == first
        act(db, "tasarimci1", lambda s, a: designer.save_draft(s, a, "f.form.json", '{"key": "benim_formum"}'))
        listed = act(db, "tasarimci1", lambda s, a: [(d.name, d.kind, d.key) for d in designer.list_drafts(s, a)])
        assert sorted(listed) == [("a.bpmn", "bpmn", "tasarim_testi"), ("f.form.json", "form", "benim_formum")]
        content = act(db, "tasarimci1", lambda s, a: designer.get_draft(s, a, first).content)
        assert "Başladı" in content

    def test_drafts_are_private(self, db):
        draft_id = act(db, "tasarimci1", lambda s, a: designer.save_draft(s, a, "a.bpmn", V1).id)
        assert act(db, "tasarimci2", designer.list_drafts) == []
        with pytest.raises(NotFound):
            act(db, "tasarimci2", lambda s, a: designer.get_draft(s, a, draft_id))
        with pytest.raises(NotFound):
            act(db, "tasarimci2", lambda s, a: designer.save_draft(s, a, "b.bpmn", V1, draft_id=draft_id))

    def test_unreadable_content_is_kept_as_a_draft(self, db):
        draft = act(
            db,
            "tasarimci1",
            lambda s, a: (d := designer.save_draft(s, a, "yarim.bpmn", "<bpmn:defin")) and (d.key, d.kind),
        )
        assert draft == (None, "bpmn")

    def test_rename_onto_another_draft_is_refused(self, db):
        act(db, "tasarimci1", lambda s, a: designer.save_draft(s, a, "a.bpmn", V1))
        b = act(db, "tasarimci1", lambda s, a: designer.save_draft(s, a, "b.bpmn", V1).id)
        with pytest.raises(InvalidInput):
            act(db, "tasarimci1", lambda s, a: designer.save_draft(s, a, "a.bpmn", V1, draft_id=b))

    def test_oversized_draft_is_refused(self, db):
        with pytest.raises(InvalidInput):
            act(db, "tasarimci1", lambda s, a: designer.save_draft(s, a, "a.bpmn", "x" * (designer.MAX_FILE_BYTES + 1)))


class TestNewProcess:
    def test_template_with_its_starter_form_is_deployable_and_runs(self, db):
        draft_id = act(
            db, "tasarimci1", lambda s, a: designer.new_process(s, a, "yeni_surec", "Yeni süreç", "idari_isler").id
        )
        xml = act(db, "tasarimci1", lambda s, a: designer.get_draft(s, a, draft_id).content)
        assert bpmn_xml.has_diagram(bpmn_xml.parse(xml))
        assert act(db, "tasarimci1", lambda s, a: designer.check(s, a, "yeni_surec.bpmn", xml.encode())) == []
        deployed = act(
            db,
            "tasarimci1",
            lambda s, a: [
                str(d)
                for d in designer.deploy(s, a, "yeni_surec.bpmn", xml.encode(), change_note="ilk", draft_id=draft_id)
            ],
        )
        assert sorted(deployed) == ["yeni_surec v1", "yeni_surec_adim1 v1"]
        assert act(db, "tasarimci1", designer.list_drafts) == []
        instance_id = start(db, "yeni_surec")
        assert instance_id > 0

    @pytest.mark.parametrize(
        ("key", "name", "group", "field"),
        [
            ("Kotu-Anahtar", "Ad", "idari_isler", "key"),
            ("iyi_anahtar", "", "idari_isler", "name"),
            ("iyi_anahtar", "Ad", "yok_grup", "group"),
        ],
    )
    def test_bad_input_names_each_field(self, db, key, name, group, field):
        with pytest.raises(InvalidInput) as info:
            act(db, "tasarimci1", lambda s, a: designer.new_process(s, a, key, name, group))
        assert list(info.value.field_errors) == [field]

    def test_an_existing_key_is_refused(self, v1):
        with pytest.raises(InvalidInput) as info:
            act(v1, "tasarimci1", lambda s, a: designer.new_process(s, a, "tasarim_testi", "Ad", "idari_isler"))
        assert "key" in info.value.field_errors


class TestDiff:
    def test_diff_between_versions_names_added_removed_and_changed_elements(self, v1):
        v2 = (
            with_new_task()
            .replace('name="Kaydı yap"', 'name="Kaydı oluştur"')
            .replace(
                '<spiffworkflow:property name="dueDate" value="is_gunu_sonra(2)" />',
                '<spiffworkflow:property name="dueDate" value="is_gunu_sonra(5)" />',
            )
        )
        act(v1, "tasarimci1", lambda s, a: designer.deploy(s, a, "designer_surec.bpmn", v2.encode(), change_note="v2"))
        changes = {
            c.element_id: c
            for c in act(v1, "tasarimci1", lambda s, a: designer.diff_versions(s, a, "tasarim_testi", 1, 2))
        }
        assert changes["Task_kontrol"].status == "added" and changes["Flow_3"].status == "added"
        kayit = {c.what: (c.old, c.new) for c in changes["Task_kayit"].changes}
        assert kayit["name"] == ("Kaydı yap", "Kaydı oluştur")
        assert kayit["property:dueDate"] == ("is_gunu_sonra(2)", "is_gunu_sonra(5)")
        assert changes["Flow_2"].changes[0].what == "flows"
        assert changes["End_tasarim"].status == "changed"
        assert "Start_tasarim" not in changes
        back = {
            c.element_id: c.status
            for c in act(v1, "tasarimci1", lambda s, a: designer.diff_versions(s, a, "tasarim_testi", 2, 1))
        }
        assert back["Task_kontrol"] == "removed"

    def test_unknown_version_is_not_found(self, v1):
        with pytest.raises(NotFound):
            act(v1, "tasarimci1", lambda s, a: designer.diff_versions(s, a, "tasarim_testi", 1, 9))


class TestDiagram:
    def test_a_version_deployed_without_a_diagram_gets_one_and_stays_deployable(self, db):
        files = [
            ("fatura_kontrol.bpmn", (DATA / "fatura_kontrol.bpmn").read_bytes()),
            ("fatura_formu.form.json", (DATA / "fatura_formu.form.json").read_bytes()),
        ]
        act(db, None, lambda s, a: designer.definitions.deploy(s, a, files))
        name, xml = act(db, "tasarimci1", lambda s, a: designer.version_source(s, a, "fatura_kontrol", 1))
        root = bpmn_xml.parse(xml)
        shapes = {el.get("bpmnElement") for el in root.iter(f"{{{bpmn_xml.BPMNDI}}}BPMNShape")}
        assert {"StartEvent_1", "Task_fatura", "End_1", "Lane_idari"} <= shapes
        edges = {el.get("bpmnElement") for el in root.iter(f"{{{bpmn_xml.BPMNDI}}}BPMNEdge")}
        assert edges == {"F1", "F2"}
        assert name == "fatura_kontrol.bpmn"
        assert act(db, "tasarimci1", lambda s, a: designer.check(s, a, name, xml)) == []

    def test_a_file_with_a_diagram_is_left_as_it_is(self):
        assert bpmn_xml.ensure_diagram(V1.encode()) == V1.encode()

    def test_loops_are_laid_out_left_to_right(self):
        flows = [("s", "a"), ("a", "g"), ("g", "a"), ("g", "e")]
        assert bpmn_xml._columns(["s", "a", "g", "e"], flows) == {"s": 0, "a": 1, "g": 2, "e": 3}


class TestForms:
    def test_preview_gives_sample_values(self, db):
        source = json.dumps(
            {
                "key": "k",
                "title": "T",
                "fields": [{"name": "tarih", "type": "date", "label": "Tarih", "required": True}],
            }
        )
        preview = act(db, "tasarimci1", lambda s, a: designer.preview_form(a, source))
        assert preview.problems == [] and "tarih" in preview.values

    def test_preview_locates_the_problem(self, db):
        source = json.dumps({"key": "k", "title": "T", "fields": [{"name": "x", "type": "renk", "label": "X"}]})
        preview = act(db, "tasarimci1", lambda s, a: designer.preview_form(a, source))
        assert preview.definition is None
        assert preview.problems[0]["field"] == "x" and preview.problems[0]["path"].endswith("type")

    def test_catalog_offers_groups_forms_drafts_and_handlers(self, v1):
        act(v1, "tasarimci1", lambda s, a: designer.save_draft(s, a, "taslak.form.json", '{"key": "taslak_form"}'))
        found = act(v1, "tasarimci1", designer.catalog)
        assert {"idari_isler", "fen_isleri"} <= {g["code"] for g in found["groups"]}
        assert {("designer_kayit", False), ("taslak_form", True)} <= {(f["key"], f["draft"]) for f in found["forms"]}
        assert "notify" in found["handlers"]

    def test_running_cases_are_counted_per_version(self, v1):
        start(v1, "tasarim_testi")
        [process] = act(v1, "tasarimci1", designer.list_processes)
        assert [(v.version, v.running) for v in process.versions] == [(1, 1)]
