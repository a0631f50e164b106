"""Correlating BPMN messages from outside (e.g. "the directorate's answer arrived") with the
instance waiting for them, by message name and business key.

Who may deliver: the system, administrators, members of an integration group (EBYS, e-Belediye
accounts that report events on any case), and users who can see the case. To anyone else a
waiting case looks like no case at all, so the business keys of other people's cases stay hidden.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import advance, audit, permissions
from engine.actors import Actor
from engine.errors import Conflict, NotFound
from engine.i18n import _
from engine.models import InstanceStatus, MessageSubscription, ProcessInstance
from engine.runtime.serializer import to_plain

INTEGRATION_GROUPS = frozenset({"entegrasyon"})


def may_deliver_to_any(actor: Actor) -> bool:
    return actor.is_admin or bool(actor.groups & INTEGRATION_GROUPS)


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
    nobody_waits = NotFound(
        _("'{key}' iş anahtarlı ve '{name}' mesajını bekleyen süreç yok.", key=business_key, name=name)
    )
    if not may_deliver_to_any(actor):
        instance_ids = [
            i for i in instance_ids if permissions.can_see_instance(session, actor, session.get(ProcessInstance, i))
        ]
    if not instance_ids:
        raise nobody_waits
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
