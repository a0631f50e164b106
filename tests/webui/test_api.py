"""REST API /api/v1: tokens and scopes, the task and instance lifecycle, JSON errors, OpenAPI."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from factories import act, deploy

from engine import clock, tokens
from engine.config import Settings
from webui import create_app

ALL_SCOPES = list(tokens.SCOPES)
MID_MINUTE = datetime(2026, 11, 23, 9, 0, 30, tzinfo=UTC)


@pytest.fixture
def client(db, settings, tmp_path):
    app = create_app(Settings(instance_dir=tmp_path, audit_key=settings.audit_key, database_url="sqlite://"))
    app.config["TESTING"] = True
    app.extensions["kalem_db"] = db
    deploy(db)
    return app.test_client()


def bearer(db, username: str, scopes: list[str] | None = None) -> dict[str, str]:
    _token, secret = act(db, "admin", lambda s, a: tokens.create(s, a, username, "test", scopes or ALL_SCOPES))
    return {"Authorization": f"Bearer {secret}"}


def test_without_a_valid_token_nothing_is_served(client, db) -> None:
    missing = client.get("/api/v1/tasks")
    assert missing.status_code == 401 and missing.json["error"]["code"] == "unauthenticated"
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = client.get("/api/v1/tasks", headers={"Authorization": "Bearer klm_yok"})
    assert wrong.status_code == 401 and wrong.json["error"]["code"] == "invalid_token"


def test_a_token_cannot_go_beyond_its_scopes(client, db) -> None:
    headers = bearer(db, "idari1", ["tasks:read"])
    assert client.get("/api/v1/tasks", headers=headers).status_code == 200
    denied = client.post("/api/v1/instances", headers=headers, json={"process_key": "test_havale"})
    assert denied.status_code == 403 and denied.json["error"]["code"] == "insufficient_scope"


def test_start_claim_complete_through_the_api(client, db) -> None:
    headers = bearer(db, "idari1")
    started = client.post(
        "/api/v1/instances", headers=headers, json={"process_key": "test_havale", "business_key": "API-1"}
    )
    assert started.status_code == 201, started.json
    instance_id = started.json["id"]
    [task] = started.json["open_tasks"]
    listed = client.get("/api/v1/tasks?limit=10", headers=headers).json
    assert listed["page"]["total"] == 1 and listed["items"][0]["id"] == task["id"]
    shown = client.get(f"/api/v1/tasks/{task['id']}", headers=headers).json
    assert shown["form"]["key"] == "kayit_formu"
    bad = client.post(f"/api/v1/tasks/{task['id']}/complete", headers=headers, json={"data": {"karar": "x"}})
    assert bad.status_code == 422 and {"konu", "karar"} <= set(bad.json["error"]["fields"])
    assert client.post(f"/api/v1/tasks/{task['id']}/claim", headers=headers).json["assignee"] == "idari1"
    other = client.post(f"/api/v1/tasks/{task['id']}/claim", headers=bearer(db, "idari2"))
    assert other.status_code == 409
    done = client.post(
        f"/api/v1/tasks/{task['id']}/complete", headers=headers, json={"data": {"konu": "Yol", "karar": "red"}}
    )
    assert done.status_code == 200 and done.json["state"] == "completed"
    assert client.get(f"/api/v1/instances/{instance_id}", headers=headers).json["status"] == "completed"
    page = client.get("/api/v1/instances?business_key=API-1", headers=headers).json
    assert [i["id"] for i in page["items"]] == [instance_id]


def test_other_users_cases_are_not_found(client, db) -> None:
    started = client.post("/api/v1/instances", headers=bearer(db, "idari1"), json={"process_key": "test_havale"})
    outsider = bearer(db, "fenisleri.memur")
    assert client.get(f"/api/v1/instances/{started.json['id']}", headers=outsider).status_code == 404
    task_id = started.json["open_tasks"][0]["id"]
    assert client.post(f"/api/v1/tasks/{task_id}/claim", headers=outsider).status_code == 404
    assert client.get("/api/v1/instances", headers=outsider).json["page"]["total"] == 0


def test_bad_input_is_named(client, db) -> None:
    headers = bearer(db, "idari1")
    no_key = client.post("/api/v1/instances", headers=headers, json={"data": []})
    assert no_key.status_code == 422 and set(no_key.json["error"]["fields"]) == {"process_key", "data"}
    not_json = client.post("/api/v1/instances", headers=headers, data="{", content_type="application/json")
    assert not_json.status_code == 400
    assert client.get("/api/v1/tasks?limit=0", headers=headers).status_code == 422
    assert client.get("/api/v1/yok", headers=headers).json["error"]["code"] == "not_found"


def test_errors_follow_accept_language(client, db) -> None:
    headers = bearer(db, "idari1")
    turkish = client.get("/api/v1/instances/999999", headers=headers)
    assert turkish.json["error"]["message"] == "Süreç örneği bulunamadı: 999999."
    english = client.get("/api/v1/instances/999999", headers={**headers, "Accept-Language": "en-GB,en;q=0.8"})
    assert english.status_code == 404 and english.json["error"]["message"] == "Process instance not found: 999999."
    # Unknown languages fall back to Turkish.
    other = client.get("/api/v1/instances/999999", headers={**headers, "Accept-Language": "de"})
    assert other.json["error"]["message"] == turkish.json["error"]["message"]


def test_openapi_document_lists_every_operation(client) -> None:
    document = client.get("/api/v1/openapi.json").json
    assert document["openapi"].startswith("3.")
    assert {"/tasks", "/tasks/{task_id}/complete", "/instances", "/messages"} <= set(document["paths"])
    complete = document["paths"]["/tasks/{task_id}/complete"]["post"]
    assert complete["security"] == [{"bearer": ["tasks:write"]}] and "422" in complete["responses"]
    assert {"Task", "TaskList", "ErrorEnvelope"} <= set(document["components"]["schemas"])
    assert "/api/v1/tasks" not in client.get("/api/v1/docs").text and "tasks:write" in client.get("/api/v1/docs").text


def test_import_through_the_api(client, db, monkeypatch) -> None:
    import io

    from engine import imports

    monkeypatch.setitem(
        imports.PRESETS,
        "cimer",
        imports.Preset("test_havale", "basvuru_no", "CIMER-", {"basvuru_no": "cimer_no"}, ("basvuru_no",)),
    )
    headers = bearer(db, "hi1", ["import:write"])
    csv = "Başvuru No\n77\n78\n".encode()
    preview = client.post(
        "/api/v1/imports/cimer?preview=true", headers=headers, data={"file": (io.BytesIO(csv), "cimer.csv")}
    )
    assert preview.status_code == 200 and preview.json["summary"]["ready"] == 2
    done = client.post("/api/v1/imports/cimer", headers=headers, data={"file": (io.BytesIO(csv), "cimer.csv")})
    assert done.json["summary"]["imported"] == 2
    missing = client.post("/api/v1/imports/cimer", headers=headers, data={})
    assert missing.status_code == 422 and "file" in missing.json["error"]["fields"]


def test_each_token_is_rate_limited(client, db) -> None:
    import dataclasses

    extensions = client.application.extensions
    extensions["kalem_settings"] = dataclasses.replace(extensions["kalem_settings"], api_rate_per_minute=3)
    headers, other = bearer(db, "idari1", ["tasks:read"]), bearer(db, "idari2", ["tasks:read"])
    with clock.frozen_at(MID_MINUTE):  # one window, whatever the wall clock does meanwhile
        assert [client.get("/api/v1/tasks", headers=headers).status_code for _ in range(3)] == [200, 200, 200]
        limited = client.get("/api/v1/tasks", headers=headers)
        assert limited.status_code == 429 and limited.headers["Retry-After"] == "30"
        assert client.get("/api/v1/tasks", headers=other).status_code == 200


def test_rate_window_resets_each_minute(db) -> None:
    def hit(now: float) -> int:
        return act(db, None, lambda s, a: tokens.count_request(s, 7, 2, now))

    assert [hit(60.0), hit(61.0), hit(62.0)] == [0, 0, 58]
    assert hit(120.5) == 0


def test_the_limit_holds_across_web_workers(client, db, settings, tmp_path) -> None:
    """Two apps on one database stand for two gunicorn workers: they share one count per token."""
    import dataclasses

    apps = [client.application, create_app(Settings(instance_dir=tmp_path, audit_key=settings.audit_key))]
    apps[1].extensions["kalem_db"] = db
    for app in apps:
        app.extensions["kalem_settings"] = dataclasses.replace(app.extensions["kalem_settings"], api_rate_per_minute=4)
    headers = bearer(db, "idari1", ["tasks:read"])
    workers = [app.test_client() for app in apps]
    with clock.frozen_at(MID_MINUTE):
        codes = [workers[i % 2].get("/api/v1/tasks", headers=headers).status_code for i in range(5)]
    assert codes == [200, 200, 200, 200, 429]


def test_comments_attachments_and_audit_through_the_api(client, db) -> None:
    import io

    clerk = bearer(db, "idari1")
    started = client.post("/api/v1/instances", headers=clerk, json={"process_key": "test_havale"}).json
    instance_id = started["id"]
    added = client.post(f"/api/v1/instances/{instance_id}/comments", headers=clerk, json={"body": "Dosya eksik."})
    assert added.status_code == 201 and added.json["author"] == "idari1"
    listed = client.get(f"/api/v1/instances/{instance_id}/comments", headers=clerk).json["items"]
    assert [c["body"] for c in listed] == ["Dosya eksik."]
    uploaded = client.post(
        f"/api/v1/instances/{instance_id}/attachments",
        headers=clerk,
        data={"file": (io.BytesIO(b"%PDF-1.4 dilekce"), "dilekce.pdf")},
    )
    assert uploaded.status_code == 201, uploaded.json
    attachment_id = uploaded.json["id"]
    download = client.get(f"/api/v1/attachments/{attachment_id}", headers=clerk)
    assert download.status_code == 200 and download.data == b"%PDF-1.4 dilekce"
    download.close()
    outsider = bearer(db, "zabita.memur")
    assert client.get(f"/api/v1/attachments/{attachment_id}", headers=outsider).status_code == 404
    assert client.get(f"/api/v1/instances/{instance_id}/comments", headers=outsider).status_code == 404
    auditor = bearer(db, "denetci1", ["audit:read"])
    events = client.get(f"/api/v1/audit?instance={instance_id}", headers=auditor).json["items"]
    assert {"instance.started", "comment.added"} <= {e["action"] for e in events}
    assert client.get("/api/v1/audit", headers=bearer(db, "idari2", ["audit:read"])).status_code == 403
    assert client.get("/api/v1/audit?date_from=dün", headers=auditor).status_code == 422
