/* Migration page: "select all movable cases" checkbox. */
(function () {
  "use strict";
  var all = document.getElementById("select-all");
  if (!all) { return; }
  all.addEventListener("change", function () {
    document.querySelectorAll('#outcomes input[name="instance_ids"]').forEach(function (box) { box.checked = all.checked; });
  });
})();
