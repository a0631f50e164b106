/* Heatmap of a process version: each user task coloured by its average waiting time (heat-0 … heat-4)
   with "average · p90 · late" on it, from /stats/processes/<key>/<version>/heatmap.json. */
(function () {
  "use strict";
  var container = document.getElementById("heatmap");
  if (!container) { return; }
  if (typeof window.BpmnJS !== "function") {
    container.textContent = container.getAttribute("data-no-viewer");
    container.style.height = "auto";
    return;
  }
  var viewer = new window.BpmnJS({ container: container });

  function json(url) {
    return fetch(url, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.json();
    });
  }

  Promise.all([
    fetch(container.getAttribute("data-source"), { credentials: "same-origin" }).then(function (r) { return r.text(); }),
    json(container.getAttribute("data-heat"))
  ]).then(function (loaded) {
    var heat = loaded[1];
    return viewer.importXML(loaded[0]).then(function () {
      var canvas = viewer.get("canvas");
      var registry = viewer.get("elementRegistry");
      var overlays = viewer.get("overlays");
      Object.keys(heat.elements).forEach(function (id) {
        var stat = heat.elements[id];
        if (!registry.get(id)) { return; }
        canvas.addMarker(id, "heat-" + stat.level);
        var label = document.createElement("div");
        label.className = "heat-overlay";
        label.setAttribute("data-element-id", id);
        label.textContent = stat.avg_label + " · p90 " + stat.p90_label + (stat.overdue ? " · " + stat.overdue + " ⚠" : "");
        label.title = stat.name + ": " + stat.completed + " / " + stat.created;
        overlays.add(id, "heat", { position: { bottom: 4, left: -4 }, html: label });
      });
      canvas.zoom("fit-viewport", "auto");
      container.setAttribute("data-rendered", "true");
    });
  }).catch(function (err) {
    container.textContent = String(err);
  });
})();
