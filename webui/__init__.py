"""Kalem's web application and the composition root: ``create_app`` wires settings, the
database, the engine's handlers and helpers, and the blueprints."""

from __future__ import annotations

from flask import Flask, render_template_string

from engine import db as dbmod
from engine import setup
from engine.config import Settings

PAGE = """<!doctype html><html lang="tr"><head><meta charset="utf-8"><title>Kalem</title></head>
<body><h1>Kalem — Özel Kalem iş akışları</h1>
<p>Motor çalışıyor. {{ definitions }} süreç tanımı, {{ open_tasks }} açık görev.</p>
<p>İş listesi arayüzü yapım aşamasında; şimdilik <code>kalem</code> komut satırını kullanın.</p></body></html>"""


def create_app(settings: Settings | None = None) -> Flask:
    import handlers

    settings = settings or Settings.from_env()
    setup.configure(settings, handlers.ALL)
    database = dbmod.from_settings(settings)
    app = Flask(__name__)
    app.config["SECRET_KEY"] = settings.secret_key
    app.extensions["kalem_db"] = database
    app.extensions["kalem_settings"] = settings

    @app.get("/")
    def index() -> str:
        from sqlalchemy import func, select

        from engine.models import ACTIVE_TASK_STATES, HumanTask, ProcessDefinition

        with dbmod.read_session(database) as session:
            definitions = session.scalar(select(func.count(func.distinct(ProcessDefinition.key)))) or 0
            open_tasks = (
                session.scalar(select(func.count(HumanTask.id)).where(HumanTask.state.in_(ACTIVE_TASK_STATES))) or 0
            )
        return render_template_string(PAGE, definitions=definitions, open_tasks=open_tasks)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
