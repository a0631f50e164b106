"""Who may see and do what, as sentences (``require_can_*``). Every check resolves vekalet
through ``people.effective_principals``; web, API and CLI all reach these through the
engine functions, never around them."""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, or_, select, true
from sqlalchemy.orm import Session

from engine import people
from engine.actors import Actor
from engine.errors import Conflict, NotAllowed, NotFound
from engine.i18n import _
from engine.models import HumanTask, HumanTaskCandidate, ProcessInstance, TaskState

AUDITOR_GROUPS = frozenset({"denetci"})


def acting_as(session: Session, actor: Actor) -> list[tuple[Actor, set[str]]]:
    """The actor itself and each principal they substitute for, with the process keys the
    substitution covers (empty set: all)."""
    result: list[tuple[Actor, set[str]]] = [(actor, set())]
    for principal in people.effective_principals(session, actor).values():
        result.append((principal, people.substitution_scope(session, actor.username, principal.username)))
    return result


def _on_behalf(session: Session, actor: Actor, task: HumanTask, *, candidate_only: bool) -> str | bool | None:
    """None when the actor may act for themselves, the principal's username when only as a
    deputy, False when not at all."""
    groups = set(task.candidate_groups)
    for who, scope in acting_as(session, actor):
        if scope and task.process_key not in scope:
            continue
        is_candidate = bool(groups & who.groups)
        if (not candidate_only and task.assignee == who.username) or is_candidate:
            return None if who is actor else who.username
    return False


def can_view_task(session: Session, actor: Actor, task: HumanTask) -> bool:
    if actor.is_admin or actor.groups & AUDITOR_GROUPS:
        return True
    if actor.manages & set(task.candidate_groups):
        return True
    if task.completed_by == actor.username:
        return True
    return _on_behalf(session, actor, task, candidate_only=False) is not False


def require_can_view_task(session: Session, actor: Actor, task: HumanTask) -> None:
    if not can_view_task(session, actor, task):
        # Same answer as a missing task: no one learns which task ids exist.
        raise NotFound(_("Görev bulunamadı: {id}.", id=task.id))


def require_can_claim(session: Session, actor: Actor, task: HumanTask) -> str | None:
    """Returns the principal's username when claiming as a deputy."""
    require_can_view_task(session, actor, task)
    if task.assignee:
        raise Conflict(_("Görev zaten '{user}' tarafından üstlenilmiş.", user=task.assignee))
    behalf = _on_behalf(session, actor, task, candidate_only=True)
    if behalf is False:
        raise NotAllowed(_("Bu görevi üstlenemezsiniz: görevin gruplarından birinde değilsiniz."))
    return behalf if isinstance(behalf, str) else None


def require_can_complete(session: Session, actor: Actor, task: HumanTask) -> str | None:
    """The assignee (or their deputy) completes; an unclaimed task's candidate may complete it
    directly. Returns the principal's username when acting as a deputy."""
    require_can_view_task(session, actor, task)
    if task.assignee:
        for who, scope in acting_as(session, actor):
            if task.assignee == who.username and (not scope or task.process_key in scope):
                return None if who is actor else who.username
        raise Conflict(_("Görev '{user}' tarafından üstlenilmiş; siz tamamlayamazsınız.", user=task.assignee))
    return require_can_claim(session, actor, task)


def require_can_unclaim(session: Session, actor: Actor, task: HumanTask) -> None:
    require_can_view_task(session, actor, task)
    if task.state != TaskState.CLAIMED or not task.assignee:
        raise Conflict(_("Görev kimse tarafından üstlenilmemiş."))
    if task.assignee == actor.username or can_reassign(actor, task):
        return
    if any(task.assignee == who.username for who, _scope in acting_as(session, actor)):
        return
    raise NotAllowed(_("Görevi yalnızca üstlenen kişi ya da yöneticisi bırakabilir."))


def can_reassign(actor: Actor, task: HumanTask) -> bool:
    """Administrators, and managers of a candidate group (``<group>/yonetici`` counts as ``<group>``)."""
    groups = {g.removesuffix(people.MANAGER_SUFFIX) for g in task.candidate_groups}
    return actor.is_admin or bool(actor.manages & groups)


def require_can_reassign(session: Session, actor: Actor, task: HumanTask) -> None:
    require_can_view_task(session, actor, task)
    if not can_reassign(actor, task):
        raise NotAllowed(_("Görevi yalnızca görevin grubunun yöneticisi atayabilir."))


def can_see_instance(session: Session, actor: Actor, instance: ProcessInstance) -> bool:
    if actor.is_admin or actor.groups & AUDITOR_GROUPS or instance.started_by == actor.username:
        return True
    return works_on_instance(session, actor, instance)


def works_on_instance(session: Session, actor: Actor, instance: ProcessInstance) -> bool:
    """Whether the actor (or someone they stand in for) holds, held or may take a task of the case."""
    if actor.is_system:
        return True
    involved = _involvement(session, actor)
    return bool(session.scalar(select(exists().where(HumanTask.instance_id == instance.id, involved))))


def visible_instances(session: Session, actor: Actor) -> ColumnElement[bool]:
    """A WHERE clause on ProcessInstance: the cases ``actor`` may see (as ``can_see_instance``)."""
    if actor.is_system or actor.is_admin or actor.groups & AUDITOR_GROUPS:
        return true()
    return or_(
        ProcessInstance.started_by == actor.username,
        exists().where(HumanTask.instance_id == ProcessInstance.id, _involvement(session, actor)),
    )


def _involvement(session: Session, actor: Actor) -> ColumnElement[bool]:
    """A condition on HumanTask: assigned to or done by the actor (or a principal), or offered to their groups."""
    acting = acting_as(session, actor)
    names = [who.username for who, _scope in acting]
    groups = set().union(*(who.groups for who, _scope in acting)) | set(actor.manages)
    involved = or_(HumanTask.assignee.in_(names), HumanTask.completed_by.in_(names))
    if groups:
        involved = or_(
            involved,
            exists().where(
                HumanTaskCandidate.task_id == HumanTask.id, HumanTaskCandidate.group_code.in_(sorted(groups))
            ),
        )
    return involved


def require_can_see_instance(session: Session, actor: Actor, instance: ProcessInstance) -> None:
    if not can_see_instance(session, actor, instance):
        raise NotFound(_("Süreç örneği bulunamadı: {id}.", id=instance.id))


def require_can_manage_instance(session: Session, actor: Actor, instance: ProcessInstance) -> None:
    """Suspend, resume, terminate, retry: administrators, or managers of a group on the case."""
    if actor.is_admin:
        return
    require_can_see_instance(session, actor, instance)
    if actor.manages:
        managed = session.scalar(
            select(
                exists().where(
                    HumanTask.instance_id == instance.id,
                    HumanTaskCandidate.task_id == HumanTask.id,
                    HumanTaskCandidate.group_code.in_(sorted(actor.manages)),
                )
            )
        )
        if managed:
            return
    raise NotAllowed(_("Bu süreç örneğini yönetme yetkiniz yok."))
