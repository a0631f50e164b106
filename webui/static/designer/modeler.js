/* Kalem's process modeler: bpmn-js (served from /static/vendor) with a small properties panel for
   Kalem's extension properties, checks shown on the diagram, drafts, deploys, upload and download.

   Extension properties are kept as bpmn-moddle "generic" elements (no moddle descriptor is
   registered for the spiffworkflow namespace), so every spiffworkflow element this panel does not
   know (scripts, parameters, decisions) survives an edit untouched. Every change goes through
   bpmn-js commands, so undo/redo (Ctrl+Z / Ctrl+Y) covers the panel too. */
(function () {
  "use strict";
  var container = document.getElementById("modeler");
  if (!container) { return; }

  var SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core";
  var T = JSON.parse(document.getElementById("designer-texts").textContent);
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var statusBox = document.getElementById("designer-status");
  var state = {
    name: container.getAttribute("data-name"),
    baseVersion: container.getAttribute("data-base-version") || null,
    draftId: container.getAttribute("data-draft-id") || null,
    dirty: false,
    selected: null
  };

  function status(text, kind, links) {
    statusBox.className = "designer-status " + (kind || "info");
    statusBox.textContent = text;
    (links || []).forEach(function (link) {
      var a = document.createElement("a");
      a.href = link.href;
      a.textContent = link.label;
      a.className = "btn small";
      statusBox.appendChild(document.createTextNode(" "));
      statusBox.appendChild(a);
    });
  }

  if (typeof window.BpmnJS !== "function") {
    status(T.no_modeler, "error");
    container.setAttribute("data-ready", "missing");
    return;
  }

  var modeler = new window.BpmnJS({ container: container, keyboard: { bindTo: document } });
  var canvas = modeler.get("canvas");
  var registry = modeler.get("elementRegistry");
  var modeling = modeler.get("modeling");
  var moddle = modeler.get("moddle");
  var overlays = modeler.get("overlays");
  var eventBus = modeler.get("eventBus");
  var selection = modeler.get("selection");
  var elementFactory = modeler.get("elementFactory");
  var bpmnFactory = modeler.get("bpmnFactory");
  var spaceTool = modeler.get("spaceTool");

  // --- extension properties (spiffworkflow:properties / spiffworkflow:property) --------------------

  function bo(element) { return element.businessObject; }
  function is(element, type) { return bo(element) && bo(element).$instanceOf && bo(element).$instanceOf(type); }

  function extensionValues(element) {
    var ext = bo(element).extensionElements;
    return ext ? (ext.get("values") || []) : [];
  }

  function findGeneric(element, type) {
    return extensionValues(element).filter(function (v) { return v.$type === type; })[0] || null;
  }

  function ensureGeneric(element, type) {
    var found = findGeneric(element, type);
    if (found) { return found; }
    var ext = bo(element).extensionElements;
    if (!ext) {
      ext = moddle.create("bpmn:ExtensionElements", { values: [] });
      ext.$parent = bo(element);
      modeling.updateProperties(element, { extensionElements: ext });
    }
    var created = moddle.createAny(type, SPIFF, {});
    created.$children = [];
    created.$parent = ext;
    modeling.updateModdleProperties(element, ext, { values: (ext.get("values") || []).concat([created]) });
    return created;
  }

  function getProperty(element, name) {
    var props = findGeneric(element, "spiffworkflow:properties");
    var item = props && (props.$children || []).filter(function (c) { return c.name === name; })[0];
    if (item) { return item.value || ""; }
    var camunda = (bo(element).$attrs || {})["camunda:" + name];
    return camunda || "";
  }

  function setProperty(element, name, value) {
    var props = findGeneric(element, "spiffworkflow:properties");
    var children = props ? (props.$children || []) : [];
    var item = children.filter(function (c) { return c.name === name; })[0];
    if (!value) {
      if (item) { modeling.updateModdleProperties(element, props, { $children: children.filter(function (c) { return c !== item; }) }); }
      return;
    }
    if (item) {
      modeling.updateModdleProperties(element, item, { value: value });
      return;
    }
    props = ensureGeneric(element, "spiffworkflow:properties");
    var created = moddle.createAny("spiffworkflow:property", SPIFF, { name: name, value: value });
    created.$parent = props;
    modeling.updateModdleProperties(element, props, { $children: (props.$children || []).concat([created]) });
  }

  function getHandler(element) {
    var operator = findGeneric(element, "spiffworkflow:serviceTaskOperator");
    return operator ? (operator.id || "") : getProperty(element, "handler");
  }

  function setHandler(element, value) {
    var operator = findGeneric(element, "spiffworkflow:serviceTaskOperator");
    if (operator) {
      modeling.updateModdleProperties(element, operator, { id: value });
    } else if (value) {
      operator = ensureGeneric(element, "spiffworkflow:serviceTaskOperator");
      modeling.updateModdleProperties(element, operator, { id: value });
    }
  }

  // --- the panel ------------------------------------------------------------------------------------

  var form = document.getElementById("panel-form");
  var empty = document.getElementById("panel-empty");

  function sections(element) {
    var shown = {};
    if (is(element, "bpmn:Lane")) { shown.lane = true; }
    if (is(element, "bpmn:UserTask") || is(element, "bpmn:StartEvent")) { shown.form = true; }
    if (is(element, "bpmn:UserTask")) { shown.usertask = true; }
    if (is(element, "bpmn:ServiceTask")) { shown.servicetask = true; }
    if (is(element, "bpmn:FlowNode") && (element.outgoing || []).length) { shown.insert = true; }
    return shown;
  }

  function render(element) {
    state.selected = element;
    if (!element || element === canvas.getRootElement() || element.type === "label") {
      form.hidden = true;
      empty.hidden = false;
      return;
    }
    form.hidden = false;
    empty.hidden = true;
    var shown = sections(element);
    Array.prototype.forEach.call(form.querySelectorAll("[data-for]"), function (block) {
      block.hidden = !shown[block.getAttribute("data-for")];
    });
    document.getElementById("panel-type").textContent = (T.types || {})[element.type] || element.type;
    document.getElementById("p-id").value = bo(element).id || "";
    document.getElementById("p-name").value = bo(element).name || "";
    document.getElementById("p-lane").value = is(element, "bpmn:Lane") ? (bo(element).name || "") : "";
    Array.prototype.forEach.call(form.querySelectorAll("[data-ext]"), function (input) {
      input.value = getProperty(element, input.getAttribute("data-ext"));
    });
    document.getElementById("p-handler").value = is(element, "bpmn:ServiceTask") ? getHandler(element) : "";
    document.getElementById("p-formKey-pick").value = "";
  }

  function apply(input) {
    var element = state.selected;
    if (!element) { return; }
    var value = input.value.trim();
    try {
      if (input.getAttribute("data-ext")) {
        setProperty(element, input.getAttribute("data-ext"), value);
      } else if (input.getAttribute("data-prop") === "id") {
        if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(value)) { throw new Error("id"); }
        if (value !== bo(element).id) { modeling.updateProperties(element, { id: value }); }
      } else if (input.getAttribute("data-prop") === "name" || input.getAttribute("data-prop") === "lane-group") {
        modeling.updateProperties(element, { name: value || undefined });
      } else if (input.getAttribute("data-prop") === "handler") {
        setHandler(element, value);
      }
    } catch (err) {
      status(T.error + (err && err.message === "id" ? "id" : String(err && err.message || err)), "error");
      render(element);
    }
  }

  Array.prototype.forEach.call(form.querySelectorAll("[data-ext], [data-prop]"), function (input) {
    input.addEventListener("change", function () { apply(input); });
  });
  document.getElementById("p-formKey-pick").addEventListener("change", function (event) {
    if (!event.target.value) { return; }
    var input = document.getElementById("p-formKey");
    input.value = event.target.value;
    apply(input);
  });
  document.getElementById("p-groups-pick").addEventListener("change", function (event) {
    var codes = Array.prototype.filter.call(event.target.options, function (o) { return o.selected; })
      .map(function (o) { return o.value; });
    var input = document.getElementById("p-candidateGroups");
    input.value = codes.length ? "'" + codes.join(",") + "'" : "";
    apply(input);
  });

  eventBus.on("selection.changed", function (event) { render(event.newSelection[0] || null); });
  eventBus.on("elements.changed", function () {
    if (state.selected && registry.get(state.selected.id)) { render(state.selected); }
  });
  eventBus.on("commandStack.changed", function () { state.dirty = true; });

  // --- insert a user task after the selected step ----------------------------------------------------

  function freshId(prefix) {
    var n = 1;
    while (registry.get(prefix + n)) { n += 1; }
    return prefix + n;
  }

  function insertAfter(element) {
    var flows = (element.outgoing || []).filter(function (c) { return is(c, "bpmn:SequenceFlow"); });
    if (flows.length !== 1) {
      status(T.insert_needs_one_flow, "error");
      return null;
    }
    var flow = flows[0];
    var target = flow.target;
    var start = element.x + element.width + 1;
    var others = registry.filter(function (e) { return e !== canvas.getRootElement(); });
    var room = spaceTool.calculateAdjustments(others, "x", 160, start);
    modeling.createSpace(room.movingShapes, room.resizingShapes, { x: 160, y: 0 }, "e", start);
    var businessObject = bpmnFactory.create("bpmn:UserTask", { id: freshId("Task_yeni_"), name: T.new_task });
    var shape = elementFactory.createShape({ type: "bpmn:UserTask", businessObject: businessObject });
    var position = { x: element.x + element.width + 80 + 50, y: element.y + element.height / 2 };
    shape = modeling.createShape(shape, position, element.parent);
    modeling.reconnectEnd(flow, shape, { x: shape.x, y: shape.y + shape.height / 2 });
    modeling.connect(shape, target);
    selection.select(shape);
    return shape;
  }

  document.getElementById("btn-insert").addEventListener("click", function () {
    if (state.selected) { insertAfter(state.selected); }
  });

  // --- checks shown on the diagram ------------------------------------------------------------------

  var problemList = document.getElementById("problems");
  var problemsEmpty = document.getElementById("problems-empty");

  function clearProblems() {
    registry.forEach(function (e) { canvas.removeMarker(e, "kalem-problem"); });
    overlays.remove({ type: "kalem-problem" });
    problemList.innerHTML = "";
  }

  function showProblems(problems) {
    clearProblems();
    problemsEmpty.hidden = problems.length > 0;
    problemsEmpty.textContent = problems.length ? "" : T.valid;
    problems.forEach(function (p) {
      var li = document.createElement("li");
      var where = p.element_id || "";
      var element = p.element_id && p.file === state.name ? registry.get(p.element_id) : null;
      if (p.file !== state.name) { where = p.file + (where ? " [" + where + "]" : "") + " (" + T.other_file + ")"; }
      li.textContent = (where ? where + ": " : "") + p.message + (p.line ? " (" + p.line + ")" : "");
      if (element) {
        li.setAttribute("data-element-id", element.id);
        li.tabIndex = 0;
        li.className = "on-diagram";
        li.addEventListener("click", function () {
          selection.select(element);
          canvas.scrollToElement(element);
        });
        canvas.addMarker(element, "kalem-problem");
        var badge = document.createElement("div");
        badge.className = "kalem-problem-badge";
        badge.title = p.message;
        badge.textContent = "!";
        overlays.add(element, "kalem-problem", { position: { top: -12, right: 12 }, html: badge });
      }
      problemList.appendChild(li);
    });
  }

  function currentXml() {
    return modeler.saveXML({ format: true }).then(function (result) { return result.xml; });
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, "Accept": "application/json" },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { ok: response.ok, status: response.status, data: data };
      });
    });
  }

  function errorText(data) {
    var error = data && data.error;
    if (!error) { return T.error; }
    var fields = Object.keys(error.fields || {}).map(function (k) { return error.fields[k].join(" "); });
    return [error.message].concat(fields).join(" ");
  }

  document.getElementById("btn-check").addEventListener("click", function () {
    status(T.checking, "info");
    currentXml().then(function (xml) {
      return post(container.getAttribute("data-check-url"), { name: state.name, content: xml });
    }).then(function (result) {
      if (!result.ok) { status(errorText(result.data), "error"); return; }
      showProblems(result.data.problems);
      if (result.data.problems.length) {
        status(T.problems.replace("{n}", result.data.problems.length), "error");
      } else {
        status(T.valid, "success");
      }
    }).catch(function (err) { status(T.error + err, "error"); });
  });

  document.getElementById("btn-save").addEventListener("click", function () {
    status(T.saving, "info");
    currentXml().then(function (xml) {
      return post(container.getAttribute("data-save-url"), {
        name: state.name, content: xml, base_version: state.baseVersion, draft_id: state.draftId
      });
    }).then(function (result) {
      if (!result.ok) { status(errorText(result.data), "error"); return; }
      state.draftId = String(result.data.id);
      state.dirty = false;
      window.history.replaceState(null, "", result.data.url);
      status(T.saved, "success");
    }).catch(function (err) { status(T.error + err, "error"); });
  });

  document.getElementById("btn-deploy").addEventListener("click", function () {
    var note = document.getElementById("change-note").value.trim();
    if (!note) {
      status(T.need_note, "error");
      document.getElementById("change-note").focus();
      return;
    }
    status(T.deploying, "info");
    currentXml().then(function (xml) {
      return post(container.getAttribute("data-deploy-url"), {
        name: state.name, content: xml, change_note: note, base_version: state.baseVersion, draft_id: state.draftId
      });
    }).then(function (result) {
      if (!result.ok) {
        if (result.data.problems) {
          showProblems(result.data.problems);
          status(T.deploy_refused + " " + T.problems.replace("{n}", result.data.problems.length), "error");
        } else {
          status(errorText(result.data), "error");
        }
        return;
      }
      clearProblems();
      state.dirty = false;
      state.draftId = null;
      var links = [];
      result.data.links.forEach(function (link) {
        links.push({ href: link.edit, label: T.open_new + " (" + link.label + ")" });
        links.push({ href: link.migrate, label: T.migrate });
        links.push({ href: link.diff, label: T.diff });
      });
      var names = result.data.deployed.filter(function (d) { return d.created; })
        .map(function (d) { return d.key + " v" + d.version; });
      if (result.data.created) {
        status(T.deployed + names.join(", "), "success", links);
        var latest = result.data.links[0];
        if (latest) { state.baseVersion = String(latest.version); }
      } else {
        status(T.unchanged, "info", links);
      }
    }).catch(function (err) { status(T.error + err, "error"); });
  });

  document.getElementById("btn-download").addEventListener("click", function () {
    currentXml().then(function (xml) {
      var link = document.createElement("a");
      link.href = URL.createObjectURL(new Blob([xml], { type: "application/xml" }));
      link.download = state.name;
      document.body.appendChild(link);
      link.click();
      link.remove();
    });
  });

  document.getElementById("import-file").addEventListener("change", function (event) {
    var file = event.target.files[0];
    if (!file) { return; }
    file.text().then(function (xml) { return open(xml); }).then(function () {
      state.dirty = true;
      status(T.imported, "info");
    }).catch(function (err) { status(T.load_failed + err, "error"); });
  });

  window.addEventListener("beforeunload", function (event) {
    if (state.dirty) {
      event.preventDefault();
      event.returnValue = T.unsaved;
    }
  });

  // --- loading --------------------------------------------------------------------------------------

  // SpiffWorkflow names process variables where BPMN expects references to elements
  // (multi-instance loopDataInputRef/loopDataOutputRef): bpmn-moddle cannot resolve them and would
  // drop them on export. A detached placeholder with that id is written back as the same name.
  function keepUnresolvedReferences(warnings) {
    var lost = [];
    warnings.forEach(function (warning) {
      var match = /^unresolved reference <(.+)>$/.exec(warning.message || "");
      var element = warning.element;
      if (!match || !element || !warning.property) {
        lost.push(warning.message);
        return;
      }
      var name = String(warning.property).split(":").pop();
      var descriptor = element.$descriptor && element.$descriptor.propertiesByName[name];
      var placeholder = moddle.create("bpmn:DataInput", { id: match[1] });
      if (descriptor && descriptor.isMany) { element.get(name).push(placeholder); } else { element.set(name, placeholder); }
    });
    return lost;
  }

  function open(xml) {
    return modeler.importXML(xml).then(function (result) {
      var lost = keepUnresolvedReferences(result.warnings || []);
      canvas.zoom("fit-viewport", "auto");
      canvas.scroll({ dx: 90, dy: 0 });  // clear of the palette on the left
      clearProblems();
      render(null);
      state.dirty = false;
      container.setAttribute("data-ready", "true");
      if (lost.length) { status(T.import_warnings + lost.join("; "), "error"); }
    });
  }

  fetch(container.getAttribute("data-source"), { credentials: "same-origin" })
    .then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.text();
    })
    .then(open)
    .catch(function (err) {
      status(T.load_failed + err, "error");
      container.setAttribute("data-ready", "failed");
    });

  // For the browser tests and the curious: the modeler of this page.
  window.kalemModeler = modeler;
})();
