// Start the reason from the chosen ground's wording when the officer has not written one yet.
(function () {
  var form = document.getElementById("reject-form");
  var data = document.getElementById("exception-texts");
  if (!form || !data) return;
  var texts = JSON.parse(data.textContent);
  var select = form.querySelector("select[name=exception]");
  var reason = form.querySelector("textarea[name=reason]");
  var filled = "";
  select.addEventListener("change", function () {
    if (reason.value === "" || reason.value === filled) { filled = texts[select.value] || ""; reason.value = filled; }
  });
})();
