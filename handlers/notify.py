"""``notify``: put an e-mail or SMS in the outbox (sent by the scheduler after commit)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.handlers import HandlerContext, handler


@handler("notify")
def notify(ctx: HandlerContext, params: dict[str, Any]) -> Mapping[str, Any]:
    """Params: ``to`` (address or phone), ``subject``, ``body``, optional ``channel`` (email|sms)."""
    recipient = str(params.get("to") or "").strip()
    if not recipient:
        raise ValueError("bildirim alıcısı (to) boş")
    channel = str(params.get("channel") or "email")
    ctx.enqueue_notification(channel, recipient, str(params.get("subject") or ""), str(params.get("body") or ""))
    return {"bildirim_gonderildi": True}
