"""Kalem's web application and the composition root: ``create_app`` wires settings, the
database, the engine's handlers and helpers, translations, sign-in, CSRF and the blueprints.

Pages are server-rendered (``templates/``); every page of the staff UI extends ``base.html`` and
fills its ``title``, ``content`` and ``scripts`` blocks. Views follow one pattern: parse the request,
open one transaction (``request_scope.write``) or read session (``request_scope.read``), call the
engine, render or redirect; engine errors become pages through ``errors.py``.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request
from flask_login import current_user
from flask_wtf.csrf import CSRFProtect
from werkzeug.routing import IntegerConverter, Map

from engine import db as dbmod
from engine import logs, setup
from engine.config import Settings

csrf = CSRFProtect()


class IdConverter(IntegerConverter):
    """``<int:…>`` ids within the database's integer range: a larger number is a 404 like any
    unknown id, not an overflow in the database driver."""

    def __init__(self, map: Map, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def create_app(settings: Settings | None = None, *, database: dbmod.Database | None = None) -> Flask:
    """The web app; ``database`` (tests) replaces the one ``settings`` names."""
    import handlers
    from webui import (
        audit_pages,
        auth,
        designer_pages,
        errors,
        form_designer_pages,
        i18n,
        inbox,
        instance_pages,
        manage_pages,
        security,
        start_pages,
        stats_pages,
        task_pages,
        templating,
    )
    from webui.api import api

    settings = settings or Settings.from_env()
    setup.configure(settings, handlers.ALL)
    app = Flask(__name__)
    app.url_map.converters["int"] = IdConverter
    app.config.update(
        SECRET_KEY=settings.secret_key,
        # The session cookie: never readable by scripts, not sent on cross-site sub-requests.
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="kalem_session",
        # An upload larger than the attachment limit is refused before it is read (413).
        MAX_CONTENT_LENGTH=settings.attachment_max_bytes + 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,
    )
    app.extensions["kalem_db"] = database or dbmod.from_settings(settings)
    app.extensions["kalem_settings"] = settings

    csrf.init_app(app)
    security.register(app)  # CSP and the other security headers
    i18n.init_app(app)
    templating.init_app(app)
    auth.init_app(app)
    errors.init_app(app)
    pages = (auth.bp, inbox.bp, task_pages.bp, instance_pages.bp, start_pages.bp)  # staff (issue #4)
    management = (manage_pages.bp, audit_pages.bp)  # the Müdür pages and the audit trail
    design = (designer_pages.bp, form_designer_pages.bp, stats_pages.bp)  # designer and statistics
    for blueprint in (*pages, *management, *design):
        app.register_blueprint(blueprint)
    # The API authenticates every call with a bearer token, not a cookie: no CSRF token to check.
    csrf.exempt(api)
    app.register_blueprint(api)

    _log_requests(app)
    logs.configure(settings.extra.get("KALEM_LOG_FORMAT", "json"), settings.extra.get("KALEM_LOG_LEVEL", "INFO"))

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _log_requests(app: Flask) -> None:
    """One structured line per request: method, path, status, duration and who."""
    log = logging.getLogger("kalem.web")

    @app.before_request
    def _started() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _finished(response: Response) -> Response:
        actor = getattr(current_user, "actor", None) or getattr(g.get("api_identity"), "actor", None)
        log.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "ms": round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 1),
                "user": getattr(actor, "username", None),
            },
        )
        return response
