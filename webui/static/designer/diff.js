/* Two versions side by side (bpmn-js viewer): added elements marked on the new one, removed ones on
   the old one, changed ones on both. The changes come from the table rows (data-element-id). */
(function () {
  "use strict";
  if (typeof window.BpmnJS !== "function") { return; }
  var rows = Array.prototype.slice.call(document.querySelectorAll("#changes tr[data-element-id]"));

  function show(id, wanted) {
    var container = document.getElementById(id);
    if (!container) { return; }
    var viewer = new window.BpmnJS({ container: container });
    fetch(container.getAttribute("data-source"), { credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (xml) { return viewer.importXML(xml); })
      .then(function () {
        var canvas = viewer.get("canvas");
        var registry = viewer.get("elementRegistry");
        rows.forEach(function (row) {
          var status = row.getAttribute("data-status");
          var elementId = row.getAttribute("data-element-id");
          if (wanted.indexOf(status) !== -1 && registry.get(elementId)) {
            canvas.addMarker(elementId, "kalem-" + status);
          }
        });
        canvas.zoom("fit-viewport", "auto");
        container.setAttribute("data-rendered", "true");
      })
      .catch(function () { container.textContent = "—"; });
  }

  show("diff-old", ["removed", "changed"]);
  show("diff-new", ["added", "changed"]);
})();
