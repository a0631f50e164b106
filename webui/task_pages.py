"""The task page (``/tasks/<id>``): the form from its definition, validated by the engine with each
message beside its field, and the case around it (summary, deadlines, comments, files, history,
diagram). A task the user may not see is a 404, like a task that does not exist."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from engine import casefiles
from engine.errors import InvalidInput, KalemError, NotFound
from webui.request_scope import read, write

bp = Blueprint("task_pages", __name__)


def form_values(form: Any) -> tuple[dict[str, Any], list[tuple[str, str, bytes]]]:
    """The submitted values of a form definition's fields, and the uploaded files of its file fields.

    Fields absent from the request stay absent (a condition the browser hid is judged by the engine);
    an unchecked box is ``false``; a multichoice is the list of checked values."""
    values: dict[str, Any] = {}
    uploads: list[tuple[str, str, bytes]] = []
    for field in form.fields if form is not None else ():
        name = field.name
        if field.type == "file":
            upload = request.files.get(name)
            if upload is not None and upload.filename:
                uploads.append((name, upload.filename, upload.read()))
        elif field.type == "multichoice":
            if name in request.form or f"{name}__present" in request.form:
                values[name] = request.form.getlist(name)
        elif field.type == "bool":
            if f"{name}__present" in request.form:
                values[name] = "true" if request.form.get(name) else "false"
        elif name in request.form:
            values[name] = request.form[name]
    return values, uploads


def render_task(
    task_id: int,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, list[str]] | None = None,
    message: str | None = None,
    status: int = 200,
) -> Any:
    def render(session: Any, actor: Any) -> str:
        file = casefiles.task_file(session, actor, task_id)
        return render_template(
            "tasks/show.html",
            file=file,
            case=file.case,
            values=file.prefill if values is None else values,
            errors=errors or {},
            form_message=message,
        )

    return read(render), status


@bp.get("/tasks/<int:task_id>")
@login_required
def show(task_id: int) -> Any:
    return render_task(task_id)


@bp.post("/tasks/<int:task_id>")
@login_required
def complete(task_id: int) -> Any:
    form = read(lambda s, a: casefiles.task_file(s, a, task_id).form)
    values, uploads = form_values(form)
    try:
        write(lambda s, a: casefiles.complete_task(s, a, task_id, values, uploads))
    except InvalidInput as exc:
        errors = dict(exc.field_errors)
        for name, _filename, _content in uploads:
            errors.setdefault(name, []).append(_("Dosyayı yeniden seçin: form kaydedilmediği için yüklenmedi."))
        return render_task(task_id, values=values, errors=errors, message=str(exc.message), status=400)
    except NotFound:
        raise
    except KalemError as exc:
        flash(str(exc.message), "error")
        return redirect(url_for("task_pages.show", task_id=task_id))
    flash(_("Görev tamamlandı."), "success")
    return redirect(url_for("inbox.index"))
