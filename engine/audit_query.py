"""Reading the audit trail: filtered pages, per-case timelines, CSV/XLSX exports, chain status.

Who reads it (domain guide §5.2): auditors (``denetci``), the KVKK officer and administrators read all
of it; a manager reads the events of the cases offered to the groups they manage and their own events;
nobody else. Pages use keyset paging on ``seq``; exports walk the trail in batches, so no call holds
more than one batch of rows.

Personal data (§9; ``basvuran_*`` values in event details) is masked by the engine's privacy rules: on
screen a viewer sees what ``privacy.may_see_identity`` allows someone not working on the case (Özel
Kalem staff and the KVKK officer unmasked, auditors and administrators masked). Exports are masked for
everyone but the KVKK officer, whose role is the "KVKK approval" for an unmasked bulk export; every
export is itself audited (``audit.exported``, with the filter and whether it was masked).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from typing import IO, Any

from sqlalchemy import ColumnElement, Select, exists, literal, or_, select
from sqlalchemy.orm import Session

from engine import audit, calendar, clock, privacy
from engine.actors import Actor
from engine.db import Database, read_session, transaction
from engine.errors import InvalidInput, NotAllowed, NotFound
from engine.i18n import _
from engine.models import AuditEvent, HumanTask, HumanTaskCandidate, ProcessInstance
from engine.people import MANAGER_SUFFIX
from engine.permissions import AUDITOR_GROUPS
from engine.substitutions import behalf_label

KVKK_GROUPS = frozenset({"kvkk_sorumlusu"})
READ_ALL_GROUPS = AUDITOR_GROUPS | KVKK_GROUPS
MAX_PER_PAGE = 200
TIMELINE_LIMIT = 1000
EXPORT_BATCH = 500

ACTION_LABELS: dict[str, str] = {
    "instance.started": "Süreç başlatıldı",
    "instance.completed": "Süreç tamamlandı",
    "instance.suspend": "Süreç askıya alındı",
    "instance.resume": "Süreç sürdürüldü",
    "instance.terminate": "Süreç sonlandırıldı",
    "instance.migrated": "Süreç yeni sürüme taşındı",
    "task.created": "Görev oluştu",
    "task.claimed": "Görev üstlenildi",
    "task.unclaimed": "Görev bırakıldı",
    "task.assigned": "Görev atandı",
    "task.completed": "Görev tamamlandı",
    "task.cancelled": "Görev iptal edildi",
    "task.escalated": "Görev eskale edildi",
    "timer.fired": "Zamanlayıcı tetiklendi",
    "message.correlated": "Mesaj alındı",
    "incident.recorded": "Hata kaydedildi",
    "incident.resolved": "Hata giderildi",
    "comment.added": "Yorum eklendi",
    "attachment.added": "Ek yüklendi",
    "attachment.downloaded": "Ek indirildi",
    "substitution.defined": "Vekalet tanımlandı",
    "substitution.revoked": "Vekalet kaldırıldı",
    "handover.completed": "Devir teslim yapıldı",
    "handover.downloaded": "Devir teslim tutanağı indirildi",
    "user.deactivated": "Kullanıcı hesabı kapatıldı",
    "user.signed_in": "Oturum açıldı",
    "user.locked_out": "Oturum açma kilitlendi",
    "definitions.deployed": "Süreç tanımı yüklendi",
    "import.previewed": "İçe aktarma önizlendi",
    "import.completed": "İçe aktarma yapıldı",
    "token.created": "API anahtarı oluşturuldu",
    "token.revoked": "API anahtarı iptal edildi",
    "audit.exported": "Denetim izi dışa aktarıldı",
    "audit.verified": "Denetim zinciri doğrulandı",
}


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


# --- who may read -----------------------------------------------------------------------------------


def require_can_read(actor: Actor) -> None:
    """Auditors, the KVKK officer, administrators and managers. Raises NotAllowed."""
    if not (actor.is_admin or actor.groups & READ_ALL_GROUPS or actor.manages):
        raise NotAllowed(_("Denetim izini görme yetkiniz yok."))


def _manager_codes(actor: Actor) -> list[str] | None:
    """The groups whose cases a manager's audit view covers; None: every case."""
    if actor.is_admin or actor.groups & READ_ALL_GROUPS:
        return None
    return sorted(actor.manages | {c + MANAGER_SUFFIX for c in actor.manages})


def _managed_case(codes: list[str], instance_id: Any) -> ColumnElement[bool]:
    return exists().where(
        HumanTask.instance_id == instance_id,
        HumanTaskCandidate.task_id == HumanTask.id,
        HumanTaskCandidate.group_code.in_(codes),
    )


def _scope(actor: Actor) -> ColumnElement[bool] | None:
    """The events the actor may read (None: all): a manager's cases and their own actions."""
    codes = _manager_codes(actor)
    if codes is None:
        return None
    return or_(_managed_case(codes, AuditEvent.instance_id), AuditEvent.actor == actor.username)


def may_export_unmasked(actor: Actor) -> bool:
    return bool(actor.groups & KVKK_GROUPS)


# --- filters ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filter:
    """``action``: an exact action (``task.completed``) or a family (``task.``); ``person``: the actor or
    the principal they acted for; dates are Istanbul calendar days, both ends included."""

    instance_id: int | None = None
    business_key: str | None = None
    person: str | None = None
    action: str | None = None
    date_from: date | None = None
    date_to: date | None = None

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> Filter:
        """A filter from request parameters. Raises InvalidInput naming each malformed field."""
        errors: dict[str, list[str]] = {}

        def text(name: str, limit: int = 200) -> str | None:
            value = (params.get(name) or "").strip()
            return value[:limit] or None

        instance_id = None
        raw = text("instance")
        if raw:
            if raw.isdigit() and len(raw) < 12:
                instance_id = int(raw)
            else:
                errors["instance"] = [str(_("Süreç örneği numarası bir sayı olmalı."))]
        dates: dict[str, date | None] = {}
        for name in ("date_from", "date_to"):
            try:
                dates[name] = _parse_day(text(name))
            except ValueError:
                errors[name] = [str(_("Tarih GG.AA.YYYY ya da YYYY-AA-GG biçiminde olmalı."))]
        start, end = dates.get("date_from"), dates.get("date_to")
        if start and end and end < start:
            errors["date_to"] = [str(_("Bitiş tarihi başlangıçtan önce olamaz."))]
        if errors:
            raise InvalidInput(_("Filtre değerlerini düzeltin."), field_errors=errors)
        return cls(instance_id, text("business_key"), text("person", 150), text("action", 100), start, end)

    def params(self) -> dict[str, str]:
        """Request parameters of this filter (empty values left out)."""
        names = {"instance_id": "instance"}
        result = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                result[names.get(f.name, f.name)] = value.isoformat() if isinstance(value, date) else str(value)
        return result

    @property
    def is_empty(self) -> bool:
        return not self.params()


def _parse_day(value: str | None) -> date | None:
    if not value:
        return None
    if re.fullmatch(r"\d{1,2}\.\d{1,2}\.\d{4}", value):
        day, month, year = (int(p) for p in value.split("."))
        return date(year, month, day)
    return date.fromisoformat(value)


def _local_midnight(day: date) -> datetime:
    return clock.as_utc(datetime.combine(day, time(0), calendar.default_calendar().zone))


def _conditions(actor: Actor, filt: Filter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    scope = _scope(actor)
    if scope is not None:
        where.append(scope)
    if filt.instance_id is not None:
        where.append(AuditEvent.instance_id == filt.instance_id)
    if filt.business_key:
        ids = select(ProcessInstance.id).where(ProcessInstance.business_key == filt.business_key)
        where.append(AuditEvent.instance_id.in_(ids))
    if filt.person:
        where.append(or_(AuditEvent.actor == filt.person, AuditEvent.on_behalf_of == filt.person))
    if filt.action:
        if filt.action.endswith("."):
            where.append(AuditEvent.action.startswith(filt.action, autoescape=True))
        else:
            where.append(AuditEvent.action == filt.action)
    if filt.date_from:
        where.append(AuditEvent.at >= _local_midnight(filt.date_from))
    if filt.date_to:
        where.append(AuditEvent.at < _local_midnight(filt.date_to + timedelta(days=1)))
    return where


def _select() -> Select[tuple[AuditEvent, str | None, str | None]]:
    return select(AuditEvent, ProcessInstance.process_key, ProcessInstance.business_key).outerjoin(
        ProcessInstance, ProcessInstance.id == AuditEvent.instance_id
    )


# --- rows -------------------------------------------------------------------------------------------


@dataclass
class Row:
    seq: int
    at: datetime
    actor: str
    on_behalf_of: str | None
    action: str
    instance_id: int | None
    process_key: str | None
    business_key: str | None
    task_id: int | None
    details: dict[str, Any]

    @property
    def who(self) -> str:
        """ "X adına Y" when done by a substitute."""
        return behalf_label(self.actor, self.on_behalf_of)

    @property
    def action_label(self) -> str:
        return action_label(self.action)

    @property
    def local_at(self) -> datetime:
        return self.at.astimezone(calendar.default_calendar().zone)


Reveal = Callable[[Mapping[str, Any]], bool]


def _screen_reveal(actor: Actor) -> Reveal:
    return lambda data: privacy.may_see_identity(actor, data, works_on_case=False)


def _export_reveal(actor: Actor) -> Reveal:
    unmasked = may_export_unmasked(actor)
    return lambda data: unmasked and privacy.may_see_identity(actor, data, works_on_case=False)


def mask_details(value: Any, reveal: Reveal) -> Any:
    """``value`` with every personal (``basvuran_*``) value masked, at any depth, where ``reveal`` says
    the viewer may not see that record's identity (a hidden CİMER identity is replaced whole)."""
    if isinstance(value, list):
        return [mask_details(v, reveal) for v in value]
    if not isinstance(value, dict):
        return value
    show = reveal(value)
    hidden = bool(value.get(privacy.HIDDEN_FLAG))
    result = {}
    for key, item in value.items():
        if privacy.is_personal(str(key)) and item not in (None, "") and not show:
            result[key] = privacy.HIDDEN_IDENTITY_LABEL if hidden else privacy.mask(str(key), item)
        else:
            result[key] = mask_details(item, reveal)
    return result


def _row(event: AuditEvent, process_key: str | None, business_key: str | None, reveal: Reveal) -> Row:
    return Row(
        event.seq,
        event.at,
        event.actor,
        event.on_behalf_of,
        event.action,
        event.instance_id,
        process_key,
        business_key,
        event.task_id,
        mask_details(dict(event.details or {}), reveal),
    )


@dataclass
class Page:
    rows: list[Row]
    next_before: int | None  # pass as ``before_seq`` for the next (older) page; None: no more


def search(session: Session, actor: Actor, filt: Filter, *, before_seq: int | None = None, limit: int = 50) -> Page:
    """The newest events matching ``filt`` (older than ``before_seq``), masked for the actor.
    Raises NotAllowed."""
    require_can_read(actor)
    limit = max(1, min(limit, MAX_PER_PAGE))
    where = _conditions(actor, filt)
    if before_seq is not None:
        where.append(AuditEvent.seq < before_seq)
    found = session.execute(_select().where(*where).order_by(AuditEvent.seq.desc()).limit(limit + 1)).all()
    reveal = _screen_reveal(actor)
    rows = [_row(e, pk, bk, reveal) for e, pk, bk in found[:limit]]
    return Page(rows, rows[-1].seq if len(found) > limit else None)


@dataclass
class Timeline:
    instance: ProcessInstance
    rows: list[Row]
    truncated: bool


def timeline(session: Session, actor: Actor, instance_id: int) -> Timeline:
    """Every event of one case in order (the first ``TIMELINE_LIMIT``), masked for the actor.
    Raises NotAllowed, NotFound (also for a case outside a manager's units)."""
    require_can_read(actor)
    instance = session.get(ProcessInstance, instance_id)
    codes = _manager_codes(actor)
    hidden = codes is not None and not session.scalar(select(_managed_case(codes, literal(instance_id))))
    if instance is None or hidden:
        raise NotFound(_("Süreç örneği bulunamadı: {id}.", id=instance_id))
    found = session.execute(
        _select().where(AuditEvent.instance_id == instance_id).order_by(AuditEvent.seq).limit(TIMELINE_LIMIT + 1)
    ).all()
    reveal = _screen_reveal(actor)
    rows = [_row(e, pk, bk, reveal) for e, pk, bk in found[:TIMELINE_LIMIT]]
    return Timeline(instance, rows, len(found) > TIMELINE_LIMIT)


# --- exports ----------------------------------------------------------------------------------------

EXPORT_HEADER = [
    "Sıra",
    "Zaman (İstanbul)",
    "Kim",
    "İşlem yapan",
    "Adına (vekaleten)",
    "İşlem",
    "İşlem kodu",
    "Süreç",
    "Evrak / başvuru no",
    "Süreç örneği",
    "Görev",
    "Ayrıntılar",
]
# Characters a spreadsheet reads as the start of a formula (CSV/formula injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# XML 1.0 forbids these control characters; openpyxl refuses them.
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, int):
        return value
    text = _ILLEGAL.sub("", str(value))
    return "'" + text if text.startswith(_FORMULA_START) else text


def _details_text(details: Mapping[str, Any]) -> str:
    return json.dumps(details, ensure_ascii=False, sort_keys=True) if details else ""


def record_export(session: Session, actor: Actor, filt: Filter, fmt: str) -> bool:
    """Audit an export before it is streamed; returns whether it will be unmasked. Raises NotAllowed,
    InvalidInput (unknown format)."""
    require_can_read(actor)
    if fmt not in ("csv", "xlsx"):
        raise InvalidInput(_("Bilinmeyen dışa aktarma biçimi: '{fmt}'.", fmt=fmt))
    unmasked = may_export_unmasked(actor)
    audit.append(
        session, actor, "audit.exported", details={"format": fmt, "filter": filt.params(), "masked": not unmasked}
    )
    return unmasked


def export_rows(session: Session, actor: Actor, filt: Filter, *, batch: int = EXPORT_BATCH) -> Iterator[list[Any]]:
    """Matching events oldest first as export cells (masked unless the actor is the KVKK officer), read
    ``batch`` rows at a time; the session's identity map is emptied after each batch. Raises NotAllowed."""
    require_can_read(actor)
    where = _conditions(actor, filt)
    reveal = _export_reveal(actor)
    last = 0
    while True:
        found = session.execute(
            _select().where(*where, AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch)
        ).all()
        if not found:
            return
        for event, process_key, business_key in found:
            row = _row(event, process_key, business_key, reveal)
            yield [
                _cell(c)
                for c in (
                    row.seq,
                    f"{row.local_at:%d.%m.%Y %H:%M:%S}",
                    row.who,
                    row.actor,
                    row.on_behalf_of,
                    row.action_label,
                    row.action,
                    row.process_key,
                    row.business_key,
                    row.instance_id,
                    row.task_id,
                    _details_text(row.details),
                )
            ]
        last = found[-1][0].seq
        session.expunge_all()


def iter_csv(session: Session, actor: Actor, filt: Filter) -> Iterator[str]:
    """The export as CSV text chunks (UTF-8 BOM first, so spreadsheet programs read Turkish letters)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_HEADER)
    yield "\ufeff" + buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    for n, row in enumerate(export_rows(session, actor, filt), start=1):
        writer.writerow(row)
        if n % EXPORT_BATCH == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


def write_xlsx(session: Session, actor: Actor, filt: Filter, out: IO[bytes]) -> int:
    """Write the export as an XLSX workbook to ``out`` (openpyxl write-only mode streams rows to a temp
    file instead of keeping them); returns the number of rows."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Denetim izi")
    sheet.freeze_panes = "A2"
    sheet.append(EXPORT_HEADER)
    count = 0
    for row in export_rows(session, actor, filt):
        sheet.append(row)
        count += 1
    workbook.save(out)
    return count


def export_filename(fmt: str, *, masked: bool) -> str:
    stamp = f"{clock.now().astimezone(calendar.default_calendar().zone):%Y%m%d-%H%M}"
    return f"denetim-izi-{stamp}{'-maskeli' if masked else ''}.{fmt}"


# --- chain status -----------------------------------------------------------------------------------


@dataclass
class ChainStatus:
    ok: bool
    count: int
    bad_seq: int | None
    reason: str
    checked_at: datetime
    checked_by: str


def check_chain(db: Database, actor: Actor) -> ChainStatus:
    """Verify the whole hash chain (in a read session: writers are not held up however long it is),
    then record the result in the trail (``audit.verified``) in a short write transaction."""
    require_can_read(actor)
    with read_session(db) as session:
        report = audit.verify(session)
    details = {"ok": report.ok, "count": report.count, "bad_seq": report.bad_seq, "reason": report.reason}
    with transaction(db) as session:
        event = audit.append(session, actor, "audit.verified", details=details)
    return ChainStatus(report.ok, report.count, report.bad_seq, report.reason, event.at, actor.username)


def last_verification(session: Session, actor: Actor) -> ChainStatus | None:
    """The most recent recorded chain verification (cheap: the action index, newest first)."""
    require_can_read(actor)
    event = session.scalar(
        select(AuditEvent).where(AuditEvent.action == "audit.verified").order_by(AuditEvent.seq.desc()).limit(1)
    )
    if event is None:
        return None
    d = event.details or {}
    return ChainStatus(
        bool(d.get("ok")), int(d.get("count") or 0), d.get("bad_seq"), str(d.get("reason") or ""), event.at, event.actor
    )
