"""The form designer (``/designer/forms``): deployed ``*.form.json`` forms and the designer's form
drafts, a field-list editor with a live preview rendered by the same macros as the task page, and
check, save and deploy through the process designer's JSON endpoints.

Process designers and administrators only (the engine refuses anyone else: 403).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from flask_login import login_required
from sqlalchemy.orm import Session

import forms
from engine import designer
from engine.actors import Actor
from engine.errors import InvalidInput
from forms.options import TYPE_OPTIONS
from webui.request_scope import current_actor, read, write

bp = Blueprint("form_designer", __name__, url_prefix="/designer/forms")


def _render_index(values: dict[str, str] | None = None, errors: dict[str, list[str]] | None = None, status: int = 200):
    def render(session: Session, actor: Actor) -> str:
        return render_template(
            "designer/forms.html",
            forms=designer.list_forms(session, actor),
            drafts=designer.list_drafts(session, actor, kind="form"),
            values=values or {},
            errors=errors or {},
        )

    return read(render), status


@bp.get("")
@login_required
def index() -> Any:
    return _render_index()


@bp.post("/new")
@login_required
def new() -> Any:
    values = {k: request.form.get(k, "") for k in ("key", "title")}
    try:
        draft_id = write(lambda s, a: designer.new_form(s, a, values["key"], values["title"]).id)
    except InvalidInput as exc:
        return _render_index(values, exc.field_errors, 400)
    return redirect(url_for("form_designer.edit_draft", draft_id=draft_id), 303)


def _editor(title: str, file_name: str, content: str, draft_id: int | None) -> str:
    return render_template(
        "designer/form_editor.html",
        title=title,
        file_name=file_name,
        content=content,
        draft_id=draft_id,
        field_types=sorted(forms.FIELD_TYPES),
        type_options={k: sorted(v) for k, v in TYPE_OPTIONS.items()},
    )


@bp.get("/<key>/<int:version>")
@login_required
def edit_version(key: str, version: int) -> Any:
    file_name, content = read(lambda s, a: designer.form_source(s, a, key, version))
    return _editor(f"{key} v{version}", file_name, content, None)


@bp.get("/drafts/<int:draft_id>")
@login_required
def edit_draft(draft_id: int) -> Any:
    def render(session: Session, actor: Actor) -> Any:
        draft = designer.get_draft(session, actor, draft_id)
        if draft.kind != "form":
            return redirect(url_for("designer.edit_draft", draft_id=draft_id))
        return _editor(draft.name, draft.name, draft.content, draft.id)

    return read(render)


@bp.post("/preview")
@login_required
def preview() -> Any:
    data = request.get_json(silent=True)
    content = str(data.get("content") or "") if isinstance(data, dict) else ""
    result = designer.preview_form(current_actor(), content)
    html = ""
    if result.definition is not None:
        html = render_template("designer/_form_preview.html", form=result.definition, values=result.values)
    return jsonify({"html": html, "problems": result.problems, "values": result.values})
