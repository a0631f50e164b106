"""Shared pieces of the attack tests: the app on the ``db`` fixture, a browser-like client that signs
in and sends CSRF tokens, API bearer tokens, a routed case for cross-directorate tests, and BPMN
documents built around a hostile script, condition or XML prologue."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

import pytest
from factories import act, deploy, only_task

import handlers
from engine import db as dbmod
from engine import instances, setup, tasks, tokens
from engine.config import Settings
from webui import create_app

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ALL_SCOPES = sorted(tokens.SCOPES)


class Browser:
    """A Flask test client keeping its cookies; ``post`` sends a fresh CSRF token unless told not to."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def token(self, path: str = "/login") -> str:
        html = self.client.get(path).get_data(as_text=True)
        found = CSRF.search(html)
        assert found, f"no CSRF token on {path}"
        return found.group(1)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True, **kwargs: Any) -> Any:
        payload = dict(data or {})
        if csrf:
            payload.setdefault("csrf_token", self.token("/"))
        return self.client.post(path, data=payload, **kwargs)

    def login(self, username: str, password: str = "demo") -> Any:
        return self.client.post(
            "/login", data={"username": username, "password": password, "csrf_token": self.token("/login")}
        )


@pytest.fixture
def app(db: dbmod.Database, settings: Settings) -> Any:
    application = create_app(settings, database=db)
    application.config["TESTING"] = True
    return application


@pytest.fixture
def sign_in(app: Any) -> Callable[[str], Browser]:
    """``sign_in("idari1")`` → a Browser signed in as that demo user."""

    def make(username: str) -> Browser:
        browser = Browser(app.test_client())
        response = browser.login(username)
        assert response.status_code == 302, response.get_data(as_text=True)
        return browser

    return make


def make_token(db: dbmod.Database, username: str, scopes: list[str] | None = None) -> tuple[int, str]:
    """A new API token for ``username`` (created by an administrator): (id, secret)."""

    def create(session: Any, actor: Any) -> tuple[int, str]:
        token, secret = tokens.create(session, actor, username, "güvenlik testi", scopes or ALL_SCOPES)
        return token.id, secret

    return act(db, "admin", create)


def bearer(db: dbmod.Database, username: str, scopes: list[str] | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(db, username, scopes)[1]}"}


@pytest.fixture
def restore_engine(settings: Settings) -> Any:
    """For tests that configure the engine with other settings: the session's settings come back after."""
    yield
    setup.configure(settings, handlers.ALL)


# --- a case routed to one directorate ------------------------------------------------------------------


@dataclass(frozen=True)
class RoutedCase:
    """A ``test_havale`` case registered by idari1 and routed to ``directorate``; its answer task is open."""

    instance_id: int
    intake_task_id: int
    answer_task_id: int
    business_key: str


def routed_case(db: dbmod.Database, directorate: str, business_key: str) -> RoutedCase:
    instance_id = act(db, "idari1", lambda s, a: instances.start(s, a, "test_havale", business_key=business_key).id)
    intake = only_task(db, "idari1", "Task_kayit")["id"]
    data = {"konu": f"Yol onarımı {business_key}", "karar": "havale", "hedef_mudurluk": directorate}
    act(db, "idari1", lambda s, a: tasks.complete(s, a, intake, data))
    answer = act(
        db,
        None,
        lambda s, a: next(t for t in instances.show(s, a, instance_id).open_tasks if t.bpmn_id == "Task_cevap").id,
    )
    return RoutedCase(instance_id, intake, answer, business_key)


def deploy_havale(db: dbmod.Database) -> None:
    deploy(db, "havale_test.bpmn", "kayit_formu.form.json")


# --- hostile BPMN ----------------------------------------------------------------------------------------

NAMESPACES = (
    'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" '
    'id="Definitions_sec" targetNamespace="http://kalem.local/bpmn"'
)


def script_process(key: str, script: str, *, before_user_task: bool = False) -> bytes:
    """start → [user task →] script task running ``script`` → user task → end."""
    user_first = (
        '<bpmn:userTask id="Task_once" name="Önce">'
        "<bpmn:extensionElements><spiffworkflow:properties>"
        '<spiffworkflow:property name="candidateGroups" value="\'idari_isler\'" />'
        "</spiffworkflow:properties></bpmn:extensionElements>"
        "<bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>F1</bpmn:outgoing></bpmn:userTask>"
        '<bpmn:sequenceFlow id="F0" sourceRef="Start_sec" targetRef="Task_once" />'
        '<bpmn:sequenceFlow id="F1" sourceRef="Task_once" targetRef="Script_saldiri" />'
        if before_user_task
        else '<bpmn:sequenceFlow id="F1" sourceRef="Start_sec" targetRef="Script_saldiri" />'
    )
    start_out = "F0" if before_user_task else "F1"
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions {NAMESPACES}>'
        f'<bpmn:process id="{key}" name="Saldırı {key}" isExecutable="true">'
        f'<bpmn:startEvent id="Start_sec"><bpmn:outgoing>{start_out}</bpmn:outgoing></bpmn:startEvent>'
        f"{user_first}"
        '<bpmn:scriptTask id="Script_saldiri" name="Betik"><bpmn:incoming>F1</bpmn:incoming>'
        f"<bpmn:outgoing>F2</bpmn:outgoing><bpmn:script>{escape(script)}</bpmn:script></bpmn:scriptTask>"
        '<bpmn:userTask id="Task_sonra" name="Sonra">'
        "<bpmn:extensionElements><spiffworkflow:properties>"
        '<spiffworkflow:property name="candidateGroups" value="\'idari_isler\'" />'
        "</spiffworkflow:properties></bpmn:extensionElements>"
        "<bpmn:incoming>F2</bpmn:incoming><bpmn:outgoing>F3</bpmn:outgoing></bpmn:userTask>"
        '<bpmn:endEvent id="End_sec"><bpmn:incoming>F3</bpmn:incoming></bpmn:endEvent>'
        '<bpmn:sequenceFlow id="F2" sourceRef="Script_saldiri" targetRef="Task_sonra" />'
        '<bpmn:sequenceFlow id="F3" sourceRef="Task_sonra" targetRef="End_sec" />'
        "</bpmn:process></bpmn:definitions>"
    ).encode()


def condition_process(key: str, condition: str) -> bytes:
    """start → exclusive gateway whose first branch has ``condition`` → user tasks → end."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions {NAMESPACES}>'
        f'<bpmn:process id="{key}" name="Koşul {key}" isExecutable="true">'
        '<bpmn:startEvent id="Start_sec"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>'
        '<bpmn:exclusiveGateway id="Gw" default="F_b"><bpmn:incoming>F1</bpmn:incoming>'
        "<bpmn:outgoing>F_a</bpmn:outgoing><bpmn:outgoing>F_b</bpmn:outgoing></bpmn:exclusiveGateway>"
        '<bpmn:sequenceFlow id="F1" sourceRef="Start_sec" targetRef="Gw" />'
        '<bpmn:sequenceFlow id="F_a" sourceRef="Gw" targetRef="End_a">'
        f"<bpmn:conditionExpression>{escape(condition)}</bpmn:conditionExpression></bpmn:sequenceFlow>"
        '<bpmn:sequenceFlow id="F_b" sourceRef="Gw" targetRef="End_b" />'
        '<bpmn:endEvent id="End_a"><bpmn:incoming>F_a</bpmn:incoming></bpmn:endEvent>'
        '<bpmn:endEvent id="End_b"><bpmn:incoming>F_b</bpmn:incoming></bpmn:endEvent>'
        "</bpmn:process></bpmn:definitions>"
    ).encode()


def user_task_property_process(key: str, name: str, expression: str) -> bytes:
    """start → one user task whose property ``name`` is ``expression`` → end."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions {NAMESPACES}>'
        f'<bpmn:process id="{key}" name="Özellik {key}" isExecutable="true">'
        '<bpmn:startEvent id="Start_sec"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>'
        '<bpmn:userTask id="Task_x" name="Görev">'
        "<bpmn:extensionElements><spiffworkflow:properties>"
        f'<spiffworkflow:property name="{name}" value="{escape(expression, {chr(34): "&quot;"})}" />'
        "</spiffworkflow:properties></bpmn:extensionElements>"
        "<bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing></bpmn:userTask>"
        '<bpmn:endEvent id="End_sec"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>'
        '<bpmn:sequenceFlow id="F1" sourceRef="Start_sec" targetRef="Task_x" />'
        '<bpmn:sequenceFlow id="F2" sourceRef="Task_x" targetRef="End_sec" />'
        "</bpmn:process></bpmn:definitions>"
    ).encode()


def with_prologue(bpmn: bytes, doctype: str, *, name: str | None = None, documentation: str | None = None) -> bytes:
    """``bpmn`` with a DOCTYPE after the XML declaration; the process name and/or a documentation
    element of the first user task replaced by entity references."""
    text = bpmn.decode()
    declaration, rest = text.split("?>", 1)
    if name is not None:
        rest = re.sub(r'(<bpmn:process id="[^"]+" name=")[^"]*(")', rf"\g<1>{name}\g<2>", rest, count=1)
    if documentation is not None:
        rest = re.sub(
            r'(<bpmn:userTask id="[^"]+" name="[^"]*">)',
            rf"\g<1><bpmn:documentation>{documentation}</bpmn:documentation>",
            rest,
            count=1,
        )
    return f"{declaration}?>\n{doctype}\n{rest}".encode()


BILLION_LAUGHS = (
    '<!DOCTYPE bpmn:definitions [<!ENTITY l0 "lollollollollollollollollollol">'
    + "".join(f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
    + "]>"
)
