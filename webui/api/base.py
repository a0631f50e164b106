"""The API blueprint and what every view shares: token authentication, transactions, input
loading, JSON errors, and the ``documented`` marker the OpenAPI generator reads."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, g, jsonify, request
from marshmallow import Schema, ValidationError

from engine import clock, tokens
from engine import db as dbmod
from engine.errors import Conflict, DeployError, InvalidInput, KalemError, NotAllowed, NotFound, ProcessError
from engine.incidents import recorded_transaction

api = Blueprint("api", __name__, url_prefix="/api/v1")
F = TypeVar("F", bound=Callable[..., Any])

STATUS = {NotFound: 404, NotAllowed: 403, Conflict: 409, InvalidInput: 422, DeployError: 422, ProcessError: 500}


@dataclass(frozen=True)
class Doc:
    """What the OpenAPI document says of one view (the view itself is unchanged)."""

    summary: str
    scope: str
    response: type[Schema] | None = None
    body: type[Schema] | None = None
    query: dict[str, str] = field(default_factory=dict)
    status: int = 200


def documented(summary: str, scope: str, **options: Any) -> Callable[[F], F]:
    def mark(view: F) -> F:
        view.api_doc = Doc(summary, scope, **options)  # type: ignore[attr-defined]
        return view

    return mark


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.fields = status, code, message, fields
        self.retry_after = 0


def error_response(status: int, code: str, message: str, fields: dict[str, Any] | None = None) -> Response:
    response = jsonify({"error": {"code": code, "message": message, "fields": fields}})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="kalem"'
    return response


@api.errorhandler(ApiError)
def _api_error(exc: ApiError) -> Response:
    response = error_response(exc.status, exc.code, exc.message, exc.fields)
    if exc.retry_after:
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


@api.errorhandler(KalemError)
def _engine_error(exc: KalemError) -> Response:
    status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 400)
    return error_response(status, exc.code, str(exc), dict(exc.field_errors) or None)


@api.errorhandler(404)
@api.route("/<path:_unknown>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def _not_found(_unknown: Any = None) -> Response:
    return error_response(404, "not_found", "Böyle bir API adresi yok.")


@api.errorhandler(405)
def _method(_exc: Any) -> Response:
    return error_response(405, "method_not_allowed", "Bu adres bu yöntemi desteklemiyor.")


def database() -> dbmod.Database:
    return current_app.extensions["kalem_db"]


def identity(scope: str) -> tokens.Identity:
    """The caller's token identity, checked for ``scope`` (401 without a valid token, 403 without the scope)."""
    header = request.headers.get("Authorization", "")
    kind, _sep, secret = header.partition(" ")
    if kind.lower() != "bearer" or not secret.strip():
        raise ApiError(401, "unauthenticated", "Authorization: Bearer <belirteç> başlığı gerekli.")
    try:
        with dbmod.read_session(database()) as session:
            found = tokens.authenticate(session, secret.strip())
    except NotFound as exc:
        raise ApiError(401, "invalid_token", str(exc)) from None
    limit = current_app.extensions["kalem_settings"].api_rate_per_minute
    with dbmod.transaction(database()) as session:
        wait = tokens.count_request(session, found.token_id, limit, clock.now().timestamp())
    if wait:
        error = ApiError(429, "rate_limited", f"Çok fazla istek; {wait} saniye sonra yeniden deneyin.")
        error.retry_after = wait
        raise error
    tokens.require_scope(found.scopes, scope)
    if found.needs_touch(clock.now()):
        with dbmod.transaction(database()) as session:
            tokens.touch(session, found.token_id)
    g.api_identity = found
    return found


@contextmanager
def writing() -> Iterator[Any]:
    with recorded_transaction(database()) as session:
        yield session


@contextmanager
def reading() -> Iterator[Any]:
    with dbmod.read_session(database()) as session:
        yield session


def body(schema: type[Schema]) -> dict[str, Any]:
    """The JSON body loaded by ``schema``; 422 naming each bad field."""
    payload = request.get_json(silent=True)
    if payload is None and request.content_length:
        raise ApiError(400, "bad_json", "İstek gövdesi geçerli bir JSON nesnesi değil.")
    try:
        return schema().load(payload or {})
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        fields = {k: _as_list(v) for k, v in messages.items()}
        raise ApiError(422, "invalid_input", "İstek verisi geçersiz.", fields) from None


def _as_list(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def query_int(name: str, default: int, *, low: int = 0, high: int = 1000) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(422, "invalid_input", "Sorgu parametresi geçersiz.", {name: ["Bir tam sayı olmalı."]}) from None
    if not low <= value <= high:
        raise ApiError(422, "invalid_input", "Sorgu parametresi geçersiz.", {name: [f"{low}-{high} arası olmalı."]})
    return value


def dump(schema: type[Schema], value: Any, status: int = 200) -> Response:
    response = jsonify(schema().dump(value))
    response.status_code = status
    return response
