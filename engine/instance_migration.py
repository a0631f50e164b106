"""Moving running cases to another version of their process (process designers, administrators).

``plan`` is the dry run: for a page of a version's running cases, whether each can move and, if not,
why. ``migrate`` moves the given cases, each in a savepoint of the caller's transaction: a case that
cannot move stays on its version, untouched, with its reason; every move is audited.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import advance, audit
from engine.actors import Actor
from engine.errors import InvalidInput, NotAllowed, NotFound
from engine.i18n import _
from engine.models import ACTIVE_TASK_STATES, HumanTask, InstanceStatus, ProcessDefinition, ProcessInstance
from engine.runtime import migration

DESIGNER_GROUPS = frozenset({"surec_tasarimcisi"})
MOVABLE = (InstanceStatus.RUNNING, InstanceStatus.SUSPENDED, InstanceStatus.ERROR)


@dataclass
class Outcome:
    instance_id: int
    business_key: str | None
    from_version: int
    can_move: bool
    reasons: list[str]
    steps: dict[str, str]
    moved: bool = False

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _require_designer(actor: Actor) -> None:
    if not (actor.is_admin or actor.groups & DESIGNER_GROUPS):
        raise NotAllowed(_("Süreç örneklerini yalnız süreç tasarımcıları ve yöneticiler taşıyabilir."))


def _target(session: Session, process_key: str, version: int) -> ProcessDefinition:
    target = session.scalar(
        select(ProcessDefinition).where(ProcessDefinition.key == process_key, ProcessDefinition.version == version)
    )
    if target is None:
        raise NotFound(_("Süreç sürümü bulunamadı: {key} v{version}.", key=process_key, version=version))
    return target


def _check_mapping(mapping: Mapping[str, str] | None) -> dict[str, str]:
    mapping = dict(mapping or {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
        raise InvalidInput(_("Eşleme, eski adım kimliğinden yeni adım kimliğine metinler olmalı."))
    return mapping


def plan(
    session: Session,
    actor: Actor,
    process_key: str,
    to_version: int,
    *,
    mapping: Mapping[str, str] | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> list[Outcome]:
    """Dry run for the next ``limit`` cases (by id, after ``after_id``) not yet on ``to_version``."""
    _require_designer(actor)
    target = _target(session, process_key, to_version)
    mapping = _check_mapping(mapping)
    rows = session.scalars(
        select(ProcessInstance)
        .where(
            ProcessInstance.process_key == process_key,
            ProcessInstance.definition_id != target.id,
            ProcessInstance.status.in_(MOVABLE),
            ProcessInstance.id > after_id,
        )
        .order_by(ProcessInstance.id)
        .limit(min(max(limit, 1), 500))
    )
    return [_try(session, instance, target, mapping) for instance in rows]


def _try(session: Session, instance: ProcessInstance, target: ProcessDefinition, mapping: dict[str, str]) -> Outcome:
    runner = advance.load_runner(session, instance)
    spec, subs = advance.specs_for(target)
    check = migration.migrate(runner, spec, subs, mapping)
    return Outcome(
        instance.id, instance.business_key, instance.definition.version, check.can_move, check.reasons, check.steps
    )


def migrate(
    session: Session,
    actor: Actor,
    process_key: str,
    to_version: int,
    instance_ids: Iterable[int],
    *,
    mapping: Mapping[str, str] | None = None,
) -> list[Outcome]:
    """Move each given case that can move; the others stay, with their reasons."""
    _require_designer(actor)
    target = _target(session, process_key, to_version)
    mapping = _check_mapping(mapping)
    return [_move(session, actor, instance_id, target, mapping) for instance_id in instance_ids]


def _move(
    session: Session, actor: Actor, instance_id: int, target: ProcessDefinition, mapping: dict[str, str]
) -> Outcome:
    instance = advance.lock_instance(session, instance_id)
    if instance.process_key != target.key:
        raise InvalidInput(_("Süreç örneği {id} bu sürecin örneği değil.", id=instance_id))
    from_version = instance.definition.version
    if instance.status not in MOVABLE or instance.definition_id == target.id:
        reason = str(_("Örnek '{status}' durumunda ya da zaten bu sürümde.", status=instance.status))
        return Outcome(instance.id, instance.business_key, from_version, False, [reason], {})
    runner = advance.load_runner(session, instance)
    before = advance.Waiting.of(runner)
    spec, subs = advance.specs_for(target)
    check = migration.migrate(runner, spec, subs, mapping)
    outcome = Outcome(instance.id, instance.business_key, from_version, check.can_move, check.reasons, check.steps)
    if not check.can_move:
        return outcome
    with session.begin_nested():
        instance.definition_id, instance.definition = target.id, target
        if instance.status == InstanceStatus.RUNNING:
            runner.run(advance.dispatch_for(session, instance))
        advance.save(session, instance, runner, actor, before)
        _refresh_kept_tasks(session, instance, runner)
        audit.append(
            session,
            actor,
            "instance.migrated",
            instance_id=instance.id,
            details={"from_version": from_version, "to_version": target.version, "steps": check.steps},
        )
    outcome.moved = True
    return outcome


def _refresh_kept_tasks(session: Session, instance: ProcessInstance, runner: Any) -> None:
    """Open tasks that stayed (same spiff id) take the new version's name and form, and belong to it."""
    ready = {t.spiff_id: t for t in runner.waiting()[0]}
    for task in session.scalars(
        select(HumanTask).where(HumanTask.instance_id == instance.id, HumanTask.state.in_(ACTIVE_TASK_STATES))
    ):
        new = ready.get(task.spiff_task_id)
        if new is not None:
            task.name, task.bpmn_id, task.definition_id = new.name, new.bpmn_id, instance.definition_id
            task.form_key = new.properties.get("formKey") or None
