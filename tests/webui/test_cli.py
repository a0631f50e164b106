"""The ``kalem`` command's contract, run in-process against a fresh SQLite database."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from factories import DATA

from webui.cli import main


@pytest.fixture
def kalem(tmp_path, monkeypatch, sqlite_template):
    import shutil

    shutil.copy(sqlite_template, tmp_path / "kalem.sqlite3")
    monkeypatch.setenv("KALEM_INSTANCE_DIR", str(tmp_path))
    monkeypatch.setenv("KALEM_DATABASE_URL", f"sqlite:///{tmp_path / 'kalem.sqlite3'}")
    monkeypatch.setenv("KALEM_AUDIT_KEY", "test-audit-key")
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == code, (result.output, result.stderr)
        return result.stdout if code == 0 else result.stderr

    return run


def test_cli_contract_end_to_end(kalem, tmp_path):
    bpmn, form = str(DATA / "havale_test.bpmn"), str(DATA / "kayit_formu.form.json")
    assert kalem("deploy", bpmn, form).strip() == "test_havale v1"
    assert kalem("deploy", bpmn, form).strip() == "test_havale v1"
    assert json.loads(kalem("definitions", "--json"))[0]["versions"] == [1]
    instance_id = int(kalem("start", "test_havale", "--as", "idari1", "--business-key", "EVR-9").strip())
    rows = json.loads(kalem("tasks", "--as", "idari1", "--json"))
    keys = {
        "id",
        "name",
        "bpmn_id",
        "process_key",
        "instance_id",
        "business_key",
        "state",
        "assignee",
        "candidate_groups",
        "due_at",
        "priority",
        "form_key",
    }
    assert keys <= set(rows[0]) and rows[0]["instance_id"] == instance_id
    task_id = str(rows[0]["id"])
    shown = json.loads(kalem("task", "show", task_id, "--as", "idari1", "--json"))
    assert shown["form"]["key"] == "kayit_formu"
    assert {f["name"] for f in shown["form"]["fields"]} >= {"konu", "karar"}
    err = kalem("complete", task_id, "--as", "idari1", "--data", '{"karar": "x"}', code=6)
    assert "konu" in err and "karar" in err
    kalem("claim", task_id, "--as", "idari1")
    assert "üstlenilmiş" in kalem("claim", task_id, "--as", "idari2", code=5)
    assert "bulunamadı" in kalem("claim", task_id, "--as", "zabita.memur", code=3)
    assert "bulunamadı" in kalem("claim", task_id, "--as", "hayalet", code=3)
    upload = tmp_path / "dilekce.pdf"
    upload.write_bytes(b"%PDF-1.4 deneme")
    data = json.dumps({"konu": "Çöp toplama", "karar": "havale", "hedef_mudurluk": "temizlik_isleri"})
    kalem("complete", task_id, "--as", "idari1", "--data", data, "--file", f"ek={upload}")
    detail = json.loads(kalem("instance", "show", str(instance_id), "--json"))
    assert detail["status"] == "running" and detail["business_key"] == "EVR-9"
    assert detail["open_tasks"][0]["candidate_groups"] == ["temizlik_isleri"]
    assert detail["data"]["ek"]["filename"] == "dilekce.pdf"
    assert any(w["type"] == "timer" for w in detail["waiting"])
    assert "1 süreç" in kalem("timers", "run-due", "--now", "2099-01-01T00:00:00+00:00")
    detail = json.loads(kalem("instance", "show", str(instance_id), "--json"))
    assert [t["name"] for t in detail["open_tasks"]] == ["Gecikmeyi değerlendir"]
    assert "sağlam" in kalem("audit", "verify")
    users = json.loads(kalem("users", "--json"))
    assert {"username": "idari1"}.items() <= next(u for u in users if u["username"] == "idari1").items()


def test_cli_rejects_bad_deploy_and_json(kalem, tmp_path):
    broken = tmp_path / "bozuk.bpmn"
    broken.write_text("<bpmn:definitions", encoding="utf-8")
    assert "bozuk.bpmn" in kalem("deploy", str(broken), code=7)
    assert "geçerli JSON" in kalem("start", "x", "--as", "idari1", "--data", "{", code=2)
    assert "bulunamadı" in kalem("start", "yok_boyle", "--as", "idari1", code=3)


def test_calendar_deadline_command(kalem):
    assert kalem("calendar", "deadline", "--law", "4982", "--received", "2026-03-13").startswith("2026-04-06 17:30")


def test_token_create_list_revoke(kalem):
    secret = kalem("token", "create", "idari1", "--name", "EBYS", "--scope", "tasks:read", "--as", "admin").strip()
    assert secret.startswith("klm_")
    [row] = json.loads(kalem("token", "list", "--as", "admin", "--json"))
    assert row["user"] == "idari1" and row["scopes"] == ["tasks:read"] and secret not in json.dumps(row)
    kalem("token", "revoke", str(row["id"]), "--as", "admin")
    assert json.loads(kalem("token", "list", "--as", "admin", "--json"))[0]["revoked"] is True
    err = kalem("token", "create", "idari2", "--name", "x", "--scope", "tasks:read", "--as", "idari1", code=4)
    assert "yönetici" in err


def test_import_preview_then_import(kalem, tmp_path, monkeypatch):
    from engine import imports

    monkeypatch.setitem(
        imports.PRESETS,
        "cimer",
        imports.Preset("test_havale", "basvuru_no", "CIMER-", {"basvuru_no": "cimer_no"}, ("basvuru_no",)),
    )
    kalem("deploy", str(DATA / "havale_test.bpmn"), str(DATA / "kayit_formu.form.json"))
    export = tmp_path / "cimer.csv"
    export.write_text("Başvuru No;Konu\n501;Yol\n502;Su\n501;Yol\n", encoding="utf-8")
    preview = kalem("import", str(export), "--kind", "cimer", "--preview", "--as", "hi1")
    assert "hazır: 2" in preview and "mükerrer: 1" in preview
    report = json.loads(kalem("import", str(export), "--kind", "cimer", "--as", "hi1", "--json"))
    assert report["summary"]["imported"] == 2
    assert "reddedilen: 0" in kalem("import", str(export), "--kind", "cimer", "--as", "hi1")


def test_seed_demo_with_cases_starts_sample_cases_once(kalem):
    from engine import demo

    assert f"{len(demo.DEMO_CASES)} örnek başvuru" in kalem("seed-demo", "--with-cases")
    assert "0 örnek başvuru" in kalem("seed-demo", "--with-cases")
    assert any(t["process_key"] == "f2_cimer" for t in json.loads(kalem("tasks", "--as", "hi1", "--json")))
