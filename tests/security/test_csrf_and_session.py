"""Cross-site request forgery and session handling on the web UI.

Every state-changing web route (every POST outside ``/api/``, found by walking the URL map) refuses a
request without a valid CSRF token — a form field or the ``X-CSRFToken`` header of the designer's
JSON calls — and writes nothing (the audit trail, which records every change, does not grow). A
session ends for good at sign-out: the old cookie, replayed, opens nothing."""

from __future__ import annotations

import re
from typing import Any

import pytest
from factories import read
from security_support import Browser, deploy_havale, routed_case
from sqlalchemy import func, select

from engine.models import AuditEvent, Comment, HumanTask

SESSION_COOKIE = "kalem_session"
CSRF_MESSAGE = "güvenlik doğrulaması"


def post_routes(app: Any) -> list[str]:
    """Every POST route of the web UI, integer parameters set to 1 and the others to a process key."""
    paths = []
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods or rule.rule.startswith("/api/"):
            continue
        path = re.sub(r"<int:\w+>", "1", rule.rule)
        paths.append(re.sub(r"<(?:\w+:)?\w+>", "test_havale", path))
    return sorted(set(paths))


def audit_count(db: Any) -> int:
    return read(db, lambda s: s.scalar(select(func.count()).select_from(AuditEvent)))


@pytest.fixture
def case(db) -> Any:
    deploy_havale(db)
    return routed_case(db, "fen_isleri", "CSRF-1")


def test_every_state_changing_route_refuses_a_request_without_token(app, db, sign_in, case) -> None:
    admin = sign_in("admin")
    routes = post_routes(app)
    assert {"/logout", "/tasks/1", "/tasks/1/claim", "/instances/1/comments", "/designer/deploy"} <= set(routes)
    before = audit_count(db)
    accepted = []
    for path in routes:
        form = {"body": "csrf", "reason": "csrf", "username": "idari2", "name": "csrf", "konu": "x", "karar": "red"}
        plain = admin.post(path, form, csrf=False)
        forged = admin.post(path, {**form, "csrf_token": "IjEyMyI.forged.token"}, csrf=False)
        as_json = admin.client.post(path, json={"name": "x.bpmn", "content": "<x/>"})
        for kind, response in (("form", plain), ("forged", forged), ("json", as_json)):
            if response.status_code != 400 or CSRF_MESSAGE not in response.get_data(as_text=True):
                accepted.append(f"{kind} POST {path} → {response.status_code}")
    assert accepted == []
    assert audit_count(db) == before
    assert read(db, lambda s: s.scalar(select(func.count()).select_from(Comment))) == 0
    task = read(db, lambda s: s.get(HumanTask, case.answer_task_id))
    assert task.assignee is None


def test_a_token_from_another_session_is_refused(app, db, sign_in, case) -> None:
    victim, attacker = sign_in("fenisleri.memur"), sign_in("zabita.memur")
    stolen = attacker.token("/")
    response = victim.post(f"/tasks/{case.answer_task_id}/claim", {"csrf_token": stolen}, csrf=False)
    assert response.status_code == 400
    assert read(db, lambda s: s.get(HumanTask, case.answer_task_id)).assignee is None
    # The control: the victim's own token works.
    assert victim.post(f"/tasks/{case.answer_task_id}/claim").status_code in (302, 303)
    assert read(db, lambda s: s.get(HumanTask, case.answer_task_id)).assignee == "fenisleri.memur"


def test_sign_in_and_sign_out_need_a_token(app, db) -> None:
    browser = Browser(app.test_client())
    login = browser.client.post("/login", data={"username": "idari1", "password": "demo"})
    assert login.status_code == 400 and browser.get("/").status_code == 302
    assert browser.login("idari1").status_code == 302
    assert browser.post("/logout", csrf=False).status_code == 400
    assert browser.get("/").status_code == 200  # a forged sign-out does not end the session


def test_the_session_cookie_is_http_only_and_same_site(app) -> None:
    browser = Browser(app.test_client())
    response = browser.client.post(
        "/login", data={"username": "idari1", "password": "demo", "csrf_token": browser.token("/login")}
    )
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_after_sign_out_the_old_session_cookie_opens_nothing(app, sign_in) -> None:
    browser = sign_in("idari1")
    cookie = browser.client.get_cookie(SESSION_COOKIE).value
    assert browser.get("/").status_code == 200
    assert browser.post("/logout").status_code == 302
    assert browser.get("/").status_code == 302  # this browser is signed out
    replay = app.test_client()
    replay.set_cookie(SESSION_COOKIE, cookie)
    # Someone who copied the cookie before sign-out (a shared computer, a proxy log) replays it.
    assert replay.get("/").status_code == 302, "the session survived sign-out"
