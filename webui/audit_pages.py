"""The audit trail (``/audit``) for auditors, the KVKK officer, managers and administrators: filters,
per-case timelines, CSV/XLSX exports and the hash chain's status.

Personal data is masked by ``engine.audit_query`` (see its docstring for who sees what). Exports are
audited first (one short transaction), then streamed from a read session in batches: neither the CSV
nor the XLSX is ever built from all rows in memory.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from typing import Any

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_login import login_required

from engine import audit_query, people
from engine import db as dbmod
from engine.errors import InvalidInput
from webui.request_scope import current_actor, database, read, write

bp = Blueprint("audit_pages", __name__, url_prefix="/audit")

ACTION_FAMILIES = ("instance.", "task.", "substitution.", "handover.", "user.", "audit.")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.app_template_filter("audit_details")
def audit_details(details: dict[str, Any]) -> str:
    """Event details as one compact line (nested values as JSON)."""
    parts = []
    for key, value in details.items():
        text = json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value)
        parts.append(f"{key}: {text}")
    return "; ".join(parts)


def _filter() -> tuple[audit_query.Filter, dict[str, list[str]]]:
    try:
        return audit_query.Filter.parse(request.args.to_dict()), {}
    except InvalidInput as exc:
        return audit_query.Filter(), dict(exc.field_errors)


@bp.get("")
@login_required
def index() -> Any:
    filt, errors = _filter()
    before = request.args.get("before", "")

    def render(session: Any, actor: Any) -> str:
        page = audit_query.search(session, actor, filt, before_seq=int(before) if before.isdigit() else None)
        return render_template(
            "audit/index.html",
            page=page,
            filt=filt,
            values=request.args,
            errors=errors,
            actions=audit_query.ACTION_LABELS,
            families=ACTION_FAMILIES,
            users=people.list_users(session),
            chain=audit_query.last_verification(session, actor),
            unmasked_export=audit_query.may_export_unmasked(actor),
        )

    return read(render), 400 if errors else 200


@bp.get("/instances/<int:instance_id>")
@login_required
def timeline(instance_id: int) -> Any:
    def render(session: Any, actor: Any) -> str:
        line = audit_query.timeline(session, actor, instance_id)
        return render_template("audit/timeline.html", line=line)

    return read(render)


@bp.post("/chain")
@login_required
def verify_chain() -> Any:
    status = audit_query.check_chain(database(), current_actor())
    if status.ok:
        flash(_("Denetim zinciri sağlam: %(n)s kayıt doğrulandı.", n=status.count), "success")
    else:
        flash(_("Denetim zinciri BOZUK: %(reason)s", reason=status.reason), "error")
    return redirect(url_for("audit_pages.index"), 303)


@bp.get("/export.<fmt>")
@login_required
def export(fmt: str) -> Any:
    filt, errors = _filter()
    if errors:
        flash(_("Dışa aktarmadan önce süzgeç değerlerini düzeltin."), "error")
        return redirect(url_for("audit_pages.index", **request.args), 303)
    unmasked = write(lambda s, a: audit_query.record_export(s, a, filt, fmt))
    name = audit_query.export_filename(fmt, masked=not unmasked)
    actor, db = current_actor(), database()
    if fmt == "csv":

        def chunks() -> Iterator[str]:
            with dbmod.read_session(db) as session:
                yield from audit_query.iter_csv(session, actor, filt)

        return Response(
            stream_with_context(chunks()),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    # Rows go to openpyxl's write-only temp files batch by batch; the finished workbook is spooled to
    # disk past a few MB rather than held in memory, and sent in pieces.
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - closed by the stream
    try:
        with dbmod.read_session(db) as session:
            audit_query.write_xlsx(session, actor, filt, spool)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)

    def pieces() -> Iterator[bytes]:
        with spool:
            while piece := spool.read(64 * 1024):
                yield piece

    response = Response(pieces(), mimetype=XLSX_TYPE, headers={"Content-Disposition": f'attachment; filename="{name}"'})
    # Also when the download is never read (a HEAD request, a client gone before the first byte).
    response.call_on_close(spool.close)
    return response
