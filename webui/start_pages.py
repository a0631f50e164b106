"""Start pages: ``/start`` lists the processes the user may start by hand, ``/start/<key>`` starts
one with a business key, a subject and the start form's fields, then opens the first task when it
is the user's (else the new case)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from engine import starting
from engine.errors import Conflict, InvalidInput
from webui.request_scope import read, write
from webui.task_pages import form_values

bp = Blueprint("start_pages", __name__)


@bp.get("/start")
@login_required
def index() -> Any:
    return read(lambda s, a: render_template("start/index.html", options=starting.list_startable(s, a)))


def _render_form(
    key: str, values: dict[str, Any], errors: dict[str, list[str]], message: str | None, status: int
) -> Any:
    def render(session: Any, actor: Any) -> str:
        return render_template(
            "start/form.html",
            option=starting.get_startable(session, actor, key),
            values=values,
            errors=errors,
            form_message=message,
        )

    return read(render), status


@bp.get("/start/<key>")
@login_required
def form(key: str) -> Any:
    return _render_form(key, {}, {}, None, 200)


@bp.post("/start/<key>")
@login_required
def start(key: str) -> Any:
    option = read(lambda s, a: starting.get_startable(s, a, key))
    values, uploads = form_values(option.form)
    business_key, subject = request.form.get("business_key", ""), request.form.get("subject", "")
    shown = {**values, "business_key": business_key, "subject": subject}
    if uploads:
        errors = {
            name: [_("Başlangıç formunda dosya yüklenemez; dosyayı ilk görevde ekleyin.")] for name, *_r in uploads
        }
        return _render_form(key, shown, errors, _("Başlangıç verisi geçersiz."), 400)
    try:
        started = write(lambda s, a: starting.start(s, a, key, business_key=business_key, subject=subject, data=values))
    except InvalidInput as exc:
        return _render_form(key, shown, dict(exc.field_errors), str(exc.message), 400)
    except Conflict as exc:
        # The business key is taken by a live case of this process: say so beside the field.
        return _render_form(key, shown, {"business_key": [str(exc.message)]}, str(exc.message), 409)
    flash(_("Süreç başlatıldı: dosya no %(id)s.", id=started.instance.id), "success")
    if started.next_task_id is not None:
        return redirect(url_for("task_pages.show", task_id=started.next_task_id))
    return redirect(url_for("instance_pages.show", instance_id=started.instance.id))
