/* Kalem's form designer: a field-list editor over the form definition JSON with a live preview
   rendered by the server (the same macros as the task page). Options this editor does not show
   (conditions, checks, patterns, translations) stay in the JSON untouched. */
(function () {
  "use strict";
  var root = document.getElementById("form-designer");
  if (!root) { return; }

  var config = JSON.parse(document.getElementById("form-designer-config").textContent);
  var T = config.texts;
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var jsonBox = document.getElementById("form-json");
  var rows = document.getElementById("field-rows");
  var rowTemplate = document.getElementById("field-row");
  var statusBox = document.getElementById("designer-status");
  var state = { name: root.getAttribute("data-name"), draftId: root.getAttribute("data-draft-id") || null, model: null };
  var TYPE_SPECIFIC = ["max_length", "min_length", "min", "max", "decimal_places", "pattern", "not_past", "not_future", "choices", "group"];

  function status(text, kind) {
    statusBox.className = "designer-status " + (kind || "info");
    statusBox.textContent = text;
  }

  function text(value) {
    if (value && typeof value === "object") { return value.tr || value.en || ""; }
    return value == null ? "" : String(value);
  }

  function setText(target, key, value) {
    var current = target[key];
    if (current && typeof current === "object") {
      current.tr = value;
    } else if (value === "") {
      delete target[key];
    } else {
      target[key] = value;
    }
  }

  function choicesText(choices) {
    return (choices || []).map(function (c) {
      if (c && typeof c === "object") { return c.value + "=" + text(c.label); }
      return String(c);
    }).join("\n");
  }

  function parseChoices(value) {
    return value.split("\n").map(function (line) { return line.trim(); }).filter(Boolean).map(function (line) {
      var at = line.indexOf("=");
      return at === -1 ? { value: line, label: line } : { value: line.slice(0, at).trim(), label: line.slice(at + 1).trim() };
    });
  }

  // --- model <-> JSON ------------------------------------------------------------------------------

  function serialize() { return JSON.stringify(state.model, null, 2) + "\n"; }

  function changed() {
    jsonBox.value = serialize();
    schedulePreview();
  }

  function load(content) {
    try {
      var model = JSON.parse(content);
      if (!model || typeof model !== "object" || Array.isArray(model)) { throw new Error("{…}"); }
      model.fields = Array.isArray(model.fields) ? model.fields : [];
      state.model = model;
      document.getElementById("json-error").textContent = "";
      return true;
    } catch (err) {
      document.getElementById("json-error").textContent = T.bad_json + err.message;
      return false;
    }
  }

  // --- meta and field rows -------------------------------------------------------------------------

  function renderMeta() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-meta]"), function (input) {
      input.value = text(state.model[input.getAttribute("data-meta")]);
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-meta]"), function (input) {
    input.addEventListener("input", function () {
      var key = input.getAttribute("data-meta");
      if (key === "key") { state.model.key = input.value.trim(); } else { setText(state.model, key, input.value); }
      changed();
    });
  });

  function showOptions(row, type) {
    var allowed = config.type_options[type] || [];
    Array.prototype.forEach.call(row.querySelectorAll("[data-option]"), function (block) {
      block.hidden = allowed.indexOf(block.getAttribute("data-option")) === -1;
    });
  }

  function renderRows() {
    rows.innerHTML = "";
    state.model.fields.forEach(function (field, index) {
      var row = rowTemplate.content.firstElementChild.cloneNode(true);
      row.setAttribute("data-index", index);
      row.setAttribute("data-field-name", field.name || "");
      row.querySelector('[data-key="name"]').value = field.name || "";
      row.querySelector('[data-key="type"]').value = field.type || "string";
      row.querySelector('[data-key="label"]').value = text(field.label);
      row.querySelector('[data-key="help"]').value = text(field.help);
      row.querySelector('[data-key="max_length"]').value = field.max_length == null ? "" : field.max_length;
      row.querySelector('[data-key="min"]').value = field.min == null ? "" : field.min;
      row.querySelector('[data-key="max"]').value = field.max == null ? "" : field.max;
      row.querySelector('[data-key="group"]').value = field.group || "";
      row.querySelector('[data-key="required"]').checked = field.required === true;
      row.querySelector('[data-key="choices"]').value = choicesText(field.choices);
      showOptions(row, field.type || "string");
      rows.appendChild(row);
    });
  }

  function updateField(row, input) {
    var field = state.model.fields[Number(row.getAttribute("data-index"))];
    var key = input.getAttribute("data-key");
    var value = input.type === "checkbox" ? input.checked : input.value;
    if (key === "required") {
      if (value) { field.required = true; } else { delete field.required; }
    } else if (key === "label" || key === "help") {
      setText(field, key, value);
    } else if (key === "choices") {
      field.choices = parseChoices(value);
    } else if (key === "max_length") {
      if (value === "") { delete field.max_length; } else { field.max_length = Number(value); }
    } else if (key === "type") {
      field.type = value;
      var allowed = config.type_options[value] || [];
      TYPE_SPECIFIC.forEach(function (option) { if (allowed.indexOf(option) === -1) { delete field[option]; } });
      if (allowed.indexOf("choices") !== -1 && !field.choices) { field.choices = []; }
      showOptions(row, value);
    } else if (value === "") {
      delete field[key];
    } else {
      field[key] = key === "name" ? value.trim() : value;
    }
    if (key === "name") { row.setAttribute("data-field-name", field.name || ""); }
    changed();
  }

  rows.addEventListener("input", function (event) {
    var row = event.target.closest(".field-row");
    if (row && event.target.getAttribute("data-key")) { updateField(row, event.target); }
  });
  rows.addEventListener("change", function (event) {
    var row = event.target.closest(".field-row");
    if (row && (event.target.type === "checkbox" || event.target.tagName === "SELECT")) { updateField(row, event.target); }
  });
  rows.addEventListener("click", function (event) {
    var row = event.target.closest(".field-row");
    if (!row) { return; }
    var index = Number(row.getAttribute("data-index"));
    var fields = state.model.fields;
    if (event.target.hasAttribute("data-remove")) {
      fields.splice(index, 1);
    } else if (event.target.hasAttribute("data-move")) {
      var to = index + Number(event.target.getAttribute("data-move"));
      if (to < 0 || to >= fields.length) { return; }
      fields.splice(to, 0, fields.splice(index, 1)[0]);
    } else {
      return;
    }
    renderRows();
    changed();
  });

  document.getElementById("btn-add-field").addEventListener("click", function () {
    var n = state.model.fields.length + 1;
    var names = state.model.fields.map(function (f) { return f.name; });
    while (names.indexOf("alan_" + n) !== -1) { n += 1; }
    state.model.fields.push({ name: "alan_" + n, type: "string", label: T.new_field });
    renderRows();
    changed();
    var last = rows.lastElementChild;
    if (last) { last.querySelector('[data-key="name"]').focus(); }
  });

  var jsonTimer = null;
  jsonBox.addEventListener("input", function () {
    clearTimeout(jsonTimer);
    jsonTimer = setTimeout(function () {
      if (load(jsonBox.value)) {
        renderMeta();
        renderRows();
        schedulePreview();
      }
    }, 400);
  });

  // --- preview, check, save, deploy ---------------------------------------------------------------

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

  function showProblems(problems) {
    var list = document.getElementById("problems");
    list.innerHTML = "";
    Array.prototype.forEach.call(rows.querySelectorAll(".field-row"), function (row) {
      row.classList.remove("has-error");
      row.querySelector("[data-errors]").textContent = "";
    });
    problems.forEach(function (p) {
      var li = document.createElement("li");
      var field = p.field || p.element_id;
      li.textContent = (p.path ? p.path + ": " : (field ? field + ": " : "")) + p.message;
      list.appendChild(li);
      var row = field && rows.querySelector('.field-row[data-field-name="' + CSS.escape(field) + '"]');
      if (row) {
        row.classList.add("has-error");
        row.querySelector("[data-errors]").textContent = p.message;
      }
    });
  }

  var previewTimer = null;
  var previewSeq = 0;
  function schedulePreview() {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(preview, 250);
  }

  function preview() {
    var seq = ++previewSeq;
    post(root.getAttribute("data-preview-url"), { content: serialize() }).then(function (result) {
      if (seq !== previewSeq) { return; }
      showProblems(result.data.problems || []);
      document.getElementById("preview").innerHTML = result.data.html || "";
      root.setAttribute("data-preview-ready", String(seq));
    });
  }

  function errorText(data) {
    var error = data && data.error;
    return error ? error.message : T.error;
  }

  document.getElementById("btn-check").addEventListener("click", function () {
    status(T.checking, "info");
    post(root.getAttribute("data-check-url"), { name: state.name, content: serialize() }).then(function (result) {
      if (!result.ok) { status(errorText(result.data), "error"); return; }
      showProblems(result.data.problems);
      status(result.data.problems.length ? result.data.problems.map(function (p) { return p.message; }).join(" · ") : T.valid,
        result.data.problems.length ? "error" : "success");
    });
  });

  document.getElementById("btn-save").addEventListener("click", function () {
    status(T.saving, "info");
    post(root.getAttribute("data-save-url"), { name: state.name, content: serialize(), draft_id: state.draftId }).then(function (result) {
      if (!result.ok) { status(errorText(result.data), "error"); return; }
      state.draftId = String(result.data.id);
      state.name = result.data.name;
      document.getElementById("file-name").textContent = state.name;
      window.history.replaceState(null, "", result.data.url);
      status(T.saved, "success");
    });
  });

  document.getElementById("btn-deploy").addEventListener("click", function () {
    status(T.deploying, "info");
    post(root.getAttribute("data-deploy-url"), { name: state.name, content: serialize(), draft_id: state.draftId }).then(function (result) {
      if (!result.ok) {
        if (result.data.problems) { showProblems(result.data.problems); }
        status(errorText(result.data) + (result.data.problems ? " " + result.data.problems.map(function (p) { return p.message; }).join(" · ") : ""), "error");
        return;
      }
      state.draftId = null;
      var created = result.data.deployed.filter(function (d) { return d.created; });
      status(created.length ? T.deployed + created.map(function (d) { return d.key + " v" + d.version; }).join(", ") : T.unchanged,
        created.length ? "success" : "info");
    });
  });

  document.getElementById("btn-download").addEventListener("click", function () {
    var link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([serialize()], { type: "application/json" }));
    link.download = state.name;
    document.body.appendChild(link);
    link.click();
    link.remove();
  });

  if (load(jsonBox.value)) {
    renderMeta();
    renderRows();
    preview();
  }
})();
