"""Where time goes (``/stats``): volumes and on-time rates per process and directorate with charts
and CSV export, the heatmap of a process version (average and p90 waiting time and late counts per
task on its diagram), the JSON an instance diagram draws: completed path, tokens, incidents, and the
annual 4982 report to BEDK (``/stats/bedk``, with CSV and XLSX).

Statistics are for managers, process designers, auditors and administrators (the engine refuses
anyone else: 403); an instance's diagram data is for whoever may see the case (else 404).
"""

from __future__ import annotations

import io
from datetime import date
from typing import Any

from flask import Blueprint, Response, jsonify, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy.orm import Session

from engine import process_stats, reports
from engine.actors import Actor
from engine.errors import InvalidInput
from webui.request_scope import read

bp = Blueprint("stats_pages", __name__)
KINDS = ("directorate", "role", "")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _day(name: str) -> date | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            _("Tarih YYYY-AA-GG biçiminde olmalı."), field_errors={name: [_("Tarih YYYY-AA-GG biçiminde olmalı.")]}
        ) from None


def _period() -> process_stats.Period:
    return process_stats.period(_day("from"), _day("to"))


def _kind() -> str:
    kind = request.args.get("kind", "directorate")
    return kind if kind in KINDS else "directorate"


def duration(seconds: float | None) -> str:
    """Seconds as "3,5 g" / "4,2 sa" / "12 dk" (Turkish abbreviations)."""
    if seconds is None:
        return "—"
    if seconds >= 86400:
        return _("%(n)s g", n=f"{seconds / 86400:.1f}".replace(".", ","))
    if seconds >= 3600:
        return _("%(n)s sa", n=f"{seconds / 3600:.1f}".replace(".", ","))
    return _("%(n)s dk", n=f"{seconds / 60:.0f}")


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"%{rate * 100:.0f}"


@bp.app_template_filter("duration")
def _duration_filter(seconds: float | None) -> str:
    return duration(seconds)


@bp.app_template_filter("percent")
def _percent_filter(rate: float | None) -> str:
    return percent(rate)


# --- dashboard --------------------------------------------------------------------------------------


@bp.get("/stats")
@login_required
def dashboard() -> Any:
    kind = _kind()
    try:
        when = _period()
        errors: dict[str, list[str]] = {}
    except InvalidInput as exc:
        when, errors = process_stats.period(), exc.field_errors or {"from": [str(exc.message)]}

    def render(session: Session, actor: Actor) -> str:
        processes = process_stats.process_volumes(session, actor, when)
        groups = process_stats.group_volumes(session, actor, when, kind=kind or None)
        return render_template(
            "stats/dashboard.html",
            when=when,
            kind=kind,
            errors=errors,
            processes=processes,
            groups=groups,
            versions=process_stats.list_versions(session, actor),
            percent=percent,
            totals={
                "started": sum(p.started for p in processes),
                "finished": sum(p.finished for p in processes),
                "completed": sum(p.tasks_completed for p in processes),
                "on_time": sum(p.tasks_on_time for p in processes),
                "late_open": sum(p.tasks_late_open for p in processes),
            },
        )

    return read(render), 400 if errors else 200


@bp.get("/stats/export.csv")
@login_required
def export() -> Response:
    report = request.args.get("report", "processes")
    when = _period()

    def rows(session: Session, actor: Actor) -> list[Any]:
        if report == "groups":
            return process_stats.group_volumes(session, actor, when, kind=_kind() or None)
        if report == "tasks":
            key = request.args.get("key", "")
            version = request.args.get("version", "")
            if not version.isdigit():
                raise InvalidInput(_("Süreç sürümü seçin."))
            return process_stats.task_stats(session, actor, key, int(version), when)
        return process_stats.process_volumes(session, actor, when)

    text = process_stats.to_csv(read(rows))
    name = f"kalem-{report}-{when.first.isoformat()}-{when.last.isoformat()}.csv"
    response = Response(text, mimetype="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- heatmap ----------------------------------------------------------------------------------------


@bp.get("/stats/processes/<key>/<int:version>")
@login_required
def heatmap_page(key: str, version: int) -> Any:
    when = _period()

    def render(session: Session, actor: Actor) -> str:
        stats = process_stats.task_stats(session, actor, key, version, when)
        versions = [v for v in process_stats.list_versions(session, actor) if v["key"] == key]
        return render_template(
            "stats/heatmap.html",
            key=key,
            version=version,
            name=versions[0]["name"] if versions else key,
            versions=versions,
            when=when,
            stats=stats,
            data_url=url_for(
                "stats_pages.heatmap_data", key=key, version=version, **{"from": when.first, "to": when.last}
            ),
            source_url=url_for("stats_pages.version_source", key=key, version=version),
        )

    return read(render)


@bp.get("/stats/processes/<key>/<int:version>/heatmap.json")
@login_required
def heatmap_data(key: str, version: int) -> Any:
    when = _period()
    data = read(lambda s, a: process_stats.heatmap(s, a, key, version, when))
    for element in data["elements"].values():
        element["avg_label"] = duration(element["avg_wait_s"])
        element["p90_label"] = duration(element["p90_wait_s"])
    return jsonify(data)


@bp.get("/stats/processes/<key>/<int:version>/source.bpmn")
@login_required
def version_source(key: str, version: int) -> Response:
    xml = read(lambda s, a: process_stats.version_source(s, a, key, version))
    response = Response(xml, mimetype="application/xml")
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


# --- the annual 4982 report to BEDK -----------------------------------------------------------------


def _year() -> int:
    value = request.args.get("year", "").strip()
    if not value:
        return reports.last_year()
    if not value.isdigit():
        raise InvalidInput(_("Yıl dört haneli bir sayı olmalı."), field_errors={"year": [_("Geçersiz yıl.")]})
    return int(value)


@bp.get("/stats/bedk")
@login_required
def bedk_page() -> Any:
    """The year's table with a year picker and the downloads; a bad year shows last year's with the error."""
    errors: dict[str, list[str]] = {}
    try:
        year = _year()
        report = read(lambda s, a: reports.bedk_report(s, a, year))
    except InvalidInput as exc:
        errors = {k: [str(m) for m in v] for k, v in exc.field_errors.items()} or {"year": [str(exc.message)]}
        report = read(lambda s, a: reports.bedk_report(s, a, reports.last_year()))
    page = render_template(
        "stats/bedk.html",
        report=report,
        years=reports.selectable_years(),
        errors=errors,
        requested=request.args.get("year", ""),
        outcomes=[line for line in report.lines() if line.section == "applications"],
        objections=[line for line in report.lines() if line.section == "objections"],
        titles=reports.SECTION_TITLES,
        notes=reports.NOTES,
        interim_note=reports.INTERIM_NOTE,
    )
    return page, 400 if errors else 200


@bp.get("/stats/bedk.<any(csv, xlsx):fmt>")
@login_required
def bedk_export(fmt: str) -> Response:
    year = _year()
    report = read(lambda s, a: reports.bedk_report(s, a, year))
    if fmt == "csv":
        response = Response(reports.to_csv(report), mimetype="text/csv; charset=utf-8")
    else:
        out = io.BytesIO()
        reports.write_xlsx(report, out)
        response = Response(out.getvalue(), mimetype=XLSX_TYPE)
    response.headers["Content-Disposition"] = f'attachment; filename="{reports.export_filename(year, fmt)}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- an instance on its diagram ---------------------------------------------------------------------


@bp.get("/instances/<int:instance_id>/diagram-state.json")
@login_required
def instance_state(instance_id: int) -> Any:
    """Completed steps and flows, waiting tokens, open tasks and incidents of a case (see
    ``static/designer/instance_diagram.js``, which draws them on the bpmn-js viewer)."""
    return jsonify(read(lambda s, a: process_stats.instance_diagram(s, a, instance_id)))


@bp.get("/stats/instances/<int:instance_id>")
@login_required
def instance_page(instance_id: int) -> Any:
    """The case's path on its diagram, full page (the instance page can embed the same script)."""
    state = read(lambda s, a: process_stats.instance_diagram(s, a, instance_id))
    return render_template("stats/instance.html", state=state, instance_id=instance_id)
