"""The instance page (``/instances/<id>``) and what hangs off a case: its diagram source, comments,
files (upload and download), and the events it waits for (recorded by those who work on it). A case
the user may not see is a 404, like one that does not exist."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import login_required

from engine import attachments, casefiles, comments, messages
from engine.errors import Conflict, InvalidInput, NotAllowed, ProcessError
from webui.request_scope import read, safe_next, write
from webui.task_pages import form_values

bp = Blueprint("instance_pages", __name__)


@bp.get("/instances/<int:instance_id>")
@login_required
def show(instance_id: int) -> Any:
    return read(
        lambda s, a: render_template(
            "instances/show.html",
            case=casefiles.instance_file(s, a, instance_id),
            awaited=messages.awaited_messages(s, a, instance_id),
        )
    )


@bp.get("/instances/<int:instance_id>/diagram.bpmn")
@login_required
def diagram(instance_id: int) -> Response:
    xml = read(lambda s, a: casefiles.diagram_source(s, a, instance_id))
    response = Response(xml, mimetype="application/xml")
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


def _flash_refusal(exc: InvalidInput | NotAllowed | Conflict) -> None:
    flash(" ".join([str(exc.message), *(m for msgs in exc.field_errors.values() for m in msgs)]), "error")


@bp.post("/instances/<int:instance_id>/comments")
@login_required
def add_comment(instance_id: int) -> Any:
    back = safe_next(url_for("instance_pages.show", instance_id=instance_id))
    task_id = request.form.get("task_id", "")
    try:
        write(
            lambda s, a: comments.add(
                s, a, instance_id, request.form.get("body", ""), task_id=int(task_id) if task_id.isdigit() else None
            )
        )
    except (InvalidInput, NotAllowed) as exc:
        _flash_refusal(exc)
    else:
        flash(_("Yorum eklendi."), "success")
    return redirect(back + "#yorumlar")


@bp.post("/instances/<int:instance_id>/attachments")
@login_required
def upload(instance_id: int) -> Any:
    back = safe_next(url_for("instance_pages.show", instance_id=instance_id))
    file = request.files.get("file")
    filename, content = (file.filename or "", file.read()) if file is not None else ("", b"")
    try:
        write(lambda s, a: attachments.upload(s, a, instance_id, filename, content))
    except (InvalidInput, NotAllowed) as exc:
        _flash_refusal(exc)
    else:
        flash(_("Dosya eklendi: %(name)s", name=filename), "success")
    return redirect(back + "#ekler")


@bp.post("/instances/<int:instance_id>/messages")
@login_required
def record_event(instance_id: int) -> Any:
    """An event the case waits for happened (the directorate answered, the fee was paid, the applicant
    withdrew): deliver its message with the fields of its small form."""
    back = url_for("instance_pages.show", instance_id=instance_id) + "#beklenenler"
    name = request.form.get("message", "")
    awaited = {m.name: m for m in read(lambda s, a: messages.awaited_messages(s, a, instance_id))}
    form = awaited[name].form if name in awaited else read(lambda s, a: messages.payload_form(s, name))
    values, _files = form_values(form)
    try:
        write(lambda s, a: messages.deliver_to_instance(s, a, instance_id, name, values))
    except (InvalidInput, NotAllowed, Conflict) as exc:
        _flash_refusal(exc)
    except ProcessError as exc:
        flash(str(exc.message), "error")
    else:
        flash(_("Olay kaydedildi: %(name)s", name=awaited[name].label if name in awaited else name), "success")
    return redirect(back)


@bp.get("/attachments/<int:attachment_id>")
@login_required
def download(attachment_id: int) -> Any:
    row, path = write(lambda s, a: attachments.open_for_download(s, a, attachment_id))
    response = send_file(path, mimetype=row.content_type, as_attachment=True, download_name=row.filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response
