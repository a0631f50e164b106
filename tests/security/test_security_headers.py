"""Security headers on every response, and a Content-Security-Policy the pages satisfy.

The policy has no ``'unsafe-inline'`` and no ``'unsafe-eval'``: the templates are checked for inline
scripts and for inline handlers or styles that no hash could allow, and a real browser (Debian's
chromium, when installed) opens every kind of page — the bpmn-js modeler and viewers included —
without a single violation, while an injected inline script is blocked."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from factories import act
from security_support import deploy_havale, routed_case
from werkzeug.serving import make_server

from engine import tasks
from webui import security

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
EXPECTED = {
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}


def directives(policy: str) -> dict[str, list[str]]:
    parts = (p.strip().split() for p in policy.split(";") if p.strip())
    return {p[0]: p[1:] for p in parts}


def assert_secured(response: Any, what: str) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (what, name)
    assert "camera=()" in response.headers["Permissions-Policy"], what
    policy = directives(response.headers["Content-Security-Policy"])
    assert policy["default-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"], what
    assert policy["script-src"] == ["'self'"] and policy["object-src"] == ["'none'"], what
    assert policy["base-uri"] == ["'none'"] and policy["form-action"] == ["'self'"], what
    every_source = " ".join(s for sources in policy.values() for s in sources)
    assert "'unsafe-inline'" not in every_source and "'unsafe-eval'" not in every_source, what
    assert "*" not in every_source.split() and "http:" not in every_source, what


def test_every_kind_of_response_carries_the_headers(app, sign_in, db) -> None:
    anonymous = app.test_client()
    browser = sign_in("admin")
    responses = {
        "login page": anonymous.get("/login"),
        "redirect to sign-in": anonymous.get("/"),
        "static file": anonymous.get("/static/css/kalem.css"),
        "health": anonymous.get("/health"),
        "missing page": browser.get("/yok-boyle-bir-sayfa"),
        "inbox": browser.get("/"),
        "API without token": anonymous.get("/api/v1/tasks"),
        "API document": anonymous.get("/api/v1/openapi.json"),
        "API docs page": anonymous.get("/api/v1/docs"),
        "CSRF refusal": browser.post("/logout", csrf=False),
    }
    for what, response in responses.items():
        assert_secured(response, what)
        response.close()


def test_https_requests_get_strict_transport_security(app) -> None:
    response = app.test_client().get("/login", base_url="https://kalem.belediye.local")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "Strict-Transport-Security" not in app.test_client().get("/login").headers


def test_a_view_keeps_the_headers_it_set_itself(app, sign_in, db) -> None:
    response = sign_in("admin").get("/api/v1/docs")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers.getlist("X-Frame-Options") == ["DENY"]


def test_templates_have_nothing_inline_that_a_hash_cannot_allow() -> None:
    inline = security.inline_attributes()
    assert inline.dynamic == (), f"inline handlers or styles built from variables: {inline.dynamic}"
    executable_inline_scripts = []
    for path in sorted(security.TEMPLATES.rglob("*.html")):
        for attributes in re.findall(r"<script\b([^>]*)>", path.read_text(encoding="utf-8")):
            if "src=" not in attributes and "application/json" not in attributes:
                executable_inline_scripts.append(path.name)
    assert executable_inline_scripts == []
    policy = directives(security.content_security_policy())
    for handler in inline.handlers:
        assert security.source_hash(handler) in policy["script-src-attr"]
    for style in inline.styles:
        assert security.source_hash(style) in policy["style-src-attr"]


def test_the_api_docs_page_style_is_allowed_by_its_hash_only(app) -> None:
    response = app.test_client().get("/api/v1/docs")
    [css] = re.findall(r"<style>(.*?)</style>", response.get_data(as_text=True), re.DOTALL)
    policy = directives(response.headers["Content-Security-Policy"])
    assert security.source_hash(css) in policy["style-src-elem"]
    other = directives(app.test_client().get("/login").headers["Content-Security-Policy"])
    assert other["style-src-elem"] == ["'self'"]


# --- in a real browser -------------------------------------------------------------------------------


@pytest.fixture
def server(app: Any) -> Iterator[str]:
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        thread.join(timeout=10)
        httpd.server_close()


VIOLATIONS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  e => window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' + (e.sample || '')));
"""


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium yok: Debian'ın chromium paketini kurun")
def test_every_page_runs_under_the_policy_in_a_browser(server, db) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    deploy_havale(db)
    case = routed_case(db, "fen_isleri", "CSP-1")
    act(db, "fenisleri.memur", lambda s, a: tasks.claim(s, a, case.answer_task_id))
    pages = [
        "/",
        "/start",
        f"/tasks/{case.answer_task_id}",
        f"/instances/{case.instance_id}",
        f"/stats/instances/{case.instance_id}",
        "/stats",
        "/stats/processes/test_havale/1",
        "/designer",
        "/designer/processes/test_havale/1",
        "/designer/processes/test_havale/diff",
        "/designer/forms",
        "/designer/forms/kayit_formu/1",
        "/manage",
        "/manage/substitutions",
        "/audit",
        f"/audit/instances/{case.instance_id}",
        "/api/v1/docs",
    ]
    problems: dict[str, list[str]] = {}
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        page.set_default_timeout(15_000)
        page.add_init_script(VIOLATIONS)
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
        page.goto(f"{server}/login")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", "demo")
        page.click("button[type=submit]")
        page.wait_for_url(f"{server}/")
        for path in pages:
            errors.clear()
            response = page.goto(server + path)
            assert response is not None and response.status == 200, path
            page.wait_for_load_state("networkidle")
            if path.startswith("/designer/processes/test_havale/1"):
                # Open the context pad and the label editor: bpmn-js draws them on demand.
                shape = page.locator('[data-element-id="Task_kayit"]').first
                shape.click()
                shape.dblclick()
                page.keyboard.press("Escape")
            found = page.evaluate("window.__csp") + errors
            if found:
                problems[path] = found
        # The control: the browser does enforce the policy — an injected inline script never runs.
        page.goto(f"{server}/")
        page.evaluate(
            "const s = document.createElement('script'); s.textContent = 'window.__ran = 1';"
            "document.body.appendChild(s);"
        )
        blocked = page.evaluate("[window.__ran === undefined, window.__csp.length]")
        browser.close()
    assert problems == {}
    assert blocked[0] is True and blocked[1] >= 1
