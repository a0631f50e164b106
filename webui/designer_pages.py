"""The process designer (``/designer``): deployed processes and their versions, the bpmn-js modeler
with Kalem's properties panel, drafts, upload and download, checks shown on the diagram, deploys with
a change note, the diff between versions and the migration of running cases.

Only process designers and administrators get in (the engine refuses anyone else: 403). The modeler
talks JSON to ``/designer/check``, ``/designer/drafts`` and ``/designer/deploy`` (CSRF token in the
``X-CSRFToken`` header); every other page is a plain form. Each view makes one engine call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy.orm import Session

from engine import designer, instance_migration
from engine.actors import Actor
from engine.errors import DeployError, InvalidInput, KalemError
from webui.errors import status_for
from webui.request_scope import read, write

bp = Blueprint("designer", __name__, url_prefix="/designer")
MAX_MIGRATION_PAGE = 100


def _json_error(exc: KalemError) -> tuple[Response, int]:
    body: dict[str, Any] = {"error": {"code": exc.code, "message": str(exc.message), "fields": exc.field_errors}}
    if isinstance(exc, DeployError):
        body["problems"] = designer.problems_as_dicts(exc.problems)
    return jsonify(body), status_for(exc)


def _json_call(fn: Callable[[Session, Actor], Any]) -> Any:
    """``write(fn)`` answering JSON, engine refusals included."""
    try:
        return write(fn)
    except KalemError as exc:
        return _json_error(exc)


def _payload() -> dict[str, Any]:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return int(value) if isinstance(value, str) and value.isdigit() and len(value) < 10 else None


# --- list, new, upload ------------------------------------------------------------------------------


def _render_index(values: dict[str, str] | None = None, errors: dict[str, list[str]] | None = None, status: int = 200):
    def render(session: Session, actor: Actor) -> str:
        return render_template(
            "designer/index.html",
            processes=designer.list_processes(session, actor),
            drafts=designer.list_drafts(session, actor),
            groups=designer.catalog(session, actor)["groups"],
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
    values = {k: request.form.get(k, "") for k in ("key", "name", "group")}
    try:
        draft_id = write(lambda s, a: designer.new_process(s, a, values["key"], values["name"], values["group"]).id)
    except InvalidInput as exc:
        return _render_index(values, exc.field_errors, 400)
    flash(_("Yeni süreç taslağı oluşturuldu; ilk adımın formu da taslak olarak hazır."), "success")
    return redirect(url_for("designer.edit_draft", draft_id=draft_id), 303)


@bp.post("/upload")
@login_required
def upload() -> Any:
    file = request.files.get("file")
    name, content = (file.filename or "", file.read()) if file is not None else ("", b"")
    try:
        draft = write(lambda s, a: (d := designer.upload(s, a, name, content)) and (d.id, d.kind))
    except InvalidInput as exc:
        flash(str(exc.message), "error")
        return redirect(url_for("designer.index"), 303)
    flash(_("Dosya taslak olarak yüklendi: %(name)s", name=name), "success")
    if draft[1] == "form":
        return redirect(url_for("form_designer.edit_draft", draft_id=draft[0]), 303)
    return redirect(url_for("designer.edit_draft", draft_id=draft[0]), 303)


# --- the modeler ------------------------------------------------------------------------------------


@bp.get("/processes/<key>/<int:version>")
@login_required
def edit_version(key: str, version: int) -> Any:
    def render(session: Session, actor: Actor) -> str:
        definition = designer.get_version(session, actor, key, version)
        return render_template(
            "designer/editor.html",
            title=f"{definition.name} v{definition.version}",
            key=key,
            file_name=definition.file_name,
            base_version=version,
            draft_id=None,
            source_url=url_for("designer.version_source", key=key, version=version),
            catalog=designer.catalog(session, actor),
            process=next((p for p in designer.list_processes(session, actor) if p.key == key), None),
        )

    return read(render)


@bp.get("/processes/<key>/<int:version>/source.bpmn")
@login_required
def version_source(key: str, version: int) -> Response:
    name, xml = read(lambda s, a: designer.version_source(s, a, key, version))
    response = Response(xml, mimetype="application/xml")
    if request.args.get("download"):
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/drafts/<int:draft_id>")
@login_required
def edit_draft(draft_id: int) -> Any:
    def render(session: Session, actor: Actor) -> Any:
        draft = designer.get_draft(session, actor, draft_id)
        if draft.kind == "form":
            return redirect(url_for("form_designer.edit_draft", draft_id=draft_id))
        return render_template(
            "designer/editor.html",
            title=draft.name,
            key=draft.key,
            file_name=draft.name,
            base_version=draft.base_version,
            draft_id=draft.id,
            source_url=url_for("designer.draft_source", draft_id=draft.id),
            catalog=designer.catalog(session, actor),
            process=next((p for p in designer.list_processes(session, actor) if p.key == draft.key), None),
        )

    return read(render)


@bp.get("/drafts/<int:draft_id>/source")
@login_required
def draft_source(draft_id: int) -> Response:
    name, kind, content = read(lambda s, a: (d := designer.get_draft(s, a, draft_id)) and (d.name, d.kind, d.content))
    response = Response(content, mimetype="application/xml" if kind == "bpmn" else "application/json")
    if request.args.get("download"):
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.post("/drafts/<int:draft_id>/delete")
@login_required
def delete_draft(draft_id: int) -> Any:
    write(lambda s, a: designer.delete_draft(s, a, draft_id))
    flash(_("Taslak silindi."), "success")
    return redirect(url_for("designer.index"), 303)


@bp.post("/drafts")
@login_required
def save_draft() -> Any:
    data = _payload()
    name, content = str(data.get("name") or ""), str(data.get("content") or "")
    base, draft_id = _int_or_none(data.get("base_version")), _int_or_none(data.get("draft_id"))

    def save(session: Session, actor: Actor) -> Any:
        draft = designer.save_draft(session, actor, name, content, base_version=base, draft_id=draft_id)
        endpoint = "form_designer.edit_draft" if draft.kind == "form" else "designer.edit_draft"
        return jsonify({"id": draft.id, "url": url_for(endpoint, draft_id=draft.id), "name": draft.name})

    return _json_call(save)


@bp.post("/check")
@login_required
def check() -> Any:
    data = _payload()
    name, content = str(data.get("name") or ""), str(data.get("content") or "").encode("utf-8")
    return _json_call(
        lambda s, a: jsonify({"problems": designer.problems_as_dicts(designer.check(s, a, name, content))})
    )


@bp.post("/deploy")
@login_required
def deploy() -> Any:
    data = _payload()
    name, content = str(data.get("name") or ""), str(data.get("content") or "").encode("utf-8")
    note = str(data.get("change_note") or "")
    base, draft_id = _int_or_none(data.get("base_version")), _int_or_none(data.get("draft_id"))

    def run(session: Session, actor: Actor) -> Any:
        deployed = designer.deploy(
            session, actor, name, content, change_note=note, base_version=base, draft_id=draft_id
        )
        processes = [d for d in deployed if d.kind == "process"]
        return jsonify(
            {
                "deployed": [
                    {"key": d.key, "version": d.version, "kind": d.kind, "created": d.created} for d in deployed
                ],
                "created": any(d.created for d in deployed),
                "links": [
                    {
                        "label": str(d),
                        "version": d.version,
                        "edit": url_for("designer.edit_version", key=d.key, version=d.version),
                        "migrate": url_for("designer.migration", key=d.key, to=d.version),
                        "diff": url_for("designer.diff", key=d.key, to=d.version, **{"from": max(d.version - 1, 1)}),
                    }
                    for d in processes
                ],
            }
        )

    return _json_call(run)


# --- diff -------------------------------------------------------------------------------------------


@bp.get("/processes/<key>/diff")
@login_required
def diff(key: str) -> Any:
    old, new = _int_or_none(request.args.get("from")), _int_or_none(request.args.get("to"))

    def render(session: Session, actor: Actor) -> str:
        process = next((p for p in designer.list_processes(session, actor) if p.key == key), None)
        if process is None:
            designer.get_version(session, actor, key, 1)  # raises NotFound
        assert process is not None
        to = new or process.latest.version
        frm = old or max(to - 1, 1)
        changes = designer.diff_versions(session, actor, key, frm, to)
        return render_template("designer/diff.html", process=process, old=frm, new=to, changes=changes)

    return read(render)


# --- migration --------------------------------------------------------------------------------------


def _mapping(text: str) -> dict[str, str]:
    """``eski_id=yeni_id`` lines (or ``eski_id -> yeni_id``) as a dict; blank lines are skipped."""
    mapping: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        separator = "->" if "->" in line else "="
        old, _sep, new = line.partition(separator)
        if not old.strip() or not new.strip():
            raise InvalidInput(
                _("Eşleme satırı anlaşılamadı: '%(line)s' (eski_id=yeni_id yazın).", line=line),
                field_errors={"mapping": [_("Her satır eski_id=yeni_id biçiminde olmalı.")]},
            )
        mapping[old.strip()] = new.strip()
    return mapping


@bp.get("/processes/<key>/migrate")
@login_required
def migration(key: str) -> Any:
    mapping_text = request.args.get("mapping", "")
    after = _int_or_none(request.args.get("after")) or 0

    def render(session: Session, actor: Actor) -> str:
        process = next((p for p in designer.list_processes(session, actor) if p.key == key), None)
        if process is None:
            designer.get_version(session, actor, key, 1)  # raises NotFound
        assert process is not None
        to = _int_or_none(request.args.get("to")) or process.latest.version
        errors: dict[str, list[str]] = {}
        outcomes: list[instance_migration.Outcome] = []
        try:
            outcomes = instance_migration.plan(
                session, actor, key, to, mapping=_mapping(mapping_text), after_id=after, limit=MAX_MIGRATION_PAGE
            )
        except InvalidInput as exc:
            errors = exc.field_errors or {"mapping": [str(exc.message)]}
        return render_template(
            "designer/migrate.html",
            process=process,
            to=to,
            outcomes=outcomes,
            mapping=mapping_text,
            after=after,
            errors=errors,
            more=len(outcomes) == MAX_MIGRATION_PAGE,
            moved=None,
        )

    return read(render)


@bp.post("/processes/<key>/migrate")
@login_required
def migrate(key: str) -> Any:
    mapping_text = request.form.get("mapping", "")
    to = _int_or_none(request.form.get("to"))
    ids = [int(i) for i in request.form.getlist("instance_ids") if i.isdigit() and len(i) < 12]
    if to is None or not ids:
        flash(_("Taşınacak dosyaları seçin."), "error")
        return redirect(url_for("designer.migration", key=key, to=to, mapping=mapping_text), 303)
    try:
        mapping = _mapping(mapping_text)
        outcomes = write(lambda s, a: instance_migration.migrate(s, a, key, to, ids, mapping=mapping))
    except InvalidInput as exc:
        flash(" ".join([str(exc.message), *(m for v in exc.field_errors.values() for m in v)]), "error")
        return redirect(url_for("designer.migration", key=key, to=to, mapping=mapping_text), 303)
    moved = sum(1 for o in outcomes if o.moved)

    def render(session: Session, actor: Actor) -> str:
        process = next(p for p in designer.list_processes(session, actor) if p.key == key)
        return render_template(
            "designer/migrate.html",
            process=process,
            to=to,
            outcomes=outcomes,
            mapping=mapping_text,
            after=0,
            errors={},
            more=False,
            moved=moved,
        )

    return read(render)
