"""Correlating BPMN messages from outside (e.g. "the directorate's answer arrived") with the
instance waiting for them, by message name and business key, or — from the case's page — by the
instance itself.

Who may deliver by business key: the system, administrators, members of an integration group (EBYS,
e-Belediye accounts that report events on any case), and users who can see the case. To anyone
else a waiting case looks like no case at all, so the business keys of other people's cases stay
hidden. From the case's page (:func:`deliver_to_instance`): those who work on the case or manage
it, with a small form per awaited message (:func:`awaited_messages`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import forms
from engine import advance, audit, bpmn_xml, clock, definitions, instances, permissions
from engine.actors import Actor
from engine.errors import Conflict, InvalidInput, KalemError, NotAllowed, NotFound
from engine.i18n import _
from engine.models import InstanceStatus, MessageSubscription, ProcessDefinition, ProcessInstance
from engine.runtime.serializer import to_plain

INTEGRATION_GROUPS = frozenset({"entegrasyon"})
RECEIVING = (InstanceStatus.RUNNING, InstanceStatus.ERROR)
# A deployed form ``mesaj_<message name>`` describes a message's payload on the case's page.
PAYLOAD_FORM_PREFIX = "mesaj_"


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
    if instance.status not in RECEIVING:
        raise Conflict(_("Süreç örneği '{status}' durumunda; mesaj alınamaz.", status=instance.status))
    _deliver(session, actor, instance, name, payload, {"business_key": business_key})
    return instance


def _deliver(
    session: Session, actor: Actor, instance: ProcessInstance, name: str, payload: Any, details: dict[str, Any]
) -> None:
    """Send the message into the locked instance, run it until it waits, and audit the delivery."""
    with advance.step(session, instance, actor, "message.correlate") as runner:
        runner.send_message(name, payload, advance.dispatch_for(session, instance))
    audit.append(
        session,
        actor,
        "message.correlated",
        instance_id=instance.id,
        details={"name": name, **details, "payload": to_plain(payload)},
    )


# --- the case's page: the events a case waits for, recorded by the people on the case ----------------------


GENERIC_PAYLOAD_FORM = forms.parse_definition(
    {
        "key": "mesaj",
        "title": {"tr": "Olay", "en": "Event"},
        "fields": [{"name": "aciklama", "type": "text", "label": {"tr": "Açıklama", "en": "Note"}, "max_length": 2000}],
    },
    source="engine/messages.py",
)


@dataclass(frozen=True)
class AwaitedMessage:
    """A message the case waits for: its name (the correlation key), a human label and its form."""

    name: str
    label: str
    form: forms.FormDefinition


def payload_form(session: Session, name: str) -> forms.FormDefinition:
    """The fields of message ``name``'s payload: the deployed form ``mesaj_<name>`` (a designer adds
    one like any form, e.g. ``processes/basvuru/mesaj_basvuru_geri_cekildi.form.json``), else one
    free-text note, ``{"aciklama": ...}``."""
    return definitions.latest_form(session, PAYLOAD_FORM_PREFIX + name) or GENERIC_PAYLOAD_FORM


def may_record_events(session: Session, actor: Actor, instance: ProcessInstance) -> bool:
    """Whether the actor may record, from the case's page, an event the case waits for: someone who
    works on the case (holds, held or may take one of its tasks, also as a vekil) or manages it."""
    if permissions.works_on_instance(session, actor, instance):
        return True
    try:
        permissions.require_can_manage_instance(session, actor, instance)
    except KalemError:
        return False
    return True


def awaited_messages(session: Session, actor: Actor, instance_id: int) -> list[AwaitedMessage]:
    """The messages the case waits for now, each once, if the actor may record them (else none).
    Raises NotFound for a case the actor may not see."""
    instance = instances.get(session, instance_id)
    permissions.require_can_see_instance(session, actor, instance)
    if instance.status not in RECEIVING or not may_record_events(session, actor, instance):
        return []
    rows = session.execute(
        select(MessageSubscription.message_name, MessageSubscription.bpmn_id)
        .where(MessageSubscription.instance_id == instance.id)
        .order_by(MessageSubscription.id)
    ).all()
    if not rows:
        return []
    labels = _message_labels(instance.definition)
    found: dict[str, AwaitedMessage] = {}
    for name, bpmn_id in rows:
        if name not in found:
            label = labels.get((bpmn_id, name)) or labels.get((None, name)) or name
            found[name] = AwaitedMessage(name, label, payload_form(session, name))
    return list(found.values())


def deliver_to_instance(
    session: Session, actor: Actor, instance_id: int, name: str, values: Mapping[str, Any]
) -> ProcessInstance:
    """Record from the case's page that the event ``name`` the case waits for happened: ``values`` are
    the fields of its form (:func:`payload_form`), which become the message's payload.

    Raises NotFound (a case the actor may not see), NotAllowed (neither works on nor manages the
    case), Conflict (the case does not wait for ``name`` any more, or is not running), InvalidInput
    (a bad field, named)."""
    instance = advance.lock_instance(session, instance_id)
    permissions.require_can_see_instance(session, actor, instance)
    if not may_record_events(session, actor, instance):
        raise NotAllowed(_("Beklenen olayları yalnız dosyada görevi olanlar ve dosyayı yönetenler kaydedebilir."))
    if instance.status not in RECEIVING:
        raise Conflict(_("Süreç örneği '{status}' durumunda; mesaj alınamaz.", status=instance.status))
    waiting = session.scalar(
        select(MessageSubscription.bpmn_id).where(
            MessageSubscription.instance_id == instance.id, MessageSubscription.message_name == name
        )
    )
    if waiting is None:
        raise Conflict(_("Süreç '{name}' mesajını beklemiyor.", name=name))
    form = payload_form(session, name)
    try:
        clean = forms.validate(form, values, now=clock.now())
    except forms.FormValidationError as exc:
        raise InvalidInput(_("Form verisi geçersiz."), field_errors=exc.field_errors) from None
    payload = forms.json_safe({field: clean.get(field) for field in form.field_names})
    _deliver(
        session,
        actor,
        instance,
        name,
        payload,
        {"business_key": instance.business_key, "from": "instance_page"},
    )
    return instance


_labels_cache: dict[tuple[int, str], dict[tuple[str | None, str], str]] = {}


def _message_labels(definition: ProcessDefinition) -> dict[tuple[str | None, str], str]:
    """(waiting element id, message name) → a human label, from the deployed BPMN files: the name of
    the event (or receive task) that catches the message, else the message's name, else its id. An
    event-based gateway waits in its events' stead; ``(None, name)`` is any element's label."""
    key = (definition.id, definition.sha256)
    cached = _labels_cache.get(key)
    if cached is not None:
        return cached
    labels: dict[tuple[str | None, str], str] = {}
    for source in definition.sources:
        if not str(source.get("name", "")).endswith(".bpmn"):
            continue
        # Deployed files passed the deploy checks: they parse.
        _collect_labels(bpmn_xml.parse(source["content"]), labels)
    if len(_labels_cache) > 256:
        _labels_cache.clear()
    _labels_cache[key] = labels
    return labels


def _collect_labels(root: Any, labels: dict[tuple[str | None, str], str]) -> None:
    bpmn = f"{{{bpmn_xml.BPMN}}}"
    messages = {m.get("id"): m for m in root.iter(f"{bpmn}message")}
    by_id = {el.get("id"): el for el in root.iter() if isinstance(el.tag, str) and el.get("id")}
    caught: dict[str, tuple[str, str]] = {}  # element id → (message name, label)
    for el in by_id.values():
        ref = el.get("messageRef") if el.tag == f"{bpmn}receiveTask" else None
        definition = el.find(f"{bpmn}messageEventDefinition")
        if definition is not None:
            ref = definition.get("messageRef")
        message = messages.get(ref) if ref else None
        if message is None:
            continue
        name = message.get("name") or message.get("id")
        label = (el.get("name") or "").strip() or message.get("name") or message.get("id")
        caught[el.get("id")] = (name, label)
        labels[(el.get("id"), name)] = label
        labels.setdefault((None, name), label)
    targets = {f.get("id"): f.get("targetRef") for f in root.iter(f"{bpmn}sequenceFlow")}
    for gateway in root.iter(f"{bpmn}eventBasedGateway"):
        for outgoing in gateway.findall(f"{bpmn}outgoing"):
            event = caught.get(targets.get((outgoing.text or "").strip(), ""))
            if event is not None:
                labels[(gateway.get("id"), event[0])] = event[1]
