"""Make SpiffWorkflow's timers read Kalem's clock, and read naive timeDate values in
the institution's time zone instead of the server's.

SpiffWorkflow's timer module calls ``datetime.now(timezone.utc)`` directly and offers no hook;
replacing the module's ``datetime`` name with a subclass whose ``now()`` asks ``engine.clock``
is the smallest change that makes timers testable by time travel (``--now``, frozen clocks).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer

from engine import clock


class _ClockDatetime(datetime):
    @classmethod
    def now(cls, tz: tzinfo | None = None) -> Any:
        current = clock.now()
        return current.astimezone(tz) if tz else current.replace(tzinfo=None)


def install(utc_offset_hours: int = 3) -> None:
    """Idempotent. Turkey has used UTC+3 all year since 2016, so a fixed offset is exact."""
    spiff_timer.datetime = _ClockDatetime  # type: ignore[misc]
    spiff_timer.LOCALTZ = timezone(timedelta(hours=utc_offset_hours))


install()
