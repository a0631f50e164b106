"""The Müdür pages (``/manage``): late and approaching work by directorate and person, bulk reassign,
escalate, devir-teslim (with its tutanak PDF) and vekalet.

Every page is for managers and administrators only: the engine refuses anyone else (403); a
devir-teslim record and its tutanak are also open to the two parties it names. Views
parse the request, call the engine in one read session or one transaction, and render or redirect;
an input error re-renders the form with each message beside its field and changes nothing.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from engine import handover, manage, substitutions, tasks, worklist
from engine.errors import Conflict, InvalidInput, KalemError, NotAllowed
from webui.i18n import ISTANBUL
from webui.request_scope import read, safe_next, write

bp = Blueprint("manage_pages", __name__, url_prefix="/manage")


def _page_number(value: str | None) -> int:
    return int(value) if value and value.isdigit() and len(value) < 7 else 1


def _flash_error(exc: KalemError) -> None:
    flash(" ".join([str(exc.message), *(m for msgs in exc.field_errors.values() for m in msgs)]), "error")


# --- overview, reassign, escalate -------------------------------------------------------------------


def _overview_params() -> dict[str, str]:
    return {k: v for k in ("status", "group", "assignee", "page") if (v := request.args.get(k, "").strip())}


@bp.get("")
@login_required
def index() -> Any:
    params = _overview_params()
    status = params.get("status")

    def render(session: Any, actor: Any) -> str:
        view = manage.overview(
            session,
            actor,
            status=worklist.DeadlineStatus(status) if status in {s.value for s in worklist.DeadlineStatus} else None,
            group=params.get("group"),
            assignee=params.get("assignee"),
            page=_page_number(params.get("page")),
        )
        return render_template(
            "manage/index.html",
            view=view,
            params=params,
            users=manage.assignable_users(session, actor),
        )

    return read(render)


@bp.post("/reassign")
@login_required
def reassign() -> Any:
    back = safe_next(url_for("manage_pages.index"))
    ids = [int(i) for i in request.form.getlist("task_ids") if i.isdigit() and len(i) < 12]
    username = request.form.get("username", "")
    try:
        done = write(lambda s, a: len(manage.reassign_many(s, a, ids, username)))
    except KalemError as exc:
        # Refusals about the chosen tasks or user come back as a message; not being a manager is a 403.
        if not (exc.field_errors or "task_id" in exc.details):
            raise
        _flash_error(exc)
        return redirect(back, 303)
    flash(_("%(n)s görev %(user)s kullanıcısına atandı.", n=done, user=username), "success")
    return redirect(back, 303)


def _render_escalate(task_id: int, *, values: dict[str, Any], errors: dict[str, list[str]], status: int = 200) -> Any:
    def render(session: Any, actor: Any) -> str:
        manage.require_manager(actor)
        task = tasks.show(session, actor, task_id)
        return render_template("manage/escalate.html", task=task, values=values, errors=errors)

    return read(render), status


@bp.get("/tasks/<int:task_id>/escalate")
@login_required
def escalate_form(task_id: int) -> Any:
    return _render_escalate(task_id, values={}, errors={})


@bp.post("/tasks/<int:task_id>/escalate")
@login_required
def escalate(task_id: int) -> Any:
    reason = request.form.get("reason", "")
    move_up = request.form.get("move_up") == "1"
    try:
        write(lambda s, a: manage.escalate(s, a, task_id, reason, move_up=move_up))
    except InvalidInput as exc:
        values = {"reason": reason, "move_up": move_up}
        return _render_escalate(task_id, values=values, errors=exc.field_errors, status=400)
    except Conflict as exc:
        _flash_error(exc)
        return redirect(url_for("manage_pages.index"), 303)
    flash(_("Görev eskale edildi; ilgililere bildirim gönderilecek."), "success")
    return redirect(url_for("manage_pages.index"), 303)


# --- devir-teslim -----------------------------------------------------------------------------------


def _render_handover(
    *, values: dict[str, Any], errors: dict[str, list[str]], message: str | None = None, status: int = 200
) -> Any:
    leaving = (values.get("leaving") or "").strip()

    def render(session: Any, actor: Any) -> str:
        users = manage.assignable_users(session, actor)
        work = None
        if leaving and not errors.get("leaving"):
            try:
                work = handover.inventory(session, actor, leaving)
            except (InvalidInput, NotAllowed) as exc:
                errors.setdefault("leaving", [str(exc.message)])
        return render_template(
            "manage/handover.html",
            users=users,
            work=work,
            values=values,
            errors=errors,
            form_message=message,
            reasons=handover.REASON_LABELS,
            records=handover.list_visible(session, actor, page=_page_number(request.args.get("page"))),
        )

    return read(render), status


@bp.get("/handover")
@login_required
def handover_form() -> Any:
    return _render_handover(values={"leaving": request.args.get("leaving", "")}, errors={})


def _parse_day(value: str) -> date | None:
    try:
        return date.fromisoformat(value.strip()) if value.strip() else None
    except ValueError:
        return None


@bp.post("/handover")
@login_required
def handover_submit() -> Any:
    form = request.form
    values = {k: form.get(k, "") for k in ("leaving", "successor", "reason", "last_day", "note")}
    values["deactivate"] = form.get("deactivate") == "1"
    last_day = _parse_day(values["last_day"])
    if values["last_day"] and last_day is None:
        errors = {"last_day": [_("Tarih YYYY-AA-GG biçiminde olmalı.")]}
        return _render_handover(values=values, errors=errors, status=400)
    try:
        record_id = write(
            lambda s, a: (
                handover.handover(
                    s,
                    a,
                    values["leaving"],
                    values["successor"],
                    values["reason"],
                    last_day,
                    note=values["note"],
                    deactivate=values["deactivate"],
                ).id
            )
        )
    except (InvalidInput, Conflict) as exc:
        status = 400 if isinstance(exc, InvalidInput) else 409
        return _render_handover(values=values, errors=dict(exc.field_errors), message=str(exc.message), status=status)
    except KalemError as exc:
        # A task the successor may not do: the whole handover was refused; say which task.
        if "task_id" not in exc.details:
            raise
        return _render_handover(values=values, errors={}, message=str(exc.message), status=409)
    flash(_("Devir teslim tamamlandı; tutanak hazır."), "success")
    return redirect(url_for("manage_pages.handover_show", handover_id=record_id), 303)


@bp.get("/handover/<int:handover_id>")
@login_required
def handover_show(handover_id: int) -> Any:
    def render(session: Any, actor: Any) -> str:
        record = handover.get(session, actor, handover_id)
        return render_template("manage/handover_show.html", record=record, reasons=handover.REASON_LABELS)

    return read(render)


@bp.get("/handover/<int:handover_id>/tutanak.pdf")
@login_required
def handover_pdf(handover_id: int) -> Any:
    name, pdf = write(lambda s, a: handover.tutanak(s, a, handover_id))
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "X-Content-Type-Options": "nosniff"},
    )


# --- vekalet ----------------------------------------------------------------------------------------


def _parse_instant(value: str) -> datetime | None:
    """A ``datetime-local`` value (Istanbul wall clock) as an aware instant."""
    try:
        return datetime.fromisoformat(value.strip()).replace(tzinfo=ISTANBUL) if value.strip() else None
    except ValueError:
        return None


def _render_substitutions(
    *, values: dict[str, Any], errors: dict[str, list[str]], message: str | None = None, status: int = 200
) -> Any:
    current_only = request.args.get("all") != "1"

    def render(session: Any, actor: Any) -> str:
        return render_template(
            "manage/substitutions.html",
            users=manage.assignable_users(session, actor),
            processes=worklist.filter_options(session).processes,
            page=substitutions.list_visible(
                session, actor, current_only=current_only, page=_page_number(request.args.get("page"))
            ),
            current_only=current_only,
            reasons=substitutions.REASON_LABELS,
            status_labels_vekalet=substitutions.STATUS_LABELS,
            values=values,
            errors=errors,
            form_message=message,
        )

    return read(render), status


@bp.get("/substitutions")
@login_required
def substitutions_page() -> Any:
    return _render_substitutions(values={"scope": "all"}, errors={})


@bp.post("/substitutions")
@login_required
def substitutions_define() -> Any:
    form = request.form
    values: dict[str, Any] = {k: form.get(k, "") for k in ("principal", "substitute", "starts_at", "ends_at", "reason")}
    values["note"] = form.get("note", "")
    values["scope"] = "selected" if form.get("scope") == "selected" else "all"
    values["process_keys"] = form.getlist("process_keys")
    starts_at, ends_at = _parse_instant(values["starts_at"]), _parse_instant(values["ends_at"])
    errors: dict[str, list[str]] = {}
    for name, parsed in (("starts_at", starts_at), ("ends_at", ends_at)):
        if parsed is None:
            errors[name] = [_("Tarih ve saat girin.")]
    if values["scope"] == "selected" and not values["process_keys"]:
        errors["process_keys"] = [_("Kapsam için en az bir süreç seçin.")]
    if errors or starts_at is None or ends_at is None:
        return _render_substitutions(values=values, errors=errors, status=400)
    keys = values["process_keys"] if values["scope"] == "selected" else []
    try:
        write(
            lambda s, a: substitutions.define(
                s,
                a,
                values["principal"],
                values["substitute"],
                starts_at,
                ends_at,
                reason=values["reason"],
                process_keys=keys,
                note=values["note"],
            )
        )
    except (InvalidInput, Conflict) as exc:
        status = 400 if isinstance(exc, InvalidInput) else 409
        return _render_substitutions(
            values=values, errors=dict(exc.field_errors), message=str(exc.message), status=status
        )
    flash(_("Vekalet tanımlandı."), "success")
    return redirect(url_for("manage_pages.substitutions_page"), 303)


@bp.post("/substitutions/<int:substitution_id>/revoke")
@login_required
def substitutions_revoke(substitution_id: int) -> Any:
    try:
        write(lambda s, a: substitutions.revoke(s, a, substitution_id))
    except Conflict as exc:
        _flash_error(exc)
    else:
        flash(_("Vekalet kaldırıldı."), "success")
    return redirect(safe_next(url_for("manage_pages.substitutions_page")), 303)
