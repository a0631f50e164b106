"""Tests of engine.runtime.scripting: escape attempts fail with a Turkish explanation and leave
nothing behind (no file, task data unchanged), directly and through SpiffWorkflow; the allowed
subset of Python keeps working."""

from __future__ import annotations

import copy
import re
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.runtime.scripting import (
    DEFAULT_TIME_LIMIT,
    SandboxEnvironment,
    ScriptFailed,
    ScriptRejected,
    ScriptTimeout,
    check_expression,
    check_script,
    evaluate,
    make_script_engine,
)

FAST = 0.3  # seconds; the time limit of every timeout test
SLACK = 1.0  # how much later than the limit a timed-out run may end
TIMEOUT_SCRIPT = "Süre sınırı aşıldı: betik 0,3 saniyeden uzun sürdü"
TIMEOUT_EXPRESSION = "Süre sınırı aşıldı: ifade 0,3 saniyeden uzun sürdü"
IMPORT = "İzin verilmeyen işlem: içe aktarma (import) kullanılamaz"
UNDERSCORE = "Alt çizgiyle başlayan özniteliklere erişilemez"
TOO_BIG = "Boyut sınırı aşıldı"


def sample_data() -> dict[str, Any]:
    return {"record": {"name": " Ayşe ", "tags": ["a"]}, "amount": 150}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty current directory: escapes try to create ``pwned.txt`` in it."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def assert_nothing_left(workdir: Path, data: dict[str, Any]) -> None:
    assert list(workdir.iterdir()) == []
    assert data == sample_data()


# --- escapes, outside Spiff ------------------------------------------------------------------

SCRIPT_ESCAPES = [
    pytest.param("import os\nos.system('touch pwned.txt')", ScriptRejected, IMPORT, id="import"),
    pytest.param("from os import system\nsystem('touch pwned.txt')", ScriptRejected, IMPORT, id="from-import"),
    pytest.param("__import__('os').system('touch pwned.txt')", ScriptRejected, IMPORT, id="dunder-import"),
    pytest.param("open('pwned.txt', 'w').write('x')", ScriptRejected, "'open' kullanılamaz", id="open"),
    pytest.param("f = [open][0]\nf('pwned.txt', 'w')", ScriptFailed, "'open' kullanılamaz", id="open-by-reference"),
    pytest.param(
        "c = ().__class__.__base__.__subclasses__()", ScriptRejected, f"{UNDERSCORE}: __class__", id="subclasses"
    ),
    pytest.param("g = getattr(record, '__globals__')", ScriptRejected, "'getattr' kullanılamaz", id="getattr"),
    pytest.param("s = '{0.__class__}'.format(1)", ScriptFailed, f"{UNDERSCORE}: __class__", id="format-attribute"),
    pytest.param(
        "s = '{0.__init__.__globals__}'.format(record)", ScriptFailed, f"{UNDERSCORE}: __init__", id="format-globals"
    ),
    pytest.param("s = str.format('{0.__class__}', 1)", ScriptFailed, f"{UNDERSCORE}: __class__", id="unbound-format"),
    pytest.param("s = '{r.__class__}'.format_map({'r': 1})", ScriptFailed, f"{UNDERSCORE}: __class__", id="format-map"),
    pytest.param("s = '{0.mro}'.format(int)", ScriptFailed, "'mro' özniteliğine erişilemez", id="format-mro"),
    pytest.param("x = eval('1')", ScriptRejected, "'eval' kullanılamaz", id="eval"),
    pytest.param("exec('x = 1')", ScriptRejected, "'exec' kullanılamaz", id="exec"),
    pytest.param("g = globals()", ScriptRejected, "'globals' kullanılamaz", id="globals"),
    pytest.param("v = vars()", ScriptRejected, "'vars' kullanılamaz", id="vars"),
    pytest.param("m = type(record).__mro__", ScriptRejected, "'type' kullanılamaz", id="type-mro"),
    pytest.param("m = int.mro()", ScriptRejected, "'mro' özniteliğine erişilemez", id="mro-method"),
    pytest.param("c = (lambda: 0).__code__", ScriptRejected, f"{UNDERSCORE}: __code__", id="lambda-code"),
    pytest.param("f = (x for x in []).gi_frame", ScriptRejected, "'gi_frame' özniteliğine erişilemez", id="gi-frame"),
    pytest.param("try:\n    x = 1\nexcept:\n    pass", ScriptRejected, "çıplak 'except:'", id="bare-except"),
    pytest.param(
        "try:\n    x = 1\nexcept BaseException:\n    pass",
        ScriptRejected,
        "'BaseException' yakalanamaz",
        id="except-base",
    ),
    pytest.param("try:\n    x = 1\nfinally:\n    pass", ScriptRejected, "'finally' bloğu", id="finally"),
    pytest.param(
        "e = 5\ntry:\n    x = 1 / 0\nexcept e:\n    pass",
        ScriptFailed,
        "yalnızca Exception türevi",
        id="except-non-class",
    ),
    pytest.param(
        "record['k'] = 1\ntry:\n    s = '{0.__class__}'.format(1)\nexcept Exception:\n    s = 'yakalandı'",
        ScriptFailed,
        UNDERSCORE,
        id="refusal-cannot-be-caught",
    ),
    pytest.param("s = 'x' * 10**10", ScriptFailed, TOO_BIG, id="string-repetition"),
    pytest.param("s = [0] * 10**9", ScriptFailed, TOO_BIG, id="list-repetition"),
    pytest.param("n = 2 ** 10**10", ScriptFailed, "tamsayı en fazla", id="big-exponent"),
    pytest.param("n = 9\nn **= 10**8", ScriptFailed, "tamsayı en fazla", id="big-exponent-augmented"),
    pytest.param("n = 1 << 10**9", ScriptFailed, "tamsayı en fazla", id="big-shift"),
    pytest.param("r = list(range(10**9))", ScriptFailed, TOO_BIG, id="huge-range"),
    pytest.param("s = f'{1:>999999999}'", ScriptFailed, TOO_BIG, id="f-string-width"),
    pytest.param("s = '%0999999999d' % 1", ScriptFailed, TOO_BIG, id="percent-width"),
    pytest.param("s = 'a'.ljust(10**9)", ScriptFailed, TOO_BIG, id="ljust"),
    pytest.param("d = int(Decimal('1e999999'))", ScriptFailed, "ondalık sayı", id="huge-decimal"),
    pytest.param("record['k'] = 1\nwhile True:\n    pass", ScriptTimeout, TIMEOUT_SCRIPT, id="while-true"),
    pytest.param(
        "while True:\n    try:\n        x = 1\n    except Exception:\n        pass",
        ScriptTimeout,
        TIMEOUT_SCRIPT,
        id="try-except-in-loop",
    ),
    pytest.param(
        "def spin():\n    while True: pass\ntry:\n    spin()\nexcept Exception:\n    pass",
        ScriptTimeout,
        TIMEOUT_SCRIPT,
        id="loop-in-function",
    ),
    pytest.param(
        "n = len([1 for a in range(10**6) for b in range(10**6)])",
        ScriptTimeout,
        TIMEOUT_SCRIPT,
        id="nested-comprehension",
    ),
    pytest.param("x = [1]\nx.extend(zip(x))", ScriptTimeout, TIMEOUT_SCRIPT, id="c-level-growth"),
]


@pytest.mark.parametrize(("source", "error", "message"), SCRIPT_ESCAPES)
def test_script_escape_fails_and_leaves_nothing(
    workdir: Path, source: str, error: type[BaseException], message: str
) -> None:
    data = sample_data()
    started = time.monotonic()
    with pytest.raises(error) as caught:
        SandboxEnvironment(time_limit=FAST).run_script(source, data)
    assert message in str(caught.value)
    assert isinstance(caught.value.lineno, int)  # type: ignore[attr-defined]
    assert time.monotonic() - started < FAST + SLACK
    assert_nothing_left(workdir, data)
    if error is ScriptRejected:  # the same verdict when the designer saves the process
        with pytest.raises(ScriptRejected, match=re.escape(message)):
            check_script(source)


EXPRESSION_ESCAPES = [
    pytest.param("__import__('os').system('touch pwned.txt')", ScriptRejected, IMPORT, id="dunder-import"),
    pytest.param("open('pwned.txt', 'w')", ScriptRejected, "'open' kullanılamaz", id="open"),
    pytest.param("().__class__.__base__.__subclasses__()", ScriptRejected, f"{UNDERSCORE}: __class__", id="subclasses"),
    pytest.param("'{0.__class__}'.format(1)", ScriptFailed, f"{UNDERSCORE}: __class__", id="format-attribute"),
    pytest.param(
        "'{0.__init__.__globals__}'.format(record)", ScriptFailed, f"{UNDERSCORE}: __init__", id="format-globals"
    ),
    pytest.param("eval('1')", ScriptRejected, "'eval' kullanılamaz", id="eval"),
    pytest.param("globals()", ScriptRejected, "'globals' kullanılamaz", id="globals"),
    pytest.param("vars()", ScriptRejected, "'vars' kullanılamaz", id="vars"),
    pytest.param("(x for x in []).gi_frame", ScriptRejected, "'gi_frame' özniteliğine erişilemez", id="gi-frame"),
    pytest.param("record.update(k=1) or 'x' * 10**10", ScriptFailed, TOO_BIG, id="mutate-then-repeat"),
    pytest.param(
        "record['tags'].append(1) or len([1 for a in range(10**6) for b in range(10**6)])",
        ScriptTimeout,
        TIMEOUT_EXPRESSION,
        id="mutate-then-spin",
    ),
]


@pytest.mark.parametrize(("expression", "error", "message"), EXPRESSION_ESCAPES)
def test_expression_escape_fails_and_leaves_nothing(
    workdir: Path, expression: str, error: type[BaseException], message: str
) -> None:
    data = sample_data()
    started = time.monotonic()
    with pytest.raises(error) as caught:
        evaluate(expression, data, time_limit=FAST)
    assert message in str(caught.value)
    assert time.monotonic() - started < FAST + SLACK
    assert_nothing_left(workdir, data)


def test_check_functions_report_the_line() -> None:
    with pytest.raises(ScriptRejected) as caught:
        check_script("a = 1\nb = 2\nimport os")
    assert caught.value.lineno == 3
    assert caught.value.message == IMPORT
    with pytest.raises(ScriptRejected, match="Sözdizimi hatası"):
        check_expression("import os")
    with pytest.raises(ScriptRejected, match="Sözdizimi hatası") as caught:
        check_script("x = (1")
    assert isinstance(caught.value.lineno, int)


def test_evaluate_never_mutates_data() -> None:
    data = sample_data()
    result = evaluate("record.update(k=1) or record['tags'].append('b') or record", data)
    assert result["k"] == 1
    assert result["tags"] == ["a", "b"]
    assert data == sample_data()


def test_runtime_errors_become_script_failed_with_the_line() -> None:
    with pytest.raises(ScriptFailed, match="ZeroDivisionError") as caught:
        evaluate("amount / 0", sample_data())
    assert caught.value.lineno == 1
    data = sample_data()
    with pytest.raises(ZeroDivisionError):  # inside Spiff the caller wraps other errors itself
        SandboxEnvironment().run_script("y = 1\nz = amount / 0", data)
    assert data == sample_data()


def test_spiff_interface_reports_a_timeout_as_an_exception() -> None:
    # Spiff calls the environment directly in places, catching only Exception there.
    environment = SandboxEnvironment(time_limit=FAST)
    data = sample_data()
    with pytest.raises(ScriptFailed, match=TIMEOUT_SCRIPT) as caught:
        environment.execute("record['k'] = 1\nwhile True: pass", data)
    assert isinstance(caught.value.__cause__, ScriptTimeout)
    with pytest.raises(ScriptFailed, match=TIMEOUT_EXPRESSION) as caught:
        environment.evaluate("[0 for a in range(10**6) for b in range(10**6)]", data)
    assert isinstance(caught.value.__cause__, ScriptTimeout)
    assert data == sample_data()


def test_previous_tracer_is_restored() -> None:
    before = sys.gettrace()
    evaluate("1 + 1", {})
    with pytest.raises(ScriptTimeout):
        evaluate("len([1 for a in range(10**6) for b in range(10**6)])", {}, time_limit=FAST)
    assert sys.gettrace() is before


def test_helper_names_may_not_clash_with_data() -> None:
    helpers = {"bugun": lambda: "2024-01-02"}
    with pytest.raises(ScriptFailed, match="yardımcı fonksiyonlarla çakışıyor: bugun"):
        evaluate("bugun", {"bugun": 1}, helpers=helpers)
    data: dict[str, Any] = {}
    with pytest.raises(ScriptFailed, match="'bugun' bir yardımcı fonksiyonun adı"):
        SandboxEnvironment(helpers).run_script("bugun = 1", data)
    assert data == {}


# --- the allowed subset ---------------------------------------------------------------------

ALLOWED_SCRIPT = """\
total = 0
for i in range(1, 5):
    total += i * i
evens = [n for n in range(10) if n % 2 == 0]
squares = {n: n ** 2 for n in range(4)}
first, (second, third) = 1, (2, 3)
name = record['name'].strip().upper()
joined = '-'.join(w.strip() for w in 'a, b ,c'.split(','))
greeting = 'Merhaba {}, {who}'.format(name.lower(), who='hoş geldin').replace('hoş', 'HOŞ')
starts = name.startswith('AY')
label = f'{name}: {total:>4} {amount!r}'
record['seen'] = True
record['tags'].append('b')
counts = {'x': 1}
counts['x'] += 2
try:
    ratio = 1 / 0
except (ZeroDivisionError, ValueError):
    ratio = None
price = Decimal('10.50') + Decimal('0.25')
due = (date(2024, 1, 31) + timedelta(days=1)).isoformat()
year = datetime(2024, 5, 6, 7, 8).year
today_ok = date.today() > date(2024, 1, 1)
stats = [len(evens), min(evens), max(evens), sum(evens), abs(-3), round(2.5), sorted([3, 1, 2]), any(evens), all(evens)]
pairs = list(zip(evens, enumerate('ab')))
casts = [isinstance(total, int), bool(0), str(5), int('7'), float('1.5'), list((1, 2)), tuple([1]), set([1, 1])]
n = 0
while n < 3:
    n += 1
def double(value):
    return value * 2
doubled = double(21)
print('betiklerin konsolu yok')
"""


def check_allowed_results(data: dict[str, Any]) -> None:
    assert data["total"] == 30
    assert data["evens"] == [0, 2, 4, 6, 8]
    assert data["squares"] == {0: 0, 1: 1, 2: 4, 3: 9}
    assert (data["first"], data["second"], data["third"]) == (1, 2, 3)
    assert data["name"] == "AYŞE"
    assert data["joined"] == "a-b-c"
    assert data["greeting"] == "Merhaba ayşe, HOŞ geldin"
    assert data["starts"] is True
    assert data["label"] == "AYŞE:   30 150"
    assert data["record"] == {"name": " Ayşe ", "tags": ["a", "b"], "seen": True}
    assert data["counts"] == {"x": 3}
    assert data["ratio"] is None
    assert data["price"] == Decimal("10.75")
    assert data["due"] == "2024-02-01"
    assert data["year"] == 2024
    assert data["today_ok"] is True
    assert data["stats"] == [5, 0, 8, 20, 3, 2, [1, 2, 3], True, False]
    assert data["pairs"] == [(0, (0, "a")), (2, (1, "b"))]
    assert data["casts"] == [True, False, "5", 7, 1.5, [1, 2], (1,), {1}]
    assert data["n"] == 3
    assert data["doubled"] == 42
    assert "double" not in data  # functions are not data


def test_allowed_constructs_compile_and_compute() -> None:
    check_script(ALLOWED_SCRIPT)
    data = sample_data()
    SandboxEnvironment().run_script(ALLOWED_SCRIPT, data)
    check_allowed_results(data)
    assert not [key for key in data if key.startswith("_")]  # no machinery left in task data


def test_indented_script_body_runs() -> None:
    data: dict[str, Any] = {}
    SandboxEnvironment().run_script("\n    a = 1\n    b = a + 1\n", data)
    assert data == {"a": 1, "b": 2}


def test_evaluate_with_helpers_and_defaults() -> None:
    helpers = {"gun_sonra": lambda n: (date(2024, 1, 1) + timedelta(days=n)).isoformat()}
    assert evaluate(" gun_sonra(amount // 50) ", sample_data(), helpers=helpers) == "2024-01-04"
    assert evaluate("['mudur', record['name'].strip().lower()]", sample_data()) == ["mudur", "ayşe"]
    assert DEFAULT_TIME_LIMIT == 2.0


# --- through SpiffWorkflow ------------------------------------------------------------------

DEFINITIONS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="defs"
                  targetNamespace="http://kalem.test/scripting">
{process}
</bpmn:definitions>"""

SCRIPT_PROCESS = """  <bpmn:process id="script_process" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="to_script" sourceRef="start" targetRef="script"/>
    <bpmn:scriptTask id="script" name="Betik">
      <bpmn:script>{script}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="to_end" sourceRef="script" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>"""

GATEWAY_PROCESS = """  <bpmn:process id="gateway_process" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="to_gateway" sourceRef="start" targetRef="gateway"/>
    <bpmn:exclusiveGateway id="gateway" default="to_small"/>
    <bpmn:sequenceFlow id="to_big" sourceRef="gateway" targetRef="big">
      <bpmn:conditionExpression>{condition}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="to_small" sourceRef="gateway" targetRef="small"/>
    <bpmn:scriptTask id="big"><bpmn:script>branch = 'big'</bpmn:script></bpmn:scriptTask>
    <bpmn:scriptTask id="small"><bpmn:script>branch = 'small'</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="big_to_end" sourceRef="big" targetRef="end"/>
    <bpmn:sequenceFlow id="small_to_end" sourceRef="small" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>"""


def workflow(process: str, process_id: str, data: dict[str, Any], **engine_options: Any) -> BpmnWorkflow:
    parser = SpiffBpmnParser(validator=VALIDATOR)
    parser.add_bpmn_str(DEFINITIONS.format(process=process).encode())
    result = BpmnWorkflow(parser.get_spec(process_id), script_engine=make_script_engine(**engine_options))
    result.get_next_task(state=TaskState.READY).data.update(copy.deepcopy(data))
    return result


def script_workflow(script: str, **engine_options: Any) -> BpmnWorkflow:
    return workflow(SCRIPT_PROCESS.format(script=escape(script)), "script_process", sample_data(), **engine_options)


def gateway_workflow(condition: str, data: dict[str, Any], **engine_options: Any) -> BpmnWorkflow:
    return workflow(GATEWAY_PROCESS.format(condition=escape(condition)), "gateway_process", data, **engine_options)


def task(flow: BpmnWorkflow, bpmn_id: str) -> Task:
    return next(t for t in flow.get_tasks() if t.task_spec.bpmn_id == bpmn_id)


SPIFF_SCRIPT_ESCAPES = [
    pytest.param("import os\nos.system('touch pwned.txt')", IMPORT, id="import"),
    pytest.param("open('pwned.txt', 'w').write('x')", "'open' kullanılamaz", id="open"),
    pytest.param(
        "x = 1\ns = '{0.__init__.__globals__}'.format(record)", f"{UNDERSCORE}: __init__", id="format-globals"
    ),
    pytest.param("c = ().__class__.__base__.__subclasses__()", f"{UNDERSCORE}: __class__", id="subclasses"),
    pytest.param("try:\n    x = 1\nexcept:\n    pass", "çıplak 'except:'", id="bare-except"),
    pytest.param("s = 'x' * 10**10", TOO_BIG, id="repetition"),
    pytest.param("record['k'] = 1\nwhile True:\n    pass", TIMEOUT_SCRIPT, id="while-true"),
    pytest.param(
        "while True:\n    try:\n        x = 1\n    except Exception:\n        pass", TIMEOUT_SCRIPT, id="try-in-loop"
    ),
]


@pytest.mark.parametrize(("script", "message"), SPIFF_SCRIPT_ESCAPES)
def test_hostile_script_task_fails_in_spiff(workdir: Path, script: str, message: str) -> None:
    flow = script_workflow(script, time_limit=FAST)
    started = time.monotonic()
    with pytest.raises(WorkflowTaskException) as caught:
        flow.do_engine_steps()
    assert message in str(caught.value)
    assert caught.value.line_number > 0
    assert time.monotonic() - started < FAST + SLACK
    failed = task(flow, "script")
    assert failed.state == TaskState.ERROR
    assert_nothing_left(workdir, failed.data)
    assert not flow.is_completed()


def test_spiff_script_error_points_at_the_line() -> None:
    flow = script_workflow("a = 1\nb = '{0.__class__}'.format(a)\nc = 3")
    with pytest.raises(WorkflowTaskException) as caught:
        flow.do_engine_steps()
    assert caught.value.line_number == 2
    assert caught.value.error_line == "b = '{0.__class__}'.format(a)"
    assert isinstance(caught.value.__cause__, ScriptFailed)


SPIFF_CONDITION_ESCAPES = [
    pytest.param("().__class__.__base__", f"{UNDERSCORE}: __class__", id="dunder"),
    pytest.param("'{0.__class__}'.format(amount) != ''", f"{UNDERSCORE}: __class__", id="format"),
    pytest.param("open('pwned.txt', 'w') is None", "'open' kullanılamaz", id="open"),
    pytest.param("len([1 for a in range(10**6) for b in range(10**6)]) > 0", TIMEOUT_EXPRESSION, id="spin"),
]


@pytest.mark.parametrize(("condition", "message"), SPIFF_CONDITION_ESCAPES)
def test_hostile_gateway_condition_fails_in_spiff(workdir: Path, condition: str, message: str) -> None:
    flow = gateway_workflow(condition, sample_data(), time_limit=FAST)
    started = time.monotonic()
    with pytest.raises(WorkflowTaskException) as caught:
        flow.do_engine_steps()
    assert message in str(caught.value)
    assert time.monotonic() - started < FAST + SLACK
    assert_nothing_left(workdir, task(flow, "gateway").data)
    assert not flow.is_completed()


def test_spiff_script_task_computes_values() -> None:
    flow = script_workflow(ALLOWED_SCRIPT)
    flow.do_engine_steps()
    assert flow.is_completed()
    check_allowed_results(task(flow, "script").data)


def test_engine_is_a_spiff_engine_and_cheap_to_create() -> None:
    started = time.monotonic()
    engines = [make_script_engine({"limit": lambda: 100}, time_limit=1.5) for _ in range(1000)]
    assert time.monotonic() - started < 0.5  # re-created after every load
    assert all(isinstance(engine, PythonScriptEngine) for engine in engines)


def test_spiff_helper_is_callable() -> None:
    helpers = {"is_gunu_sonra": lambda n, baslangic: (date.fromisoformat(baslangic) + timedelta(days=n)).isoformat()}
    flow = script_workflow("son_gun = is_gunu_sonra(3, '2024-03-01')", helpers=helpers)
    flow.do_engine_steps()
    assert task(flow, "script").data["son_gun"] == "2024-03-04"
    assert "is_gunu_sonra" not in task(flow, "script").data


@pytest.mark.parametrize(("amount", "branch"), [(150, "big"), (50, "small")])
def test_gateway_condition_picks_the_branch(amount: int, branch: str) -> None:
    flow = gateway_workflow("amount > limit()", {"amount": amount}, helpers={"limit": lambda: 100})
    flow.do_engine_steps()
    assert flow.is_completed()
    assert task(flow, "end").data == {"amount": amount, "branch": branch}
