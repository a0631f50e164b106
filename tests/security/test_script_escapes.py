"""The script-escape suite through deploy: hostile scripts, conditions and task expressions in a
BPMN file, deployed like a process designer would (engine and designer route) and run like staff
would (REST API).

What the compiler can see is refused at deploy, with nothing stored. What only shows at run time
(refused attribute lookups inside ``str.format``, size bombs, endless loops) fails the step: the
action is rolled back, an incident is recorded, the task stays open, no file is written, and the
instance's projections still equal its stored state."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from factories import act, read
from security_support import (
    bearer,
    condition_process,
    script_process,
    user_task_property_process,
)

from engine import consistency, definitions, instances
from engine.errors import DeployError
from engine.models import HumanTask, Incident, InstanceStatus, TaskState

PWNED = "pwned.txt"
SLACK = 3.0  # seconds beyond the script time limit (1 s in tests)

# Refused when the BPMN is deployed: the compiler sees the forbidden construct.
DEPLOY_TIME_SCRIPTS = [
    pytest.param(f"import os\nos.system('touch {PWNED}')", "içe aktarma", id="import"),
    pytest.param(f"from os import system\nsystem('touch {PWNED}')", "içe aktarma", id="from-import"),
    pytest.param(f"__import__('os').system('touch {PWNED}')", "içe aktarma", id="dunder-import"),
    pytest.param(f"open('{PWNED}', 'w').write('x')", "'open' kullanılamaz", id="open"),
    pytest.param("c = ().__class__.__base__.__subclasses__()", "__class__", id="subclasses"),
    pytest.param("g = getattr(sayi, '__globals__')", "'getattr' kullanılamaz", id="getattr"),
    pytest.param("x = eval('1 + 1')", "'eval' kullanılamaz", id="eval"),
    pytest.param(f"exec(\"open('{PWNED}', 'w')\")", "'exec' kullanılamaz", id="exec"),
    pytest.param("g = globals()", "'globals' kullanılamaz", id="globals"),
    pytest.param("v = vars()", "'vars' kullanılamaz", id="vars"),
    pytest.param("m = type(sayi).__mro__", "'type' kullanılamaz", id="type-mro"),
    pytest.param("c = (lambda: 0).__code__", "__code__", id="lambda-code"),
    pytest.param("f = (x for x in []).gi_frame", "'gi_frame'", id="generator-frame"),
    pytest.param("c = compile('1', 'x', 'eval')", "'compile' kullanılamaz", id="compile"),
    pytest.param("class X:\n    pass", "class", id="class"),
    pytest.param("try:\n    x = 1\nexcept:\n    pass", "çıplak 'except:'", id="bare-except"),
    pytest.param("try:\n    x = 1\nexcept BaseException:\n    pass", "'BaseException' yakalanamaz", id="except-base"),
    pytest.param("try:\n    x = 1\nfinally:\n    pass", "'finally' bloğu", id="finally"),
]

# Compile cleanly, refused while running.
RUN_TIME_SCRIPTS = [
    pytest.param(f"f = [open][0]\nf('{PWNED}', 'w')", "'open' kullanılamaz", id="open-by-reference"),
    pytest.param("s = '{0.__class__}'.format(1)", "__class__", id="format-attribute"),
    pytest.param("s = '{0.__init__.__globals__}'.format(sayi)", "__init__", id="format-globals"),
    pytest.param("s = str.format('{0.__class__}', 1)", "__class__", id="unbound-format"),
    pytest.param("s = '{r.__class__}'.format_map({'r': 1})", "__class__", id="format-map"),
    pytest.param("s = 'x' * 10**10", "Boyut sınırı", id="string-bomb"),
    pytest.param("n = 2 ** 10**10", "tamsayı en fazla", id="int-bomb"),
    pytest.param("r = list(range(10**9))", "Boyut sınırı", id="range-bomb"),
    pytest.param("s = '%0999999999d' % 1", "Boyut sınırı", id="percent-width"),
    pytest.param("d = int(Decimal('1e999999'))", "ondalık", id="decimal-bomb"),
    pytest.param("e = 5\ntry:\n    x = 1 / 0\nexcept e:\n    pass", "Exception türevi", id="except-non-class"),
    pytest.param("while True:\n    pass", "Süre sınırı", id="endless-loop"),
    pytest.param(
        "def spin():\n    while True: pass\ntry:\n    spin()\nexcept Exception:\n    pass",
        "Süre sınırı",
        id="caught-loop",
    ),
]

DEPLOY_TIME_EXPRESSIONS = [
    pytest.param("condition", "__import__('os').system('id') == 0", id="condition-import"),
    pytest.param("condition", "().__class__.__bases__[0] is None", id="condition-dunder"),
    pytest.param("candidateGroups", "__import__('os').getcwd()", id="groups-import"),
    pytest.param("assignee", "open('pwned.txt').read()", id="assignee-open"),
    pytest.param("dueDate", "eval('1')", id="due-eval"),
]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty current directory: an escape that worked would leave ``pwned.txt`` in it."""
    folder = tmp_path / "cwd"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def refused(db, files: list[tuple[str, bytes]]) -> str:
    with pytest.raises(DeployError) as caught:
        act(db, None, lambda s, a: definitions.deploy(s, a, files))
    return "\n".join(str(p) for p in caught.value.problems)


def test_a_harmless_script_deploys_and_runs(db) -> None:
    """The control: the same BPMN shape with an innocent script deploys and runs past the script."""
    act(db, None, lambda s, a: definitions.deploy(s, a, [("sec_ok.bpmn", script_process("sec_ok", "y = 2 * 21"))]))
    instance_id = act(db, "idari1", lambda s, a: instances.start(s, a, "sec_ok").id)
    detail = act(db, None, lambda s, a: instances.show(s, a, instance_id))
    assert [t.bpmn_id for t in detail.open_tasks] == ["Task_sonra"] and detail.data["y"] == 42


@pytest.mark.parametrize(("script", "message"), DEPLOY_TIME_SCRIPTS)
def test_escape_in_a_script_task_is_refused_at_deploy(db, sign_in, workdir, script, message) -> None:
    bpmn = script_process("sec_betik", script)
    assert message in refused(db, [("sec_betik.bpmn", bpmn)])
    designer = sign_in("tasarimci1")
    answer = designer.client.post(
        "/designer/deploy",
        json={"name": "sec_betik.bpmn", "content": bpmn.decode(), "change_note": "deneme"},
        headers={"X-CSRFToken": designer.token("/designer")},
    )
    assert answer.status_code == 400 and message in json.dumps(answer.json, ensure_ascii=False)
    assert read(db, definitions.list_definitions) == []
    assert list(workdir.iterdir()) == []


@pytest.mark.parametrize(("where", "expression"), DEPLOY_TIME_EXPRESSIONS)
def test_escape_in_an_expression_is_refused_at_deploy(db, workdir, where, expression) -> None:
    if where == "condition":
        bpmn = condition_process("sec_kosul", expression)
    else:
        bpmn = user_task_property_process("sec_kosul", where, expression)
    problems = refused(db, [("sec_kosul.bpmn", bpmn)])
    assert "İzin verilmeyen" in problems or "kullanılamaz" in problems or "erişilemez" in problems, problems
    assert read(db, definitions.list_definitions) == []
    assert list(workdir.iterdir()) == []


@pytest.mark.parametrize(("script", "message"), RUN_TIME_SCRIPTS)
def test_escape_at_run_time_fails_the_step_and_changes_nothing(app, db, workdir, script, message) -> None:
    act(
        db,
        None,
        lambda s, a: definitions.deploy(
            s, a, [("sec_calisma.bpmn", script_process("sec_calisma", script, before_user_task=True))]
        ),
    )
    instance_id = act(db, "idari1", lambda s, a: instances.start(s, a, "sec_calisma").id)
    task_id = read(db, lambda s: s.query(HumanTask.id).filter_by(instance_id=instance_id).scalar())
    client = app.test_client()
    started = time.monotonic()
    answer = client.post(f"/api/v1/tasks/{task_id}/complete", json={"data": {"sayi": 7}}, headers=bearer(db, "idari1"))
    assert time.monotonic() - started < 1.0 + SLACK
    assert answer.status_code == 500, answer.json
    assert message in answer.json["error"]["message"]

    def state(session):
        task = session.get(HumanTask, task_id)
        incidents = session.query(Incident).filter_by(instance_id=instance_id).all()
        instance = instances.get(session, instance_id)
        return task.state, [i.element_id for i in incidents], instance.status, consistency.check(session, instance_id)

    task_state, incident_elements, status, differences = read(db, state)
    assert task_state == TaskState.OPEN  # the completion was rolled back whole
    assert incident_elements == ["Script_saldiri"] and status == InstanceStatus.ERROR
    assert differences == []
    assert list(workdir.iterdir()) == []
