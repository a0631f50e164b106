/* The BPMN diagram of a case (bpmn-js viewer, served from /static/vendor), with the steps it waits
   on now and the steps it completed highlighted. */
(function () {
  "use strict";
  var canvas = document.getElementById("bpmn-canvas");
  if (!canvas) { return; }

  function note(text) {
    canvas.innerHTML = "";
    var p = document.createElement("p");
    p.className = "diagram-note";
    p.textContent = text;
    canvas.appendChild(p);
    canvas.style.height = "auto";
  }

  if (typeof window.BpmnJS !== "function") {
    note(canvas.getAttribute("data-no-viewer"));
    return;
  }
  var current = JSON.parse(canvas.getAttribute("data-current") || "[]");
  var done = JSON.parse(canvas.getAttribute("data-done") || "[]");

  fetch(canvas.getAttribute("data-source"), { credentials: "same-origin" })
    .then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.text();
    })
    .then(function (xml) {
      if (xml.indexOf("BPMNDiagram") === -1) {
        note(canvas.getAttribute("data-no-diagram"));
        return null;
      }
      var viewer = new window.BpmnJS({ container: canvas });
      return viewer.importXML(xml).then(function () {
        var registry = viewer.get("elementRegistry");
        var view = viewer.get("canvas");
        done.forEach(function (id) { if (registry.get(id)) { view.addMarker(id, "kalem-done"); } });
        current.forEach(function (id) { if (registry.get(id)) { view.addMarker(id, "kalem-current"); } });
        view.zoom("fit-viewport", "auto");
        canvas.setAttribute("data-rendered", "true");
      });
    })
    .catch(function () { note(canvas.getAttribute("data-no-diagram")); });
})();
