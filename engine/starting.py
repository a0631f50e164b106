"""Starting a case by hand: which processes the actor may start, with which initial form.

A process is started by hand from its plain (none) start event. Who may start it: members of the
start event's lane group (or their deputies, within the substitution's scope) and administrators;
anyone when the start event is in no lane. A ``formKey`` property on the start event names the form
of the initial data; it is validated like a task form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import forms
from engine import advance, definitions, instances, permissions
from engine.actors import Actor
from engine.errors import InvalidInput, NotAllowed, NotFound
from engine.i18n import _
from engine.models import ACTIVE_TASK_STATES, HumanTask, ProcessDefinition, ProcessInstance
from engine.runtime.starts import manual_start

MAX_BUSINESS_KEY = 200
MAX_SUBJECT = 500


@dataclass(frozen=True)
class StartOption:
    key: str
    name: str
    version: int
    group: str | None
    form: Any | None


@dataclass(frozen=True)
class Started:
    instance: ProcessInstance
    next_task_id: int | None


def _option(session: Session, definition: ProcessDefinition) -> StartOption | None:
    spec, _subs = advance.specs_for(definition)
    start = manual_start(spec)
    if start is None:
        return None
    group = advance.lane_group(session, start.lane) if start.lane else None
    return StartOption(definition.key, definition.name, definition.version, group, _form(session, definition, start))


def _form(session: Session, definition: ProcessDefinition, start: Any) -> Any | None:
    if not start.form_key:
        return None
    binding = (definition.form_bindings or {}).get(start.form_key)
    if isinstance(binding, dict):
        # The same parsed-once cache task forms use (definitions has no public accessor by binding yet).
        return definitions._form_version(session, int(binding["id"]), str(binding["sha256"]))
    return forms.python_forms.get(start.form_key)


def may_start(session: Session, actor: Actor, option: StartOption) -> bool:
    if actor.is_admin or option.group is None:
        return True
    return any(
        option.group in who.groups and (not scope or option.key in scope)
        for who, scope in permissions.acting_as(session, actor)
    )


def list_startable(session: Session, actor: Actor) -> list[StartOption]:
    """The latest version of every process the actor may start by hand, by name."""
    result = []
    for row in definitions.list_definitions(session):
        option = _option(session, definitions.get_latest(session, row["key"]))
        if option is not None and may_start(session, actor, option):
            result.append(option)
    return sorted(result, key=lambda o: o.name.casefold())


def get_startable_or_none(session: Session, actor: Actor, key: str) -> StartOption | None:
    try:
        return get_startable(session, actor, key)
    except (NotFound, NotAllowed):
        return None


def get_startable(session: Session, actor: Actor, key: str) -> StartOption:
    """Raises NotFound (unknown process, or one not started by hand), NotAllowed."""
    option = _option(session, definitions.get_latest(session, key))
    if option is None:
        raise NotFound(_("Bu süreç elle başlatılmaz: '{key}'.", key=key), code="not_startable")
    if not may_start(session, actor, option):
        raise NotAllowed(_("Bu süreci başlatma yetkiniz yok."))
    return option


def start(
    session: Session,
    actor: Actor,
    key: str,
    *,
    business_key: str | None = None,
    subject: str | None = None,
    data: dict[str, Any] | None = None,
) -> Started:
    """Start a case from the start page: check who may, validate the initial form, start, and name the
    first task the actor may work on. Raises NotFound, NotAllowed, InvalidInput, Conflict, ProcessError."""
    option = get_startable(session, actor, key)
    if data is not None and not isinstance(data, dict):
        raise InvalidInput(_("Başlangıç verisi bir JSON nesnesi olmalı."))
    business_key, subject = (business_key or "").strip() or None, (subject or "").strip() or None
    errors: dict[str, list[Any]] = {}
    if business_key and len(business_key) > MAX_BUSINESS_KEY:
        errors["business_key"] = [_("En fazla {n} karakter.", n=MAX_BUSINESS_KEY)]
    if subject and len(subject) > MAX_SUBJECT:
        errors["subject"] = [_("En fazla {n} karakter.", n=MAX_SUBJECT)]
    clean: dict[str, Any] = dict(data or {})
    if option.form is not None:
        try:
            clean = definitions.validate_form(option.form, clean)
            if option.form.checks:
                definitions.run_form_checks(option.form, {}, clean)
        except InvalidInput as exc:
            errors.update(exc.field_errors)
    if errors:
        raise InvalidInput(_("Başlangıç verisi geçersiz."), field_errors=errors)
    instance = instances.start(session, actor, key, business_key=business_key, subject=subject, data=clean)
    return Started(instance, _first_task_for(session, actor, instance.id))


def _first_task_for(session: Session, actor: Actor, instance_id: int) -> int | None:
    tasks = session.scalars(
        select(HumanTask)
        .where(HumanTask.instance_id == instance_id, HumanTask.state.in_(ACTIVE_TASK_STATES))
        .order_by(HumanTask.id)
    )
    for task in tasks:
        if task.assignee == actor.username or (task.assignee is None and set(task.candidate_groups) & actor.groups):
            return task.id
    return None
