"""Password sign-in with argon2 hashes (or the directory, when LDAP is configured: ``ldap_auth``)
and a lock-out counted in the database.

``MAX_FAILURES`` wrong passwords for one username within ``FAILURE_WINDOW`` lock that username for
``LOCK_DURATION``, for every web worker at once (the count lives in ``login_throttle``). Unknown
usernames are counted and answered exactly like known ones, so the answers do not reveal who exists.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import audit, clock, ldap_auth, people
from engine.actors import Actor
from engine.models import LoginThrottle, WebSession

MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
LOCK_DURATION = timedelta(minutes=15)
# Rows of names nobody has tried for this long are removed on the next failure.
FORGET_AFTER = timedelta(days=1)
MAX_USERNAME = 150

_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """A hash to verify against for unknown users, so they cost the same time as known ones."""
    return _hasher.hash("kalem-no-such-user")


@dataclass(frozen=True)
class SignInResult:
    """``actor`` when the password was right; ``locked_until`` when the username is locked."""

    actor: Actor | None = None
    locked_until: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.actor is not None


def authenticate(session: Session, username: str, password: str) -> SignInResult:
    """Check a username and password; count a failure, lock after too many. Never raises for bad
    credentials: the failure count must be committed, so the caller commits and shows the result."""
    name = username.strip()[:MAX_USERNAME]
    now = clock.now()
    throttle = _throttle_row(session, name)
    if throttle is not None and throttle.locked_until is not None and throttle.locked_until > now:
        return SignInResult(locked_until=throttle.locked_until)
    user = people.find_user(session, name) if name else None
    usable = user is not None and user.is_active and bool(user.password_hash)
    local = _verify(user.password_hash if usable and user is not None else None, password)
    directory = not local and user is not None and user.is_active and ldap_auth.verify(user.username, password)
    if (local or directory) and user is not None:
        if throttle is not None:
            session.delete(throttle)
        if local and _hasher.check_needs_rehash(user.password_hash or ""):
            user.password_hash = _hasher.hash(password)
        audit.append(session, user.username, "user.signed_in", details={"via": "ldap" if directory else "local"})
        session.flush()
        return SignInResult(actor=people.actor_for(session, user.username))
    locked_until = _count_failure(session, throttle, name, now)
    if locked_until is not None and user is not None:
        audit.append(session, user.username, "user.locked_out", details={"until": locked_until.isoformat()})
    return SignInResult(locked_until=locked_until)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def _throttle_row(session: Session, name: str) -> LoginThrottle | None:
    return session.scalar(select(LoginThrottle).where(LoginThrottle.username == name).with_for_update())


def _count_failure(session: Session, row: LoginThrottle | None, name: str, now: datetime) -> datetime | None:
    """Add one failure; returns the lock's end when this failure locked the name."""
    session.execute(
        delete(LoginThrottle).where(LoginThrottle.last_failure_at < now - FORGET_AFTER, LoginThrottle.username != name)
    )
    if row is None:
        row = LoginThrottle(username=name, failures=0, first_failure_at=now, last_failure_at=now)
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
        except IntegrityError:
            # Another worker counted this name's first failure at the same moment: count on its row.
            row = _throttle_row(session, name)
            if row is None:  # pragma: no cover - the other insert was rolled back in between
                return None
    if row.first_failure_at < now - FAILURE_WINDOW or (row.locked_until is not None and row.locked_until <= now):
        row.failures, row.first_failure_at, row.locked_until = 0, now, None
    row.failures += 1
    row.last_failure_at = now
    if row.failures >= MAX_FAILURES:
        row.locked_until = now + LOCK_DURATION
    session.flush()
    return row.locked_until


def open_session(session: Session, username: str) -> str:
    """Record a web sign-in; returns the id the browser's cookie carries."""
    sid = secrets.token_urlsafe(32)
    session.add(WebSession(id=sid, username=username, created_at=clock.now()))
    return sid


def session_is_live(session: Session, sid: str | None, username: str) -> bool:
    row = session.get(WebSession, sid) if sid else None
    return row is not None and row.username == username and row.ended_at is None


def end_session(session: Session, sid: str | None) -> None:
    row = session.get(WebSession, sid) if sid else None
    if row is not None and row.ended_at is None:
        row.ended_at = clock.now()
