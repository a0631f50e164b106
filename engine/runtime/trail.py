"""Where a workflow has been and where it is now, by BPMN id: what an instance diagram highlights."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.util.task import TaskState

from engine.runtime.workflow import Runner

ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED


@dataclass
class Trail:
    # BPMN ids of the steps completed at least once (in every process and called subprocess).
    completed: set[str] = field(default_factory=set)
    # BPMN id → how many tokens wait there now (a parallel split or a loop can hold several).
    active: Counter[str] = field(default_factory=Counter)
    # (source, target) BPMN id pairs a token passed along.
    passed: set[tuple[str, str]] = field(default_factory=set)


def _bpmn_id(task: Any) -> str | None:
    return getattr(task.task_spec, "bpmn_id", None)


def trail(runner: Runner) -> Trail:
    """The completed steps, the waiting tokens and the step-to-step moves of ``runner``'s workflow."""
    result = Trail()
    workflows = [runner.workflow, *runner.workflow.subprocesses.values()]
    for workflow in workflows:
        for task in workflow.get_tasks():
            bpmn_id = _bpmn_id(task)
            if bpmn_id is None:
                continue
            if task.state == TaskState.COMPLETED:
                result.completed.add(bpmn_id)
            elif task.state & ACTIVE:
                result.active[bpmn_id] += 1
            else:
                continue
            parent = task.parent
            # Internal tasks (the workflow's own start, gateways' hidden joins) have no BPMN id: skip up.
            while parent is not None and _bpmn_id(parent) is None:
                parent = parent.parent
            if parent is not None and parent.state == TaskState.COMPLETED:
                result.passed.add((str(_bpmn_id(parent)), bpmn_id))
    return result
