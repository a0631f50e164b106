/* A case on its diagram (bpmn-js viewer): completed steps and the flows taken in green, waiting steps
   with the number of tokens, open incidents in red. Needs a container with data-source (the BPMN
   XML) and data-state (/instances/<id>/diagram-state.json); any page can include it. */
(function () {
  "use strict";
  var container = document.getElementById("instance-diagram");
  if (!container) { return; }
  if (typeof window.BpmnJS !== "function") {
    container.textContent = container.getAttribute("data-no-viewer");
    container.style.height = "auto";
    return;
  }
  var viewer = new window.BpmnJS({ container: container });

  Promise.all([
    fetch(container.getAttribute("data-source"), { credentials: "same-origin" }).then(function (r) { return r.text(); }),
    fetch(container.getAttribute("data-state"), { credentials: "same-origin" }).then(function (r) { return r.json(); })
  ]).then(function (loaded) {
    var xml = loaded[0];
    var state = loaded[1];
    if (xml.indexOf("BPMNDiagram") === -1) {
      container.textContent = container.getAttribute("data-no-diagram");
      container.style.height = "auto";
      return null;
    }
    return viewer.importXML(xml).then(function () {
      var canvas = viewer.get("canvas");
      var registry = viewer.get("elementRegistry");
      var overlays = viewer.get("overlays");
      function mark(id, marker) { if (registry.get(id)) { canvas.addMarker(id, marker); return true; } return false; }
      state.completed.forEach(function (id) { mark(id, "kalem-done"); });
      state.flows.forEach(function (id) { mark(id, "kalem-path"); });
      state.current.forEach(function (token) {
        if (!mark(token.id, "kalem-current")) { return; }
        var badge = document.createElement("div");
        badge.className = "token-badge";
        badge.textContent = String(token.tokens);
        overlays.add(token.id, "token", { position: { top: -10, left: -10 }, html: badge });
      });
      state.incidents.forEach(function (incident) {
        if (!incident.element_id || !mark(incident.element_id, "kalem-incident")) { return; }
        var badge = document.createElement("div");
        badge.className = "incident-badge";
        badge.textContent = incident.message;
        badge.title = incident.message;
        overlays.add(incident.element_id, "incident", { position: { bottom: -6, left: 0 }, html: badge });
      });
      canvas.zoom("fit-viewport", "auto");
      container.setAttribute("data-rendered", "true");
    });
  }).catch(function (err) { container.textContent = String(err); });
})();
