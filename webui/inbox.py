"""The inbox (``/``): tabs with counts, filters, sorting, paging, saved filters, claim and unclaim;
each row shows the highest escalation step the deadline policy applied to its task."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from engine import saved_filters, tasks, worklist
from engine.errors import Conflict, InvalidInput, NotAllowed
from webui.request_scope import read, safe_next, write

bp = Blueprint("inbox", __name__)


@bp.get("/")
@login_required
def index() -> Any:
    saved_id = request.args.get("filter", "")
    if saved_id.isdigit():
        params = read(lambda s, a: dict(saved_filters.get(s, a, int(saved_id)).params))
        return redirect(url_for("inbox.index", **params))
    query = worklist.Query.parse(request.args.to_dict())

    def render(session: Any, actor: Any) -> str:
        return render_template(
            "inbox/index.html",
            page=worklist.page(session, actor, query),
            options=worklist.filter_options(session),
            saved=saved_filters.list_for(session, actor),
            query=query,
        )

    return read(render)


def _task_action(task_id: int, action: Any, done: str) -> Any:
    back = safe_next(url_for("inbox.index"))
    try:
        write(lambda s, a: action(s, a, task_id))
    except (Conflict, NotAllowed) as exc:
        flash(str(exc.message), "error")
        return redirect(back)
    flash(done, "success")
    return redirect(back)


@bp.post("/tasks/<int:task_id>/claim")
@login_required
def claim(task_id: int) -> Any:
    return _task_action(task_id, tasks.claim, _("Görev üstlenildi."))


@bp.post("/tasks/<int:task_id>/unclaim")
@login_required
def unclaim(task_id: int) -> Any:
    return _task_action(task_id, tasks.unclaim, _("Görev gruba geri bırakıldı."))


@bp.post("/filters")
@login_required
def save_filter() -> Any:
    params = {k: v for k, v in request.form.items() if k in saved_filters.PARAMS}
    try:
        write(lambda s, a: saved_filters.save(s, a, request.form.get("name", ""), params))
    except InvalidInput as exc:
        flash(" ".join([str(exc.message), *(m for msgs in exc.field_errors.values() for m in msgs)]), "error")
    else:
        flash(_("Süzgeç kaydedildi."), "success")
    return redirect(url_for("inbox.index", **params))


@bp.post("/filters/<int:filter_id>/delete")
@login_required
def delete_filter(filter_id: int) -> Any:
    write(lambda s, a: saved_filters.delete(s, a, filter_id))
    flash(_("Süzgeç silindi."), "success")
    return redirect(url_for("inbox.index"))
