"""Correlating BPMN messages from outside (e.g. "the directorate's answer arrived") with the
instance waiting for them, by message name and business key."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import advance, audit
from engine.actors import Actor
from engine.errors import Conflict, NotFound
from engine.i18n import _
from engine.models import InstanceStatus, MessageSubscription, ProcessInstance
from engine.runtime.serializer import to_plain


def correlate(session: Session, actor: Actor, name: str, business_key: str, payload: Any = None) -> ProcessInstance:
    """Deliver message ``name`` to the one running instance with ``business_key`` waiting for it.

    Raises NotFound (nobody waits), Conflict (several wait, or the instance is not running).
    """
    instance_ids = sorted(
        set(
            session.scalars(
                select(MessageSubscription.instance_id).where(
                    MessageSubscription.message_name == name, MessageSubscription.business_key == business_key
                )
            )
        )
    )
    if not instance_ids:
        raise NotFound(_("'{key}' iş anahtarlı ve '{name}' mesajını bekleyen süreç yok.", key=business_key, name=name))
    if len(instance_ids) > 1:
        raise Conflict(_("'{name}' mesajını bekleyen birden fazla süreç var: {ids}.", name=name, ids=instance_ids))
    instance = advance.lock_instance(session, instance_ids[0])
    if instance.status not in (InstanceStatus.RUNNING, InstanceStatus.ERROR):
        raise Conflict(_("Süreç örneği '{status}' durumunda; mesaj alınamaz.", status=instance.status))
    with advance.step(session, instance, actor, "message.correlate") as runner:
        runner.send_message(name, payload, advance.dispatch_for(session, instance))
    audit.append(
        session,
        actor,
        "message.correlated",
        instance_id=instance.id,
        details={"name": name, "business_key": business_key, "payload": to_plain(payload)},
    )
    return instance
