"""Moving a running workflow onto another version of its process (SpiffWorkflow's spec diff).

Tasks are aligned by BPMN id, then by structure; an explicit ``mapping`` (old id → new id) aligns
steps that were renamed. A workflow can move when every step it is at (ready, waiting or started)
exists in the new version and the moved state reloads with the new specs; otherwise it stays and
the reason says which step is missing. Ready and waiting steps are re-predicted on the new version
(a waiting timer starts counting again from the move).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff, migrate_workflow
from SpiffWorkflow.util.task import TaskState

from engine.i18n import _
from engine.runtime import serializer
from engine.runtime.workflow import Runner

ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED


@dataclass
class MigrationCheck:
    can_move: bool
    reasons: list[str] = field(default_factory=list)
    # BPMN id of each step the workflow is at → its id in the new version.
    steps: dict[str, str] = field(default_factory=dict)


def _diff(old_spec: Any, new_spec: Any, mapping: Mapping[str, str]) -> SpecDiff:
    diff = SpecDiff(serializer.registry(), old_spec, new_spec)
    for old_spec_task, _aligned in list(diff.alignment.items()):
        target = mapping.get(old_spec_task.name)
        if target is not None and target in new_spec.task_specs:
            diff.alignment[old_spec_task] = new_spec.task_specs[target]
    return diff


def _check(workflow: Any, diff: SpecDiff, check: MigrationCheck) -> None:
    for task in workflow.get_tasks(state=ACTIVE, skip_subprocesses=True):
        if not getattr(task.task_spec, "bpmn_id", None):
            continue
        aligned = diff.alignment.get(task.task_spec)
        if aligned is None:
            check.reasons.append(
                str(_("'{step}' adımı yeni sürümde yok; bir eşleme verin.", step=task.task_spec.bpmn_id))
            )
        else:
            check.steps[task.task_spec.bpmn_id] = aligned.bpmn_id or aligned.name


def migrate(runner: Runner, new_spec: Any, new_subs: Mapping[str, Any], mapping: Mapping[str, str]) -> MigrationCheck:
    """Move ``runner``'s workflow onto ``new_spec`` in place when it can; the check says why not."""
    workflow = runner.workflow
    check = MigrationCheck(can_move=False)
    top = _diff(workflow.spec, new_spec, mapping)
    _check(workflow, top, check)
    sub_diffs: dict[Any, SpecDiff] = {}
    for sp_id, sub in workflow.subprocesses.items():
        new_sub = new_subs.get(sub.spec.name)
        if new_sub is None:
            if sub.get_tasks(state=ACTIVE):
                check.reasons.append(str(_("Çağrılan süreç '{name}' yeni sürümde yok.", name=sub.spec.name)))
            continue
        sub_diffs[sp_id] = _diff(sub.spec, new_sub, mapping)
        _check(sub, sub_diffs[sp_id], check)
    if check.reasons:
        return check
    migrate_workflow(WorkflowDiff(workflow, top), workflow, new_spec)
    for sp_id, diff in sub_diffs.items():
        sub = workflow.subprocesses[sp_id]
        migrate_workflow(WorkflowDiff(sub, diff), sub, new_subs[sub.spec.name])
    workflow.subprocess_specs = dict(new_subs)
    try:
        serializer.loads(runner.dumps(), serializer.STATE_VERSION, new_spec, dict(new_subs))
    except Exception as exc:  # a completed step whose spec is gone cannot be stored on the new version
        check.reasons.append(str(_("Taşınan durum yeni sürümle yüklenemiyor: {error}", error=exc)))
        return check
    check.can_move = True
    return check
