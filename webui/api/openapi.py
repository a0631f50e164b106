"""The OpenAPI 3 document of ``/api/v1``, generated from the views' ``documented`` marks and the
marshmallow schemas they name (apispec), and a plain HTML page that lists it."""

from __future__ import annotations

import json
import re
from html import escape
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import current_app

from webui.api import schemas

ERRORS = {
    "400": "İstek gövdesi geçerli bir JSON nesnesi değil.",
    "401": "Belirteç yok ya da geçersiz.",
    "403": "Belirtecin kapsamı ya da kullanıcının yetkisi yetmiyor.",
    "404": "Bulunamadı (ya da görme yetkiniz yok).",
    "409": "Çakışma: kayıt başkası tarafından değiştirildi ya da durum uygun değil.",
    "422": "Girdi geçersiz; alanlar tek tek belirtilir.",
}
PREFIX = "/api/v1"
PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")


def build() -> dict[str, Any]:
    spec = APISpec(
        title="Kalem API",
        version="1",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={"description": "Özel Kalem iş akışları için REST API. Belirteç: `kalem token create`."},
        servers=[{"url": PREFIX}],
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("ErrorEnvelope", schema=schemas.ErrorEnvelope)
    for rule in sorted(current_app.url_map.iter_rules(), key=lambda r: r.rule):
        view = current_app.view_functions.get(rule.endpoint)
        doc = getattr(view, "api_doc", None)
        if doc is None or not rule.endpoint.startswith("api."):
            continue
        path = PARAM.sub(r"{\2}", rule.rule.removeprefix(PREFIX))
        method = next(m for m in rule.methods or () if m not in ("HEAD", "OPTIONS")).lower()
        spec.path(path=path, operations={method: _operation(rule, doc)})
    return spec.to_dict()


def _operation(rule: Any, doc: Any) -> dict[str, Any]:
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "integer" if kind == "int" else "string"}}
        for kind, name in PARAM.findall(rule.rule)
    ]
    parameters += [
        {"name": name, "in": "query", "required": False, "description": text, "schema": {"type": _query_type(name)}}
        for name, text in doc.query.items()
    ]
    error = {"content": {"application/json": {"schema": "ErrorEnvelope"}}}
    operation: dict[str, Any] = {
        "summary": doc.summary,
        "operationId": rule.endpoint.removeprefix("api."),
        "security": [{"bearer": [doc.scope]}],
        "description": f"Gerekli kapsam: `{doc.scope}`.",
        "parameters": parameters,
        "responses": {
            str(doc.status): {
                "description": "Başarılı.",
                "content": {"application/json": {"schema": doc.response}} if doc.response else {},
            },
            **{code: {"description": text, **error} for code, text in ERRORS.items()},
        },
    }
    if doc.body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": doc.body}}}
    return operation


def _query_type(name: str) -> str:
    return "integer" if name in ("limit", "offset") else "string"


def document_json() -> str:
    """The document as JSON, built once per application."""
    cached = current_app.extensions.get("kalem_openapi")
    if cached is None:
        cached = current_app.extensions["kalem_openapi"] = json.dumps(build(), ensure_ascii=False, indent=1)
    return cached


def docs_page() -> str:
    """A self-contained page listing every operation (no script, no CDN)."""
    document = json.loads(document_json())
    rows = []
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            params = ", ".join(p["name"] for p in op.get("parameters", []))
            rows.append(
                f"<tr><td><code>{escape(method.upper())}</code></td><td><code>{escape(path)}</code></td>"
                f"<td>{escape(op['summary'])}</td><td><code>{escape(op['security'][0]['bearer'][0])}</code></td>"
                f"<td>{escape(params)}</td></tr>"
            )
    return (
        '<!doctype html><html lang="tr"><head><meta charset="utf-8"><title>Kalem API</title>'
        "<style>body{font-family:sans-serif;margin:2rem}td,th{border-bottom:1px solid #ccc;padding:.3rem .6rem;"
        "text-align:left}</style></head><body><h1>Kalem API v1</h1>"
        "<p>Kimlik doğrulama: <code>Authorization: Bearer &lt;belirteç&gt;</code>. Hatalar: "
        '<code>{"error": {"code", "message", "fields"}}</code>. Makine okunur belge: '
        '<a href="openapi.json">openapi.json</a>.</p>'
        "<table><tr><th>Yöntem</th><th>Adres</th><th>Açıklama</th><th>Kapsam</th><th>Parametreler</th></tr>"
        + "".join(rows)
        + "</table></body></html>"
    )
