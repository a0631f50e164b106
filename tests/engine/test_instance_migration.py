"""Moving running cases to a new process version: dry run, move, reasons, audit."""

from __future__ import annotations

import pytest
from factories import act, open_tasks, start

from engine import audit, definitions, instance_migration, instances, process_stats, tasks
from engine.errors import NotAllowed

TASK = (
    '<bpmn:userTask id="{id}" name="{name}">'
    "<bpmn:incoming>{inc}</bpmn:incoming><bpmn:outgoing>{out}</bpmn:outgoing></bpmn:userTask>"
)


def process(*steps: tuple[str, str]) -> bytes:
    """A straight line of user tasks in the idari_isler lane: start → steps… → end."""
    ids = [s[0] for s in steps]
    nodes = "".join(TASK.format(id=i, name=n, inc=f"f{k}", out=f"f{k + 1}") for k, (i, n) in enumerate(steps))
    flows = "".join(
        f'<bpmn:sequenceFlow id="f{k}" sourceRef="{src}" targetRef="{dst}"/>'
        for k, (src, dst) in enumerate(zip(["s", *ids], [*ids, "e"], strict=True))
    )
    refs = "".join(f"<bpmn:flowNodeRef>{i}</bpmn:flowNodeRef>" for i in ["s", *ids, "e"])
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="http://kalem.local">
  <bpmn:process id="tasima" name="Taşıma testi" isExecutable="true">
    <bpmn:laneSet id="ls"><bpmn:lane id="l" name="idari_isler">{refs}</bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="s"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>
    {nodes}
    <bpmn:endEvent id="e"><bpmn:incoming>f{len(steps)}</bpmn:incoming></bpmn:endEvent>
    {flows}
  </bpmn:process>
</bpmn:definitions>""".encode()


def deploy_version(db, *steps: tuple[str, str]) -> None:
    act(db, None, lambda s, a: definitions.deploy(s, a, [("tasima.bpmn", process(*steps))]))


def task_of(db, instance_id: int, bpmn_id: str) -> dict:
    [task] = [t for t in open_tasks(db, "idari1") if t["instance_id"] == instance_id and t["bpmn_id"] == bpmn_id]
    return task


def complete(db, instance_id: int, bpmn_id: str) -> None:
    task = task_of(db, instance_id, bpmn_id)
    act(db, "idari1", lambda s, a: tasks.complete(s, a, task["id"], {}))


@pytest.fixture
def two_cases(db):
    """Case A waits at "a" (claimed), case B at "b"; v2 renames "a" and drops "b"."""
    deploy_version(db, ("a", "Kayıt"), ("b", "Kontrol"))
    at_a, at_b = start(db, "tasima"), start(db, "tasima")
    claimed = task_of(db, at_a, "a")["id"]
    act(db, "idari1", lambda s, a: tasks.claim(s, a, claimed))
    complete(db, at_b, "a")
    deploy_version(db, ("a", "Kayıt (yeni)"))
    return at_a, at_b


def test_dry_run_says_who_can_move_and_why_not(db, two_cases) -> None:
    at_a, at_b = two_cases
    planned = act(db, "tasarimci1", lambda s, a: instance_migration.plan(s, a, "tasima", 2))
    by_id = {o.instance_id: o for o in planned}
    assert by_id[at_a].can_move and by_id[at_a].steps == {"a": "a"}
    assert not by_id[at_b].can_move and "'b'" in by_id[at_b].reasons[0]
    mapped = act(db, "tasarimci1", lambda s, a: instance_migration.plan(s, a, "tasima", 2, mapping={"b": "a"}))
    assert all(o.can_move for o in mapped)
    # A dry run changes nothing.
    again = act(db, "tasarimci1", lambda s, a: instance_migration.plan(s, a, "tasima", 2))
    assert [o.instance_id for o in again] == [at_a, at_b]


def test_moved_case_continues_on_the_new_version_and_keeps_its_claim(db, two_cases) -> None:
    at_a, at_b = two_cases
    outcomes = act(db, "tasarimci1", lambda s, a: instance_migration.migrate(s, a, "tasima", 2, [at_a, at_b]))
    assert [(o.instance_id, o.moved) for o in outcomes] == [(at_a, True), (at_b, False)]
    kept = task_of(db, at_a, "a")
    assert kept["assignee"] == "idari1" and kept["name"] == "Kayıt (yeni)"
    complete(db, at_a, "a")
    shown = act(db, "idari1", lambda s, a: instances.show(s, a, at_a).as_dict())
    assert shown["status"] == "completed"  # v1 would have gone on to "b"
    events = act(db, None, lambda s, a: audit.verify(s))
    assert events.ok


def test_mapping_moves_a_renamed_step(db, two_cases) -> None:
    _at_a, at_b = two_cases
    [outcome] = act(
        db, "tasarimci1", lambda s, a: instance_migration.migrate(s, a, "tasima", 2, [at_b], mapping={"b": "a"})
    )
    assert outcome.moved
    assert task_of(db, at_b, "a")["name"] == "Kayıt (yeni)"


def test_statistics_count_each_task_for_the_version_it_ran_in(db, two_cases) -> None:
    at_a, at_b = two_cases
    act(db, "tasarimci1", lambda s, a: instance_migration.migrate(s, a, "tasima", 2, [at_a, at_b], mapping={"b": "a"}))

    def per_task(version: int) -> list[tuple[str, int, int, int]]:
        rows = act(
            db, "tasarimci1", lambda s, a: process_stats.task_stats(s, a, "tasima", version, process_stats.period())
        )
        return sorted((r.bpmn_id, r.created, r.completed, r.open) for r in rows)

    # B finished "a" on v1: that stays with v1. The two open tasks moved on and belong to v2.
    assert per_task(1) == [("a", 1, 1, 0)]
    assert per_task(2) == [("a", 2, 0, 2)]


def test_only_designers_move_cases(db, two_cases) -> None:
    with pytest.raises(NotAllowed):
        act(db, "idari1", lambda s, a: instance_migration.plan(s, a, "tasima", 2))


def test_cli_dry_run_and_move(two_cases, db, monkeypatch) -> None:
    from click.testing import CliRunner

    from webui.cli import main

    monkeypatch.setenv("KALEM_DATABASE_URL", db.process_url)
    runner = CliRunner()
    args = ["migrate", "tasima", "--to", "2", "--as", "tasarimci1"]
    dry = runner.invoke(main, [*args, "--dry-run"], catch_exceptions=False)
    assert dry.exit_code == 0 and "taşınabilir" in dry.stdout and "kalıyor" in dry.stdout
    moved = runner.invoke(main, [*args, "--map", "b=a"], catch_exceptions=False)
    assert moved.exit_code == 0 and moved.stdout.count("taşındı") == 2
    denied = runner.invoke(main, ["migrate", "tasima", "--to", "2", "--as", "idari1"])
    assert denied.exit_code == 4
