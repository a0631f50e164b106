"""One workflow in memory: start or load it, act on it, run it until it waits, and report
what it waits on. Everything the engine needs from SpiffWorkflow goes through ``Runner``.

SpiffWorkflow errors (scripts, expressions, handlers) become ``ProcessError`` naming the
BPMN element; the caller's transaction then rolls back and an incident is recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.util.task import TaskState

from engine.errors import Conflict, ProcessError
from engine.i18n import _
from engine.runtime import clock_patch, scripting, serializer
from engine.runtime.parser import SERVICE_DISPATCH, user_task_properties

clock_patch.install()

TIMER_EVENT_TYPES = {"DurationTimerEventDefinition", "TimeDateEventDefinition", "CycleTimerEventDefinition"}
Dispatch = Callable[[str, dict[str, Any], Any], dict[str, Any]]


@dataclass(frozen=True)
class ReadyUserTask:
    spiff_id: str
    bpmn_id: str
    name: str
    lane: str | None
    properties: dict[str, str]
    data: dict[str, Any]


@dataclass(frozen=True)
class WaitingTimer:
    spiff_id: str
    bpmn_id: str
    fire_at: datetime


@dataclass(frozen=True)
class WaitingMessage:
    spiff_id: str
    bpmn_id: str
    name: str


class Runner:
    """A workflow with Kalem's sandboxed script engine attached (also after every load)."""

    def __init__(self, workflow: BpmnWorkflow, helpers: Mapping[str, Callable[..., Any]], time_limit: float):
        self.workflow = workflow
        # Manual tasks completed by the current action (their projection rows are already updated).
        self.completed_ids: set[str] = set()
        # The serializer never restores the script engine: without this the sandbox would be off.
        self.workflow.script_engine = scripting.make_script_engine(helpers, time_limit=time_limit)

    @classmethod
    def start(cls, spec: Any, subprocess_specs: dict[str, Any], data: Mapping[str, Any], **options: Any) -> Runner:
        workflow = BpmnWorkflow(spec, dict(subprocess_specs))
        runner = cls(workflow, **options)
        first = workflow.get_next_task(state=TaskState.READY)
        if first is not None:
            first.data.update(data)
        return runner

    @classmethod
    def load(
        cls, state: str, state_version: str, spec: Any, subprocess_specs: dict[str, Any], **options: Any
    ) -> Runner:
        return cls(serializer.loads(state, state_version, spec, subprocess_specs), **options)

    def dumps(self) -> str:
        return serializer.dumps(self.workflow)

    # --- actions --------------------------------------------------------------------------------

    def run(self, dispatch: Dispatch) -> None:
        """Run every non-manual step (scripts, gateways, service tasks, due timers) until the
        workflow waits for a person, a timer or a message."""
        with self._guard(dispatch):
            self.workflow.do_engine_steps()
            # A timer reached during these steps may already be due (SpiffWorkflow checks at the end).
            self.workflow.refresh_timers()
            self.workflow.do_engine_steps()

    def task_data(self, spiff_id: str) -> dict[str, Any]:
        """A copy of the data of the ready user task ``spiff_id``."""
        return dict(self._ready_manual_task(spiff_id).data)

    def complete_user_task(self, spiff_id: str, data: Mapping[str, Any], dispatch: Dispatch) -> None:
        task = self._ready_manual_task(spiff_id)
        with self._guard(dispatch):
            task.data.update(data)
            task.run()
        self.completed_ids.add(spiff_id)
        self.run(dispatch)

    def fire_due_timers(self, dispatch: Dispatch) -> None:
        with self._guard(dispatch):
            self.workflow.refresh_timers()
        self.run(dispatch)

    def send_message(self, name: str, payload: Any, dispatch: Dispatch) -> None:
        definitions = [d for t in self._waiting_catch_tasks() if (d := _message_definition(t, name)) is not None]
        if not definitions:
            raise Conflict(_("Süreç '{name}' mesajını beklemiyor.", name=name))
        event = BpmnEvent(definitions[0], payload=payload)
        with self._guard(dispatch):
            self.workflow.send_event(event)
        self.run(dispatch)

    def cancel(self) -> None:
        self.workflow.cancel()

    # --- what it waits on ------------------------------------------------------------------------

    def is_completed(self) -> bool:
        return bool(self.workflow.is_completed())

    def waiting(self) -> tuple[list[ReadyUserTask], list[WaitingTimer], list[WaitingMessage]]:
        """Ready user tasks, waiting timers and waiting messages, in one walk of the task tree."""
        ready: list[ReadyUserTask] = []
        timers: list[WaitingTimer] = []
        messages: list[WaitingMessage] = []
        for task in self.workflow.get_tasks(state=TaskState.READY | TaskState.WAITING):
            spec = task.task_spec
            if task.state == TaskState.READY:
                if spec.manual:
                    ready.append(_ready_user_task(task))
                continue
            definition = getattr(spec, "event_definition", None)
            # An event-based gateway waits on all of its events at once, as one combined definition.
            parts = definition.event_definitions if isinstance(definition, MultipleEventDefinition) else [definition]
            for part in parts:
                if isinstance(part, TimerEventDefinition):
                    event = part.details(task)
                    if event.event_type in TIMER_EVENT_TYPES and isinstance(event.value, str):
                        fire_at = TimerEventDefinition.get_datetime(event.value)
                        timers.append(WaitingTimer(str(task.id), spec.bpmn_id or "", fire_at))
                elif isinstance(part, MessageEventDefinition):
                    messages.append(WaitingMessage(str(task.id), spec.bpmn_id or "", str(part.name)))
        return ready, timers, messages

    def data(self) -> dict[str, Any]:
        """The process data as it stands: the final data once completed, else the data of the
        most recently changed open task that holds any (a parallel join waiting for its other
        branches holds none until it fires)."""
        if self.workflow.is_completed():
            return dict(self.workflow.data)
        tasks = self.workflow.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.STARTED)
        latest = max((t for t in tasks if t.data), key=lambda t: t.last_state_change, default=None)
        if latest is None:
            return dict(self.workflow.data)
        return dict(latest.data)

    # --- internals -------------------------------------------------------------------------------

    def _waiting_catch_tasks(self) -> Iterator[Any]:
        for task in self.workflow.get_tasks(state=TaskState.WAITING):
            if getattr(task.task_spec, "event_definition", None) is not None:
                yield task

    def _ready_manual_task(self, spiff_id: str) -> Any:
        try:
            task = self.workflow.get_task_from_id(UUID(spiff_id))
        except (ValueError, KeyError, WorkflowException):
            task = None
        # SpiffWorkflow's run() does not check state itself; running a FUTURE task corrupts the flow.
        if task is None or task.state != TaskState.READY or not task.task_spec.manual:
            raise Conflict(_("Bu görev artık beklenmiyor; süreç ilerlemiş olabilir."))
        return task

    @contextmanager
    def _guard(self, dispatch: Dispatch) -> Iterator[None]:
        token = SERVICE_DISPATCH.set(dispatch)
        try:
            yield
        except SpiffWorkflowException as exc:
            raise _process_error(exc) from exc
        except scripting.ScriptTimeout as exc:
            raise ProcessError(
                _("Süre sınırı aşıldı: betik ya da ifade çok uzun sürdü."), code="script_timeout"
            ) from exc
        finally:
            SERVICE_DISPATCH.reset(token)


def _ready_user_task(task: Any) -> ReadyUserTask:
    spec = task.task_spec
    return ReadyUserTask(
        spiff_id=str(task.id),
        bpmn_id=spec.bpmn_id or spec.name,
        name=spec.bpmn_name or spec.bpmn_id or spec.name,
        lane=spec.lane,
        properties=user_task_properties(spec),
        data=task.data,
    )


def _message_definition(task: Any, name: str) -> MessageEventDefinition | None:
    """The task's definition of message ``name`` (its own, or one of an event-based gateway's)."""
    definition = getattr(task.task_spec, "event_definition", None)
    parts = definition.event_definitions if isinstance(definition, MultipleEventDefinition) else [definition]
    return next((p for p in parts if isinstance(p, MessageEventDefinition) and str(p.name) == name), None)


def _process_error(exc: SpiffWorkflowException) -> ProcessError:
    task = getattr(exc, "task", None)
    element = None
    if task is not None:
        element = getattr(task.task_spec, "bpmn_id", None) or task.task_spec.name
    cause = exc.__cause__ or getattr(exc, "error", None)
    reason = getattr(cause, "message", None) or str(exc.args[0] if exc.args else exc)
    line = getattr(exc, "line_number", None)
    details: dict[str, object] = {"element_id": element, "exception": type(exc).__name__}
    if line:
        details["line"] = line
    where = f" [{element}]" if element else ""
    return ProcessError(_("Süreç adımı çalıştırılamadı{where}: {reason}", where=where, reason=reason), details=details)
