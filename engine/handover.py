"""Devir-teslim (domain guide F11): move all open work of a leaving employee to a successor in one
transaction, keep a record listing every item moved, and render its tutanak (PDF) once, then.

Open work is (a) the active tasks assigned to the leaving user and (b) the vekalets they hold as the
substitute that have not ended. A user who still holds open work cannot be deactivated
("Devir teslim tamamlanmadan görevden ayrılma işlemi yapılamaz"). Who may hand over: an administrator or
a manager of one of the leaving user's groups (their superior).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from html import escape
from typing import Any

from sqlalchemy import ColumnElement, exists, func, or_, select
from sqlalchemy.orm import Session

from engine import audit, calendar, clock, people, substitutions, tasks
from engine.actors import Actor
from engine.errors import Conflict, InvalidInput, NotAllowed, NotFound
from engine.i18n import LazyText, _
from engine.models import ACTIVE_TASK_STATES, Group, Handover, HumanTask, Membership, Substitution, User

BATCH = 200
MAX_NOTE = 2000
MAX_PER_PAGE = 100


class LeaveReason(StrEnum):
    EMEKLILIK = "emeklilik"
    NAKIL_ATAMA = "nakil_atama"
    ISTIFA = "istifa"
    UZUN_SURELI_IZIN = "uzun_sureli_izin"
    GOREV_DEGISIKLIGI = "gorev_degisikligi"
    OLUM = "olum"


REASON_LABELS = {
    LeaveReason.EMEKLILIK: "Emeklilik",
    LeaveReason.NAKIL_ATAMA: "Nakil / atama",
    LeaveReason.ISTIFA: "İstifa",
    LeaveReason.UZUN_SURELI_IZIN: "Uzun süreli izin",
    LeaveReason.GOREV_DEGISIKLIGI: "Görev değişikliği",
    LeaveReason.OLUM: "Vefat",
}


def _invalid(field: str, message: LazyText) -> InvalidInput:
    return InvalidInput(message, field_errors={field: [message]})


def may_hand_over(actor: Actor, user: User) -> bool:
    return actor.is_admin or bool({m.group.code for m in user.memberships} & actor.manages)


def require_can_hand_over(actor: Actor, user: User) -> None:
    if not may_hand_over(actor, user):
        raise NotAllowed(
            _(
                "'{user}' için devir teslim yapamazsınız: yalnızca amiri ya da sistem yöneticisi yapar.",
                user=user.username,
            )
        )


@dataclass
class OpenWork:
    """What a user still holds: counts, and the first tasks for a preview."""

    username: str
    task_count: int
    substitutions: list[Substitution]
    first_tasks: list[HumanTask]

    @property
    def is_empty(self) -> bool:
        return self.task_count == 0 and not self.substitutions


def _assigned(username: str) -> ColumnElement[bool]:
    return (HumanTask.assignee == username) & HumanTask.state.in_(ACTIVE_TASK_STATES)


def open_work(session: Session, username: str, *, preview: int = 20) -> OpenWork:
    """The open work ``username`` holds (tasks counted in SQL, the first ``preview`` of them loaded)."""
    count = int(session.scalar(select(func.count()).select_from(HumanTask).where(_assigned(username))) or 0)
    first = list(session.scalars(select(HumanTask).where(_assigned(username)).order_by(HumanTask.id).limit(preview)))
    return OpenWork(username, count, substitutions.held_by(session, username), first)


def inventory(session: Session, actor: Actor, username: str) -> OpenWork:
    """The devir-teslim envanteri of ``username`` (F11 step 1), for the actor who may hand it over.
    Raises NotAllowed, InvalidInput (unknown user)."""
    return open_work(session, _leaving_user(session, actor, username).username)


def _leaving_user(session: Session, actor: Actor, username: str) -> User:
    """The user to hand over, once the actor is known to be a manager (or administrator) at all."""
    if not (actor.is_admin or actor.manages):
        raise NotAllowed(_("Devir teslimi yalnızca birim yöneticileri yapar."))
    user = people.find_user(session, (username or "").strip())
    if user is None:
        raise _invalid("leaving", _("Devreden kullanıcı bulunamadı: '{user}'.", user=username))
    require_can_hand_over(actor, user)
    return user


def handover(
    session: Session,
    actor: Actor,
    leaving_username: str,
    successor_username: str,
    reason: str,
    last_day: date | None,
    *,
    note: str | None = None,
    deactivate: bool = False,
) -> Handover:
    """Move every open task and held vekalet of the leaving user to the successor, record the handover
    with every item moved and its tutanak PDF, and (``deactivate``) close the leaving user's account.

    Each task goes to the successor only if they may do it (in one of its groups, as ``tasks.assign``
    requires); the first task they may not do stops the whole handover with an error naming it. Held
    vekalets are revoked and re-created for the successor from now on (revoked only when the successor
    is that vekalet's principal). Raises NotFound, NotAllowed, InvalidInput.
    """
    leaving = _leaving_user(session, actor, leaving_username)
    successor_name = (successor_username or "").strip()
    if not successor_name:
        raise _invalid("successor", _("Devralan kişiyi seçin."))
    if successor_name == leaving.username:
        raise _invalid("successor", _("Devralan, devreden ile aynı kişi olamaz."))
    try:
        successor = people.actor_for(session, successor_name)
    except NotFound as exc:
        raise _invalid("successor", exc.message) from None
    if reason not in {r.value for r in LeaveReason}:
        raise _invalid("reason", _("Geçerli bir ayrılış nedeni seçin."))
    if not isinstance(last_day, date):
        raise _invalid("last_day", _("Son çalışma gününü girin."))
    note = (note or "").strip() or None
    if note and len(note) > MAX_NOTE:
        raise _invalid("note", _("Not en fazla {n} karakter.", n=MAX_NOTE))
    record = Handover(
        leaving_username=leaving.username,
        successor_username=successor.username,
        reason=reason,
        last_day=last_day,
        note=note,
        items=[],
        created_by=actor.username,
        created_at=clock.now(),
        pdf_sha256="",
        pdf=b"",
    )
    session.add(record)
    session.flush()
    items = _move_tasks(session, actor, record, successor)
    task_count = len(items)
    items += _move_substitutions(session, actor, record, leaving, successor.username)
    record.items, record.task_count, record.substitution_count = items, task_count, len(items) - task_count
    if deactivate:
        leaving.is_active = False
        record.deactivated = True
        audit.append(session, actor, "user.deactivated", details={"username": leaving.username, "handover": record.id})
    successor_user = people.get_user(session, successor.username)
    record.pdf = render_pdf(record, leaving, successor_user)
    record.pdf_sha256 = hashlib.sha256(record.pdf).hexdigest()
    session.flush()
    audit.append(
        session,
        actor,
        "handover.completed",
        details={
            "id": record.id,
            "leaving": leaving.username,
            "successor": successor.username,
            "reason": reason,
            "last_day": last_day.isoformat(),
            "tasks": record.task_count,
            "substitutions": record.substitution_count,
            "pdf_sha256": record.pdf_sha256,
        },
    )
    return record


def _move_tasks(session: Session, actor: Actor, record: Handover, successor: Actor) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    last_id = 0
    leaving = record.leaving_username
    while True:
        batch = list(
            session.scalars(
                select(HumanTask).where(_assigned(leaving), HumanTask.id > last_id).order_by(HumanTask.id).limit(BATCH)
            )
        )
        if not batch:
            return items
        for task in batch:
            if not tasks.may_do(task, successor):
                raise NotAllowed(
                    _(
                        "Görev {id} ('{name}') devredilemedi, hiçbir şey değiştirilmedi: '{user}' görevin "
                        "gruplarından ({groups}) hiçbirinde değil.",
                        id=task.id,
                        name=task.name,
                        user=successor.username,
                        groups=", ".join(task.candidate_groups),
                    ),
                    details={"task_id": task.id},
                )
            behalf = task.on_behalf_of
            tasks.hand_to(session, actor, task, successor.username, handover=record.id)
            items.append(
                {
                    "kind": "task",
                    "task_id": task.id,
                    "instance_id": task.instance_id,
                    "name": task.name,
                    "process_key": task.process_key,
                    "business_key": task.business_key,
                    "due_at": task.due_at.isoformat() if task.due_at else None,
                    "on_behalf_of": behalf,
                }
            )
        last_id = batch[-1].id


def _move_substitutions(
    session: Session, actor: Actor, record: Handover, leaving: User, successor: str
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    now = clock.now()
    for sub in substitutions.held_by(session, leaving.username, at=now):
        sub.revoked_at = now
        session.flush()
        audit.append(
            session, actor, "substitution.revoked", details={"id": sub.id, **sub.details(), "handover": record.id}
        )
        item: dict[str, Any] = {
            "kind": "substitution",
            "substitution_id": sub.id,
            "principal": sub.principal.username,
            "starts_at": max(sub.starts_at, now).isoformat(),
            "ends_at": sub.ends_at.isoformat(),
            "process_keys": list(sub.process_keys),
            "new_substitution_id": None,
        }
        if sub.principal.username != successor:
            new = people.add_substitution(
                session,
                actor,
                sub.principal.username,
                successor,
                max(sub.starts_at, now),
                sub.ends_at,
                reason=sub.reason,
                process_keys=sub.process_keys,
                note=f"Devir teslim #{record.id}: {leaving.username} yerine",
            )
            audit.append(
                session, actor, "substitution.defined", details={"id": new.id, **new.details(), "handover": record.id}
            )
            item["new_substitution_id"] = new.id
        items.append(item)
    return items


def deactivate_user(session: Session, actor: Actor, username: str) -> User:
    """Close a user's account; refused while they still hold open work (hand it over first).
    Raises NotFound, NotAllowed, Conflict."""
    user = people.get_user(session, (username or "").strip())
    require_can_hand_over(actor, user)
    if not user.is_active:
        raise Conflict(_("Kullanıcı zaten etkin değil."))
    work = open_work(session, user.username, preview=0)
    if not work.is_empty:
        raise Conflict(
            _(
                "Devir teslim tamamlanmadan görevden ayrılma işlemi yapılamaz: '{user}' üzerinde {tasks} açık "
                "görev ve {subs} vekalet var.",
                user=user.username,
                tasks=work.task_count,
                subs=len(work.substitutions),
            ),
            code="handover_required",
        )
    user.is_active = False
    session.flush()
    audit.append(session, actor, "user.deactivated", details={"username": user.username})
    return user


def get(session: Session, actor: Actor, handover_id: int) -> Handover:
    """A handover record for its parties, its author, the leaving user's superiors and administrators.
    Raises NotFound (also when hidden from the actor)."""
    record = session.get(Handover, handover_id)
    if record is None or not _may_read(session, actor, record):
        raise NotFound(_("Devir teslim kaydı bulunamadı: {id}.", id=handover_id))
    return record


def _may_read(session: Session, actor: Actor, record: Handover) -> bool:
    if actor.is_admin or actor.username in (record.created_by, record.leaving_username, record.successor_username):
        return True
    leaving = people.find_user(session, record.leaving_username)
    return leaving is not None and may_hand_over(actor, leaving)


def tutanak(session: Session, actor: Actor, handover_id: int) -> tuple[str, bytes]:
    """The stored tutanak PDF: (file name, bytes); the download is audited. Raises NotFound."""
    record = get(session, actor, handover_id)
    audit.append(session, actor, "handover.downloaded", details={"handover_id": record.id})
    return f"devir-teslim-{record.id}-{record.leaving_username}.pdf", record.pdf


@dataclass
class Page:
    rows: list[Handover]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def list_visible(session: Session, actor: Actor, *, page: int = 1, per_page: int = 25) -> Page:
    """Handover records the actor may read, newest first."""
    where: list[ColumnElement[bool]] = []
    if not actor.is_admin:
        mine = or_(
            Handover.created_by == actor.username,
            Handover.leaving_username == actor.username,
            Handover.successor_username == actor.username,
        )
        if actor.manages:
            mine = or_(
                mine,
                exists().where(
                    User.username == Handover.leaving_username,
                    Membership.user_id == User.id,
                    Membership.group_id == Group.id,
                    Group.code.in_(sorted(actor.manages)),
                ),
            )
        where.append(mine)
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    page = max(1, page)
    total = int(session.scalar(select(func.count()).select_from(Handover).where(*where)) or 0)
    rows = list(
        session.scalars(
            select(Handover).where(*where).order_by(Handover.id.desc()).limit(per_page).offset((page - 1) * per_page)
        )
    )
    return Page(rows, total, page, per_page)


# --- the tutanak ------------------------------------------------------------------------------------

_CSS = """
@page { size: A4; margin: 18mm 16mm; @bottom-right { content: "Sayfa " counter(page) " / " counter(pages);
  font-size: 8pt; } }
body { font-family: "DejaVu Sans", "Liberation Sans", sans-serif; font-size: 9.5pt; color: #111; }
h1 { font-size: 14pt; text-align: center; margin: 0 0 2mm; }
.org { text-align: center; font-size: 10pt; margin-bottom: 6mm; }
table { width: 100%; border-collapse: collapse; margin-bottom: 5mm; }
th, td { border: 0.5pt solid #555; padding: 1.5mm 2mm; text-align: left; vertical-align: top; }
th { background: #eee; }
table.meta th { width: 32%; }
.signs { display: flex; justify-content: space-between; margin-top: 12mm; }
.sign { width: 30%; text-align: center; border-top: 0.5pt solid #111; padding-top: 2mm; }
.foot { font-size: 7.5pt; color: #555; margin-top: 8mm; }
"""


def _local(value: datetime | str | None) -> str:
    if value is None:
        return "—"
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    return f"{instant.astimezone(calendar.default_calendar().zone):%d.%m.%Y %H:%M}"


def _person(user: User) -> str:
    title = f", {user.title}" if user.title else ""
    return f"{user.full_name} ({user.username}){title}"


def _item_row(number: int, item: dict[str, Any]) -> str:
    if item["kind"] == "task":
        what = "Açık görev"
        text = f"{item['name']} — süreç {item['process_key']}"
        if item.get("business_key"):
            text += f", evrak/başvuru no {item['business_key']}"
        if item.get("on_behalf_of"):
            text += f" ({item['on_behalf_of']} adına yürütülüyordu)"
        ref = f"Görev #{item['task_id']}, örnek #{item['instance_id']}"
        due = _local(item.get("due_at"))
    else:
        what = "Vekalet"
        scope = ", ".join(item["process_keys"]) or "tüm işler"
        text = f"{item['principal']} adına vekalet; kapsam: {scope}"
        if item.get("new_substitution_id") is None:
            text += " (devralan asil olduğundan yalnızca kaldırıldı)"
        ref = f"Vekalet #{item['substitution_id']}"
        due = f"{_local(item['starts_at'])} – {_local(item['ends_at'])}"
    cells = (str(number), what, text, ref, due)
    return "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>"


def tutanak_html(record: Handover, leaving: User, successor: User) -> str:
    """The tutanak as HTML; every user-supplied text is escaped."""
    reason = REASON_LABELS.get(record.reason, record.reason)  # type: ignore[call-overload]
    meta = [
        ("Tutanak no", f"DT-{record.created_at:%Y}-{record.id:06d}"),
        ("Devreden", _person(leaving)),
        ("Devralan", _person(successor)),
        ("Ayrılış nedeni", reason),
        ("Son çalışma günü", f"{record.last_day:%d.%m.%Y}"),
        ("Düzenleyen", record.created_by),
        ("Düzenlenme zamanı", _local(record.created_at)),
        ("Devredilen", f"{record.task_count} açık görev, {record.substitution_count} vekalet"),
    ]
    if record.deactivated:
        meta.append(("Hesap", "Devreden kullanıcının hesabı kapatıldı."))
    meta_rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in meta)
    items = "".join(_item_row(n, item) for n, item in enumerate(record.items, start=1))
    if not items:
        items = '<tr><td colspan="5">Devredilecek açık iş bulunmamaktadır.</td></tr>'
    note = f"<p><strong>Not:</strong> {escape(record.note)}</p>" if record.note else ""
    return f"""<!doctype html><html lang="tr"><head><meta charset="utf-8">
<title>Devir Teslim Tutanağı</title><style>{_CSS}</style></head><body>
<div class="org">ÖZEL KALEM MÜDÜRLÜĞÜ</div>
<h1>DEVİR TESLİM TUTANAĞI</h1>
<table class="meta">{meta_rows}</table>
<table><thead><tr><th>Sıra</th><th>Tür</th><th>Açıklama</th><th>Kayıt</th><th>Son tarih / dönem</th></tr></thead>
<tbody>{items}</tbody></table>
{note}
<p>Yukarıda dökümü yapılan işler devreden tarafından devralana eksiksiz olarak devredilmiş ve devralan
tarafından teslim alınmıştır.</p>
<div class="signs"><div class="sign">Devreden<br>{escape(leaving.full_name)}</div>
<div class="sign">Devralan<br>{escape(successor.full_name)}</div>
<div class="sign">Onaylayan<br>{escape(record.created_by)}</div></div>
<p class="foot">Bu tutanak Kalem iş akışı sistemince üretilmiştir; belgenin SHA-256 özeti denetim izine
(handover.completed, kayıt #{record.id}) yazılmıştır.</p>
</body></html>"""


def render_pdf(record: Handover, leaving: User, successor: User) -> bytes:
    """The tutanak as PDF (weasyprint; needs Pango from the system, Debian: libpango-1.0-0)."""
    from weasyprint import HTML

    pdf: bytes = HTML(string=tutanak_html(record, leaving, successor)).write_pdf()
    return pdf
