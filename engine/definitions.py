"""Deployments: BPMN, DMN and form files become immutable, numbered versions.

Identical content is a no-op; changed content is version N+1; running instances stay on
their version. Everything is validated before anything is written, and a rejected
deployment changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

import forms
from engine import audit, clock
from engine.actors import Actor
from engine.errors import DeployError, InvalidInput, NotFound, Problem
from engine.handlers import registry
from engine.i18n import _
from engine.models import (
    DecisionDefinition,
    FormDefinitionVersion,
    HumanTask,
    ProcessDefinition,
    ProcessInstance,
)
from engine.runtime import parser as bpmn
from engine.runtime import scripting
from engine.setup import config
from forms.text import render as render_text


@dataclass
class Deployed:
    key: str
    version: int
    created: bool
    kind: str = "process"

    def __str__(self) -> str:
        return f"{self.key} v{self.version}"


def deploy(
    session: Session, actor: Actor, files: Iterable[tuple[str, bytes]], *, change_note: str | None = None
) -> list[Deployed]:
    """Validate and store a set of files. Raises DeployError listing every problem found."""
    sources = [bpmn.SourceFile(name, content) for name, content in files]
    problems: list[Problem] = []
    for f in sources:
        if f.kind == "unknown":
            problems.append(Problem(f.name, _("Desteklenmeyen dosya türü (.bpmn, .dmn ya da .form.json olmalı).")))
    new_forms = _parse_forms([f for f in sources if f.kind == "form"], problems)
    deploy_names = {f.name for f in sources if f.kind in ("bpmn", "dmn")}
    bundle, lines = _parse_bpmn(session, [f for f in sources if f.kind in ("bpmn", "dmn")], problems)
    process_keys: list[str] = []
    if bundle is not None:
        process_keys = bpmn.executable_process_ids(bundle, [n for n in deploy_names if n.endswith(".bpmn")])
        if not process_keys and not new_forms and not any(f.kind == "dmn" for f in sources):
            problems.append(Problem(", ".join(sorted(deploy_names)) or "-", _("Çalıştırılabilir süreç bulunamadı.")))
        ctx = bpmn.LintContext(
            known_forms=lambda key: (
                key in new_forms or _latest_form(session, key) is not None or forms.python_forms.get(key) is not None
            ),
            known_handlers=lambda name: name in registry,
            helpers=config.helpers,
            lines=lines,
        )
        for key in process_keys:
            try:
                problems += bpmn.lint_process(bundle, key, ctx)
            except Exception as exc:
                problems.append(bpmn.problem_from_exception(exc, bundle.process_files.get(key, "-"), lines))
    if problems:
        raise DeployError(_("Dağıtım reddedildi; hiçbir şey kaydedilmedi."), problems)
    results = [_store_form(session, actor, f, d) for f, d in new_forms.values()]
    results += [_store_decisions(session, actor, f) for f in sources if f.kind == "dmn"]
    for key in process_keys:
        assert bundle is not None
        results.append(_store_process(session, actor, bundle, key, change_note))
    created = [r for r in results if isinstance(r, Deployed) and r.created]
    if created:
        audit.append(
            session,
            actor,
            "definitions.deployed",
            details={"versions": [str(r) for r in created], "files": sorted(f.name for f in sources)},
        )
    return [r for r in results if isinstance(r, Deployed)]


def _parse_forms(files: list[bpmn.SourceFile], problems: list[Problem]) -> dict[str, tuple[bpmn.SourceFile, Any]]:
    parsed: dict[str, tuple[bpmn.SourceFile, Any]] = {}
    for f in files:
        try:
            definition = forms.parse_definition(f.content, source=f.name)
        except forms.FormDefinitionError as exc:
            problems.append(Problem(f.name, str(exc), element_id=getattr(exc, "field", None)))
            continue
        if definition.key in parsed:
            problems.append(Problem(f.name, _("Form anahtarı iki kez tanımlanmış: '{key}'.", key=definition.key)))
        for index, check in enumerate(definition.checks):
            try:
                scripting.check_expression(check.expression)
            except scripting.ScriptRejected as exc:
                problems.append(
                    Problem(f.name, _("Form kontrolü checks[{i}] derlenemedi: {e}", i=index, e=str(exc)), check.field)
                )
        parsed[definition.key] = (f, definition)
    return parsed


def _parse_bpmn(
    session: Session, files: list[bpmn.SourceFile], problems: list[Problem]
) -> tuple[bpmn.ParsedBundle | None, dict[str, dict[str, int]]]:
    lines: dict[str, dict[str, int]] = {}
    for f in files:
        try:
            lines[f.name] = bpmn.element_lines(bpmn.parse_xml(f))
        except Exception as exc:
            problems.append(bpmn.problem_from_exception(exc, f.name, lines))
            continue
        problems += bpmn.reserved_id_problems(f.name, lines[f.name])
    if problems:
        return None, lines
    all_files = list(files) + _dependencies(session, files)
    try:
        bundle = bpmn.parse_bundle(all_files)
    except Exception as exc:
        problems.append(bpmn.problem_from_exception(exc, files[0].name if files else "-", lines))
        return None, lines
    for key in bpmn.executable_process_ids(bundle, [f.name for f in files]):
        try:
            bundle.spec_and_subprocesses(key)
        except Exception as exc:
            problems.append(bpmn.problem_from_exception(exc, bundle.process_files.get(key, "-"), lines))
    return bundle, lines


def _dependencies(session: Session, files: list[bpmn.SourceFile]) -> list[bpmn.SourceFile]:
    """Already deployed files that called processes and decisions of this deployment need."""
    present_names = {f.name for f in files}
    refs = bpmn.References()
    for f in files:
        refs.scan(bpmn.parse_xml(f))
    called, decisions = refs.called - refs.processes, refs.decisions_used - refs.decisions
    extra: list[bpmn.SourceFile] = []
    for key in sorted(called):
        definition = find_latest(session, key)
        if definition is not None:
            extra += [s for s in bpmn.loads_sources(definition.sources) if s.name not in present_names]
            present_names |= {s.name for s in extra}
    for key in sorted(decisions):
        decision = _latest(session, DecisionDefinition, key)
        if decision is not None and decision.file_name not in present_names:
            extra.append(bpmn.SourceFile(decision.file_name, decision.source.encode("utf-8")))
            present_names.add(decision.file_name)
    return extra


def _next_version(session: Session, model: Any, key: str) -> int:
    return int(session.scalar(select(func.max(model.version)).where(model.key == key)) or 0) + 1


def _store_version(
    session: Session, actor: Actor, model: Any, kind: str, key: str, sha: str, file_name: str, **columns: Any
) -> Deployed:
    """The latest version of ``key`` when its content is unchanged, else a new version N+1."""
    latest = _latest(session, model, key)
    if latest is not None and latest.sha256 == sha:
        return Deployed(key, latest.version, False, kind)
    row = model(
        key=key,
        version=_next_version(session, model, key),
        sha256=sha,
        file_name=file_name,
        deployed_by=actor.username,
        deployed_at=clock.now(),
        **columns,
    )
    session.add(row)
    session.flush()
    return Deployed(key, row.version, True, kind)


def _store_form(session: Session, actor: Actor, f: bpmn.SourceFile, definition: Any) -> Deployed:
    sha = hashlib.sha256(f.content).hexdigest()
    source = f.content.decode("utf-8")
    return _store_version(
        session,
        actor,
        FormDefinitionVersion,
        "form",
        definition.key,
        sha,
        f.name,
        title=str(definition.title),
        source=source,
    )


def _store_decisions(session: Session, actor: Actor, f: bpmn.SourceFile) -> Deployed | None:
    sha = hashlib.sha256(f.content).hexdigest()
    source = f.content.decode("utf-8")
    results = [
        _store_version(session, actor, DecisionDefinition, "decision", key, sha, f.name, name=key, source=source)
        for key in bpmn.decision_ids(f)
    ]
    return results[-1] if results else None


def _store_process(
    session: Session,
    actor: Actor,
    bundle: bpmn.ParsedBundle,
    key: str,
    change_note: str | None,
) -> Deployed:
    spec, subs = bundle.spec_and_subprocesses(key)
    form_keys = sorted(
        {
            props["formKey"]
            for s in [spec, *subs.values()]
            for t in s.task_specs.values()
            if (props := bpmn.user_task_properties(t)).get("formKey")
        }
    )
    bindings: dict[str, Any] = {}
    for form_key in form_keys:
        row = _latest_form(session, form_key)
        bindings[form_key] = {"id": row.id, "sha256": row.sha256} if row is not None else f"python:{form_key}"
    files = bundle.files_for(key)
    sha = bpmn.sources_digest(files, {"forms": bindings_digest(bindings)})
    return _store_version(
        session,
        actor,
        ProcessDefinition,
        "process",
        key,
        sha,
        bundle.process_files[key],
        name=bpmn.process_name(bundle, key),
        sources=bpmn.dumps_sources(files),
        form_bindings=bindings,
        change_note=change_note,
    )


def bindings_digest(bindings: Mapping[str, Any]) -> dict[str, str]:
    """What of the form bindings decides whether a process version changed: the forms' content."""
    return {k: v["sha256"] if isinstance(v, dict) else str(v) for k, v in bindings.items()}


def _latest(session: Session, model: Any, key: str) -> Any | None:
    """The newest deployed version of ``key`` in a version table, or None."""
    return session.scalar(select(model).where(model.key == key).order_by(model.version.desc()).limit(1))


def _latest_form(session: Session, key: str) -> FormDefinitionVersion | None:
    form: FormDefinitionVersion | None = _latest(session, FormDefinitionVersion, key)
    return form


def latest_form(session: Session, key: str) -> Any | None:
    """The newest deployed version of form ``key``, parsed (None when there is none)."""
    row = _latest_form(session, key)
    return None if row is None else _form_version(session, row.id, row.sha256)


def find_latest(session: Session, key: str) -> ProcessDefinition | None:
    definition: ProcessDefinition | None = _latest(session, ProcessDefinition, key)
    return definition


def get_latest(session: Session, key: str) -> ProcessDefinition:
    definition = find_latest(session, key)
    if definition is None:
        raise NotFound(_("Süreç tanımı bulunamadı: '{key}'.", key=key), code="unknown_process")
    return definition


def list_definitions(session: Session) -> list[dict[str, Any]]:
    """Deployed processes with their versions (key, name, versions, latest_version)."""
    rows = session.execute(
        select(
            ProcessDefinition.key,
            ProcessDefinition.name,
            ProcessDefinition.version,
            ProcessDefinition.deployed_at,
        ).order_by(ProcessDefinition.key, ProcessDefinition.version)
    ).all()
    result: dict[str, dict[str, Any]] = {}
    for key, name, version, deployed_at in rows:
        entry = result.setdefault(key, {"key": key, "name": name, "versions": []})
        entry["name"] = name
        entry["versions"].append(version)
        entry["latest_version"] = version
        entry["deployed_at"] = deployed_at.isoformat()
    return list(result.values())


# --- forms of tasks ----------------------------------------------------------------------------------


def form_for_task(session: Session, task: HumanTask) -> Any | None:
    """The form definition bound to the task's formKey in its process version."""
    if not task.form_key:
        return None
    instance = session.get_one(ProcessInstance, task.instance_id)
    binding = (instance.definition.form_bindings or {}).get(task.form_key)
    if isinstance(binding, dict):
        return _form_version(session, int(binding["id"]), str(binding["sha256"]))
    python_form = forms.python_forms.get(task.form_key)
    if python_form is None:
        raise NotFound(_("Görevin formu bulunamadı: '{key}'.", key=task.form_key))
    return python_form


_parsed_forms: dict[tuple[int, str], Any] = {}


def _form_version(session: Session, form_id: int, sha256: str) -> Any:
    """A deployed form version, parsed once per process (immutable; keyed by id and content hash)."""
    parsed = _parsed_forms.get((form_id, sha256))
    if parsed is None:
        row = session.get_one(FormDefinitionVersion, form_id)
        parsed = forms.parse_definition(row.source, source=row.file_name)
        if len(_parsed_forms) > 1024:
            _parsed_forms.clear()
        _parsed_forms[(form_id, sha256)] = parsed
    return parsed


def validate_form(form: Any, data: Mapping[str, Any]) -> dict[str, Any]:
    """Raises InvalidInput naming each bad field."""
    if not isinstance(data, Mapping):
        raise InvalidInput(_("Form verisi bir JSON nesnesi olmalı."))
    try:
        # The engine's clock (frozen in tests, time-travelled by timers) decides "not in the past".
        return dict(forms.validate(form, data, now=clock.now()))
    except forms.FormValidationError as exc:
        raise InvalidInput(_("Form verisi geçersiz."), field_errors=exc.field_errors) from None


def run_form_checks(form: Any, case_data: Mapping[str, Any], clean: Mapping[str, Any]) -> None:
    """Evaluate the form's cross-field checks on the case data overlaid with the clean submission
    (a form field left empty is ``None``); raise InvalidInput with each failed check's message on its
    field (``_schema`` for the whole form). A check that cannot be evaluated fails too: an unproven
    rule never lets data through."""
    data = {**case_data, **dict.fromkeys(form.field_names), **clean}
    errors: dict[str, list[str]] = {}
    for check in form.checks:
        try:
            passed = bool(scripting.evaluate(check.expression, data, config.helpers, config.script_time_limit))
        except (scripting.ScriptFailed, scripting.ScriptTimeout):
            passed = False
        if not passed:
            errors.setdefault(check.field or "_schema", []).append(render_text(check.message))
    if errors:
        raise InvalidInput(_("Form verisi geçersiz."), field_errors=errors)


def form_json(form: Any) -> dict[str, Any]:
    return json.loads(json.dumps(form.to_dict(), default=str))
