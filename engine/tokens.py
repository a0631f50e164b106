"""Bearer tokens for the REST API, per user or per integration: scoped, expiring, revocable, and
rate-limited per minute in the database (``count_request``), so the limit holds across web workers.

A token acts as its user (the same permissions as in the web UI) and, in addition, only within
its scopes. The secret is returned once by ``create``; the database keeps its SHA-256.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from engine import audit, clock, people
from engine.actors import Actor
from engine.errors import InvalidInput, NotAllowed, NotFound
from engine.i18n import _
from engine.models import ApiRateWindow, ApiToken

SCOPES = {
    "definitions:read": "Süreç tanımlarını okuma",
    "instances:read": "Süreç örneklerini okuma",
    "instances:write": "Süreç başlatma, askıya alma, sonlandırma",
    "tasks:read": "Görevleri okuma",
    "tasks:write": "Görev üstlenme, bırakma, atama, tamamlama",
    "messages:write": "Mesaj iletme",
    "comments:write": "Yorum ve ek ekleme",
    "audit:read": "Denetim kayıtlarını okuma",
    "import:write": "CİMER/HİM içe aktarma",
}
PREFIX = "klm_"
TOUCH_EVERY = timedelta(minutes=5)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create(
    session: Session,
    actor: Actor,
    username: str,
    name: str,
    scopes: Iterable[str],
    *,
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """A new token for ``username`` (administrators, or users for themselves); returns (row, secret)."""
    if not (actor.is_admin or actor.username == username):
        raise NotAllowed(_("Başka bir kullanıcı adına belirteç yalnız yöneticiler oluşturabilir."))
    scopes = sorted(set(scopes))
    unknown = [s for s in scopes if s not in SCOPES]
    if not scopes or unknown:
        raise InvalidInput(
            _("Geçersiz kapsam: {bad}. Geçerli kapsamlar: {all}.", bad=", ".join(unknown) or "-", all=", ".join(SCOPES))
        )
    if not name.strip() or len(name) > 200:
        raise InvalidInput(_("Belirteç adı 1-200 karakter olmalı."))
    now = clock.now()
    if expires_at is not None and expires_at <= now:
        raise InvalidInput(_("Bitiş zamanı gelecekte olmalı."))
    user = people.get_user(session, username)
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        name=name.strip(),
        token_hash=_digest(secret),
        prefix=secret[: len(PREFIX) + 6],
        scopes=scopes,
        created_by=actor.username,
        created_at=now,
        expires_at=expires_at,
    )
    session.add(token)
    session.flush()
    audit.append(session, actor, "token.created", details={"token_id": token.id, "user": username, "scopes": scopes})
    return token, secret


@dataclass(frozen=True)
class Identity:
    actor: Actor
    scopes: frozenset[str]
    token_id: int
    last_used_at: datetime | None

    def needs_touch(self, now: datetime) -> bool:
        """``last_used_at`` is kept to the nearest few minutes, so reads need not write each time."""
        return self.last_used_at is None or now - self.last_used_at > TOUCH_EVERY


def authenticate(session: Session, secret: str) -> Identity:
    """Who a presented secret acts as; NotFound for an unknown, revoked or expired one (reads only)."""
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(secret or "")))
    now = clock.now()
    if (
        token is None
        or token.revoked_at is not None
        or (token.expires_at is not None and token.expires_at <= now)
        or not token.user.is_active
    ):
        raise NotFound(_("Geçersiz, süresi dolmuş ya da iptal edilmiş belirteç."), code="invalid_token")
    actor = people.actor_for(session, token.user.username)
    return Identity(actor, frozenset(token.scopes), token.id, token.last_used_at)


def touch(session: Session, token_id: int) -> None:
    session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=clock.now()))


def count_request(session: Session, token_id: int, limit: int, now: float) -> int:
    """Count one request of the token in its one-minute window (``now``: seconds since 1970); 0 when
    it is allowed, else the seconds until the window ends. One upsert, so every web process shares
    the count; refused requests count too, so a client hammering on gains nothing."""
    window = int(now // 60)
    table = ApiRateWindow.__table__
    upsert = (postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert)(table)
    counted = session.scalar(
        upsert.values(token_id=token_id, window_start=window, count=1)
        .on_conflict_do_update(
            index_elements=[table.c.token_id],
            set_={
                "count": case((table.c.window_start == window, table.c["count"] + 1), else_=1),
                "window_start": window,
            },
        )
        .returning(table.c["count"])
    )
    if counted is not None and counted > limit:
        return max(1, int((window + 1) * 60 - now))
    return 0


def require_scope(scopes: frozenset[str], scope: str) -> None:
    if scope not in scopes:
        raise NotAllowed(_("Belirtecin '{scope}' kapsamı yok.", scope=scope), code="insufficient_scope")


def revoke(session: Session, actor: Actor, token_id: int) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None or not (actor.is_admin or token.user.username == actor.username):
        raise NotFound(_("Belirteç bulunamadı: {id}.", id=token_id))
    if token.revoked_at is None:
        token.revoked_at = clock.now()
        audit.append(session, actor, "token.revoked", details={"token_id": token.id, "user": token.user.username})
    return token


def list_tokens(session: Session, actor: Actor, username: str | None = None) -> list[ApiToken]:
    query = select(ApiToken).order_by(ApiToken.id)
    if not actor.is_admin:
        username = actor.username
    if username:
        query = query.where(ApiToken.user_id == people.get_user(session, username).id)
    return list(session.scalars(query))
