"""The case data an instance shows (instance page, API, deadline policy, reports) while parallel
branches run: a join waiting for its other branch holds no data and must not blank the case."""

from __future__ import annotations

from factories import act, open_tasks, start

from engine import definitions, instances, tasks

TASK = (
    '<bpmn:userTask id="{id}" name="{id}"><bpmn:incoming>{inc}</bpmn:incoming>'
    "<bpmn:outgoing>{out}</bpmn:outgoing></bpmn:userTask>"
)
PARALLEL = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="http://kalem.local">
  <bpmn:process id="paralel" name="Paralel" isExecutable="true">
    <bpmn:laneSet id="ls"><bpmn:lane id="l" name="idari_isler">
      <bpmn:flowNodeRef>s</bpmn:flowNodeRef><bpmn:flowNodeRef>split</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>a</bpmn:flowNodeRef><bpmn:flowNodeRef>b</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>join</bpmn:flowNodeRef><bpmn:flowNodeRef>c</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>e</bpmn:flowNodeRef>
    </bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="s"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>
    <bpmn:parallelGateway id="split"><bpmn:incoming>f0</bpmn:incoming>
      <bpmn:outgoing>f1</bpmn:outgoing><bpmn:outgoing>f2</bpmn:outgoing></bpmn:parallelGateway>
    {TASK.format(id="a", inc="f1", out="f3")}
    {TASK.format(id="b", inc="f2", out="f4")}
    <bpmn:parallelGateway id="join"><bpmn:incoming>f3</bpmn:incoming><bpmn:incoming>f4</bpmn:incoming>
      <bpmn:outgoing>f5</bpmn:outgoing></bpmn:parallelGateway>
    {TASK.format(id="c", inc="f5", out="f6")}
    <bpmn:endEvent id="e"><bpmn:incoming>f6</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="split"/>
    <bpmn:sequenceFlow id="f1" sourceRef="split" targetRef="a"/>
    <bpmn:sequenceFlow id="f2" sourceRef="split" targetRef="b"/>
    <bpmn:sequenceFlow id="f3" sourceRef="a" targetRef="join"/>
    <bpmn:sequenceFlow id="f4" sourceRef="b" targetRef="join"/>
    <bpmn:sequenceFlow id="f5" sourceRef="join" targetRef="c"/>
    <bpmn:sequenceFlow id="f6" sourceRef="c" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>""".encode()


def complete(db, instance_id: int, bpmn_id: str, data: dict) -> None:
    [task] = [t for t in open_tasks(db, "idari1") if t["instance_id"] == instance_id and t["bpmn_id"] == bpmn_id]
    act(db, "idari1", lambda s, a: tasks.complete(s, a, task["id"], data))


def case_data(db, instance_id: int) -> dict:
    return act(db, None, lambda s, a: instances.show(s, a, instance_id).as_dict())["data"]


def test_a_waiting_join_does_not_blank_the_case_data(db) -> None:
    act(db, None, lambda s, a: definitions.deploy(s, a, [("paralel.bpmn", PARALLEL)]))
    instance_id = start(db, "paralel", data={"yasal_son_tarih": "2026-06-11T17:30:00+03:00"})
    complete(db, instance_id, "a", {"a_sonucu": "tamam"})
    # "a" is done and the join waits for "b": the case still shows its data (the legal due too).
    assert case_data(db, instance_id)["yasal_son_tarih"] == "2026-06-11T17:30:00+03:00"
    complete(db, instance_id, "b", {"b_sonucu": "tamam"})
    shown = case_data(db, instance_id)
    assert shown["a_sonucu"] == shown["b_sonucu"] == "tamam"
