"""The append-only, hash-chained audit trail.

Each row's ``hash`` is an HMAC (keyed by ``KALEM_AUDIT_KEY``) over the previous hash and the
row's canonical content, and ``seq`` runs without gaps; the single ``audit_head`` row holds the
last seq and hash. Appends lock the head row, so they are serialised across processes. A row
edited, deleted or inserted out of band breaks the chain at that row.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.actors import Actor
from engine.db import per_transaction
from engine.models import AuditEvent, AuditHead
from engine.runtime.serializer import to_plain

GENESIS = "0" * 64
_key: bytes = b""


def configure(key: str) -> None:
    global _key
    _key = key.encode("utf-8")


def _digest(prev_hash: str, content: Mapping[str, Any]) -> str:
    payload = prev_hash.encode() + json.dumps(content, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hmac.new(_key, payload, hashlib.sha256).hexdigest()


def _content(event: AuditEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "at": clock.as_utc(event.at).isoformat(),
        "actor": event.actor,
        "on_behalf_of": event.on_behalf_of,
        "action": event.action,
        "instance_id": event.instance_id,
        "task_id": event.task_id,
        "details": event.details,
    }


def append(
    session: Session,
    actor: Actor | str,
    action: str,
    *,
    instance_id: int | None = None,
    task_id: int | None = None,
    on_behalf_of: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction (locks the chain head until commit)."""
    head = _locked_head(session)
    # Microsecond precision is lost on some backends; store what the hash covers.
    at = clock.now().replace(microsecond=0)
    event = AuditEvent(
        seq=head.seq + 1,
        at=at,
        actor=str(actor),
        on_behalf_of=on_behalf_of,
        action=action,
        instance_id=instance_id,
        task_id=task_id,
        details=to_plain(dict(details or {})),
        prev_hash=head.hash,
        hash="",
    )
    event.hash = _digest(head.hash, _content(event))
    head.seq, head.hash = event.seq, event.hash
    # No flush here: the unit of work writes all of a transaction's events and the head in one go.
    session.add(event)
    return event


def _locked_head(session: Session) -> AuditHead:
    """The chain head, locked once per transaction and then reused."""

    def lock() -> AuditHead:
        head = session.scalar(select(AuditHead).where(AuditHead.id == 1).with_for_update())
        if head is None:
            head = AuditHead(id=1, seq=0, hash=GENESIS)
            session.add(head)
            session.flush()
        return head

    return per_transaction(session, "kalem_audit_head", lock)


@dataclass
class ChainReport:
    ok: bool
    count: int
    bad_seq: int | None = None
    reason: str = ""


def _rows(session: Session) -> Iterator[AuditEvent]:
    last = 0
    while True:
        batch = list(
            session.scalars(select(AuditEvent).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(1000))
        )
        if not batch:
            return
        yield from batch
        last = batch[-1].seq
        session.expunge_all()


def verify(session: Session) -> ChainReport:
    """Walk the chain in seq order, in batches (memory stays flat however long it is)."""
    prev_hash, expected_seq, count = GENESIS, 1, 0
    for event in _rows(session):
        if event.seq != expected_seq:
            return ChainReport(False, count, expected_seq, f"kayıt #{expected_seq} eksik (silinmiş)")
        if event.prev_hash != prev_hash:
            return ChainReport(False, count, event.seq, f"kayıt #{event.seq} önceki kayda bağlanmıyor")
        if not hmac.compare_digest(_digest(prev_hash, _content(event)), event.hash):
            return ChainReport(False, count, event.seq, f"kayıt #{event.seq} değiştirilmiş ya da sahte")
        prev_hash, expected_seq, count = event.hash, expected_seq + 1, count + 1
    head = session.scalar(select(AuditHead).where(AuditHead.id == 1))
    if head is not None and (head.seq != count or head.hash != prev_hash):
        return ChainReport(False, count, count + 1, f"zincir #{head.seq} kayıtla bitmeliydi; sondaki kayıtlar silinmiş")
    return ChainReport(True, count)
