"""Users, groups, memberships and substitutions (vekalet), and the one function that
resolves on whose behalf an actor may act (``effective_principals``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import Session, aliased, joinedload

from engine import clock
from engine.actors import Actor
from engine.db import per_transaction
from engine.errors import InvalidInput, NotFound
from engine.i18n import _
from engine.models import Group, Membership, Substitution, User


def get_user(session: Session, username: str) -> User:
    """Raises NotFound for an unknown username."""
    user = find_user(session, username)
    if user is None:
        raise NotFound(_("Kullanıcı bulunamadı: '{username}'.", username=username), code="unknown_user")
    return user


def find_user(session: Session, username: str) -> User | None:
    query = select(User).options(joinedload(User.memberships)).where(User.username == username)
    return session.scalars(query).unique().one_or_none()


def actor_for(session: Session, username: str) -> Actor:
    """The acting user with their groups; raises NotFound for an unknown or inactive user."""
    user = get_user(session, username)
    if not user.is_active:
        raise NotFound(_("Kullanıcı etkin değil: '{username}'.", username=username), code="inactive_user")
    return _actor(user)


MANAGER_SUFFIX = "/yonetici"


def _actor(user: User) -> Actor:
    """An Actor of ``user``. Besides its groups, a group's manager is in the virtual group
    ``<code>/yonetici``, so a BPMN task can name "the Müdür of the target directorate"."""
    manages = frozenset(m.group.code for m in user.memberships if m.is_manager)
    groups = frozenset(m.group.code for m in user.memberships) | {code + MANAGER_SUFFIX for code in manages}
    return Actor(user.username, groups=groups, manages=manages)


def ensure_group(session: Session, code: str, name: str, kind: str = "role") -> Group:
    group = session.scalar(select(Group).where(Group.code == code))
    if group is None:
        group = Group(code=code, name=name, kind=kind)
        session.add(group)
        session.flush()
    else:
        group.name, group.kind = name, kind
    return group


def ensure_user(
    session: Session,
    username: str,
    full_name: str,
    *,
    email: str | None = None,
    title: str | None = None,
    password_hash: str | None = None,
) -> User:
    user = find_user(session, username)
    if user is None:
        user = User(username=username, full_name=full_name, created_at=clock.now())
        session.add(user)
    user.full_name, user.email, user.title = full_name, email, title
    if password_hash is not None:
        user.password_hash = password_hash
    session.flush()
    return user


def set_membership(session: Session, user: User, group: Group, *, is_manager: bool = False) -> None:
    for m in user.memberships:
        if m.group_id == group.id:
            m.is_manager = is_manager
            return
    user.memberships.append(Membership(group=group, is_manager=is_manager))
    session.flush()


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def add_substitution(
    session: Session,
    actor: Actor,
    principal: str,
    substitute: str,
    starts_at: datetime,
    ends_at: datetime,
    *,
    reason: str = "diger",
    process_keys: Iterable[str] = (),
    note: str | None = None,
) -> Substitution:
    """Define a time-boxed vekalet. Raises NotFound, InvalidInput."""
    principal_user, substitute_user = get_user(session, principal), get_user(session, substitute)
    if principal_user.id == substitute_user.id:
        raise InvalidInput(_("Kişi kendisine vekil olamaz."), field_errors={"substitute": [_("Asil ile aynı kişi.")]})
    if ends_at <= starts_at:
        raise InvalidInput(_("Vekalet bitişi başlangıçtan sonra olmalı."), field_errors={"ends_at": [_("Geçersiz.")]})
    sub = Substitution(
        principal=principal_user,
        substitute=substitute_user,
        starts_at=starts_at,
        ends_at=ends_at,
        reason=reason,
        process_keys=sorted(set(process_keys)),
        note=note,
        created_by=actor.username,
        created_at=clock.now(),
    )
    session.add(sub)
    session.flush()
    return sub


def effective_principals(session: Session, actor: Actor, at: datetime | None = None) -> dict[str, Actor]:
    """Users the actor currently substitutes for (vekalet), as actors, keyed by username.
    No chains: a substitute of a substitute gets nothing from the first principal."""
    if actor.is_system:
        return {}
    if at is not None:
        return _principals(session, actor, at)
    key = f"kalem_principals:{actor.username}"
    return dict(per_transaction(session, key, lambda: _principals(session, actor, clock.now())))


def in_force(at: datetime) -> ColumnElement[bool]:
    """A WHERE clause on Substitution: the vekalets that hold at ``at`` (started, not ended, not revoked)."""
    return and_(Substitution.starts_at <= at, Substitution.ends_at > at, Substitution.revoked_at.is_(None))


def _principals(session: Session, actor: Actor, at: datetime) -> dict[str, Actor]:
    rows = session.scalars(
        select(Substitution)
        .join(User, Substitution.substitute_id == User.id)
        .where(User.username == actor.username, in_force(at))
    ).unique()
    principals: dict[str, Actor] = {}
    for sub in rows:
        user = sub.principal
        if user.is_active and user.username not in principals:
            principals[user.username] = _actor(user)
    return principals


def substitution_scope(session: Session, substitute: str, principal: str, at: datetime | None = None) -> set[str]:
    """Process keys a current substitution covers; an empty set means all processes."""
    at = at or clock.now()
    principal_user, substitute_user = aliased(User), aliased(User)
    scopes = session.scalars(
        select(Substitution.process_keys)
        .join(principal_user, Substitution.principal_id == principal_user.id)
        .join(substitute_user, Substitution.substitute_id == substitute_user.id)
        .where(principal_user.username == principal, substitute_user.username == substitute, in_force(at))
    )
    keys: set[str] = set()
    for process_keys in scopes:
        if not process_keys:
            return set()
        keys |= set(process_keys)
    return keys


def check_form_references(session: Session, form: Any, values: Mapping[str, Any], case_data: Mapping[str, Any]) -> None:
    """``user`` and ``unit`` fields name an active user (in the field's group, if it has one: a
    ``$variable`` group is read from the submitted values, then the case data) and an existing
    directorate; raises InvalidInput naming each bad field."""
    errors: dict[str, list[str]] = {}
    for field in form.fields:
        value = values.get(field.name)
        if field.type not in ("user", "unit") or not value:
            continue
        if field.type == "unit":
            group = session.scalar(select(Group).where(Group.code == value, Group.kind == "directorate"))
            if group is None:
                errors[field.name] = [str(_("Böyle bir müdürlük yok: '{code}'.", code=value))]
            continue
        user = find_user(session, value)
        if user is None or not user.is_active:
            errors[field.name] = [str(_("Kullanıcı bulunamadı ya da etkin değil: '{name}'.", name=value))]
            continue
        required = _required_group(field.group, {**case_data, **values})
        if required and required not in _actor(user).groups:
            errors[field.name] = [str(_("'{name}' bu birimde değil ({group}).", name=value, group=required))]
    if errors:
        raise InvalidInput(_("Form verisi geçersiz."), field_errors=errors)


def _required_group(spec: str | None, case_data: Mapping[str, Any]) -> str | None:
    if not spec:
        return None
    if spec.startswith("$"):
        base, _sep, suffix = spec[1:].partition("/")
        value = case_data.get(base)
        return f"{value}/{suffix}" if value and suffix else (str(value) if value else None)
    return spec
