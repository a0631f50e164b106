"""Drive any deployed process to its end through the ``kalem`` command alone, as the demo users:
each open task is completed by a user who may do it, with form values made by
:func:`forms.samples.sample_values`; due timers are fired by time travel and awaited messages are
delivered. Used by ``test_every_flow.py`` and handy by hand (see ``drive``)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from lxml import etree

import forms
from engine.demo import DIRECTORATES
from forms.samples import sample_values

Kalem = Callable[..., tuple[int, str]]
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
ATTEMPTS = 12


def entry_processes(folder: Path) -> list[str]:
    """Executable processes under ``folder`` that no call activity calls (the ones staff start)."""
    defined, called = [], set()
    for path in sorted(folder.rglob("*.bpmn")):
        root = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True)).getroot()
        defined += [p.get("id") for p in root.iter(f"{BPMN}process") if p.get("isExecutable") != "false"]
        called |= {c.get("calledElement") for c in root.iter(f"{BPMN}callActivity")}
    return [key for key in defined if key not in called]


@dataclass
class Run:
    instance_id: int
    steps: list[str] = field(default_factory=list)
    status: str = ""
    data: dict[str, Any] = field(default_factory=dict)


def drive(
    kalem: Kalem,
    key: str,
    forms_by_key: dict[str, Any],
    tmp: Path,
    *,
    message_data: dict[str, dict[str, Any]] | None = None,
    starter: str | None = None,
    start_data: dict[str, Any] | None = None,
    max_steps: int = 120,
) -> Run:
    """Start ``key`` and complete it; ``kalem(*args)`` returns (exit code, output).
    ``message_data`` gives the payload of each awaited message by name (default ``{}``)."""
    users = json.loads(_ok(kalem("users", "--json")))
    business_key = f"OTO-{key}"
    data = json.dumps(start_data or {})
    # The first user the process lets start it by hand (the lane of its start event decides).
    for candidate in [starter] if starter else _starters(users):
        code, output = kalem("start", key, "--as", candidate, "--business-key", business_key, "--data", data)
        if code != 4:
            break
    run = Run(int(_ok((code, output)).strip()))
    visits: Counter[str] = Counter()
    clock = datetime.now().astimezone()
    for _ in range(max_steps):
        shown = json.loads(_ok(kalem("instance", "show", str(run.instance_id), "--json")))
        run.status, run.data = shown["status"], shown["data"]
        if shown["status"] in ("completed", "terminated"):
            return run
        assert shown["status"] == "running", f"{key}: {shown['status']} {shown['incidents']}"
        if shown["open_tasks"]:
            task = shown["open_tasks"][0]
            visits[task["bpmn_id"]] += 1
            references = _references(users, shown["data"])
            variant = visits[task["bpmn_id"]] - 1
            _complete(kalem, task, _doer(users, task), forms_by_key, variant, tmp, clock, references)
            run.steps.append(task["bpmn_id"])
            continue
        timers = sorted(w["fire_at"] for w in shown["waiting"] if w["type"] == "timer")
        messages = [w["name"] for w in shown["waiting"] if w["type"] == "message"]
        if timers:
            moment = max(datetime.fromisoformat(timers[0]), clock) + timedelta(seconds=1)
            clock = moment
            _ok(kalem("timers", "run-due", "--now", moment.isoformat()))
            run.steps.append(f"timer@{moment.isoformat()}")
        elif messages:
            payload = json.dumps((message_data or {}).get(messages[0], {}))
            _ok(kalem("message", messages[0], "--business-key", business_key, "--data", payload, "--as", candidate))
            run.steps.append(f"message:{messages[0]}")
        else:
            raise AssertionError(f"{key}: running with nothing to do: {shown}")
    raise AssertionError(f"{key}: not finished after {max_steps} steps: {run.steps[-20:]}")


def _complete(
    kalem: Kalem,
    task: dict[str, Any],
    user: str,
    forms_by_key: dict[str, Any],
    variant: int,
    tmp: Path,
    clock: datetime,
    references: Any,
) -> None:
    detail = json.loads(_ok(kalem("task", "show", str(task["id"]), "--as", user, "--json")))
    form = forms_by_key.get(detail["form_key"]) if detail.get("form_key") else None
    errors = ""
    for attempt in range(ATTEMPTS):
        data: dict[str, Any] = {}
        files: list[str] = []
        if form is not None:
            data = sample_values(form, variant=variant + attempt, now=clock, references=references)
            for f in form.fields:
                if f.type == "file" and (f.when is None or f.when.holds(data)):
                    path = tmp / f"{f.name}.pdf"
                    path.write_bytes(b"%PDF-1.4\n% kalem test\n")
                    files += ["--file", f"{f.name}={path}"]
        code, output = kalem("complete", str(task["id"]), "--as", user, "--data", json.dumps(data), *files)
        if code == 0:
            return
        assert code == 6, f"task {task['bpmn_id']} as {user}: exit {code}: {output}"
        errors = output
    raise AssertionError(f"task {task['bpmn_id']}: no valid data after {ATTEMPTS} variants: {errors}")


def _references(users: list[dict[str, Any]], case_data: dict[str, Any]) -> Any:
    """Valid values of ``user`` fields (members of the field's group) and ``unit`` fields (directorates)."""

    def lookup(field: Any, values: dict[str, Any]) -> list[str]:
        if field.type == "unit":
            return list(DIRECTORATES)
        group = field.group or ""
        if group.startswith("$"):
            base, _sep, role = group[1:].partition("/")
            group = str({**case_data, **values}.get(base) or "") + (f"/{role}" if role else "")
        code, _sep, role = group.partition("/")
        return [
            u["username"]
            for u in users
            if u["is_active"] and (not code or (code in u["manages"] if role else code in u["groups"]))
        ]

    return lookup


def _starters(users: list[dict[str, Any]]) -> list[str]:
    """Active users, Özel Kalem's intake clerk first."""
    active = [u["username"] for u in users if u["is_active"]]
    return sorted(active, key=lambda name: name != "idari1")


def _doer(users: list[dict[str, Any]], task: dict[str, Any]) -> str:
    if task["assignee"]:
        return task["assignee"]
    for group in task["candidate_groups"]:
        code, _sep, role = group.partition("/")
        for user in users:
            if user["is_active"] and (code in user["manages"] if role else code in user["groups"]):
                return user["username"]
    raise AssertionError(f"nobody may do {task['bpmn_id']} (groups {task['candidate_groups']})")


def _ok(result: tuple[int, str]) -> str:
    code, output = result
    assert code == 0, output
    return output


def load_forms(folder: Path) -> dict[str, Any]:
    return {d.key: d for d in (forms.load_definition_file(p) for p in sorted(folder.rglob("*.form.json")))}
