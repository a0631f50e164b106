"""Comments on a case: anyone who works on it (or started it, or administers) adds them; anyone
who may see the case reads them. Every comment added is audited."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import audit, clock, instances, permissions
from engine.actors import Actor
from engine.errors import InvalidInput, NotAllowed
from engine.i18n import _
from engine.models import Comment, HumanTask, ProcessInstance

MAX_BODY = 5000
MAX_LISTED = 200


def may_contribute(session: Session, actor: Actor, instance: ProcessInstance) -> bool:
    """Whether the actor may add comments and attachments to a case they can see: not the
    read-only overseers (auditors), but those on the case, its starter and administrators."""
    return (
        actor.is_admin
        or instance.started_by == actor.username
        or permissions.works_on_instance(session, actor, instance)
    )


def add(session: Session, actor: Actor, instance_id: int, body: str, *, task_id: int | None = None) -> Comment:
    """Add a comment to a case. Raises NotFound (also for a case hidden from the actor),
    NotAllowed (read-only viewers), InvalidInput (empty or too long)."""
    instance = instances.get(session, instance_id)
    permissions.require_can_see_instance(session, actor, instance)
    if not may_contribute(session, actor, instance):
        raise NotAllowed(_("Bu dosyaya yorum ekleme yetkiniz yok."))
    text = body.replace("\r\n", "\n").strip()
    if not text:
        raise InvalidInput(_("Yorum boş olamaz."), field_errors={"body": [_("Bir şey yazın.")]})
    if len(text) > MAX_BODY:
        raise InvalidInput(_("Yorum çok uzun."), field_errors={"body": [_("En fazla {n} karakter.", n=MAX_BODY)]})
    if (
        task_id is not None
        and session.scalar(select(HumanTask.instance_id).where(HumanTask.id == task_id)) != instance.id
    ):
        task_id = None
    comment = Comment(
        instance_id=instance.id, task_id=task_id, author=actor.username, body=text, created_at=clock.now()
    )
    session.add(comment)
    session.flush()
    audit.append(
        session,
        actor,
        "comment.added",
        instance_id=instance.id,
        task_id=task_id,
        details={"comment_id": comment.id, "length": len(text)},
    )
    return comment


def list_for_instance(session: Session, actor: Actor, instance_id: int, *, limit: int = MAX_LISTED) -> list[Comment]:
    """The case's latest comments (at most ``limit``), oldest first. Raises NotFound."""
    instance = instances.get(session, instance_id)
    permissions.require_can_see_instance(session, actor, instance)
    latest = list(
        session.scalars(
            select(Comment)
            .where(Comment.instance_id == instance.id)
            .order_by(Comment.id.desc())
            .limit(max(1, min(limit, MAX_LISTED)))
        )
    )
    return latest[::-1]
