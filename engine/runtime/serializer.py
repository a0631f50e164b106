"""Workflow state <-> JSON text, without the embedded spec.

Instances store only their task tree and data; the spec objects come from the spec cache of
their definition version (never re-parsed per request). ``STATE_VERSION`` names our format;
``upgrade_state`` is the chain of small functions that lifts older stored states.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import VERSION as SPIFF_SERIALIZER_VERSION
from SpiffWorkflow.spiff.serializer import DEFAULT_CONFIG

# "<our format>/<SpiffWorkflow serializer version>": bump ours when the stored shape changes.
STATE_VERSION = f"k1/{SPIFF_SERIALIZER_VERSION}"


class StateOnlyWorkflowConverter(BpmnWorkflowConverter):
    """Writes the workflow without ``spec``/``subprocess_specs``; on load the caller puts the cached
    spec objects back in, which the registry passes through unchanged."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct: dict[str, Any] = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct


def _make_serializer() -> BpmnWorkflowSerializer:
    config = {**DEFAULT_CONFIG, BpmnWorkflow: StateOnlyWorkflowConverter}
    registry = BpmnWorkflowSerializer.configure(config)
    # Form data carries Decimal amounts and dates; SpiffWorkflow only knows datetime/timedelta/UUID.
    registry.register(Decimal, lambda v: {"value": str(v)}, lambda d: Decimal(d["value"]))
    registry.register(date, lambda v: {"value": v.isoformat()}, lambda d: date.fromisoformat(d["value"]))
    return BpmnWorkflowSerializer(registry)


_serializer = _make_serializer()


def registry() -> Any:
    """The converter registry (SpiffWorkflow's spec diff compares specs through it)."""
    return _serializer.registry


def dumps(workflow: BpmnWorkflow) -> str:
    return _serializer.serialize_json(workflow)


def loads(state: str, state_version: str, spec: Any, subprocess_specs: dict[str, Any]) -> BpmnWorkflow:
    """Rebuild a workflow from stored state and its (cached) specs. The caller attaches the
    script engine: the serializer never restores it."""
    dct = json.loads(state)
    upgrade_state(dct, state_version)
    dct.pop(BpmnWorkflowSerializer.VERSION_KEY, None)
    dct["spec"] = spec
    dct["subprocess_specs"] = dict(subprocess_specs)
    workflow: BpmnWorkflow = _serializer.from_dict(dct)
    return workflow


def upgrade_state(dct: dict[str, Any], state_version: str) -> None:
    """Lift a stored state to ``STATE_VERSION`` in place; raises ValueError for an unknown version."""
    if state_version != STATE_VERSION:
        raise ValueError(f"unknown workflow state version {state_version!r} (expected {STATE_VERSION!r})")


def to_plain(value: Any) -> Any:
    """Task data as JSON-safe values (Decimal and date as strings) for display and audit."""
    return json.loads(json.dumps(value, default=_plain_default))


def _plain_default(value: Any) -> Any:
    if isinstance(value, Decimal | date):
        return str(value) if isinstance(value, Decimal) else value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return None
