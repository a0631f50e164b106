"""XXE and entity-expansion BPMN uploads, through every way a BPMN file enters Kalem: the engine's
deploy, ``kalem deploy`` and the designer's upload, check and deploy routes.

Each payload must be refused or stored without its entities resolved: the secret file's content
never appears anywhere (error messages, process names, parsed specs, responses), no network request
leaves the process, and the answer comes within a few seconds (no expansion bomb goes off)."""

from __future__ import annotations

import http.server
import io
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from factories import act, read
from security_support import BILLION_LAUGHS, bearer, user_task_property_process, with_prologue

from engine import advance, definitions
from engine.errors import DeployError
from engine.models import ProcessDefinition

SECRET = "KALEM-GIZLI-7f3a9c"
FAST = 5.0  # seconds; an entity bomb that went off would take far longer or exhaust memory
KEY = "sec_xml"
QUADRATIC = '<!DOCTYPE bpmn:definitions [<!ENTITY big "' + "x" * 50_000 + '">]>'


class Sink:
    """A local HTTP server counting the requests an XML parser might make for entities or DTDs."""

    def __init__(self) -> None:
        hits: list[str] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.append(self.path)
                body = f'<!ENTITY leak "{SECRET}">'.encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.hits = hits
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sink() -> Iterator[Sink]:
    server = Sink()
    yield server
    server.close()


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET)
    return path


def payloads(secret: Path, sink: Sink) -> dict[str, bytes]:
    base = user_task_property_process(KEY, "candidateGroups", "'idari_isler'")
    file_entity = f'<!DOCTYPE bpmn:definitions [<!ENTITY xxe SYSTEM "file://{secret}">]>'
    http_entity = f'<!DOCTYPE bpmn:definitions [<!ENTITY xxe SYSTEM "{sink.url}/entity">]>'
    return {
        "file-entity-in-attribute": with_prologue(base, file_entity, name="&xxe;"),
        "file-entity-in-text": with_prologue(base, file_entity, documentation="&xxe;"),
        "http-entity-in-text": with_prologue(base, http_entity, documentation="&xxe;"),
        "parameter-entity-file": with_prologue(
            base, f'<!DOCTYPE bpmn:definitions [<!ENTITY % p SYSTEM "file://{secret}"> %p;]>'
        ),
        "parameter-entity-http": with_prologue(
            base, f'<!DOCTYPE bpmn:definitions [<!ENTITY % p SYSTEM "{sink.url}/param"> %p;]>', documentation="&leak;"
        ),
        "external-dtd": with_prologue(
            base, f'<!DOCTYPE bpmn:definitions SYSTEM "{sink.url}/evil.dtd">', documentation="&leak;"
        ),
        "xinclude": with_prologue(
            base,
            "",
            documentation=(
                f'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file://{secret}" parse="text"/>'
            ),
        ),
        "billion-laughs-in-attribute": with_prologue(base, BILLION_LAUGHS, name="&l9;"),
        "billion-laughs-in-text": with_prologue(base, BILLION_LAUGHS, documentation="&l9;"),
        "quadratic-blowup": with_prologue(base, QUADRATIC, documentation="&big;" * 2_000),
    }


PAYLOAD_NAMES = [
    "file-entity-in-attribute",
    "file-entity-in-text",
    "http-entity-in-text",
    "parameter-entity-file",
    "parameter-entity-http",
    "external-dtd",
    "xinclude",
    "billion-laughs-in-attribute",
    "billion-laughs-in-text",
    "quadratic-blowup",
]


def deployed_texts(db: Any) -> str:
    """Everything a deployed version exposes: names, and every name/documentation of its parsed spec."""

    def collect(session: Any) -> str:
        texts: list[str] = [str(r) for r in definitions.list_definitions(session)]
        for definition in session.query(ProcessDefinition).all():
            spec, _subs = advance.specs_for(definition)
            for task_spec in spec.task_specs.values():
                texts += [str(getattr(task_spec, a, "") or "") for a in ("bpmn_name", "documentation", "description")]
        return "\n".join(texts)

    return read(db, collect)


def assert_harmless(text: str, sink: Sink, started: float) -> None:
    assert SECRET not in text
    assert "lollollollollollollollollollollollol" not in text
    assert sink.hits == []
    assert time.monotonic() - started < FAST


def test_the_payloads_wrap_a_deployable_process(db) -> None:
    """The control: without its prologue each payload is a process that deploys, so a refusal below
    is the parser's doing, not a broken document's."""
    base = user_task_property_process(KEY, "candidateGroups", "'idari_isler'")
    plain = with_prologue(base, "", documentation="sadece metin")
    deployed = act(db, None, lambda s, a: definitions.deploy(s, a, [("sec_xml.bpmn", plain)]))
    assert [d.key for d in deployed if d.kind == "process"] == [KEY]
    assert "sadece metin" in deployed_texts(db)


@pytest.mark.parametrize("payload", PAYLOAD_NAMES)
def test_engine_deploy_never_resolves_entities(db, secret_file, sink, payload) -> None:
    files = [("sec_xml.bpmn", payloads(secret_file, sink)[payload])]
    started = time.monotonic()
    try:
        act(db, None, lambda s, a: definitions.deploy(s, a, files))
        answer = "deployed"
    except DeployError as exc:
        answer = str(exc) + "\n".join(str(p) for p in exc.problems)
    assert_harmless(answer + deployed_texts(db), sink, started)
    if payload.startswith(("file-entity", "http-entity", "billion", "quadratic")):
        # Entities used in content are refused outright, not silently dropped.
        assert answer != "deployed"


def cli_env(db: Any, settings: Any, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "KALEM_DATABASE_URL": db.process_url,
        "KALEM_INSTANCE_DIR": str(tmp_path / "cli-instance"),
        "KALEM_AUDIT_KEY": settings.audit_key,
    }


@pytest.mark.parametrize("payload", ["file-entity-in-text", "http-entity-in-text", "billion-laughs-in-text"])
def test_cli_deploy_never_resolves_entities(db, settings, secret_file, sink, tmp_path, payload) -> None:
    path = tmp_path / "sec_xml.bpmn"
    path.write_bytes(payloads(secret_file, sink)[payload])
    started = time.monotonic()
    result = subprocess.run(
        [str(Path(sys.executable).parent / "kalem"), "deploy", str(path)],
        env=cli_env(db, settings, tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 7, result.stdout + result.stderr  # 7: deployment rejected
    assert "sec_xml" in result.stderr
    assert_harmless(result.stdout + result.stderr + deployed_texts(db), sink, started)


@pytest.mark.parametrize("payload", PAYLOAD_NAMES)
def test_designer_routes_never_resolve_entities(db, sign_in, secret_file, sink, payload) -> None:
    designer = sign_in("tasarimci1")
    content = payloads(secret_file, sink)[payload]
    headers = {"X-CSRFToken": designer.token("/designer")}
    body = {"name": "sec_xml.bpmn", "content": content.decode()}
    started = time.monotonic()
    checked = designer.client.post("/designer/check", json=body, headers=headers)
    assert_harmless(checked.get_data(as_text=True), sink, started)
    started = time.monotonic()
    deployed = designer.client.post("/designer/deploy", json={**body, "change_note": "saldırı"}, headers=headers)
    assert_harmless(deployed.get_data(as_text=True), sink, started)
    started = time.monotonic()
    uploaded = designer.post("/designer/upload", {"file": (io.BytesIO(content), "sec_xml.bpmn")}, follow_redirects=True)
    assert_harmless(uploaded.get_data(as_text=True), sink, started)
    assert checked.status_code in (200, 400, 422) and deployed.status_code in (400, 422, 200)
    assert uploaded.status_code == 200
    assert_harmless(deployed_texts(db), sink, time.monotonic())
    if payload.startswith(("file-entity", "http-entity", "billion", "quadratic")):
        assert checked.json["problems"] or checked.status_code >= 400
        assert deployed.status_code >= 400 and not read(db, lambda s: definitions.list_definitions(s))


# --- XLSX imports: a workbook is XML too ----------------------------------------------------------------


def workbook_with(doctype: str, entity: str) -> bytes:
    """A CİMER export (.xlsx) whose shared strings carry ``doctype`` and use ``entity`` in a cell."""
    import zipfile

    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["Başvuru No", "Konu"])
    book.active.append(["77", "Yol"])
    plain = io.BytesIO()
    book.save(plain)
    source, out = zipfile.ZipFile(io.BytesIO(plain.getvalue())), io.BytesIO()
    # openpyxl writes the strings to a shared-strings part or inline in the sheet, by version.
    part = "xl/sharedStrings.xml" if "xl/sharedStrings.xml" in source.namelist() else "xl/worksheets/sheet1.xml"
    with zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            if name == part:
                text = data.decode()
                text = text.replace("?>", "?>" + doctype, 1) if text.startswith("<?xml") else doctype + text
                data = text.replace("<t>77</t>", f"<t>{entity}</t>").replace("<v>77</v>", f"<v>{entity}</v>").encode()
            target.writestr(name, data)
    return out.getvalue()


def workbooks(secret: Path) -> dict[str, bytes]:
    return {
        "xlsx-file-entity": workbook_with(f'<!DOCTYPE sst [<!ENTITY xxe SYSTEM "file://{secret}">]>', "&xxe;"),
        "xlsx-billion-laughs": workbook_with(BILLION_LAUGHS.replace("bpmn:definitions", "sst"), "&l9;"),
    }


@pytest.mark.parametrize("payload", ["xlsx-file-entity", "xlsx-billion-laughs"])
def test_xlsx_import_never_resolves_entities(app, db, secret_file, payload) -> None:
    from xml.etree.ElementTree import ParseError

    client = app.test_client()
    started = time.monotonic()
    try:
        response = client.post(
            "/api/v1/imports/cimer?preview=true",
            headers=bearer(db, "hi1", ["import:write"]),
            data={"file": (io.BytesIO(workbooks(secret_file)[payload]), "cimer.xlsx")},
        )
        answer = response.get_data(as_text=True)
    except ParseError as exc:  # the test client re-raises what a server would turn into a 500
        answer = str(exc)
    assert SECRET not in answer and "lollollol" not in answer
    assert time.monotonic() - started < FAST


def test_xlsx_with_entities_is_refused_as_invalid_input(app, db, secret_file) -> None:
    response = app.test_client().post(
        "/api/v1/imports/cimer?preview=true",
        headers=bearer(db, "hi1", ["import:write"]),
        data={"file": (io.BytesIO(workbooks(secret_file)["xlsx-billion-laughs"]), "cimer.xlsx")},
    )
    assert response.status_code == 422
