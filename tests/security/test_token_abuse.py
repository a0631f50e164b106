"""API token abuse: every operation of the OpenAPI document refuses a token lacking its scope (403,
nothing changed) and answers 401 to a missing, malformed, revoked or expired token, or to the token
of a deactivated user."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from factories import act, read
from security_support import ALL_SCOPES, deploy_havale, make_token, routed_case
from sqlalchemy import func, select, update

from engine import clock, handover, tokens
from engine.models import AuditEvent, User

BODIES = {
    "/instances": {"process_key": "test_havale", "business_key": "SCOPE-2"},
    "/messages": {"name": "mudurluk_yaniti", "business_key": "SCOPE-1", "data": {}},
    "/comments": {"body": "x"},
    "/complete": {"data": {}},
    "/assign": {"username": "fenisleri.memur"},
    "/terminate": {"reason": "x"},
}


def operations(client: Any) -> list[tuple[str, str, str]]:
    """(method, path, scope) of every protected operation."""
    document = client.get("/api/v1/openapi.json").json
    found = []
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            for requirement in operation.get("security", []):
                found += [(method.upper(), path, scope) for scope in requirement.get("bearer", [])]
    return found


def concrete(path: str, case: Any) -> str:
    """The path with the case's ids (other ids: 1; the scope and token are checked before any lookup)."""
    path = path.replace("{task_id}", str(case.answer_task_id)).replace("{instance_id}", str(case.instance_id))
    return re.sub(r"\{\w+_id\}", "1", path).replace("{kind}", "cimer")


def call(client: Any, method: str, path: str, headers: dict[str, str]) -> Any:
    body = next((b for suffix, b in BODIES.items() if path.endswith(suffix)), {})
    return client.open(f"/api/v1{path}", method=method, json=body, headers=headers)


def audit_count(db: Any) -> int:
    return read(db, lambda s: s.scalar(select(func.count()).select_from(AuditEvent)))


@pytest.fixture
def case(db) -> Any:
    deploy_havale(db)
    return routed_case(db, "fen_isleri", "SCOPE-1")


def test_each_operation_needs_its_own_scope(app, db, case) -> None:
    client = app.test_client()
    ops = operations(client)
    # Every operation names a known scope (comments:write and audit:read have no operation yet).
    assert {scope for _m, _p, scope in ops} <= set(tokens.SCOPES) and len(ops) >= 15
    before = audit_count(db)
    problems = []
    for method, path, scope in ops:
        others = [s for s in ALL_SCOPES if s != scope]
        headers = {"Authorization": f"Bearer {make_token(db, 'admin', others)[1]}"}
        response = call(client, method, concrete(path, case), headers)
        if response.status_code != 403 or response.json["error"]["code"] != "insufficient_scope":
            problems.append(f"{method} {path} without {scope} → {response.status_code}")
    assert problems == []
    # Only the token.created events of this test's own tokens were written.
    assert audit_count(db) == before + len(ops)


def test_a_read_only_integration_cannot_write(app, db, case) -> None:
    client = app.test_client()
    _id, secret = make_token(db, "admin", ["definitions:read", "instances:read", "tasks:read", "audit:read"])
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get(f"/api/v1/instances/{case.instance_id}", headers=headers).status_code == 200
    for method, path, scope in operations(client):
        if scope.endswith(":write"):
            assert call(client, method, concrete(path, case), headers).status_code == 403, path


BAD_HEADERS = [
    pytest.param({}, "unauthenticated", id="missing"),
    pytest.param({"Authorization": "Basic YWRtaW46ZGVtbw=="}, "unauthenticated", id="basic-auth"),
    pytest.param({"Authorization": "Bearer "}, "unauthenticated", id="empty"),
    pytest.param({"Authorization": "Bearer klm_" + "A" * 43}, "invalid_token", id="guessed"),
    pytest.param({"Authorization": "Bearer ' OR 1=1 --"}, "invalid_token", id="injection"),
]


@pytest.mark.parametrize(("headers", "code"), BAD_HEADERS)
def test_without_a_valid_token_every_operation_is_401(app, db, case, headers, code) -> None:
    client = app.test_client()
    for method, path, _scope in operations(client):
        response = call(client, method, concrete(path, case), headers)
        assert response.status_code == 401 and response.json["error"]["code"] == code, path


def assert_dead(client: Any, secret: str, case: Any) -> None:
    headers = {"Authorization": f"Bearer {secret}"}
    for method, path, _scope in operations(client):
        response = call(client, method, concrete(path, case), headers)
        assert response.status_code == 401 and response.json["error"]["code"] == "invalid_token", path


def test_a_revoked_token_is_dead_at_once(app, db, case) -> None:
    client = app.test_client()
    token_id, secret = make_token(db, "fenisleri.memur")
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get(f"/api/v1/tasks/{case.answer_task_id}", headers=headers).status_code == 200
    act(db, "fenisleri.memur", lambda s, a: tokens.revoke(s, a, token_id))
    assert_dead(client, secret, case)


def test_an_expired_token_is_dead(app, db, case) -> None:
    client = app.test_client()
    expires = clock.now() + timedelta(hours=1)

    def create(session: Any, actor: Any) -> str:
        return tokens.create(session, actor, "fenisleri.memur", "kısa", ALL_SCOPES, expires_at=expires)[1]

    secret = act(db, "admin", create)
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get(f"/api/v1/tasks/{case.answer_task_id}", headers=headers).status_code == 200
    with clock.frozen_at(expires + timedelta(seconds=1)):
        assert_dead(client, secret, case)


def test_a_deactivated_users_token_is_dead(app, db, case) -> None:
    client = app.test_client()
    _id, secret = make_token(db, "arsiv2", ["instances:read"])
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/instances", headers=headers).status_code == 200
    try:
        act(db, "admin", lambda s, a: handover.deactivate_user(s, a, "arsiv2"))
        assert_dead(client, secret, case)
    finally:  # users are kept between tests on PostgreSQL
        act(db, None, lambda s, a: s.execute(update(User).where(User.username == "arsiv2").values(is_active=True)))


def test_a_user_cannot_mint_or_revoke_tokens_for_someone_else(db) -> None:
    from engine.errors import NotAllowed, NotFound

    with pytest.raises(NotAllowed):
        act(db, "idari1", lambda s, a: tokens.create(s, a, "admin", "ele geçir", ALL_SCOPES))
    token_id, _secret = make_token(db, "idari2")
    with pytest.raises(NotFound):
        act(db, "idari1", lambda s, a: tokens.revoke(s, a, token_id))
