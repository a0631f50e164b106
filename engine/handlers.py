"""Service-task handlers: the registry, the ``@handler`` marker and the narrow context a
handler receives. Handlers never get the session or the SpiffWorkflow task; anything
external goes through the outbox (``enqueue_notification``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any, Protocol

HANDLER_ATTR = "__kalem_handler__"


class HandlerContext(Protocol):
    instance_id: int
    business_key: str | None
    data: Mapping[str, Any]

    def now(self) -> datetime: ...
    def next_sequence(self, name: str, year: int) -> int: ...
    def enqueue_notification(self, channel: str, recipient: str, subject: str, body: str) -> None: ...
    def attach(self, file_name: str, content: bytes, content_type: str) -> dict[str, Any]: ...


HandlerFn = Callable[[HandlerContext, dict[str, Any]], Mapping[str, Any] | None]


def handler(name: str) -> Callable[[HandlerFn], HandlerFn]:
    """Mark a function as the handler ``name`` (BPMN: serviceTaskOperator id or ``handler`` property)."""

    def mark(fn: HandlerFn) -> HandlerFn:
        setattr(fn, HANDLER_ATTR, name)
        return fn

    return mark


class HandlerRegistry:
    """Handlers by name; registration fails loudly on an unmarked function or a duplicate name."""

    def __init__(self) -> None:
        self.handlers: dict[str, HandlerFn] = {}

    def register(self, fn: HandlerFn) -> None:
        name = getattr(fn, HANDLER_ATTR, None)
        if not name:
            raise ValueError(f"{fn!r} is not marked with @handler(name)")
        if name in self.handlers and self.handlers[name] is not fn:
            raise ValueError(f"duplicate handler name {name!r}")
        self.handlers[name] = fn

    def register_all(self, fns: Iterable[HandlerFn]) -> None:
        for fn in fns:
            self.register(fn)

    def get(self, name: str) -> HandlerFn | None:
        return self.handlers.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self.handlers


def read_only(data: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(data))


registry = HandlerRegistry()
