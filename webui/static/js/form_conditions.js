/* Show a form field only while its "when" condition holds (the server applies the same rule and
   ignores values of fields whose condition does not hold). Hidden fields are disabled so the browser
   does not send them. */
(function () {
  "use strict";

  function currentValues(form, name) {
    var wrapper = form.querySelector('[data-field="' + name + '"]');
    if (!wrapper || wrapper.hidden) { return []; }
    var inputs = wrapper.querySelectorAll('[name="' + name + '"]');
    var values = [];
    inputs.forEach(function (input) {
      if (input.type === "checkbox") {
        if (input.value === "true" && inputs.length === 1) {
          values.push(input.checked ? "true" : "false");
        } else if (input.checked) {
          values.push(input.value);
        }
      } else if (input.type === "radio") {
        if (input.checked) { values.push(input.value); }
      } else if (input.value !== "") {
        values.push(input.value);
      }
    });
    return values;
  }

  function holds(condition, values) {
    var operator = ["equals", "in", "not_in"].find(function (op) { return op in condition; });
    var wanted = [].concat(condition[operator]).map(String);
    var matched = values.some(function (v) { return wanted.indexOf(String(v)) !== -1; });
    return operator === "not_in" ? !matched : matched;
  }

  function apply(form) {
    form.querySelectorAll("[data-when]").forEach(function (wrapper) {
      var condition = JSON.parse(wrapper.getAttribute("data-when"));
      var show = holds(condition, currentValues(form, condition.field));
      wrapper.hidden = !show;
      wrapper.querySelectorAll("input, select, textarea").forEach(function (input) { input.disabled = !show; });
    });
  }

  document.querySelectorAll("form").forEach(function (form) {
    if (!form.querySelector("[data-when]")) { return; }
    apply(form);
    form.addEventListener("change", function () { apply(form); });
    form.addEventListener("input", function () { apply(form); });
  });
})();
