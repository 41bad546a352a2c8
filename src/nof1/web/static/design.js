// Re-check the protocol form as the clinician types (the page works without this script:
// the "Check the protocol" button does the same). Served by the app itself; no other script.
(function () {
  "use strict";
  var form = document.getElementById("design-form");
  var box = document.getElementById("live-check");
  if (!form || !box || !window.fetch) { return; }
  var timer = null;
  var counter = 0;

  function list(items, className) {
    var ul = document.createElement("ul");
    ul.className = className;
    items.forEach(function (text) {
      var li = document.createElement("li");
      li.textContent = text;
      ul.appendChild(li);
    });
    return ul;
  }

  function show(result) {
    box.textContent = "";
    if (result.ok) {
      var p = document.createElement("p");
      p.className = "ok";
      p.textContent = "No problems so far. Press \"Check the protocol\" to update the schedule and the power.";
      box.appendChild(p);
    } else {
      box.appendChild(list(result.problems, "problems-list"));
    }
    if (result.warnings.length) { box.appendChild(list(result.warnings, "warnings-list")); }
  }

  function check() {
    var mine = ++counter;
    var data = new FormData(form);
    data.delete("action");
    fetch("/design/check", { method: "POST", body: data, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (result) { if (result && mine === counter) { show(result); } })
      .catch(function () { /* the button still works */ });
  }

  form.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(check, 500);
  });
  form.addEventListener("change", function () {
    clearTimeout(timer);
    timer = setTimeout(check, 200);
  });
}());
