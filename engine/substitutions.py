"""Vekalet (domain guide F12, §5.4): define a time-boxed substitute, revoke it, list them.

Only the rows are managed here; what a substitute may see and do is resolved in one place,
``people.effective_principals`` (used by the inbox and every permission check), and whatever they do is
audited with ``on_behalf_of`` = the principal, shown as "X adına Y". Approval (F12 step 2) is the
defining manager's act: only the principal's superior (a manager of one of their groups) or an
administrator defines or revokes a vekalet.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from engine import audit, calendar, clock, people
from engine.actors import Actor
from engine.errors import Conflict, InvalidInput, NotAllowed, NotFound
from engine.i18n import LazyText, _
from engine.models import Group, Membership, ProcessDefinition, Substitution, User

MAX_NOTE = 1000
MAX_PER_PAGE = 100


class Reason(StrEnum):
    YILLIK_IZIN = "yillik_izin"
    RAPOR = "rapor"
    GOREVLENDIRME = "gorevlendirme"
    DIGER = "diger"


REASON_LABELS = {
    Reason.YILLIK_IZIN: "Yıllık izin",
    Reason.RAPOR: "Rapor",
    Reason.GOREVLENDIRME: "Görevlendirme",
    Reason.DIGER: "Diğer",
}


def behalf_label(actor: str, on_behalf_of: str | None) -> str:
    """ "X adına Y" for an action Y did as X's substitute; just Y otherwise."""
    return f"{on_behalf_of} adına {actor}" if on_behalf_of else actor


def _invalid(field: str, message: LazyText) -> InvalidInput:
    return InvalidInput(message, field_errors={field: [message]})


def _manages_user(session: Session, actor: Actor, user: User) -> bool:
    """Whether the actor may define vekalet for ``user``: an administrator, or a manager of one of the
    user's groups."""
    if actor.is_admin:
        return True
    return bool({m.group.code for m in user.memberships} & actor.manages)


def require_can_define(session: Session, actor: Actor, principal: User) -> None:
    if not _manages_user(session, actor, principal):
        raise NotAllowed(
            _(
                "'{user}' için vekalet tanımlayamazsınız: yalnızca amiri ya da sistem yöneticisi tanımlar.",
                user=principal.username,
            )
        )


def _overlapping(
    session: Session, principal_id: int, starts_at: datetime, ends_at: datetime, keys: set[str]
) -> Substitution | None:
    """An unrevoked vekalet of the same principal whose period and scope meet the given ones."""
    rows = session.scalars(
        select(Substitution)
        .where(
            Substitution.principal_id == principal_id,
            Substitution.revoked_at.is_(None),
            Substitution.starts_at < ends_at,
            Substitution.ends_at > starts_at,
        )
        .order_by(Substitution.starts_at)
    ).unique()
    for sub in rows:
        theirs = set(sub.process_keys)
        if not theirs or not keys or theirs & keys:
            return sub
    return None


def _check_scope(session: Session, process_keys: Iterable[str]) -> set[str]:
    keys = {k.strip() for k in process_keys if k and k.strip()}
    if not keys:
        return keys
    known = set(session.scalars(select(ProcessDefinition.key).where(ProcessDefinition.key.in_(sorted(keys)))))
    unknown = sorted(keys - known)
    if unknown:
        raise _invalid("process_keys", _("Tanımsız süreç: {keys}.", keys=", ".join(unknown)))
    return keys


def _local(instant: datetime) -> str:
    return f"{instant.astimezone(calendar.default_calendar().zone):%d.%m.%Y %H:%M}"


def _parties(session: Session, actor: Actor, principal: str, substitute: str) -> tuple[User, User]:
    """The principal (whose superior the actor must be) and an active substitute who is someone else."""
    if not (actor.is_admin or actor.manages):
        raise NotAllowed(_("Vekaleti yalnızca asilin amiri ya da sistem yöneticisi tanımlar."))
    principal_user = people.find_user(session, (principal or "").strip())
    if principal_user is None:
        raise _invalid("principal", _("Asil bulunamadı: '{user}'.", user=principal))
    require_can_define(session, actor, principal_user)
    substitute_user = people.find_user(session, (substitute or "").strip())
    if substitute_user is None:
        raise _invalid("substitute", _("Vekil bulunamadı: '{user}'.", user=substitute))
    if substitute_user.id == principal_user.id:
        raise _invalid("substitute", _("Kişi kendisine vekil olamaz."))
    if not substitute_user.is_active:
        raise _invalid("substitute", _("Vekil etkin bir kullanıcı olmalı."))
    return principal_user, substitute_user


def _check_terms(starts_at: datetime, ends_at: datetime, reason: str, note: str | None) -> str | None:
    """Period and reason; returns the cleaned note."""
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise _invalid("starts_at", _("Başlangıç ve bitiş saat dilimiyle verilmeli."))
    if ends_at <= starts_at:
        raise _invalid("ends_at", _("Vekalet bitişi başlangıçtan sonra olmalı."))
    if ends_at <= clock.now():
        raise _invalid("ends_at", _("Vekalet bitişi geçmişte olamaz."))
    if reason not in {r.value for r in Reason}:
        raise _invalid("reason", _("Geçerli bir gerekçe seçin."))
    note = (note or "").strip() or None
    if reason == Reason.DIGER and not note:
        raise _invalid("note", _("'Diğer' gerekçesi için açıklama yazın."))
    if note and len(note) > MAX_NOTE:
        raise _invalid("note", _("Açıklama en fazla {n} karakter.", n=MAX_NOTE))
    return note


def define(
    session: Session,
    actor: Actor,
    principal: str,
    substitute: str,
    starts_at: datetime,
    ends_at: datetime,
    *,
    reason: str,
    process_keys: Iterable[str] = (),
    note: str | None = None,
) -> Substitution:
    """Define a vekalet: ``substitute`` acts for ``principal`` from ``starts_at`` until ``ends_at``, for
    every process (empty ``process_keys``) or the listed ones.

    Rules (F12): substitute ≠ principal and active; start < end, end in the future; a known reason
    ("diger" needs a note); no overlapping unrevoked vekalet of the same principal with an overlapping
    scope; no chains (the substitute is not away under their own vekalet then). Raises NotAllowed,
    InvalidInput, Conflict.
    """
    principal_user, substitute_user = _parties(session, actor, principal, substitute)
    note = _check_terms(starts_at, ends_at, reason, note)
    keys = _check_scope(session, process_keys)
    clash = _overlapping(session, principal_user.id, starts_at, ends_at, keys)
    if clash is not None:
        raise Conflict(
            _(
                "'{principal}' için bu dönemde ve kapsamda zaten bir vekalet var (#{id}: {sub}, {start} – {end}).",
                principal=principal_user.username,
                id=clash.id,
                sub=clash.substitute.username,
                start=_local(clash.starts_at),
                end=_local(clash.ends_at),
            ),
            code="overlapping_substitution",
        )
    away = _overlapping(session, substitute_user.id, starts_at, ends_at, set())
    if away is not None:
        raise Conflict(
            _(
                "'{sub}' bu dönemde kendisi vekalet bırakmış (#{id}); zincirleme vekalet tanımlanamaz.",
                sub=substitute_user.username,
                id=away.id,
            ),
            code="chained_substitution",
        )
    sub = people.add_substitution(
        session,
        actor,
        principal_user.username,
        substitute_user.username,
        starts_at,
        ends_at,
        reason=reason,
        process_keys=keys,
        note=note,
    )
    audit.append(session, actor, "substitution.defined", details={"id": sub.id, **sub.details(), "note": note})
    return sub


def revoke(session: Session, actor: Actor, substitution_id: int) -> Substitution:
    """End a vekalet now (a future one never starts). Raises NotFound, NotAllowed, Conflict."""
    sub = session.get(Substitution, substitution_id)
    if sub is None:
        raise NotFound(_("Vekalet bulunamadı: {id}.", id=substitution_id))
    require_can_define(session, actor, sub.principal)
    now = clock.now()
    if sub.revoked_at is not None:
        raise Conflict(_("Vekalet zaten kaldırılmış."))
    if sub.ends_at <= now:
        raise Conflict(_("Vekaletin süresi zaten dolmuş."))
    sub.revoked_at = now
    session.flush()
    audit.append(session, actor, "substitution.revoked", details={"id": sub.id, **sub.details()})
    return sub


class Status(StrEnum):
    ACTIVE = "active"
    UPCOMING = "upcoming"
    ENDED = "ended"
    REVOKED = "revoked"


STATUS_LABELS = {
    Status.ACTIVE: "Yürürlükte",
    Status.UPCOMING: "Başlamadı",
    Status.ENDED: "Süresi doldu",
    Status.REVOKED: "Kaldırıldı",
}


def status_of(sub: Substitution, now: datetime | None = None) -> Status:
    now = now or clock.now()
    if sub.revoked_at is not None:
        return Status.REVOKED
    if sub.ends_at <= now:
        return Status.ENDED
    return Status.ACTIVE if sub.starts_at <= now else Status.UPCOMING


@dataclass
class Row:
    substitution: Substitution
    status: Status
    can_revoke: bool


@dataclass
class Page:
    rows: list[Row]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _visible(actor: Actor) -> ColumnElement[bool] | None:
    """Vekalets the actor may list: their own (either side), and those of people in groups they manage."""
    if actor.is_admin:
        return None
    principal, substitute = aliased(User), aliased(User)
    own = or_(
        exists().where(principal.id == Substitution.principal_id, principal.username == actor.username),
        exists().where(substitute.id == Substitution.substitute_id, substitute.username == actor.username),
    )
    if not actor.manages:
        return own
    managed = exists().where(
        Membership.user_id == Substitution.principal_id,
        Membership.group_id == Group.id,
        Group.code.in_(sorted(actor.manages)),
    )
    return or_(own, managed)


def list_visible(
    session: Session, actor: Actor, *, current_only: bool = False, page: int = 1, per_page: int = 25
) -> Page:
    """A page of the vekalets the actor may see, latest start first. ``current_only``: not yet ended
    and not revoked."""
    where: list[ColumnElement[bool]] = []
    visible = _visible(actor)
    if visible is not None:
        where.append(visible)
    now = clock.now()
    if current_only:
        where.append(and_(Substitution.revoked_at.is_(None), Substitution.ends_at > now))
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    page = max(1, page)
    total = int(session.scalar(select(func.count()).select_from(Substitution).where(*where)) or 0)
    subs = session.scalars(
        select(Substitution)
        .where(*where)
        .order_by(Substitution.starts_at.desc(), Substitution.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).unique()
    rows = []
    for sub in subs:
        status = status_of(sub, now)
        can_revoke = status in (Status.ACTIVE, Status.UPCOMING) and _manages_user(session, actor, sub.principal)
        rows.append(Row(sub, status, can_revoke))
    return Page(rows, total, page, per_page)


def held_by(session: Session, username: str, *, at: datetime | None = None) -> list[Substitution]:
    """Unrevoked vekalets ``username`` holds as the substitute that have not ended by ``at``."""
    at = at or clock.now()
    substitute = aliased(User)
    return list(
        session.scalars(
            select(Substitution)
            .join(substitute, substitute.id == Substitution.substitute_id)
            .where(substitute.username == username, Substitution.revoked_at.is_(None), Substitution.ends_at > at)
            .order_by(Substitution.id)
        ).unique()
    )
