"""What a view needs per request: the database, the signed-in actor, and the two ways to reach the
engine — ``read`` (a read-only session) and ``write`` (one recorded transaction, committed when the
function returns, rolled back whole when it raises)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

from flask import current_app, request
from flask_login import current_user
from sqlalchemy.orm import Session

from engine import db as dbmod
from engine.actors import Actor
from engine.incidents import recorded_transaction

T = TypeVar("T")


def database() -> dbmod.Database:
    db: dbmod.Database = current_app.extensions["kalem_db"]
    return db


def current_actor() -> Actor:
    """The signed-in user as the engine sees them (views are ``login_required``)."""
    actor: Actor = current_user.actor
    return actor


def read(fn: Callable[[Session, Actor], T]) -> T:
    """``fn(session, actor)`` in a read-only session (render inside ``fn`` to use lazy attributes)."""
    with dbmod.read_session(database()) as session:
        return fn(session, current_actor())


def write(fn: Callable[[Session, Actor], T]) -> T:
    """``fn(session, actor)`` in one transaction; a process failure is recorded as an incident."""
    actor = current_actor()
    with recorded_transaction(database(), actor) as session:
        return fn(session, actor)


def safe_next(default: str, value: str | None = None) -> str:
    """A same-site path to go back to (``next`` form or query field), else ``default``."""
    target = value if value is not None else (request.form.get("next") or request.args.get("next") or "")
    parts = urlsplit(target)
    # "/\\host" is "//host" to browsers: a backslash never appears in our own paths.
    if target.startswith("/") and not target.startswith("//") and "\\" not in target and not parts.netloc:
        return target
    return default
