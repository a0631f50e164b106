"""The only clock of the engine: ``now()`` returns an aware UTC datetime.

Tests and time-travel commands (``kalem timers run-due --now``) pin it with ``frozen_at``;
SpiffWorkflow's timer module reads it too (see ``engine.runtime.timers_patch``).
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

_frozen: contextvars.ContextVar[datetime | None] = contextvars.ContextVar("kalem_frozen_now", default=None)


def now() -> datetime:
    """Current instant, timezone-aware in UTC."""
    frozen = _frozen.get()
    if frozen is not None:
        return frozen
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """An aware UTC datetime; naive values are taken as UTC (SQLite returns them naive)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@contextmanager
def frozen_at(instant: datetime) -> Iterator[None]:
    """Pin ``now()`` to ``instant`` inside the block (this thread/context only)."""
    token = _frozen.set(as_utc(instant))
    try:
        yield
    finally:
        _frozen.reset(token)
