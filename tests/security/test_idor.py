"""IDOR across users and directorates, on the web UI and the REST API.

A case is routed to Fen İşleri; its clerk claims the answer task, comments and attaches a file, and
saves an inbox filter. Staff of Zabıta (a clerk, and their Müdür, who may use the manager and audit
pages) and an Özel Kalem colleague outside the case then try every route that takes an id — found by
walking the app's URL map and the OpenAPI document, so routes added later are covered too — with
the victim's ids. Every attempt must answer as if the object did not exist (or refuse), show nothing
of the case, and change nothing; the attackers' own case (routed to Zabıta) is the control."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

import pytest
from factories import act, read
from security_support import RoutedCase, bearer, deploy_havale, routed_case
from sqlalchemy import func, select

from engine import attachments, comments, instances, saved_filters, tasks
from engine.models import (
    Attachment,
    AuditEvent,
    Comment,
    HumanTask,
    InboxEntry,
    ProcessInstance,
    SavedFilter,
)

ATTACKERS = ["zabita.memur", "zabita.mudur", "hi1"]
COMMENT = "Fen İşleri iç notu 4711"
PDF = b"%PDF-1.4\n% gizli ek\n"
ID_PARAMS = ("instance_id", "task_id", "attachment_id", "filter_id")
REFUSED = {403, 404}


@dataclass(frozen=True)
class Victim:
    case: RoutedCase
    own: RoutedCase  # routed to Zabıta: the attackers' own case
    attachment_id: int
    comment_id: int
    filter_id: int

    @property
    def ids(self) -> dict[str, int]:
        return {
            "instance_id": self.case.instance_id,
            "task_id": self.case.answer_task_id,
            "attachment_id": self.attachment_id,
            "filter_id": self.filter_id,
        }


@pytest.fixture
def victim(db) -> Victim:
    deploy_havale(db)
    case = routed_case(db, "fen_isleri", "IDOR-FEN-1")
    own = routed_case(db, "zabita", "IDOR-ZAB-1")
    act(db, "fenisleri.memur", lambda s, a: tasks.claim(s, a, case.answer_task_id))
    comment_id = act(db, "fenisleri.memur", lambda s, a: comments.add(s, a, case.instance_id, COMMENT).id)
    attachment_id = act(
        db, "fenisleri.memur", lambda s, a: attachments.upload(s, a, case.instance_id, "tutanak.pdf", PDF).id
    )
    filter_id = act(db, "fenisleri.memur", lambda s, a: saved_filters.save(s, a, "Acil işler", {"q": "yol"}).id)
    return Victim(case, own, attachment_id, comment_id, filter_id)


def snapshot(db, victim: Victim) -> dict[str, Any]:
    """Everything an attack could change about the victim's case and objects."""
    instance_id = victim.case.instance_id

    def take(session: Any) -> dict[str, Any]:
        instance = session.get(ProcessInstance, instance_id)
        task_rows = session.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id)).all()
        count = lambda model, *where: session.scalar(select(func.count()).select_from(model).where(*where))  # noqa: E731
        return {
            "instance": (instance.status, instance.version_id, instance.updated_at),
            "tasks": sorted(
                (t.id, str(t.state), t.assignee, t.escalation_level, tuple(t.candidate_groups)) for t in task_rows
            ),
            "inbox": sorted(
                session.execute(
                    select(InboxEntry.task_id, InboxEntry.audience).where(
                        InboxEntry.task_id.in_([t.id for t in task_rows])
                    )
                ).all()
            ),
            "comments": count(Comment, Comment.instance_id == instance_id),
            "attachments": count(Attachment, Attachment.instance_id == instance_id),
            "audit": count(AuditEvent, AuditEvent.instance_id == instance_id),
            "filter": count(SavedFilter, SavedFilter.id == victim.filter_id),
        }

    return read(db, take)


def leaks(text: str, victim: Victim) -> list[str]:
    secrets = [
        victim.case.business_key,
        COMMENT,
        "tutanak.pdf",
        "Acil işler",
        f"Yol onarımı {victim.case.business_key}",
    ]
    return [s for s in secrets if s in text]


def id_routes(app: Any) -> list[tuple[str, str, str]]:
    """(method, rule, the id parameter) for every web route taking one of the victim's kinds of id."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(("/api/", "/static")):
            continue
        params = set(rule.arguments) & set(ID_PARAMS)
        if len(params) != 1 or set(rule.arguments) - params:
            continue
        param = next(iter(params))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((method, rule.rule, param))
    return sorted(set(found))


FORM = {
    "body": "saldırı yorumu",
    "reason": "saldırı",
    "move_up": "1",
    "username": "zabita.memur",
    "cevap": "evet",
    "name": "ele geçirildi",
}


def test_the_url_map_offers_routes_of_every_kind(app) -> None:
    """The walk below really covers tasks, instances, attachments, comments (a POST on the
    instance) and the audit timeline; if routes are renamed the test says so."""
    rules = {rule for _m, rule, _p in id_routes(app)}
    for expected in (
        "/tasks/<int:task_id>",
        "/tasks/<int:task_id>/claim",
        "/instances/<int:instance_id>",
        "/instances/<int:instance_id>/comments",
        "/instances/<int:instance_id>/attachments",
        "/attachments/<int:attachment_id>",
        "/audit/instances/<int:instance_id>",
        "/filters/<int:filter_id>/delete",
    ):
        assert expected in rules


@pytest.mark.parametrize("attacker", ATTACKERS)
def test_web_routes_refuse_other_directorates_objects(app, db, sign_in, victim, attacker) -> None:
    browser = sign_in(attacker)
    before = snapshot(db, victim)
    problems = []
    for method, rule, param in id_routes(app):
        path = rule.replace(f"<int:{param}>", str(victim.ids[param]))
        if method == "GET":
            response = browser.get(path)
            if response.status_code not in REFUSED:
                problems.append(f"GET {path} → {response.status_code}")
        else:
            data = {**FORM, "file": (io.BytesIO(PDF), "saldiri.pdf")}
            response = browser.post(path, data, content_type="multipart/form-data")
            # A refusal may be a page (403/404) or a redirect with a message; the snapshot decides.
            if response.status_code not in REFUSED | {302, 303, 409}:
                problems.append(f"POST {path} → {response.status_code}")
            response = browser.get(response.headers["Location"]) if response.status_code in (302, 303) else response
        found = leaks(response.get_data(as_text=True), victim)
        if found:
            problems.append(f"{method} {path} shows {found}")
    assert problems == []
    assert snapshot(db, victim) == before


def test_web_pages_show_nothing_of_the_case_in_lists(db, sign_in, victim) -> None:
    for attacker in ATTACKERS:
        browser = sign_in(attacker)
        for path in ("/", "/?q=IDOR-FEN", "/manage", f"/audit?instance={victim.case.instance_id}"):
            response = browser.get(path)
            assert leaks(response.get_data(as_text=True), victim) == [], (attacker, path)
    export = sign_in("zabita.mudur").get(f"/audit/export.csv?instance={victim.case.instance_id}")
    assert export.status_code == 200 and victim.case.business_key not in export.get_data(as_text=True)


def test_the_attackers_own_case_is_open_to_them(db, sign_in, victim) -> None:
    """The control: the same routes answer for the case routed to the attackers' directorate."""
    clerk, manager = sign_in("zabita.memur"), sign_in("zabita.mudur")
    assert clerk.get(f"/tasks/{victim.own.answer_task_id}").status_code == 200
    page = clerk.get(f"/instances/{victim.own.instance_id}")
    assert page.status_code == 200 and victim.own.business_key in page.get_data(as_text=True)
    timeline = manager.get(f"/audit/instances/{victim.own.instance_id}")
    assert timeline.status_code == 200 and victim.own.business_key in timeline.get_data(as_text=True)
    owner = sign_in("fenisleri.memur")
    download = owner.get(f"/attachments/{victim.attachment_id}")
    assert download.status_code == 200 and download.data == PDF
    download.close()
    assert COMMENT in owner.get(f"/instances/{victim.case.instance_id}").get_data(as_text=True)


def test_a_colleague_cannot_take_over_a_claimed_task(db, sign_in, victim) -> None:
    """Across users of one group: idari2 cannot complete, release or re-claim what idari1 holds."""
    instance_id = act(db, "idari1", lambda s, a: instances.start(s, a, "test_havale", business_key="IDOR-IDARI").id)
    intake = read(db, lambda s: s.scalar(select(HumanTask.id).where(HumanTask.instance_id == instance_id)))
    act(db, "idari1", lambda s, a: tasks.claim(s, a, intake))
    colleague = sign_in("idari2")
    assert colleague.post(f"/tasks/{intake}/unclaim").status_code in (302, 303, 403, 409)
    assert colleague.post(f"/tasks/{intake}", {"konu": "x", "karar": "red"}).status_code in (302, 303, 403, 409)
    api = bearer(db, "idari2")
    client = colleague.client
    assert client.post(f"/api/v1/tasks/{intake}/complete", json={"data": {}}, headers=api).status_code in (403, 409)
    assert client.post(f"/api/v1/tasks/{intake}/unclaim", headers=api).status_code in (403, 409)
    assert client.post(f"/api/v1/tasks/{intake}/claim", headers=api).status_code == 409
    task = read(db, lambda s: s.get(HumanTask, intake))
    assert (task.state, task.assignee) == ("claimed", "idari1")


def api_operations(client: Any) -> list[tuple[str, str]]:
    document = client.get("/api/v1/openapi.json").json
    return [
        (method.upper(), path) for path, operations in document["paths"].items() for method in operations if "{" in path
    ]


API_BODIES = {
    "/comments": {"body": "saldırı yorumu"},
    "/complete": {"data": {"konu": "saldırı", "karar": "red"}},
    "/assign": {"username": "zabita.memur"},
    "/terminate": {"reason": "saldırı"},
}


@pytest.mark.parametrize("attacker", ATTACKERS)
def test_api_refuses_other_directorates_objects(app, db, victim, attacker) -> None:
    client = app.test_client()
    headers = bearer(db, attacker)
    before = snapshot(db, victim)
    problems = []
    operations = api_operations(client)
    assert {"/tasks/{task_id}/complete", "/instances/{instance_id}/terminate"} <= {p for _m, p in operations}
    for method, path in operations:
        concrete = path
        for param, value in victim.ids.items():
            concrete = concrete.replace("{" + param + "}", str(value))
        if "_id}" in concrete:  # an id kind this test has no victim object for: say so
            problems.append(f"no victim id for {path}")
            continue
        if "{" in concrete:  # not an object id (e.g. the import kind)
            continue
        if method == "POST" and path.endswith("/attachments"):
            upload = {"data": {"file": (io.BytesIO(PDF), "saldiri.pdf")}}
            response = client.open(f"/api/v1{concrete}", method=method, headers=headers, **upload)
        else:
            body = next((b for suffix, b in API_BODIES.items() if path.endswith(suffix)), {})
            response = client.open(f"/api/v1{concrete}", method=method, json=body, headers=headers)
        response.close()
        if response.status_code not in REFUSED:
            problems.append(f"{method} {concrete} → {response.status_code} {response.get_data(as_text=True)[:200]}")
        found = leaks(response.get_data(as_text=True), victim)
        if found:
            problems.append(f"{method} {concrete} shows {found}")
    listed = json.dumps(
        [
            client.get(f"/api/v1/instances?business_key={victim.case.business_key}", headers=headers).json,
            client.get("/api/v1/tasks?limit=200", headers=headers).json,
            client.get("/api/v1/instances?limit=200", headers=headers).json,
            client.get(f"/api/v1/audit?instance={victim.case.instance_id}", headers=headers).json,
            client.get("/api/v1/audit?limit=200", headers=headers).json,
        ],
        ensure_ascii=False,
    )
    assert problems == [] and leaks(listed, victim) == []
    assert snapshot(db, victim) == before


def test_api_control_attackers_reach_their_own_case(app, db, victim) -> None:
    client = app.test_client()
    headers = bearer(db, "zabita.memur")
    shown = client.get(f"/api/v1/tasks/{victim.own.answer_task_id}", headers=headers)
    assert shown.status_code == 200 and shown.json["business_key"] == victim.own.business_key
    assert client.get(f"/api/v1/instances/{victim.own.instance_id}", headers=headers).status_code == 200
