"""BPMN/DMN parsing with Kalem's conventions, and deploy-time validation of the result.

Conventions: a lane's name is a group code; user tasks carry ``formKey``, ``candidateGroups``,
``assignee``, ``dueDate`` and ``priority`` as ``spiffworkflow:property`` (Camunda attributes are
accepted as synonyms); a service task names its handler with ``spiffworkflow:serviceTaskOperator``
(or a ``handler`` property). Every problem found is reported with file, element id and line.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import ServiceTaskParser, UserTaskParser
from SpiffWorkflow.spiff.specs.defaults import ServiceTask, UserTask

from engine.errors import Problem
from engine.i18n import _
from engine.runtime import scripting

CAMUNDA_NS = "{http://camunda.org/schema/1.0/bpmn}"
USER_TASK_PROPERTIES = ("formKey", "candidateGroups", "assignee", "dueDate", "priority")
# Hardened parsing for every uploaded file: no external entities, no network, no entity expansion bombs.
SAFE_XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False)


class KalemUserTaskParser(UserTaskParser):
    """Adds Camunda's formKey/candidateGroups/assignee/dueDate/priority attributes as properties
    (spiff properties win), translated from Camunda's rules to ours: in Camunda a value is literal
    unless written ``${expression}``, while our properties are always sandboxed expressions."""

    def parse_extensions(self, node: Any = None) -> dict[str, Any]:
        ext: dict[str, Any] = super().parse_extensions(node)
        node = self.node if node is None else node
        props = dict(ext.get("properties") or {})
        for attr, value in node.attrib.items():
            name = attr[len(CAMUNDA_NS) :] if attr.startswith(CAMUNDA_NS) else None
            if name in USER_TASK_PROPERTIES:
                props.setdefault(name, value if name == "formKey" else camunda_to_expression(value))
        if props:
            ext["properties"] = props
        return ext


CAMUNDA_EXPRESSION = re.compile(r"^\s*[$#]\{(.*)\}\s*$", re.DOTALL)


def camunda_to_expression(value: str) -> str:
    """``${x}`` → ``x``; a literal → its Python literal (so ``a,b`` stays the text ``'a,b'``)."""
    match = CAMUNDA_EXPRESSION.match(value)
    return match.group(1).strip() if match else repr(value)


class KalemServiceTaskParser(ServiceTaskParser):
    """Accepts a ``handler`` property where no serviceTaskOperator is given."""

    def parse_extensions(self, node: Any = None) -> dict[str, Any]:
        ext: dict[str, Any] = super().parse_extensions(node)
        handler = (ext.get("properties") or {}).get("handler")
        if "serviceTaskOperator" not in ext and handler:
            ext["serviceTaskOperator"] = {"name": handler, "parameters": {}, "resultVariable": None}
        return ext


class KalemServiceTask(ServiceTask):
    """Runs the named handler through the dispatcher the engine installs for the current step;
    its outputs go to ``resultVariable`` when one is given, else straight into the task data."""

    def _execute(self, task: Any) -> bool:
        dispatch = SERVICE_DISPATCH.get()
        if dispatch is None:
            raise RuntimeError("service tasks run only inside the engine")
        params = {name: p["value"] for name, p in self.evaluate_params(task).items()}
        outputs = dispatch(self.operation_name, params, task)
        if self.result_variable and not self.result_variable.startswith("spiff__"):
            task.data[self.result_variable] = outputs
        else:
            task.data.update(outputs)
        return True


# Set by engine.runtime.workflow around engine steps: (handler name, params, spiff task) -> outputs.
SERVICE_DISPATCH: contextvars.ContextVar[Callable[[str, dict[str, Any], Any], dict[str, Any]] | None] = (
    contextvars.ContextVar("kalem_service_dispatch", default=None)
)


class KalemParser(SpiffBpmnParser):
    OVERRIDE_PARSER_CLASSES = {  # noqa: RUF012 - SpiffWorkflow's class-level registry
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("userTask"): (KalemUserTaskParser, UserTask),
        full_tag("serviceTask"): (KalemServiceTaskParser, KalemServiceTask),
    }


@dataclass
class SourceFile:
    name: str
    content: bytes

    @property
    def kind(self) -> str:
        lower = self.name.lower()
        if lower.endswith(".form.json"):
            return "form"
        if lower.endswith(".bpmn") or lower.endswith(".bpmn20.xml"):
            return "bpmn"
        if lower.endswith(".dmn"):
            return "dmn"
        return "unknown"


@dataclass
class ParsedBundle:
    """Specs of every executable process in a set of BPMN/DMN files."""

    parser: KalemParser
    files: dict[str, SourceFile]
    process_files: dict[str, str] = field(default_factory=dict)

    def spec_and_subprocesses(self, key: str) -> tuple[Any, dict[str, Any]]:
        return self.parser.get_spec(key), self.parser.get_subprocess_specs(key)

    def files_for(self, key: str) -> list[SourceFile]:
        """The BPMN file of ``key``, the files of the processes it calls, and every DMN file."""
        _spec, subs = self.spec_and_subprocesses(key)
        # Embedded subprocesses appear among the subprocess specs but live in their parent's file.
        names = {self.process_files[key], *(self.process_files[k] for k in subs if k in self.process_files)}
        names |= {name for name, f in self.files.items() if f.kind == "dmn"}
        return [self.files[n] for n in sorted(names)]


def parse_xml(source: SourceFile) -> etree._Element:
    """Parse untrusted XML without entities or network access (raises XMLSyntaxError)."""
    return etree.fromstring(source.content, SAFE_XML_PARSER)


def element_lines(root: etree._Element) -> dict[str, int]:
    return {el.get("id"): el.sourceline for el in root.iter() if isinstance(el.tag, str) and el.get("id")}


def parse_bundle(files: Iterable[SourceFile]) -> ParsedBundle:
    """Parse BPMN and DMN files together (no validation beyond what parsing itself does)."""
    parser = KalemParser(validator=VALIDATOR)
    bundle = ParsedBundle(parser=parser, files={})
    for f in files:
        bundle.files[f.name] = f
        if f.kind == "bpmn":
            parser.add_bpmn_xml(parse_xml(f), filename=f.name)
        elif f.kind == "dmn":
            parser.add_dmn_xml(parse_xml(f), filename=f.name)
    for key, process_parser in parser.process_parsers.items():
        bundle.process_files[key] = process_parser.filename
    return bundle


def executable_process_ids(bundle: ParsedBundle, file_names: Iterable[str]) -> list[str]:
    """Top-level executable processes of the named files (SpiffWorkflow also registers each embedded
    subprocess as a process once its parent is parsed; those are not deployable on their own)."""
    wanted = set(file_names)
    return [
        key
        for key, pp in bundle.parser.process_parsers.items()
        if pp.process_executable and pp.filename in wanted and key in bundle.process_files
    ]


def process_name(bundle: ParsedBundle, key: str) -> str:
    return str(bundle.parser.process_parsers[key].get_name() or key)


def decision_ids(source: SourceFile) -> list[str]:
    root = parse_xml(source)
    elements = (el for el in root.iter() if isinstance(el.tag, str))
    return [el.get("id") for el in elements if etree.QName(el).localname == "decision"]


@dataclass
class References:
    """Process and decision ids a set of files defines and uses (call activities, DMN)."""

    processes: set[str] = field(default_factory=set)
    called: set[str] = field(default_factory=set)
    decisions: set[str] = field(default_factory=set)
    decisions_used: set[str] = field(default_factory=set)

    def scan(self, root: etree._Element) -> None:
        for el in root.iter():
            if not isinstance(el.tag, str):
                continue
            local = etree.QName(el).localname
            if local == "process":
                self.processes.add(el.get("id"))
            elif local == "callActivity" and el.get("calledElement"):
                self.called.add(el.get("calledElement"))
            elif local == "decision":
                self.decisions.add(el.get("id"))
            elif local == "calledDecisionId" and el.text:
                self.decisions_used.add(el.text.strip())
            elif local == "businessRuleTask":
                self.decisions_used |= {v for k, v in el.attrib.items() if k.endswith("decisionRef")}


# SpiffWorkflow names its own internal start and end tasks like this; a BPMN element with
# the same id silently breaks the process graph.
RESERVED_IDS = frozenset({"Start", "End"})


def reserved_id_problems(file_name: str, lines: Mapping[str, int]) -> list[Problem]:
    return [
        Problem(file_name, _("'{id}' kimliği motora ayrılmış; başka bir kimlik verin.", id=i), i, lines[i])
        for i in sorted(RESERVED_IDS & set(lines))
    ]


# --- validation -------------------------------------------------------------------------------------


@dataclass
class LintContext:
    """What the deploy-time lint needs to know about the world outside the BPMN."""

    known_forms: Callable[[str], bool]
    known_handlers: Callable[[str], bool]
    helpers: Mapping[str, Callable[..., Any]]
    lines: dict[str, dict[str, int]] = field(default_factory=dict)


def problem_from_exception(exc: Exception, default_file: str, lines: Mapping[str, Mapping[str, int]]) -> Problem:
    """Turn an lxml or SpiffWorkflow parse error into a located Problem."""
    if isinstance(exc, etree.XMLSyntaxError):
        return Problem(default_file, _("XML sözdizimi hatası: {msg}", msg=exc.msg), line=exc.lineno)
    if isinstance(exc, ValidationException):
        file_name = exc.file_name or default_file
        element_id = exc.id or None
        line = exc.line_number if isinstance(exc.line_number, int) and exc.line_number else None
        if line is None and element_id:
            line = lines.get(file_name, {}).get(element_id)
        message = str(exc.args[0]) if exc.args else str(exc)
        return Problem(file_name, _("BPMN yapı hatası: {msg}", msg=message.strip()), element_id, line)
    return Problem(default_file, _("Dosya okunamadı: {msg}", msg=str(exc)))


def lint_process(bundle: ParsedBundle, key: str, ctx: LintContext) -> list[Problem]:
    """Deploy-time checks SpiffWorkflow leaves to run time: scripts, conditions, timers,
    user-task routing and forms, service-task handlers."""
    spec, subs = bundle.spec_and_subprocesses(key)
    problems: list[Problem] = []
    for process_spec in [spec, *subs.values()]:
        file_name = bundle.process_files.get(process_spec.name, bundle.process_files[key])
        lines = ctx.lines.get(file_name, {})
        for task_spec in process_spec.task_specs.values():
            for message in _lint_task_spec(task_spec, ctx):
                bpmn_id = getattr(task_spec, "bpmn_id", None)
                problems.append(Problem(file_name, message, bpmn_id, lines.get(bpmn_id or "")))
    return problems


def _lint_task_spec(task_spec: Any, ctx: LintContext) -> list[Any]:
    messages: list[Any] = []
    for attr in ("script", "prescript", "postscript"):
        source = getattr(task_spec, attr, None)
        if source:
            messages += _check(scripting.check_script, source, _("Betik"))
    for condition, _target in getattr(task_spec, "cond_task_specs", []) or []:
        source = condition.args[0] if hasattr(condition, "args") and condition.args else condition
        if isinstance(source, str) and source:
            messages += _check(scripting.check_expression, source, _("Koşul"))
    for attr in ("cardinality", "condition", "completion_condition"):
        source = getattr(task_spec, attr, None)
        if isinstance(source, str) and source:
            messages += _check(scripting.check_expression, source, _("Döngü ifadesi"))
    event_definition = getattr(task_spec, "event_definition", None)
    if isinstance(event_definition, TimerEventDefinition):
        messages += _lint_timer(event_definition, ctx)
    if isinstance(task_spec, UserTask):
        messages += _lint_user_task(task_spec, ctx)
    if isinstance(task_spec, ServiceTask):
        messages += _lint_service_task(task_spec, ctx)
    if isinstance(task_spec, SubWorkflowTask) and not getattr(task_spec, "spec", None):
        messages.append(_("Çağrı etkinliği çağrılacak süreci belirtmiyor."))
    return messages


def _lint_service_task(task_spec: Any, ctx: LintContext) -> list[Any]:
    messages: list[Any] = []
    if not ctx.known_handlers(task_spec.operation_name):
        messages.append(_("Tanımsız servis görevi işleyicisi: '{name}'.", name=task_spec.operation_name))
    for param in task_spec.operation_params.values():
        messages += _check(scripting.check_expression, param["value"], _("Servis parametresi"))
    return messages


def _check(check: Callable[[str], None], source: str, what: Any) -> list[Any]:
    try:
        check(source)
    except scripting.ScriptRejected as exc:
        if exc.lineno:
            return [_("{what} geçersiz (satır {line}): {msg}", what=what, line=exc.lineno, msg=exc.message)]
        return [_("{what} geçersiz: {msg}", what=what, msg=exc.message)]
    return []


# An ISO literal written without quotes (PT1S, P15D, R3/PT1H) parses as a Python name.
UNQUOTED_ISO = re.compile(r"^\s*(R\d*/)?P(\d|T\d)[0-9A-Z.]*\s*$")


def _lint_timer(event_definition: TimerEventDefinition, ctx: LintContext) -> list[Any]:
    expression = event_definition.expression or ""
    if UNQUOTED_ISO.match(expression):
        return [
            _('Zamanlayıcı ifadesi Python\'dur; ISO değerini tırnak içinde yazın: "{expr}"', expr=expression.strip())
        ]
    problems = _check(scripting.check_expression, expression, _("Zamanlayıcı ifadesi"))
    if problems:
        return problems
    try:
        value = scripting.evaluate(expression, {}, ctx.helpers)
    except scripting.ScriptTimeout:
        return [_("Zamanlayıcı ifadesi süre sınırında bitmedi.")]
    except (scripting.ScriptFailed, scripting.ScriptRejected) as exc:
        if "NameError" in str(getattr(exc, "message", exc)) or "tanımlı değil" in str(exc):
            return []  # depends on process data: checked when the timer is reached
        return [_("Zamanlayıcı ifadesi değerlendirilemedi: {msg}", msg=str(exc))]
    if not isinstance(value, str):
        return [
            _(
                "Zamanlayıcı ifadesi metin (ISO 8601) vermeli; '{expr}' verdi: {value!r}",
                expr=expression,
                value=value,
            )
        ]
    try:
        if isinstance(event_definition, DurationTimerEventDefinition):
            TimerEventDefinition.parse_iso_duration(value)
        elif isinstance(event_definition, CycleTimerEventDefinition):
            TimerEventDefinition.parse_iso_recurring_interval(value)
        elif isinstance(event_definition, TimeDateEventDefinition):
            TimerEventDefinition.parse_time_or_duration(value)
    except Exception:  # SpiffWorkflow raises bare Exception / ValueError for bad ISO text
        return [_("Zamanlayıcı değeri geçerli bir ISO 8601 ifadesi değil: '{value}'", value=value)]
    return []


def user_task_properties(task_spec: Any) -> dict[str, str]:
    props = (getattr(task_spec, "extensions", None) or {}).get("properties") or {}
    return {k: str(v) for k, v in props.items() if k in USER_TASK_PROPERTIES and v not in (None, "")}


def _lint_user_task(task_spec: Any, ctx: LintContext) -> list[Any]:
    props = user_task_properties(task_spec)
    messages: list[Any] = []
    for name in ("candidateGroups", "assignee", "dueDate", "priority"):
        if name in props:
            messages += _check(scripting.check_expression, props[name], name)
    if not (task_spec.lane or props.get("candidateGroups") or props.get("assignee")):
        messages.append(
            _("Kullanıcı görevi kime ait belli değil: kulvar (lane), candidateGroups ya da assignee gerekli.")
        )
    form_key = props.get("formKey")
    if form_key and not ctx.known_forms(form_key):
        messages.append(_("Bilinmeyen form anahtarı (formKey): '{key}'.", key=form_key))
    return messages


def dumps_sources(files: Iterable[SourceFile]) -> list[dict[str, str]]:
    return [{"name": f.name, "content": f.content.decode("utf-8")} for f in files]


def loads_sources(sources: Iterable[Mapping[str, str]]) -> list[SourceFile]:
    return [SourceFile(s["name"], s["content"].encode("utf-8")) for s in sources]


def sources_digest(files: Iterable[SourceFile], extra: Mapping[str, Any]) -> str:
    h = hashlib.sha256()
    for f in sorted(files, key=lambda f: f.name):
        h.update(f.name.encode() + b"\0" + f.content + b"\0")
    h.update(json.dumps(extra, sort_keys=True).encode())
    return h.hexdigest()
