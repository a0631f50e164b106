"""What a process's start events say about starting it by hand: who (the start event's lane) and
with which initial form (a ``formKey`` property on the start event). A ``manualStart`` property
``false`` keeps a process that is only called from others off the start page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.simple import NoneEventDefinition


@dataclass(frozen=True)
class ManualStart:
    """A plain (none) start event: ``lane`` names the group that starts it (None: anyone)."""

    bpmn_id: str
    lane: str | None
    form_key: str | None


def manual_start(spec: Any) -> ManualStart | None:
    """The process's plain start event, or None when it only starts on a message, timer or signal."""
    for event in getattr(spec.start, "outputs", []):
        if isinstance(getattr(event, "event_definition", None), NoneEventDefinition):
            props = (getattr(event, "extensions", None) or {}).get("properties") or {}
            if str(props.get("manualStart", "")).strip().lower() == "false":
                return None  # only ever called from another process
            form_key = props.get("formKey") or None
            return ManualStart(event.bpmn_id, event.lane or None, str(form_key) if form_key else None)
    return None
