"""BPMN XML as a process designer sees it: element summaries and the diff between two files, a simple
left-to-right layout for files that have no diagram, and the template of a new process.

Pure XML work (lxml with the engine's hardened parser); nothing here executes a process or touches
the database. The engine's deploy checks stay the only judge of whether a file is valid.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from lxml import etree

from engine.runtime.parser import SAFE_XML_PARSER

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"

# Elements a designer thinks of as "the steps and arrows" of a flow.
CONTAINERS = {"process", "subProcess", "transaction", "adHocSubProcess"}
SHAPES = {"callActivity", *CONTAINERS - {"process"}}
OTHER_ELEMENTS = {"sequenceFlow", "lane", "participant", "messageFlow", "dataObjectReference", "dataStoreReference"}


def _local(el: Any) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _ns(el: Any) -> str:
    return etree.QName(el).namespace or "" if isinstance(el.tag, str) else ""


def is_flow_node(local: str) -> bool:
    """Whether a BPMN element name (``userTask``, ``endEvent``, …) is a step drawn as a shape."""
    return local.endswith(("Task", "Event", "Gateway")) or local in SHAPES


def parse(xml: bytes | str) -> Any:
    """Parse untrusted BPMN XML (no entities, no network); raises ``etree.XMLSyntaxError``."""
    return etree.fromstring(xml.encode("utf-8") if isinstance(xml, str) else xml, SAFE_XML_PARSER)


def _text(el: Any) -> str:
    return (el.text or "").strip()


# --- element summaries and diff ---------------------------------------------------------------------


@dataclass
class Element:
    """What a designer would call one element's settings: its type, name, lane, flows and properties."""

    id: str
    type: str
    name: str = ""
    lane: str = ""
    flows: str = ""
    source: str = ""
    target: str = ""
    properties: dict[str, str] = field(default_factory=dict)


@dataclass
class FieldChange:
    what: str
    old: str
    new: str


@dataclass
class ElementChange:
    element_id: str
    status: str  # "added", "removed" or "changed"
    type: str
    name: str
    changes: list[FieldChange] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "element_id": self.element_id,
            "status": self.status,
            "type": self.type,
            "name": self.name,
            "changes": [c.__dict__ for c in self.changes],
        }


def _own_parts(el: Any) -> Any:
    """Descendants of ``el`` that belong to it, not to a nested step, flow or lane."""
    for child in el:
        local = _local(child)
        if not local:
            continue
        if child.get("id") and (
            is_flow_node(local) or local in OTHER_ELEMENTS or local in CONTAINERS or local == "laneSet"
        ):
            continue
        yield child
        yield from _own_parts(child)


def _spiff_part(child: Any, props: dict[str, str]) -> None:
    local = _local(child)
    if local == "property" and child.get("name"):
        props[child.get("name")] = child.get("value", "")
    elif local == "serviceTaskOperator":
        props["handler"] = child.get("id", "")
        if child.get("resultVariable"):
            props["resultVariable"] = child.get("resultVariable", "")
    elif local == "parameter" and child.get("id"):
        props[f"parameter:{child.get('id')}"] = child.get("value", "")
    elif local in ("preScript", "postScript", "calledDecisionId", "messageVariable"):
        props[local] = _text(child)


def _bpmn_part(child: Any, props: dict[str, str]) -> None:
    local = _local(child)
    if local == "script":
        props["script"] = _text(child)
    elif local == "conditionExpression":
        props["condition"] = _text(child)
    elif local in ("timeDate", "timeDuration", "timeCycle"):
        props["timer"] = f"{local}: {_text(child)}"
    elif local.endswith("EventDefinition"):
        props.setdefault("event", local.removesuffix("EventDefinition"))
    elif local in ("loopCardinality", "completionCondition", "loopCondition", "loopDataInputRef", "loopDataOutputRef"):
        props[local] = _text(child)
    elif local in ("inputDataItem", "outputDataItem"):
        props[local] = child.get("name") or child.get("id", "")
    elif local == "multiInstanceLoopCharacteristics":
        props["multiInstance"] = "sequential" if child.get("isSequential") == "true" else "parallel"


def _properties(el: Any) -> dict[str, str]:
    """Extension properties, scripts, conditions, timers and call targets of one element."""
    props: dict[str, str] = {}
    for attr, value in el.attrib.items():
        name = etree.QName(attr)
        if name.namespace == CAMUNDA:
            props[name.localname] = value
        elif attr in ("calledElement", "default", "attachedToRef") or (attr, value) == ("cancelActivity", "false"):
            # cancelActivity="true" is the default, whether written or not.
            props[attr] = value
    for child in _own_parts(el):
        if _ns(child) == SPIFF:
            _spiff_part(child, props)
        elif _ns(child) == BPMN:
            _bpmn_part(child, props)
    return props


def summarize(xml: bytes | str) -> dict[str, Element]:
    """Every step, flow, lane and pool of a BPMN file by id (the diagram's layout is left out)."""
    root = parse(xml)
    elements: dict[str, Element] = {}
    lanes: dict[str, str] = {}
    incoming: dict[str, list[str]] = defaultdict(list)
    outgoing: dict[str, list[str]] = defaultdict(list)
    for el in root.iter():
        local = _local(el)
        if _ns(el) != BPMN or not el.get("id"):
            continue
        if local == "lane":
            for ref in el.iter(f"{{{BPMN}}}flowNodeRef"):
                lanes[_text(ref)] = el.get("name") or el.get("id")
        if local not in OTHER_ELEMENTS and local not in CONTAINERS and not is_flow_node(local):
            continue
        element = Element(el.get("id"), local, el.get("name") or "", properties=_properties(el))
        if local == "sequenceFlow":
            source, target = el.get("sourceRef", ""), el.get("targetRef", "")
            outgoing[source].append(target)
            incoming[target].append(source)
            element.flows = f"{source} → {target}"
            element.source, element.target = source, target
        elements[element.id] = element
    for element_id, element in elements.items():
        element.lane = lanes.get(element_id, "")
        if is_flow_node(element.type):
            ins, outs = sorted(incoming.get(element_id, [])), sorted(outgoing.get(element_id, []))
            element.flows = f"{', '.join(ins) or '—'} → {', '.join(outs) or '—'}"
    return elements


def diff(old_xml: bytes | str, new_xml: bytes | str) -> list[ElementChange]:
    """Elements added, removed and changed (by id) between two BPMN files, in document order."""
    old, new = summarize(old_xml), summarize(new_xml)
    changes: list[ElementChange] = []
    for element_id, after in new.items():
        before = old.get(element_id)
        if before is None:
            changes.append(ElementChange(element_id, "added", after.type, after.name))
            continue
        found = [
            FieldChange(what, a, b)
            for what, a, b in (
                ("type", before.type, after.type),
                ("name", before.name, after.name),
                ("lane", before.lane, after.lane),
                ("flows", before.flows, after.flows),
            )
            if a != b
        ]
        for key in sorted(before.properties.keys() | after.properties.keys()):
            a, b = before.properties.get(key, ""), after.properties.get(key, "")
            if a != b:
                found.append(FieldChange(f"property:{key}", a, b))
        if found:
            changes.append(ElementChange(element_id, "changed", after.type, after.name, found))
    changes += [
        ElementChange(element_id, "removed", before.type, before.name)
        for element_id, before in old.items()
        if element_id not in new
    ]
    return changes


# --- layout for files without a diagram -------------------------------------------------------------

SIZES = {"event": (36, 36), "gateway": (50, 50), "activity": (100, 80)}
COLUMN, ROW, LEFT, TOP, LANE_HEADER = 160, 110, 200, 60, 30


def _size(local: str) -> tuple[int, int]:
    if local.endswith("Event"):
        return SIZES["event"]
    if local.endswith("Gateway"):
        return SIZES["gateway"]
    return SIZES["activity"]


def has_diagram(root: Any) -> bool:
    """Whether a parsed BPMN file has at least one diagram shape."""
    return root.find(f".//{{{BPMNDI}}}BPMNShape") is not None


def _forward_edges(nodes: list[str], edges: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """The edges of a depth-first walk from the starts that do not close a loop."""
    succ: dict[str, list[str]] = defaultdict(list)
    known = set(nodes)
    for src, dst in edges:
        if src in known and dst in known:
            succ[src].append(dst)
    on_path: dict[str, bool] = {}
    forward: set[tuple[str, str]] = set()
    targets = {dst for _src, dst in edges}
    for start in [n for n in nodes if n not in targets] + nodes:
        if start in on_path:
            continue
        on_path[start] = True
        stack = [(start, iter(succ[start]))]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                on_path[node] = False
                stack.pop()
            elif not on_path.get(child, False):
                forward.add((node, child))
                if child not in on_path:
                    on_path[child] = True
                    stack.append((child, iter(succ[child])))
    return forward


def _columns(nodes: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    """Column of each node: longest path from the starts, back edges (loops) ignored."""
    forward = _forward_edges(nodes, edges)
    indegree = dict.fromkeys(nodes, 0)
    fwd: dict[str, list[str]] = defaultdict(list)
    for src, dst in forward:
        fwd[src].append(dst)
        indegree[dst] += 1
    column = dict.fromkeys(nodes, 0)
    ready = [n for n in nodes if indegree[n] == 0]
    while ready:
        node = ready.pop()
        for dst in fwd[node]:
            column[dst] = max(column[dst], column[node] + 1)
            indegree[dst] -= 1
            if indegree[dst] == 0:
                ready.append(dst)
    return column


def _with_di_namespaces(root: Any) -> Any:
    """The same document with the bpmndi/dc/di prefixes declared on its root element."""
    nsmap = {**root.nsmap, "bpmndi": BPMNDI, "dc": DC, "di": DI}
    if all(root.nsmap.get(p) == u for p, u in nsmap.items() if p in ("bpmndi", "dc", "di")):
        return root
    new_root = etree.Element(root.tag, nsmap=nsmap)
    for key, value in root.attrib.items():
        new_root.set(key, value)
    new_root.text = root.text
    for child in list(root):
        new_root.append(child)
    return new_root


def ensure_diagram(xml: bytes | str) -> bytes:
    """The file unchanged when it has a diagram, else with a generated left-to-right one (lanes as
    rows of a pool) so that the modeler can show and edit it."""
    root = parse(xml)
    raw = xml.encode("utf-8") if isinstance(xml, str) else xml
    if has_diagram(root):
        return raw
    processes = list(root.findall(f"{{{BPMN}}}process"))
    if not processes:
        return raw
    process = next((p for p in processes if p.get("isExecutable") == "true"), processes[0])
    root = _with_di_namespaces(root)
    participant = _participant(root, process)
    for old in root.findall(f"{{{BPMNDI}}}BPMNDiagram"):
        root.remove(old)
    diagram = etree.SubElement(root, f"{{{BPMNDI}}}BPMNDiagram", id=f"Diagram_{process.get('id')}")
    plane_target = participant.getparent().get("id") if participant is not None else process.get("id")
    plane = etree.SubElement(diagram, f"{{{BPMNDI}}}BPMNPlane", id=f"Plane_{process.get('id')}")
    plane.set("bpmnElement", plane_target)
    _layout(process, plane, participant)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _participant(root: Any, process: Any) -> Any | None:
    """The pool showing ``process``; one is added when the process has lanes but no pool."""
    for participant in root.iter(f"{{{BPMN}}}participant"):
        if participant.get("processRef") == process.get("id"):
            return participant
    if process.find(f"{{{BPMN}}}laneSet") is None:
        return None
    collaboration = etree.Element(f"{{{BPMN}}}collaboration", id=f"Collaboration_{process.get('id')}")
    participant = etree.SubElement(collaboration, f"{{{BPMN}}}participant", id=f"Participant_{process.get('id')}")
    participant.set("name", process.get("name") or process.get("id"))
    participant.set("processRef", process.get("id"))
    root.insert(list(root).index(process), collaboration)
    return participant


def _shape(plane: Any, element_id: str, x: float, y: float, w: float, h: float, **attrs: str) -> None:
    shape = etree.SubElement(plane, f"{{{BPMNDI}}}BPMNShape", id=f"{element_id}_di", bpmnElement=element_id)
    for key, value in attrs.items():
        shape.set(key, value)
    etree.SubElement(shape, f"{{{DC}}}Bounds", x=str(int(x)), y=str(int(y)), width=str(int(w)), height=str(int(h)))


def _layout(process: Any, plane: Any, participant: Any | None) -> None:
    children = [c for c in process if _ns(c) == BPMN]
    nodes = [c for c in children if is_flow_node(_local(c)) and _local(c) != "boundaryEvent"]
    flows = [c for c in children if _local(c) == "sequenceFlow"]
    ids = [n.get("id") for n in nodes]
    # A boundary event sits on its host: what follows it goes to the right of the host.
    boundaries = {c.get("id"): c.get("attachedToRef", "") for c in children if _local(c) == "boundaryEvent"}
    edges = [(f.get("sourceRef"), f.get("targetRef")) for f in flows]
    edges = [(boundaries.get(src, src), dst) for src, dst in edges]
    column = _columns(ids, edges)
    lanes = list(process.iter(f"{{{BPMN}}}lane"))
    lane_of = {_text(ref): lane.get("id") for lane in lanes for ref in lane.iter(f"{{{BPMN}}}flowNodeRef")}
    bands = [lane.get("id") for lane in lanes] or [""]
    stacks: dict[tuple[str, int], int] = defaultdict(int)
    slot: dict[str, tuple[str, int, int]] = {}
    for node_id in ids:
        band = lane_of.get(node_id, bands[0])
        key = (band, column[node_id])
        slot[node_id] = (band, column[node_id], stacks[key])
        stacks[key] += 1
    heights = {b: max([stacks[k] for k in stacks if k[0] == b] or [1]) * ROW + 20 for b in bands}
    tops, y = {}, TOP
    for band in bands:
        tops[band] = y
        y += heights[band]
    width = (max(column.values(), default=0) + 1) * COLUMN + 120
    if participant is not None:
        _shape(plane, participant.get("id"), LEFT - 80, TOP, width + 80, y - TOP, isHorizontal="true")
        for lane in lanes:
            _shape(plane, lane.get("id"), LEFT - 50, tops[lane.get("id")], width + 50, heights[lane.get("id")])
            plane[-1].set("isHorizontal", "true")
    bounds: dict[str, tuple[float, float, float, float]] = {}
    for node in nodes:
        band, col, row = slot[node.get("id")]
        w, h = _size(_local(node))
        x = LEFT + 30 + col * COLUMN + (100 - w) / 2
        top = tops[band] + 20 + row * ROW + (80 - h) / 2
        bounds[node.get("id")] = (x, top, w, h)
        _shape(plane, node.get("id"), x, top, w, h)
    for boundary in (c for c in children if _local(c) == "boundaryEvent"):
        host = bounds.get(boundary.get("attachedToRef", ""))
        if host is not None:
            bounds[boundary.get("id")] = (host[0] + host[2] - 30, host[1] + host[3] - 18, 36, 36)
            _shape(plane, boundary.get("id"), *bounds[boundary.get("id")])
    for flow in flows:
        _edge(plane, flow, bounds)


def _edge(plane: Any, flow: Any, bounds: Mapping[str, tuple[float, float, float, float]]) -> None:
    source, target = bounds.get(flow.get("sourceRef", "")), bounds.get(flow.get("targetRef", ""))
    if source is None or target is None:
        return
    sx, sy = source[0] + source[2], source[1] + source[3] / 2
    tx, ty = target[0], target[1] + target[3] / 2
    if tx <= sx:  # a loop back: leave from below and come back from below
        sx, sy = source[0] + source[2] / 2, source[1] + source[3]
        tx, ty = target[0] + target[2] / 2, target[1] + target[3]
        low = max(sy, ty) + 25
        points = [(sx, sy), (sx, low), (tx, low), (tx, ty)]
    elif abs(sy - ty) < 1:
        points = [(sx, sy), (tx, ty)]
    else:
        mid = (sx + tx) / 2
        points = [(sx, sy), (mid, sy), (mid, ty), (tx, ty)]
    edge = etree.SubElement(plane, f"{{{BPMNDI}}}BPMNEdge", id=f"{flow.get('id')}_di", bpmnElement=flow.get("id"))
    for x, y in points:
        etree.SubElement(edge, f"{{{DI}}}waypoint", x=str(int(x)), y=str(int(y)))


# --- the new-process template -----------------------------------------------------------------------


def new_process(key: str, name: str, group: str, form_key: str) -> str:
    """A minimal valid process: a pool with one lane (``group``), start → a user task with the form
    ``form_key`` → end, with its diagram."""
    q_name = quoteattr(name)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="{BPMN}" xmlns:bpmndi="{BPMNDI}" xmlns:dc="{DC}" xmlns:di="{DI}"
                  xmlns:spiffworkflow="{SPIFF}" id="Definitions_{key}" targetNamespace="http://kalem.local/bpmn">
  <bpmn:collaboration id="Collaboration_{key}">
    <bpmn:participant id="Participant_{key}" name={q_name} processRef="{key}" />
  </bpmn:collaboration>
  <bpmn:process id="{key}" name={q_name} isExecutable="true">
    <bpmn:laneSet id="LaneSet_{key}">
      <bpmn:lane id="Lane_{group}" name="{group}">
        <bpmn:flowNodeRef>Start_{key}</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>Task_ilk_adim</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>End_{key}</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="Start_{key}" name="Başladı"><bpmn:outgoing>Flow_1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="Task_ilk_adim" name="İlk adım">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formKey" value="{escape(form_key)}" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>Flow_1</bpmn:incoming>
      <bpmn:outgoing>Flow_2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="End_{key}" name="Bitti"><bpmn:incoming>Flow_2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="Start_{key}" targetRef="Task_ilk_adim" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Task_ilk_adim" targetRef="End_{key}" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="Diagram_{key}">
    <bpmndi:BPMNPlane id="Plane_{key}" bpmnElement="Collaboration_{key}">
      <bpmndi:BPMNShape id="Participant_{key}_di" bpmnElement="Participant_{key}" isHorizontal="true">
        <dc:Bounds x="120" y="60" width="560" height="180" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Lane_{group}_di" bpmnElement="Lane_{group}" isHorizontal="true">
        <dc:Bounds x="150" y="60" width="530" height="180" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Start_{key}_di" bpmnElement="Start_{key}">
        <dc:Bounds x="212" y="132" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Task_ilk_adim_di" bpmnElement="Task_ilk_adim">
        <dc:Bounds x="320" y="110" width="100" height="80" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="End_{key}_di" bpmnElement="End_{key}">
        <dc:Bounds x="502" y="132" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="Flow_1_di" bpmnElement="Flow_1">
        <di:waypoint x="248" y="150" />
        <di:waypoint x="320" y="150" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_2_di" bpmnElement="Flow_2">
        <di:waypoint x="420" y="150" />
        <di:waypoint x="502" y="150" />
      </bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


def new_form(key: str, title: str) -> str:
    """A starter form for a new process: one required text field, to be edited in the form designer."""
    document = {
        "key": key,
        "title": title,
        "fields": [{"name": "aciklama", "type": "text", "label": "Açıklama", "required": True}],
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def form_keys(xml: bytes | str) -> set[str]:
    """The form keys a BPMN file's tasks and start events name (spiff property or Camunda attribute)."""
    root = parse(xml)
    keys = {
        el.get("value", "")
        for el in root.iter(f"{{{SPIFF}}}property")
        if el.get("name") == "formKey" and el.get("value")
    }
    keys |= {el.get(f"{{{CAMUNDA}}}formKey", "") for el in root.iter() if el.get(f"{{{CAMUNDA}}}formKey")}
    return keys


def process_ids(xml: bytes | str) -> list[str]:
    """The ids of the processes a BPMN file defines, in document order."""
    return [p.get("id") for p in parse(xml).iter(f"{{{BPMN}}}process") if p.get("id")]
